/**
 * An independent reader of DDEX DSR flat files in the Basic Audio Profile, written for the tests from the standard
 * (DSR Part 1: structure, delimiters, escaping, file names; Part 8: the record types HEAD, SY01.03, RE01.03, RE02,
 * AS01.03, SU01.03, SU02.03, FOOT with their cells, data types and mandatory cells) — not from Consort's writer, and
 * sharing no code with it. A royalty system ingesting a DSR does what this does: it refuses a file whose records are
 * out of order, have the wrong number of cells, leave a mandatory cell empty, hold a value of the wrong type, point
 * at a summary or a release that is not there, or whose footer does not count what the file holds.
 */

type DataType =
  | 'fixed'
  | 'string'
  | 'strings'
  | 'integer'
  | 'decimal'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'duration'
  | 'dpid'
  | 'partyIds'
  | 'isrcs'
  | 'icpn'
  | 'namespaced'
  | 'avs:CommercialModelType'
  | 'avs:UseType'
  | 'avs:Territory'
  | 'avs:Currency'
  | 'avs:ResourceType'

/** M: mandatory, C: conditional, O: optional (a conditional cell is checked by the rules below, not here). */
type Presence = 'M' | 'C' | 'O'

interface CellDefinition {
  name: string
  type: DataType
  presence: Presence
}

const cell = (name: string, type: DataType, presence: Presence): CellDefinition => ({ name, type, presence })

/** Part 8's record types of the Basic Audio Profile (multi-record-block variant), cell by cell. */
export const RECORD_DEFINITIONS: Record<string, CellDefinition[]> = {
  HEAD: [
    cell('RecordType', 'fixed', 'M'),
    cell('MessageVersion', 'string', 'M'),
    cell('Profile', 'string', 'M'),
    cell('ProfileVersion', 'string', 'M'),
    cell('MessageId', 'string', 'M'),
    cell('MessageCreatedDateTime', 'datetime', 'M'),
    cell('FileNumber', 'integer', 'M'),
    cell('NumberOfFiles', 'integer', 'M'),
    cell('UsageStartDate', 'date', 'M'),
    cell('UsageEndDate', 'date', 'M'),
    cell('SenderPartyId', 'dpid', 'M'),
    cell('SenderName', 'string', 'M'),
    cell('ServiceDescription', 'string', 'O'),
    cell('RecipientPartyId', 'dpid', 'C'),
    cell('RecipientName', 'string', 'C'),
    cell('RepresentedRepertoire', 'strings', 'O'),
  ],
  'SY01.03': [
    cell('RecordType', 'fixed', 'M'),
    cell('SummaryRecordId', 'string', 'M'),
    cell('DistributionChannel', 'string', 'C'),
    cell('DistributionChannelDPID', 'dpid', 'C'),
    cell('CommercialModelType', 'avs:CommercialModelType', 'M'),
    cell('UseType', 'avs:UseType', 'C'),
    cell('Territory', 'avs:Territory', 'M'),
    cell('ServiceDescription', 'string', 'C'),
    cell('TotalUsages', 'decimal', 'M'),
    cell('Subscribers', 'decimal', 'C'),
    cell('CurrencyOfReporting', 'avs:Currency', 'M'),
    cell('NetRevenue', 'decimal', 'M'),
    cell('IndirectValue', 'decimal', 'O'),
    cell('CurrencyOfTransaction', 'avs:Currency', 'O'),
    cell('ExchangeRate', 'decimal', 'C'),
    cell('ExchangeRateSource', 'string', 'C'),
    cell('DateOfCurrencyExchange', 'datetime', 'C'),
    cell('TotalPlaybackDuration', 'duration', 'O'),
  ],
  'RE01.03': [
    cell('RecordType', 'fixed', 'M'),
    cell('BlockId', 'string', 'M'),
    cell('ReleaseReference', 'string', 'M'),
    cell('DspReleaseId', 'string', 'M'),
    cell('ProprietaryReleaseId', 'namespaced', 'O'),
    cell('CatalogNumber', 'string', 'O'),
    cell('ICPN', 'icpn', 'C'),
    cell('DisplayArtistName', 'string', 'C'),
    cell('DisplayArtistPartyId', 'partyIds', 'O'),
    cell('Title', 'string', 'C'),
    cell('SubTitle', 'string', 'O'),
    cell('ReleaseType', 'string', 'O'),
    cell('Label', 'string', 'O'),
    cell('PLine', 'string', 'O'),
    cell('DataProvider', 'string', 'O'),
    cell('ReleaseDate', 'date', 'O'),
    cell('DisplayArtist', 'strings', 'O'),
  ],
  RE02: [
    cell('RecordType', 'fixed', 'M'),
    cell('BlockId', 'string', 'M'),
    cell('ReleaseReference', 'string', 'M'),
    cell('DspSubReleaseId', 'string', 'M'),
    cell('ProprietarySubReleaseId', 'namespaced', 'O'),
    cell('UsedResources', 'strings', 'M'),
  ],
  'AS01.03': [
    cell('RecordType', 'fixed', 'M'),
    cell('BlockId', 'string', 'M'),
    cell('ResourceReference', 'string', 'M'),
    cell('DspResourceId', 'string', 'M'),
    cell('ISRC', 'isrcs', 'C'),
    cell('Title', 'string', 'M'),
    cell('SubTitle', 'string', 'O'),
    cell('DisplayArtistName', 'string', 'C'),
    cell('DisplayArtistPartyId', 'partyIds', 'O'),
    cell('Duration', 'duration', 'C'),
    cell('ResourceType', 'avs:ResourceType', 'M'),
    cell('IsMasterRecording', 'boolean', 'C'),
    cell('IsSubjectToOwnershipConflict', 'boolean', 'C'),
    cell('LastConflictCheck', 'date', 'C'),
    cell('DisplayArtist', 'strings', 'O'),
  ],
  'SU01.03': [
    cell('RecordType', 'fixed', 'M'),
    cell('BlockId', 'string', 'M'),
    cell('SummaryRecordId', 'string', 'M'),
    cell('SalesTransactionId', 'string', 'M'),
    cell('TransactedRelease', 'string', 'C'),
    cell('TransactedResource', 'string', 'C'),
    cell('IsRoyaltyBearing', 'boolean', 'M'),
    cell('SalesUpgrade', 'boolean', 'M'),
    cell('Usages', 'decimal', 'M'),
    cell('Returns', 'decimal', 'M'),
    cell('PriceEndUserPaidExcSalesTax', 'decimal', 'C'),
    cell('PromotionalActivity', 'string', 'O'),
    cell('UseType', 'avs:UseType', 'C'),
  ],
  'SU02.03': [
    cell('RecordType', 'fixed', 'M'),
    cell('BlockId', 'string', 'M'),
    cell('SummaryRecordId', 'string', 'M'),
    cell('SalesTransactionId', 'string', 'M'),
    cell('TransactedRelease', 'string', 'C'),
    cell('TransactedResource', 'string', 'C'),
    cell('IsRoyaltyBearing', 'boolean', 'M'),
    cell('NumberOfStreams', 'decimal', 'M'),
    cell('PriceEndUserPaidExcSalesTax', 'decimal', 'C'),
    cell('PromotionalActivity', 'string', 'O'),
    cell('UseType', 'avs:UseType', 'C'),
    cell('PlaybackDuration', 'duration', 'O'),
  ],
  FOOT: [
    cell('RecordType', 'fixed', 'M'),
    cell('NumberOfLinesInFile', 'integer', 'M'),
    cell('NumberOfLinesInReport', 'integer', 'C'),
    cell('NumberOfSummaryRecords', 'integer', 'M'),
    cell('NumberOfBlocksInFile', 'integer', 'M'),
    cell('NumberOfBlocksInReport', 'integer', 'C'),
  ],
}

/** DDEX allowed values the profile's AVS cells take (the part of each set a music service uses). */
const COMMERCIAL_MODEL_TYPES = new Set([
  'AdvertisementSupportedModel',
  'FreeOfChargeModel',
  'PayAsYouGoModel',
  'SubscriptionModel',
  'RightsClaimModel',
])
const USE_TYPES = new Set([
  'ConditionalDownload',
  'ContentInfluencedStream',
  'NonInteractiveStream',
  'OnDemandStream',
  'PermanentDownload',
  'Stream',
  'TetheredDownload',
  'TimeInfluencedStream',
  'UseAsRingtone',
])
const RESOURCE_TYPES = new Set(['SoundRecording', 'MusicalWorkSoundRecording', 'Video', 'MusicalWorkVideoRecording'])

export interface DsrValue {
  /** The values of the cell (several only in multi-valued cells), escapes undone. */
  values: string[]
}

export interface ParsedRecord {
  line: number
  type: string
  cells: Record<string, string[]>
}

export interface ParsedDsr {
  records: ParsedRecord[]
  errors: string[]
  /** File name elements, when the name follows the convention. */
  fileName: Record<string, string> | null
}

const PATTERNS: Partial<Record<DataType, RegExp>> = {
  integer: /^\d+$/,
  decimal: /^-?\d+(\.\d+)?$/,
  boolean: /^(true|false)$/,
  date: /^\d{4}(-\d{2}(-\d{2})?)?$/,
  datetime: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  duration: /^PT(\d+H)?(\d+M)?(\d+(\.\d+)?S)?$/,
  dpid: /^PADPIDA[A-Z0-9]{11}$/,
  icpn: /^\d{12,14}$/,
  isrcs: /^[A-Z]{2}[A-Z0-9]{3}\d{7}$/,
  namespaced: /^[^:]+::.+$/,
  partyIds: /^[^:]+::.+$/,
  'avs:Currency': /^[A-Z]{3}$/,
  'avs:Territory': /^([A-Z]{2}|Worldwide)$/,
}

/** One line into cells and values (Part 1: TAB between cells, `|` between values, backslash escapes). */
function tokenise(text: string): { cells: string[][]; error: string | null } {
  const cells: string[][] = []
  let values: string[] = []
  let current = ''
  let error: string | null = null
  let i = 0
  while (i < text.length) {
    const ch = text.charAt(i)
    if (ch === '\\') {
      const next = text.slice(i + 1, i + 3)
      if (text.charAt(i + 1) === '\t') {
        current += '\t'
        i += 2
        continue
      }
      if (next === '\\|') {
        current += '|'
        i += 3
        continue
      }
      if (next === '\\\\') {
        current += '\\'
        i += 3
        continue
      }
      error ??= `an escape that is none of \\TAB, \\\\| or \\\\\\ at character ${i + 1}`
      current += ch
      i++
      continue
    }
    if (ch === '\t') {
      values.push(current)
      cells.push(values)
      values = []
      current = ''
    } else if (ch === '|') {
      values.push(current)
      current = ''
    } else current += ch
    i++
  }
  values.push(current)
  cells.push(values)
  return { cells, error }
}

const MULTI_VALUED: ReadonlySet<DataType> = new Set(['strings', 'partyIds', 'isrcs', 'namespaced'])

function checkValue(type: DataType, value: string): boolean {
  if (type === 'avs:CommercialModelType') return COMMERCIAL_MODEL_TYPES.has(value)
  if (type === 'avs:UseType') return USE_TYPES.has(value)
  if (type === 'avs:ResourceType') return RESOURCE_TYPES.has(value)
  const pattern = PATTERNS[type]
  return pattern === undefined || pattern.test(value)
}

/** The file name convention (Part 1, "Transfer"): DSR_Recipient_Sender_Service_Period_Territory[_xofy]_Created.tsv */
export function parseDsrFileName(name: string): Record<string, string> | null {
  const m =
    /^DSR_([^_ ]*)_([^_ ]+)_([^_ ]+)_(\d{4}(?:-\d{2}(?:-\d{2})?|-Q[1-4]|-W\d{2})?|\d{4}-\d{2}-\d{2}--\d{4}-\d{2}-\d{2})_([^_ ]+)(?:_(\d+of\d+))?_(\d{8}T\d{6}(?:\d{3})?)\.tsv(\.gz)?$/.exec(
      name,
    )
  if (m === null) return null
  return {
    recipient: m[1]!,
    sender: m[2]!,
    service: m[3]!,
    period: m[4]!,
    territory: m[5]!,
    ...(m[6] !== undefined ? { xofy: m[6] } : {}),
    created: m[7]!,
  }
}

/**
 * Parse and validate one single-file DSR message of the Basic Audio Profile. Every problem is reported (with its
 * line); `records` holds what could be read.
 */
export function parseDsr(text: string, fileName?: string): ParsedDsr {
  const errors: string[] = []
  const lines = text.split(/\r?\n/)
  if (lines.at(-1) === '') lines.pop()
  else errors.push('the last record is not ended by a line feed')
  const records: ParsedRecord[] = []
  lines.forEach((raw, index) => {
    const number = index + 1
    if (raw.startsWith('#')) return
    const { cells, error } = tokenise(raw)
    if (error !== null) errors.push(`line ${number}: ${error}`)
    const type = cells[0]?.[0] ?? ''
    const definition = RECORD_DEFINITIONS[type]
    if (definition === undefined) {
      errors.push(`line ${number}: record type ${JSON.stringify(type)} is not one of the Basic Audio Profile`)
      return
    }
    if (cells.length !== definition.length) {
      errors.push(`line ${number}: ${type} must have ${definition.length} cells, has ${cells.length}`)
    }
    const named: Record<string, string[]> = {}
    definition.forEach((def, i) => {
      const values = cells[i] ?? ['']
      const present = values.some((v) => v !== '')
      named[def.name] = present ? values : []
      if (def.presence === 'M' && !present) errors.push(`line ${number}: ${type} ${def.name} is mandatory and empty`)
      if (values.length > 1 && !MULTI_VALUED.has(def.type)) {
        errors.push(`line ${number}: ${type} ${def.name} takes one value, has ${values.length}`)
      }
      if (present && def.type !== 'fixed') {
        for (const v of values) {
          if (!checkValue(def.type, v))
            errors.push(`line ${number}: ${type} ${def.name} ${JSON.stringify(v)} is not a ${def.type}`)
        }
      }
    })
    records.push({ line: number, type, cells: named })
  })
  checkStructure(records, lines.length, errors)
  let parsedName: Record<string, string> | null = null
  if (fileName !== undefined) {
    parsedName = parseDsrFileName(fileName)
    if (parsedName === null) errors.push(`file name ${fileName} does not follow the DSR naming convention`)
    else checkFileName(parsedName, records, errors)
  }
  return { records, errors, fileName: parsedName }
}

const one = (r: ParsedRecord, name: string): string => r.cells[name]?.[0] ?? ''

/** The profile's order and references: HEAD; SY…; blocks of RE01 (1), AS01 (1-n), RE02 (0-n), SU (1-n); FOOT. */
function checkStructure(records: ParsedRecord[], lineCount: number, errors: string[]): void {
  if (records[0]?.type !== 'HEAD') errors.push('the message does not start with its HEAD record')
  if (records.filter((r) => r.type === 'HEAD').length !== 1) errors.push('a message has exactly one HEAD record')
  if (records.at(-1)?.type !== 'FOOT') errors.push('the message does not end with its FOOT record')
  if (records.filter((r) => r.type === 'FOOT').length !== 1) errors.push('a message has exactly one FOOT record')
  const summaryIds = new Set<string>()
  const blockIds = new Set<string>()
  let phase = 0 // 0 head, 1 summaries, 2 in a block, 3 foot
  let blockPart = 0 // within a block: 1 release, 2 resources, 3 sub-releases, 4 sales/usage
  let blockId = ''
  let blockReleases = new Set<string>()
  let blockResources = new Set<string>()
  const closeBlock = (line: number) => {
    if (phase === 2 && blockPart < 4) errors.push(`line ${line}: block ${blockId} has no sales or usage record`)
  }
  for (const r of records) {
    switch (r.type) {
      case 'HEAD':
        phase = 1
        break
      case 'SY01.03':
        if (phase !== 1) errors.push(`line ${r.line}: a summary record after the blocks began`)
        if (summaryIds.has(one(r, 'SummaryRecordId'))) errors.push(`line ${r.line}: summary id repeated`)
        summaryIds.add(one(r, 'SummaryRecordId'))
        break
      case 'RE01.03':
        closeBlock(r.line)
        if (summaryIds.size === 0) errors.push(`line ${r.line}: a block before any summary record`)
        phase = 2
        blockPart = 1
        blockId = one(r, 'BlockId')
        if (blockIds.has(blockId)) errors.push(`line ${r.line}: block ${blockId} appears twice`)
        blockIds.add(blockId)
        blockReleases = new Set([one(r, 'ReleaseReference')])
        blockResources = new Set()
        break
      case 'AS01.03':
        if (phase !== 2 || blockPart < 1 || blockPart > 2) errors.push(`line ${r.line}: AS01.03 out of place`)
        blockPart = 2
        if (one(r, 'BlockId') !== blockId) errors.push(`line ${r.line}: AS01.03 belongs to another block`)
        blockResources.add(one(r, 'ResourceReference'))
        break
      case 'RE02':
        if (phase !== 2 || blockPart < 2 || blockPart > 3) errors.push(`line ${r.line}: RE02 out of place`)
        blockPart = 3
        blockReleases.add(one(r, 'ReleaseReference'))
        for (const used of r.cells.UsedResources ?? [])
          if (!blockResources.has(used)) errors.push(`line ${r.line}: RE02 uses ${used}, not a resource of the block`)
        break
      case 'SU01.03':
      case 'SU02.03': {
        if (phase !== 2 || blockPart < 2) errors.push(`line ${r.line}: ${r.type} out of place`)
        blockPart = 4
        if (one(r, 'BlockId') !== blockId) errors.push(`line ${r.line}: ${r.type} belongs to another block`)
        if (!summaryIds.has(one(r, 'SummaryRecordId')))
          errors.push(`line ${r.line}: ${r.type} names an unknown summary`)
        const release = one(r, 'TransactedRelease')
        const resource = one(r, 'TransactedResource')
        if ((release === '') === (resource === ''))
          errors.push(`line ${r.line}: ${r.type} names a release or a resource, not both or neither`)
        if (release !== '' && !blockReleases.has(release)) errors.push(`line ${r.line}: unknown release ${release}`)
        if (resource !== '' && !blockResources.has(resource))
          errors.push(`line ${r.line}: unknown resource ${resource}`)
        break
      }
      case 'FOOT':
        closeBlock(r.line)
        phase = 3
        break
    }
  }
  const foot = records.at(-1)
  if (foot?.type === 'FOOT') {
    const expect: Array<[string, number]> = [
      ['NumberOfLinesInFile', lineCount],
      ['NumberOfLinesInReport', lineCount],
      ['NumberOfSummaryRecords', summaryIds.size],
      ['NumberOfBlocksInFile', blockIds.size],
      ['NumberOfBlocksInReport', blockIds.size],
    ]
    for (const [name, n] of expect) {
      if (one(foot, name) !== String(n)) errors.push(`FOOT ${name} says ${one(foot, name)}, the file has ${n}`)
    }
  }
}

function checkFileName(name: Record<string, string>, records: ParsedRecord[], errors: string[]): void {
  const head = records.find((r) => r.type === 'HEAD')
  if (head === undefined) return
  if (name.sender !== one(head, 'SenderPartyId')) errors.push('the file name names another sender than HEAD')
  if (one(head, 'RecipientPartyId') !== '' && name.recipient !== one(head, 'RecipientPartyId'))
    errors.push('the file name names another recipient than HEAD')
  if (name.service !== one(head, 'ServiceDescription')) errors.push('the file name names another service than HEAD')
  const created = one(head, 'MessageCreatedDateTime').slice(0, 19).replaceAll('-', '').replaceAll(':', '')
  if (name.created !== created) errors.push('the file name gives another creation time than HEAD')
  if (!one(head, 'UsageStartDate').startsWith(name.period!)) errors.push('the file name names another period')
}

/** Decimal text to an exact count of 10^-`digits` units. */
export function decimalUnits(text: string, digits: number): bigint {
  const negative = text.startsWith('-')
  const [whole, fraction = ''] = (negative ? text.slice(1) : text).split('.')
  if (fraction.length > digits) throw new RangeError(`${text} has more than ${digits} decimals`)
  const units = BigInt(whole!) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0')
  return negative ? -units : units
}
