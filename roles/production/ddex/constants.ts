/**
 * Limits and version tables of the ERN importer.
 */

/**
 * The largest ERN message accepted, in bytes of UTF-8. Real deliveries are small (the DDEX example single with 747
 * per-territory deals is 330 KB; box sets with per-territory deals for every track reach a few MiB). The parser
 * builds the whole tree in memory (about ten times the text), so 16 MiB bounds one import to a few hundred MiB.
 */
export const MAX_ERN_MESSAGE_BYTES = 16 * 1024 * 1024

/**
 * At most this many issues are kept on an `ErnValidationError`; the rest are counted in `omittedIssues`. A hostile
 * message could otherwise make the error itself (and every log of it) as large as the message.
 */
export const MAX_ERN_ISSUES = 1000

/** How deep elements may nest. ERN needs about 12 levels; fast-xml-parser's own default cap is 100. */
export const MAX_ERN_NESTING = 64

/** ERN namespace URIs are `http://ddex.net/xml/ern/<code>`; the code also appears as `ern/<code>` in 3.x headers. */
export const ERN_VERSIONS = {
  '38': '3.8',
  '381': '3.8.1',
  '382': '3.8.2',
  '41': '4.1',
  '411': '4.1.1',
  '42': '4.2',
  '43': '4.3',
  '431': '4.3.1',
  '432': '4.3.2',
} as const

export type ErnVersionCode = keyof typeof ERN_VERSIONS
export type ErnVersion = (typeof ERN_VERSIONS)[ErnVersionCode]

/** The message types this importer reads. */
export const ERN_MESSAGE_TYPES = ['NewReleaseMessage', 'PurgeReleaseMessage'] as const
export type ErnMessageType = (typeof ERN_MESSAGE_TYPES)[number]

/** Issue codes: what kind of rule a field broke. */
export const ERN_ISSUE_CODES = [
  'required',
  'isrc',
  'icpn',
  'grid',
  'territory',
  'currency',
  'amount',
  'duration',
  'date',
  'number',
  'reference',
  'period',
  'version',
  'hash',
] as const
export type ErnIssueCode = (typeof ERN_ISSUE_CODES)[number]
