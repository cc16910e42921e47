/**
 * The role's own state (the `state` sublevel next to the ledger's): key builders and the strict codecs of every
 * row. Values are DAG-CBOR maps with `v: 1`, checked on read; a row that does not decode is a StateCorruptError
 * naming its key. The layout is listed in README.md; a retired prefix is never reused.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { z } from 'zod'
import { Lru } from '../../keys/lru.ts'
import { StateCorruptError } from './errors.ts'
import { encodeDagCbor, rowBytes } from './ledger/dag-cbor-encoder.ts'

/** Width of zero-padded numbers in keys, so that key order is numeric order (2^53 has 16 digits). */
const NUMBER_WIDTH = 16
export const pad = (n: number): string => String(n).padStart(NUMBER_WIDTH, '0')

export const StateKeys = {
  version: 'm/version',
  journalNext: 'm/journal-next',
  journal: (n: number) => `j/${pad(n)}`,
  journalPrefix: 'j/',
  purchase: (purchaseId: string) => `p/${purchaseId}`,
  purchasePrefix: 'p/',
  purchaseExpiry: (expiresAt: number, purchaseId: string) => `pe/${pad(expiresAt)}/${purchaseId}`,
  purchaseExpiryPrefix: 'pe/',
  report: (reportId: string) => `r/${reportId}`,
  reportPrefix: 'r/',
  device: (device: string) => `d/${device}`,
  devicePrefix: 'd/',
  gap: (device: string, seq: number, reportId: string) => `h/${device}/${pad(seq)}/${reportId}`,
  gapDevice: (device: string) => `h/${device}/`,
  gapAt: (device: string, seq: number) => `h/${device}/${pad(seq)}/`,
  gapPrefix: 'h/',
  fork: (device: string, seq: number, reportId: string) => `f/${device}/${pad(seq)}/${reportId}`,
  forkPrefix: 'f/',
  event: (device: string, eventId: string) => `e/${device}/${eventId}`,
  account: (account: string) => `a/${account}`,
  heldMissing: (device: string, eventId: string) => `qm/${device}/${eventId}`,
  heldMissingPrefix: 'qm/',
  heldSuspicious: (device: string, eventId: string) => `qs/${device}/${eventId}`,
  heldSuspiciousPrefix: 'qs/',
  line: (period: string, pk: string, currency: string, lineKey: string) => `L/${period}/${pk}/${currency}/${lineKey}`,
  linePrefix: (period: string, pk: string, currency?: string) =>
    currency === undefined ? `L/${period}/${pk}/` : `L/${period}/${pk}/${currency}/`,
  linesPrefix: 'L/',
  participant: (pk: string) => `P/${pk}`,
  participantPrefix: 'P/',
  participantByKey: (key: string, pk: string) => `K/${key}/${pk}`,
  participantByKeyPrefix: (key: string) => `K/${key}/`,
  revenue: (period: string, retailer: string, currency: string) => `R/${period}/${retailer}/${currency}`,
  revenuePrefix: (period?: string) => (period === undefined ? 'R/' : `R/${period}/`),
  plays: (period: string, retailer: string, currency: string, contract: string, content: string) =>
    `C/${period}/${retailer}/${currency}/${contract}/${content}`,
  playsPrefix: (period?: string) => (period === undefined ? 'C/' : `C/${period}/`),
  closed: (period: string) => `Z/${period}`,
  /** A period that has lines and is not closed yet. */
  activePeriod: (period: string) => `O/${period}`,
  activePeriodPrefix: 'O/',
  record: (cid: string) => `rec/${cid}`,
  contractVersion: (contractId: string) => `k/${contractId}`,
  fund: (account: string, requestId: string) => `g/${account}/${requestId}`,
  usage: (device: string, purchaseId: string) => `u/${device}/${purchaseId}`,
  /** Per purchase: the uses every device of the account reported, and the plays admitted within its licence. */
  purchaseUse: (purchaseId: string) => `pu/${purchaseId}`,
  usagePrefix: (device: string) => `u/${device}/`,
  fundPrefix: 'g/',
  /** What a producer's record says of a content id (for DSR reports), per signer. */
  contentInfo: (contentId: string, signer: string) => `ci/${contentId}/${signer}`,
  contentInfoPrefix: (contentId: string) => `ci/${contentId}/`,
  /** Plays settled in a period under one licence and contract, of one recording (for DSR reports). */
  dsrPlays: (period: string, licence: string, contract: string, isrc: string) =>
    `T/${period}/${licence}/${contract}/${isrc}`,
  dsrPlaysPrefix: (period: string) => `T/${period}/`,
} as const

/** The key range of everything under `prefix` (which ends in `/`). */
export function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}` }
}

const amount = z.union([z.bigint(), z.number().int()]).transform((v) => BigInt(v))
const nat = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const hex64 = z.string().regex(/^[0-9a-f]{64}$/)
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array)

/**
 * A purchase here: `authorised` (the price is held) → `capturing` → `captured` (split; a `consort/payment` was
 * signed) → possibly `refunding` → `refunded` (the registrar withdrew the receipt). The ends before a capture are
 * final for the purchase id, whoever asks next: `voided`, `expired`, `refused` (insufficient funds) and
 * `cancelled` (voided, with its signed order, before its authorisation arrived: nothing was ever held).
 */
export const PURCHASE_STATES = [
  'authorised',
  'capturing',
  'captured',
  'voided',
  'expired',
  'refused',
  'cancelled',
  'refunding',
  'refunded',
] as const
export type PurchaseStateName = (typeof PURCHASE_STATES)[number]

export const purchaseRow = z
  .object({
    v: z.literal(1),
    purchaseId: z.string(),
    orderDigest: z.string(),
    account: hex64,
    retailer: hex64,
    device: hex64,
    amount,
    currency: z.string(),
    offer: z.string(),
    certification: z.string(),
    content: z.string(),
    territory: z.string(),
    promotion: z.boolean(),
    authorisation: z.string(),
    expiresAt: nat,
    state: z.enum(PURCHASE_STATES),
    authorisedAt: nat,
    resolvedAt: nat.nullable(),
    receipt: z.string().nullable(),
    /** Licences are no longer presented at capture (money before keys): kept for rows written before. */
    licence: z.string().nullable(),
    contract: z.string().nullable(),
    reason: z.string().nullable(),
    /** The `consort/payment` signed at capture (its CID; the record is kept with the other records). */
    payment: z.string().nullable().optional(),
  })
  .strict()
export type PurchaseRow = z.infer<typeof purchaseRow>

export const storeOp = z.union([
  z.object({ t: z.literal('put'), k: z.string(), v: bytes }).strict(),
  z.object({ t: z.literal('del'), k: z.string() }).strict(),
])
export type StoreOp = z.infer<typeof storeOp>

const accountInput = z
  .object({
    id: z.string(),
    currency: z.string(),
    kind: z.string(),
    owner: z.string(),
    flags: z.object({ debitsMustNotExceedCredits: z.boolean().optional() }).strict(),
  })
  .strict()

/** Money as the ledger takes it: DAG-CBOR gives small integers back as numbers. */
const money = z.union([z.bigint(), z.number().int().min(1)]).transform((v) => BigInt(v))

const journalTransfer = z.union([
  z
    .object({
      kind: z.literal('posted'),
      id: z.string(),
      debitAccountId: z.string(),
      creditAccountId: z.string(),
      amount: money,
      code: z.string(),
      reference: z.string(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('pending'),
      id: z.string(),
      debitAccountId: z.string(),
      creditAccountId: z.string(),
      amount: money,
      timeoutMs: nat,
      code: z.string(),
      reference: z.string(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('post_pending'),
      id: z.string(),
      pendingId: z.string(),
      code: z.string(),
      reference: z.string(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('void_pending'),
      id: z.string(),
      pendingId: z.string(),
      code: z.string(),
      reference: z.string(),
    })
    .strict(),
])
export type JournalTransfer = z.infer<typeof journalTransfer>

export const journalRow = z
  .object({
    v: z.literal(1),
    n: nat,
    kind: z.string(),
    ref: z.string(),
    accounts: z.array(accountInput),
    transfers: z.array(journalTransfer),
    onSuccess: z.array(storeOp),
    onFailure: z.array(storeOp),
  })
  .strict()
export type JournalRow = z.infer<typeof journalRow>

export const REPORT_STATUSES = ['settled', 'held', 'fork'] as const
export type ReportStatusName = (typeof REPORT_STATUSES)[number]

/**
 * A stored report: its status, when it was stored, the device registration it came with, and the report's own
 * bytes (which carry its device, account, seq and sealed events). Written for every report, so it has its own
 * small binary layout instead of a DAG-CBOR map (encoding a map per report cost a fifth of the main thread):
 *
 *   0: layout version (1)   1: status (0 settled, 1 held, 2 fork)   2..9: storedAt (u64 BE)
 *   10: n = length of the registration CID's bytes   11..11+n: those bytes   then: the usage record's bytes
 */
export interface ReportRow {
  status: ReportStatusName
  storedAt: number
  /** The device registration's CID (string). */
  deviceRecord: string
  bytes: Uint8Array
}

/**
 * The binary form of the device registrations named by report rows, remembered: every report of a device names the
 * same one, and parsing its base32 string is most of writing the row. One per active device, ~150 bytes each.
 */
const registrationBytes = new Lru<string, Uint8Array>(16_384)

export function encodeReportRow(row: ReportRow): Uint8Array {
  let cid = registrationBytes.get(row.deviceRecord)
  if (cid === undefined) {
    cid = CID.parse(row.deviceRecord).bytes
    registrationBytes.set(row.deviceRecord, cid)
  }
  const out = rowBytes(11 + cid.length + row.bytes.length)
  out[0] = 1
  out[1] = REPORT_STATUSES.indexOf(row.status)
  // storedAt as a u64, big-endian (a safe integer: the high word is below 2^21).
  const high = Math.floor(row.storedAt / 0x100000000)
  const low = row.storedAt >>> 0
  for (let i = 0; i < 4; i++) {
    out[2 + i] = (high >>> (24 - 8 * i)) & 0xff
    out[6 + i] = (low >>> (24 - 8 * i)) & 0xff
  }
  out[10] = cid.length
  out.set(cid, 11)
  out.set(row.bytes, 11 + cid.length)
  return out
}

export function decodeReportRow(key: string, bytes: Uint8Array): ReportRow {
  const status = REPORT_STATUSES[bytes[1] ?? 255]
  const n = bytes[10] ?? 0
  if (bytes.length < 11 + n || bytes[0] !== 1 || status === undefined) {
    throw new StateCorruptError(key, 'not a stored report (layout 1)')
  }
  let deviceRecord: string
  try {
    deviceRecord = CID.decode(bytes.subarray(11, 11 + n)).toString()
  } catch (err) {
    throw new StateCorruptError(key, `registration CID: ${(err as Error).message}`)
  }
  const storedAt = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(2))
  return { status, storedAt, deviceRecord, bytes: bytes.subarray(11 + n) }
}

export const deviceRow = z
  .object({
    v: z.literal(1),
    account: hex64,
    next: nat,
    head: z.string().nullable(),
    /** The last play that counted: its start and end. */
    lastStart: nat,
    lastEnd: nat,
    /** Retired (issue 11): the device's claimed clock hour and its plays, which back-dated plays spread out. */
    hour: nat,
    hourPlays: nat,
    forks: nat,
    gaps: nat,
    /**
     * The play-rate bound on the clearinghouse's own clock (a GCRA "theoretical arrival time"): a play is admitted
     * when `max(playsDueAt, now) + PLAY_INTERVAL_MS − now ≤ PLAY_BURST_MS`, and moves it on by one interval. Absent
     * on rows written before it: no play counted yet.
     */
    playsDueAt: nat.optional(),
  })
  .strict()
export type DeviceRow = z.infer<typeof deviceRow>

/** A usage event as the role keeps it (record links as CID strings). */
export const storedEvent = z
  .object({
    eventId: z.string(),
    kind: z.enum(['play', 'export', 'burn', 'preview']),
    isrc: z.string(),
    purchaseId: z.string().nullable(),
    licence: z.string().nullable(),
    offer: z.string().nullable(),
    contract: z.string().nullable(),
    startedAt: nat,
    seconds: nat,
  })
  .strict()
export type StoredEvent = z.infer<typeof storedEvent>

export const gapRow = z
  .object({
    v: z.literal(1),
    reportId: z.string(),
    seq: nat,
    prev: z.string().nullable(),
    created: nat,
    account: hex64,
    events: z.array(storedEvent),
  })
  .strict()
export type GapRow = z.infer<typeof gapRow>

export const forkRow = z
  .object({ v: z.literal(1), reportId: z.string(), seq: nat, prev: z.string().nullable(), at: nat })
  .strict()
export type ForkRow = z.infer<typeof forkRow>

export const accountPlaysRow = z
  .object({
    v: z.literal(1),
    devices: z.array(z.object({ device: hex64, start: nat, end: nat }).strict()),
  })
  .strict()
export type AccountPlaysRow = z.infer<typeof accountPlaysRow>

export const HOLD_REASONS = [
  /** A record needed to verify or price the play (licence, offer, contract) is not known yet: tried again. */
  'record-missing',
  /** The play overlaps the device's previous play, or claims to end after the report was made. */
  'faster-than-real-time',
  /** More of the account's devices were playing at once than the account may have. */
  'too-many-devices',
  /** More plays from the device than a person can listen to by the time they arrived (the clearinghouse's clock). */
  'too-many-plays',
  /** More than the licence allows (plays, play seconds, rental or licence window): never paid. */
  'beyond-licence',
  /** The play claims to start before its licence was issued. */
  'before-licence',
  /** Paying for it would take the retailer below its credit limit. */
  'credit-limit',
  /** The licence does not cover this play (another device, account, purchase, track or contract; expired). */
  'licence-mismatch',
  /** The licence was revoked. */
  'licence-revoked',
  /** A play without a purchase or licence. */
  'unlicensed',
] as const
export type HoldReason = (typeof HOLD_REASONS)[number]

export const heldRow = z
  .object({
    v: z.literal(1),
    reason: z.enum(HOLD_REASONS),
    detail: z.string(),
    device: hex64,
    account: hex64,
    reportId: z.string(),
    event: storedEvent,
    heldAt: nat,
    attempts: nat,
  })
  .strict()
export type HeldRow = z.infer<typeof heldRow>

/**
 * `delivery`: paid to a peer that delivered blocks, from a player's receipt (decision 0511). `referral`: credited to
 * the referrer of a sale made through a share, from the retailer's or the distributor's share (decision 0512).
 */
export const LINE_KINDS = ['sale', 'play', 'split', 'fee', 'refund', 'adjustment', 'delivery', 'referral'] as const
export type LineKind = (typeof LINE_KINDS)[number]

export const lineRow = z
  .object({
    v: z.literal(1),
    participant: z.string(),
    kind: z.enum(LINE_KINDS),
    ref: z.string(),
    content: z.string().nullable(),
    units: nat,
    amount: z.union([z.bigint(), z.number().int()]).transform((v) => BigInt(v)),
    counterparty: z.string().nullable(),
    at: nat,
  })
  .strict()
export type LineRow = z.infer<typeof lineRow>

export const participantRow = z.object({ v: z.literal(1), id: z.string(), key: hex64.nullable() }).strict()
export type ParticipantRow = z.infer<typeof participantRow>

export const revenueRow = z.object({ v: z.literal(1), amount }).strict()
export const playsRow = z
  .object({ v: z.literal(1), plays: nat, distributor: hex64, contractCid: z.string(), content: z.string() })
  .strict()
export type PlaysRow = z.infer<typeof playsRow>
export const closedRow = z.object({ v: z.literal(1), closedAt: nat }).strict()
export const contractVersionRow = z.object({ v: z.literal(1), seq: nat, cid: z.string() }).strict()

export const contentInfoRow = z
  .object({
    v: z.literal(1),
    seq: nat,
    title: z.string(),
    subtitle: z.string().nullable(),
    artists: z.array(z.string()),
    durationMs: nat.nullable(),
    release: z
      .object({ icpn: z.string().nullable(), grid: z.string().nullable(), title: z.string() })
      .strict()
      .nullable(),
    label: z.string().nullable(),
    releaseType: z.string().nullable(),
    releaseDate: z.string().nullable(),
    tracks: z.array(z.string()),
  })
  .strict()
export type ContentInfoRow = z.infer<typeof contentInfoRow>

export const dsrPlaysRow = z
  .object({ v: z.literal(1), licence: z.string(), contract: z.string(), isrc: z.string(), plays: nat })
  .strict()
export type DsrPlaysRow = z.infer<typeof dsrPlaysRow>

export const FUND_STATES = ['charging', 'done'] as const
export const fundRow = z
  .object({
    v: z.literal(1),
    state: z.enum(FUND_STATES),
    amount,
    currency: z.string(),
    transferId: z.string(),
    gateway: z.string(),
    reference: z.string().nullable(),
    requestedAt: nat,
  })
  .strict()
export type FundRow = z.infer<typeof fundRow>

/** What a device's acknowledged events add up to, per purchase (the `usage-state` answer). */
export const usageRow = z
  .object({
    v: z.literal(1),
    plays: nat,
    playSeconds: nat,
    exports: nat,
    burns: nat,
    firstPlayAt: nat.nullable(),
  })
  .strict()
export type UsageRow = z.infer<typeof usageRow>

/**
 * What one purchase has used, over every device of its account: `used` counts every acknowledged use (what the
 * devices consumed: `consort/consumption` reports it, and a reissued licence starts from it); `admitted` counts the
 * plays admitted within the licence's rules (settled or settling), what the next play is evaluated against.
 */
export const purchaseUseRow = z
  .object({
    v: z.literal(1),
    account: hex64,
    used: z.object({ plays: nat, playSeconds: nat, exports: nat, burns: nat, firstPlayAt: nat.nullable() }).strict(),
    admitted: z.object({ plays: nat, playSeconds: nat, firstPlayAt: nat.nullable() }).strict(),
  })
  .strict()
export type PurchaseUseRow = z.infer<typeof purchaseUseRow>

export const numberRow = nat

/** Encode a row (a plain object of DAG-CBOR-encodable values): canonical DAG-CBOR, written by hand. */
export function encodeRow(value: unknown): Uint8Array {
  return encodeDagCbor(value)
}

/** Decode a row with its schema; anything else is a StateCorruptError naming the key. */
export function decodeRow<T>(schema: z.ZodType<T>, key: string, bytes: Uint8Array): T {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new StateCorruptError(key, `not DAG-CBOR (${(err as Error).message})`)
  }
  const result = schema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]!
    throw new StateCorruptError(key, `${issue.path.join('.') || 'value'}: ${issue.message}`)
  }
  return result.data
}

/** The period (UTC month, `YYYY-MM`) a time falls in. */
export function periodOf(ms: number): string {
  const d = new Date(ms)
  return `${d.getUTCFullYear().toString().padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`
}

export const PERIOD_PATTERN = /^\d{4}-(0[1-9]|1[0-2])$/

/** The first millisecond of a period and of the next one. */
export function periodBounds(period: string): { start: number; end: number } {
  const year = Number(period.slice(0, 4))
  const month = Number(period.slice(5, 7)) - 1
  return { start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) }
}
