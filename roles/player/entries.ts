import { z } from 'zod'
import { recordCid } from '../../protocols/records/fields.ts'
import { usageEvent } from '../../protocols/usage/index.ts'
import { usageStateSchema } from '../../protocols/usage-rules/index.ts'

/**
 * The entries of the player's log: each kind and the schema of its data (README.md, "Entry kinds", says what each
 * does). The log (`log.ts`) signs and chains entries without reading them; the library (`library.ts`) checks each
 * entry's data here before it folds it in, so an entry this build cannot read is refused as an inconsistency, never
 * half-applied.
 */

export const ENTRY_KINDS = {
  genesis: 'genesis',
  device: 'device',
  purchase: 'purchase',
  purchaseFailed: 'purchase-failed',
  licence: 'licence',
  use: 'use',
  end: 'end',
  preview: 'preview',
  report: 'report',
  ack: 'ack',
  sync: 'sync',
  restore: 'restore',
  snapshot: 'snapshot',
  /** The player saw this time (a window closed): the store keeps it, so a clock set back later regains nothing. */
  clock: 'clock',
} as const

const bytes32 = z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length === 32, 'expected 32 bytes')
const someBytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length > 0, 'expected bytes')
const name = z.string().min(1).max(128)

const genesisData = z
  .object({ device: bytes32, account: bytes32, reason: z.enum(['new', 'resync']), note: z.string().max(1024) })
  .strict()
const deviceData = z.object({ record: someBytes }).strict()
const purchaseData = z
  .object({
    purchaseId: name,
    offer: recordCid,
    certification: recordCid,
    content: z.array(z.string().max(128)).max(1000),
    order: someBytes,
  })
  .strict()
const purchaseFailedData = z
  .object({ purchaseId: name, code: z.string().max(64), message: z.string().max(1024) })
  .strict()
const licenceData = z.object({ licence: someBytes, receipt: someBytes.nullable() }).strict()
const actionData = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('play') }).strict(),
  z.object({ kind: z.literal('play-seconds'), seconds: z.number().int().min(0) }).strict(),
  z.object({ kind: z.literal('export') }).strict(),
  z.object({ kind: z.literal('burn') }).strict(),
])
const useData = z
  .object({ purchaseId: name, action: actionData, event: usageEvent.nullable(), eventId: name.nullable() })
  .strict()
const endData = z.object({ eventId: name }).strict()
const previewData = z.object({ event: usageEvent }).strict()
const reportData = z.object({ seq: z.number().int().min(0), record: someBytes, events: z.array(name) }).strict()
const ackData = z
  .object({ seq: z.number().int().min(0), clearinghouse: bytes32, status: z.enum(['settled', 'held', 'duplicate']) })
  .strict()
const syncData = z.object({ purchaseIds: z.array(name) }).strict()
const restoreData = z.object({ purchaseId: name, state: usageStateSchema }).strict()
const clockData = z.object({}).strict()

const snapshotData = z
  .object({
    device: bytes32,
    account: bytes32.nullable(),
    deviceRecord: someBytes.nullable(),
    licences: z.array(
      z
        .object({ licence: someBytes, receipt: someBytes.nullable(), state: usageStateSchema, addedAt: z.number() })
        .strict(),
    ),
    events: z.array(
      z
        .object({
          event: usageEvent,
          status: z.enum(['open', 'ready', 'reported', 'acknowledged']),
          report: z.number().int().nullable(),
        })
        .strict(),
    ),
    reports: z.array(
      z.object({ seq: z.number().int(), record: someBytes, events: z.array(name), createdAt: z.number() }).strict(),
    ),
    lastReport: z.object({ seq: z.number().int(), id: recordCid }).strict().nullable(),
    purchases: z.array(
      z
        .object({
          purchaseId: name,
          offer: recordCid,
          certification: recordCid,
          content: z.array(z.string()),
          order: someBytes,
          status: z.enum(['pending', 'failed', 'complete']),
          failure: z.object({ code: z.string(), message: z.string() }).strict().nullable(),
          createdAt: z.number(),
        })
        .strict(),
    ),
  })
  .strict()

/** The data schema of each entry kind: what `Library.apply` checks an entry's `data` against before folding it in. */
export const ENTRY_DATA = {
  genesis: genesisData,
  device: deviceData,
  purchase: purchaseData,
  purchaseFailed: purchaseFailedData,
  licence: licenceData,
  use: useData,
  end: endData,
  preview: previewData,
  report: reportData,
  ack: ackData,
  sync: syncData,
  restore: restoreData,
  snapshot: snapshotData,
  clock: clockData,
} as const

/** A use the log may record (the counted actions a device performs itself). */
export type LoggedAction = z.infer<typeof actionData>

/** The log is not consistent with itself (a use the rules deny, an unknown licence...): treated as tampering. */
export class LibraryInconsistencyError extends Error {
  static override name = 'LibraryInconsistencyError'
  override name = LibraryInconsistencyError.name

  constructor(
    message = 'the log is not consistent with itself (a use the rules deny, an unknown licence...): treated as tampering',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_LIBRARY_INCONSISTENT'
}

/** Refuse an entry: the log is not consistent with itself. */
export function inconsistent(entry: { seq: number; kind: string }, message: string): never {
  throw new LibraryInconsistencyError(`entry ${entry.seq} (${entry.kind}): ${message}`)
}

/** An entry's data, checked against its kind's schema (else `LibraryInconsistencyError` naming the field). */
export function parseEntryData<T>(schema: z.ZodType<T>, entry: { seq: number; kind: string; data: unknown }): T {
  const result = schema.safeParse(entry.data)
  if (!result.success) {
    const issue = result.error.issues[0]
    inconsistent(entry, `${issue?.path.join('.') || 'data'}: ${issue?.message ?? 'invalid'}`)
  }
  return result.data
}
