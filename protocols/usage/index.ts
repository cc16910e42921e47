import * as dagCbor from '@ipld/dag-cbor'
import { toString as bytesToHex } from 'uint8arrays/to-string'
import { z } from 'zod'
import { parseMessage } from '../messages.ts'
import { count, id, isrc, recordCid, timestamp } from '../records/fields.ts'

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

export function decodeUsageEvents(bytes: Uint8Array): UsageEvent[] {
  return parseMessage(usageEvents, dagCbor.decode(bytes), 'events').events
}

/** The seal context that binds a sealed batch to its report: it cannot be moved into another report. */
export function usageSealContext(network: string, device: Uint8Array, seq: number): string {
  return `consort/usage/${network}/${bytesToHex(device, 'base16')}/${seq}`
}
