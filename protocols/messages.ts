import { z } from 'zod'

/**
 * Building blocks of request/response bodies. Records travel as their envelope bytes and are decoded and
 * verified by the receiver (`decodeRecordAs`), never trusted as parsed objects.
 */
export const MAX_RECORD_MESSAGE_BYTES = 1024 * 1024

export const recordBytes = z.custom<Uint8Array>(
  (v) => v instanceof Uint8Array && v.length > 0 && v.length <= MAX_RECORD_MESSAGE_BYTES,
  { message: `expected record bytes (1 to ${MAX_RECORD_MESSAGE_BYTES})` },
)

/** Parse a request or response body, turning a schema failure into a message naming the field. */
export function parseMessage<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  const field = [what, ...issue.path.map(String)].join('.')
  const message = issue.code === 'unrecognized_keys' ? `unexpected field(s) ${issue.keys.join(', ')}` : issue.message
  throw new MessageSchemaError(field, message)
}

export class MessageSchemaError extends Error {
  static override name = 'MessageSchemaError'
  override name = MessageSchemaError.name

  readonly code = 'ERR_BAD_REQUEST'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}
