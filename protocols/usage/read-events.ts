import { isIsrc } from '../identifiers/index.ts'
import { MAX_ID_CHARS } from '../records/fields.ts'
import { type Cursor, ensure, readLayout, textBytes } from '../records/layout.ts'
import { decodeUsageEvents, MAX_EVENTS_PER_REPORT, USAGE_EVENT_KINDS, type UsageEvent } from './index.ts'

/**
 * The events of an opened usage box as a clearinghouse reads them: what `decodeUsageEvents` gives, with the licence,
 * offer and contract CIDs in binary (36 bytes, views into the box's plaintext) rather than as `CID` objects — a
 * clearinghouse keys them by their text, which it writes from these bytes.
 */
export type UsageEventView = Omit<UsageEvent, 'licence' | 'offer' | 'contract'> & {
  licence: Uint8Array | null
  offer: Uint8Array | null
  contract: Uint8Array | null
}

// `{ v: 1, events: [...] }`, and each event's keys in DAG-CBOR's order (shorter first, then bytewise).
const HEAD = Uint8Array.of(0xa2, ...textBytes('v'), 0x01, ...textBytes('events'))
const EVENT_HEAD = Uint8Array.of(0xa9, ...textBytes('isrc'))
const KEY_KIND = textBytes('kind')
const KEY_OFFER = textBytes('offer')
const KEY_EVENT_ID = textBytes('eventId')
const KEY_LICENCE = textBytes('licence')
const KEY_SECONDS = textBytes('seconds')
const KEY_CONTRACT = textBytes('contract')
const KEY_STARTED_AT = textBytes('startedAt')
const KEY_PURCHASE_ID = textBytes('purchaseId')
/** An ISRC is 12 characters; a longer text is no ISRC (the general path says why). */
const MAX_ISRC_CHARS = 12

/** `fields.ts` `id`: 1 to 128 of letters, digits and `. _ : / -`. */
function id(c: Cursor): string {
  const start = c.asciiSpan(1, MAX_ID_CHARS)
  const b = c.bytes
  for (let i = start; i < c.pos; i++) {
    const ch = b[i]!
    ensure(
      (ch >= 0x61 && ch <= 0x7a) ||
        (ch >= 0x41 && ch <= 0x5a) ||
        (ch >= 0x2d && ch <= 0x3a) || // - . / 0-9 :
        ch === 0x5f, // _
    )
  }
  return c.latin1(start, c.pos - start)
}

function kind(c: Cursor): UsageEvent['kind'] {
  const start = c.asciiSpan(1, 16)
  const text = c.latin1(start, c.pos - start)
  ensure((USAGE_EVENT_KINDS as readonly string[]).includes(text))
  return text as UsageEvent['kind']
}

function isrc(c: Cursor): string {
  const start = c.asciiSpan(1, MAX_ISRC_CHARS)
  const text = c.latin1(start, c.pos - start)
  ensure(isIsrc(text))
  return text
}

function read(c: Cursor): UsageEventView[] {
  c.fixed(HEAD)
  const n = c.array(1, MAX_EVENTS_PER_REPORT)
  const events = new Array<UsageEventView>(n)
  for (let i = 0; i < n; i++) {
    c.fixed(EVENT_HEAD)
    const isrcText = isrc(c)
    c.fixed(KEY_KIND)
    const kindText = kind(c)
    c.fixed(KEY_OFFER)
    const offer = c.recordCid()
    c.fixed(KEY_EVENT_ID)
    const eventId = id(c)
    c.fixed(KEY_LICENCE)
    const licence = c.recordCid()
    c.fixed(KEY_SECONDS)
    const seconds = c.natural()
    c.fixed(KEY_CONTRACT)
    const contract = c.recordCid()
    c.fixed(KEY_STARTED_AT)
    const startedAt = c.natural()
    c.fixed(KEY_PURCHASE_ID)
    const purchaseId = c.maybe(0xf6) ? null : id(c)
    events[i] = { eventId, kind: kindText, isrc: isrcText, purchaseId, licence, offer, contract, startedAt, seconds }
  }
  return events
}

/** The events as read by hand; `undefined` where the general path decides. */
export function readUsageEventsLayout(bytes: Uint8Array): UsageEventView[] | undefined {
  return readLayout(bytes, read)
}

/**
 * The events of an opened box. The usual box (canonical DAG-CBOR, as every player writes it) is read by hand in one
 * pass; anything else goes to `decodeUsageEvents`, which accepts any valid DAG-CBOR with valid events and names what
 * is wrong. Throws what `decodeUsageEvents` throws, for the same bytes.
 */
export function readUsageEvents(bytes: Uint8Array): UsageEventView[] {
  const laid = readLayout(bytes, read)
  if (laid !== undefined) return laid
  return decodeUsageEvents(bytes).map((e) => ({
    ...e,
    licence: e.licence === null ? null : e.licence.bytes,
    offer: e.offer === null ? null : e.offer.bytes,
    contract: e.contract === null ? null : e.contract.bytes,
  }))
}
