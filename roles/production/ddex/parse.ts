import { logger } from '@libp2p/logger'
import { Issues, nonEmpty, readDateTime, readReleaseIds, requiredText } from './common.ts'
import {
  ERN_MESSAGE_TYPES,
  ERN_VERSIONS,
  type ErnMessageType,
  type ErnVersion,
  type ErnVersionCode,
  MAX_ERN_ISSUES,
  MAX_ERN_MESSAGE_BYTES,
} from './constants.ts'
import { readErn3 } from './ern3.ts'
import { readErn4 } from './ern4.ts'
import { ErnFormatError, type ErnIssue, ErnValidationError } from './errors.ts'
import type { ErnDeal, ErnMessage, ErnParty, ErnRelease, ErnSoundRecording } from './model.ts'
import type { ReadBody } from './reading.ts'
import { type El, parseXml } from './xml.ts'

const log = logger('consort:production:ddex')

export interface ParseErnOptions {
  /** Refuse the message for warnings too (`publish --strict`). Default: warnings are accepted (`message.warnings`). */
  strict?: boolean
}

/** What `readErn` could read of a message, and every issue it found, graded (`policy.ts`). */
export interface ErnReading {
  message: ErnMessage
  /** Errors and warnings in message order, at most `MAX_ERN_ISSUES`. */
  issues: ErnIssue[]
  /** Issues found beyond `MAX_ERN_ISSUES`. */
  omittedIssues: number
}

const NAMESPACE = /^https?:\/\/ddex\.net\/xml\/ern\/([0-9]+)\/?$/
const SCHEMA_VERSION_ID = /^ern\/([0-9]+)$/

function isVersionCode(code: string): code is ErnVersionCode {
  return Object.hasOwn(ERN_VERSIONS, code)
}

function detectVersion(
  root: El,
  namespace: string | null,
  issues: Issues,
): { version: ErnVersion; namespace: string | null } {
  const fromNamespace = namespace === null ? null : (NAMESPACE.exec(namespace)?.[1] ?? null)
  const schemaVersionId = root.attr('MessageSchemaVersionId')
  const fromAttribute = schemaVersionId === undefined ? null : (SCHEMA_VERSION_ID.exec(schemaVersionId)?.[1] ?? null)
  if (namespace !== null && fromNamespace === null) {
    throw new ErnFormatError(
      'not-ern',
      `root element ${root.name} is in namespace ${namespace}, not an ERN namespace (http://ddex.net/xml/ern/...)`,
    )
  }
  const code = fromNamespace ?? fromAttribute
  if (code === null) {
    throw new ErnFormatError(
      'not-ern',
      `root element ${root.name} has neither an ERN namespace nor a MessageSchemaVersionId`,
    )
  }
  if (!isVersionCode(code)) {
    throw new ErnFormatError(
      'unsupported-version',
      `ERN version code ${code} is not supported; supported: ${Object.values(ERN_VERSIONS).join(', ')}`,
    )
  }
  if (fromNamespace !== null && fromAttribute !== null && fromAttribute !== fromNamespace) {
    issues.add(
      'version',
      root.attrPath('MessageSchemaVersionId'),
      schemaVersionId ?? '',
      `contradicts the namespace ${namespace}`,
    )
  }
  return { version: ERN_VERSIONS[code], namespace: fromNamespace === null ? null : namespace }
}

function readParty(el: El | undefined): ErnParty {
  if (el === undefined) return { partyId: null, name: null }
  const id = el.one('PartyId')
  return {
    partyId: nonEmpty(id?.text) ?? id?.textOf('DPID') ?? id?.textOf('ProprietaryId') ?? null,
    name: el.one('PartyName')?.textOf('FullName') ?? null,
  }
}

/** Links references across the message: tracks to recordings, deals to releases; fills track numbers. */
function resolve(
  body: ReadBody,
  issues: Issues,
): Pick<ErnMessage, 'releases' | 'soundRecordings' | 'resources' | 'deals'> {
  const recordings = new Map<string, ErnSoundRecording>()
  const soundRecordings = body.soundRecordings.map(({ recording, el }) => {
    const full: ErnSoundRecording = { ...recording, trackNumbers: [] }
    recordings.set(full.reference, full)
    const relatedRefs = [
      ...el.all('RelatedResource').map((r) => r.one('ResourceRelatedResourceReference')),
      ...(el.one('ResourceContainedResourceReferenceList')?.all('ResourceContainedResourceReference') ?? []).map((r) =>
        r.one('ResourceContainedResourceReference'),
      ),
    ]
    for (const refEl of relatedRefs) {
      if (refEl === undefined || body.resources.has(refEl.text)) continue
      issues.add(
        'reference',
        refEl.path,
        refEl.text,
        `no resource with ResourceReference ${refEl.text} in the ResourceList`,
      )
    }
    return full
  })
  const releases: ErnRelease[] = body.releases.map(({ release, resourceRefs, inheritsFromResource }) => {
    const resourceReferences: string[] = []
    const trackReferences: string[] = []
    for (const refEl of resourceRefs) {
      const ref = refEl.text
      if (!body.resources.has(ref)) {
        issues.add('reference', refEl.path, ref, `no resource with ResourceReference ${ref} in the ResourceList`)
        continue
      }
      resourceReferences.push(ref)
      if (body.resources.get(ref) === 'SoundRecording') trackReferences.push(ref)
    }
    const full: ErnRelease = { ...release, trackReferences, resourceReferences }
    const only = trackReferences.length === 1 ? recordings.get(trackReferences[0]!) : undefined
    if (inheritsFromResource && only !== undefined) {
      full.title ??= only.title
      full.subtitle ??= only.subtitle
      full.displayArtist ??= only.displayArtist
      if (full.artists.length === 0) full.artists = only.artists
    }
    trackReferences.forEach((ref, i) => {
      if (full.reference !== '')
        recordings.get(ref)?.trackNumbers.push({ releaseReference: full.reference, trackNumber: i + 1 })
    })
    return full
  })
  const releaseRefs = new Set(releases.map((r) => r.reference))
  for (const ref of body.otherReleaseRefs) releaseRefs.add(ref)
  const deals: ErnDeal[] = body.deals.map(({ deal, releaseRefs: refEls }) => {
    for (const refEl of refEls) {
      if (!releaseRefs.has(refEl.text)) {
        issues.add(
          'reference',
          refEl.path,
          refEl.text,
          `no release with ReleaseReference ${refEl.text} in the ReleaseList`,
        )
      }
    }
    return { releaseReferences: refEls.map((el) => el.text), ...deal }
  })
  return { releases, soundRecordings, resources: body.otherResources, deals }
}

/**
 * Reads a DDEX ERN message (3.8, 3.8.1, 3.8.2 or 4.1 to 4.3.2; `NewReleaseMessage` or `PurgeReleaseMessage`) as far as
 * it can, checking every identifier, territory, duration, date, currency, amount and cross-reference, and grading
 * each issue an error or a warning (`policy.ts`). A bad value is left out of the model (the issue keeps it as
 * written); everything else is read. Throws only `ErnFormatError`: not XML, not ERN, a version or message type this
 * importer does not read.
 */
export function readErn(xml: string): ErnReading {
  const { message, issues } = readAll(xml)
  return {
    message,
    issues: issues.slice(0, MAX_ERN_ISSUES),
    omittedIssues: Math.max(0, issues.length - MAX_ERN_ISSUES),
  }
}

function readAll(xml: string): { message: ErnMessage; issues: ErnIssue[] } {
  if (typeof xml !== 'string') throw new ErnFormatError('not-a-string', 'an ERN message must be given as a string')
  if (xml.length > MAX_ERN_MESSAGE_BYTES || Buffer.byteLength(xml, 'utf8') > MAX_ERN_MESSAGE_BYTES) {
    throw new ErnFormatError(
      'too-large',
      `ERN message is larger than ${MAX_ERN_MESSAGE_BYTES} bytes (MAX_ERN_MESSAGE_BYTES)`,
    )
  }
  const { root, namespace: declared } = parseXml(xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml)
  const messageType = root.name as ErnMessageType
  const issues = new Issues()
  const { version, namespace } = detectVersion(root, declared, issues)
  if (!ERN_MESSAGE_TYPES.includes(messageType)) {
    throw new ErnFormatError(
      'unsupported-message-type',
      `ERN message type ${root.name} is not supported; supported: ${ERN_MESSAGE_TYPES.join(', ')}`,
    )
  }

  const header = root.one('MessageHeader')
  if (header === undefined) issues.missing(root, 'MessageHeader')
  const messageId = header === undefined ? '' : requiredText(header, 'MessageId', issues)
  const createdEl = header?.one('MessageCreatedDateTime')
  if (header !== undefined && createdEl === undefined) issues.missing(header, 'MessageCreatedDateTime')
  const createdAtMs = readDateTime(createdEl, issues)
  const sender = readParty(header?.one('MessageSender'))
  if (header !== undefined && header.one('MessageSender') === undefined) issues.missing(header, 'MessageSender')
  else if (header !== undefined && sender.partyId === null && sender.name === null)
    issues.missing(header.one('MessageSender')!, 'PartyId')

  let body: Pick<ErnMessage, 'releases' | 'soundRecordings' | 'resources' | 'deals'> = {
    releases: [],
    soundRecordings: [],
    resources: [],
    deals: [],
  }
  const purgedReleases: ErnMessage['purgedReleases'] = []
  if (messageType === 'PurgeReleaseMessage') {
    const purged = root.some('PurgedRelease')
    if (purged.length === 0) issues.missing(root, 'PurgedRelease')
    for (const el of purged) {
      const ids = readReleaseIds(el.some('ReleaseId'), issues)
      if (el.one('ReleaseId') === undefined) issues.missing(el, 'ReleaseId')
      purgedReleases.push(ids)
    }
  } else {
    const ctx = { root, issues, createdAtMs }
    body = resolve(version.startsWith('3.') ? readErn3(ctx) : readErn4(ctx), issues)
  }

  const message: ErnMessage = {
    messageType,
    ernVersion: version,
    namespace,
    messageId,
    messageThreadId: header?.textOf('MessageThreadId') ?? null,
    createdAt: createdEl?.text ?? '',
    createdAtMs: createdAtMs ?? 0,
    controlType: header?.textOf('MessageControlType') ?? null,
    updateIndicator: root.textOf('UpdateIndicator'),
    sender,
    recipients: (header?.all('MessageRecipient') ?? []).map((el) => readParty(el)),
    ...body,
    purgedReleases,
    warnings: issues.list.filter((issue) => issue.severity === 'warning').slice(0, MAX_ERN_ISSUES),
  }
  log(
    'read %s %s %s: %d releases, %d recordings, %d other resources, %d deals, %d issues',
    version,
    messageType,
    message.messageId,
    message.releases.length,
    message.soundRecordings.length,
    message.resources.length,
    message.deals.length,
    issues.list.length,
  )
  return { message, issues: issues.list }
}

/**
 * Reads a DDEX ERN message into the domain model for publishing: throws `ErnFormatError` when it is not an ERN
 * message this importer reads, and `ErnValidationError` listing every issue when it has errors (or, with `strict`,
 * warnings). Accepted warnings are in `message.warnings`.
 */
export function parseErn(xml: string, options: ParseErnOptions = {}): ErnMessage {
  const { message, issues } = readAll(xml)
  const refusing = options.strict === true ? issues : issues.filter((issue) => issue.severity === 'error')
  if (refusing.length > 0) {
    log('refused %s %s: %d issues', message.ernVersion, message.messageType, refusing.length)
    throw new ErnValidationError(refusing.slice(0, MAX_ERN_ISSUES), Math.max(0, refusing.length - MAX_ERN_ISSUES))
  }
  return message
}
