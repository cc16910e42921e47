import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'
import { toHex } from '../../keys/hex.ts'
import { parseMessage } from '../messages.ts'
import { decodeCanonical } from '../records/canonical.ts'
import { count, id, isrc, recordCid, timestamp } from '../records/fields.ts'
import * as q from '../records/quick.ts'

/**
 * What a `consort/usage` report says, sealed to each clearinghouse so that only they learn what a listener
 * played. `eventId` is unique per device and never reused: it is what settlement deduplicates on.
 */
export const USAGE_EVENT_KINDS = ['play', 'export', 'burn', 'preview'] as const
/** Events in one report: a player that was offline for weeks batches them. */
export const MAX_EVENTS_PER_REPORT = 2000

export const usageEvent = z
  .object({
    eventId: id,
    kind: z.enum(USAGE_EVENT_KINDS),
    isrc,
    /** The purchase and licence the use was made under; null for a preview. */
    purchaseId: id.nullable(),
    licence: recordCid.nullable(),
    offer: recordCid.nullable(),
    contract: recordCid.nullable(),
    startedAt: timestamp,
    /** Seconds of audio played (0 for export and burn). */
    seconds: count,
  })
  .strict()
export type UsageEvent = z.infer<typeof usageEvent>

export const usageEvents = z
  .object({ v: z.literal(1), events: z.array(usageEvent).min(1).max(MAX_EVENTS_PER_REPORT) })
  .strict()

export function encodeUsageEvents(events: UsageEvent[]): Uint8Array {
  return dagCbor.encode({ v: 1, events })
}

const EVENT_KEYS = [
  'eventId',
  'kind',
  'isrc',
  'purchaseId',
  'licence',
  'offer',
  'contract',
  'startedAt',
  'seconds',
] as const

/** `usageEvents` by hand (see `protocols/records/quick.ts`): the schema's output, or `undefined` to let it decide. */
export const quickUsageEvents = q.quick((v): UsageEvent[] => {
  const o = q.object(v, ['v', 'events'])
  q.ensure(o.v === 1)
  return q.array(o.events, 1, MAX_EVENTS_PER_REPORT, (item) => {
    const e = q.object(item, EVENT_KEYS)
    return {
      eventId: q.id(e.eventId),
      kind: q.oneOf(e.kind, USAGE_EVENT_KINDS),
      isrc: q.isrc(e.isrc),
      purchaseId: q.nullable(e.purchaseId, q.id),
      licence: q.nullable(e.licence, q.recordCid),
      offer: q.nullable(e.offer, q.recordCid),
      contract: q.nullable(e.contract, q.recordCid),
      startedAt: q.natural(e.startedAt),
      seconds: q.natural(e.seconds),
    }
  })
})

/**
 * The events of an opened box. The usual box (canonical DAG-CBOR, valid events) takes the fast path: the record
 * decoder and the quick check. Anything else goes the schema's way, which accepts any valid DAG-CBOR (players need not
 * encode canonically here) and names what is wrong.
 */
export function decodeUsageEvents(bytes: Uint8Array): UsageEvent[] {
  let fast: UsageEvent[] | undefined
  try {
    fast = quickUsageEvents(decodeCanonical(bytes))
  } catch {
    fast = undefined
  }
  return fast ?? parseMessage(usageEvents, dagCbor.decode(bytes), 'events').events
}

/** The seal context that binds a sealed batch to its report: it cannot be moved into another report. */
export function usageSealContext(network: string, device: Uint8Array, seq: number): string {
  return `consort/usage/${network}/${toHex(device)}/${seq}`
}
