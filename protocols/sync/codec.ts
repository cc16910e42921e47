import { z } from 'zod'
import { TOPIC_NAMES } from '../topics/names.ts'
import { SYNC_PAGE_MESSAGES, SYNC_TOPICS } from './constants.ts'

/** A log epoch: 16 random bytes in hex, new whenever a node's log starts afresh. */
const epoch = z.string().regex(/^[0-9a-f]{32}$/)
const cursor = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

/**
 * `pull`: the messages on `topics` that the peer accepted after position `after` of its log. `epoch` is the log the
 * cursor belongs to; if the peer's log is another one (it was wiped), the peer answers from the start.
 */
export const pullRequest = z
  .object({
    topics: z
      .array(z.enum(SYNC_TOPICS as [string, ...string[]]))
      .min(1)
      .max(SYNC_TOPICS.length),
    epoch: epoch.nullable(),
    after: cursor,
    limit: z.number().int().min(1).max(SYNC_PAGE_MESSAGES),
  })
  .strict()
export type PullRequest = z.infer<typeof pullRequest>

export const pullResponse = z
  .object({
    epoch,
    messages: z
      .array(
        z
          .object({
            topic: z.enum(TOPIC_NAMES),
            data: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes'),
          })
          .strict(),
      )
      .max(SYNC_PAGE_MESSAGES),
    /** The cursor to ask from next time: the last log position this answer covered. */
    next: cursor,
    /** True when the log holds more after `next`. */
    more: z.boolean(),
  })
  .strict()
export type PullResponse = z.infer<typeof pullResponse>
