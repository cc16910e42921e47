import { RecordError } from '../records/errors.ts'

export const MESSAGE_TOO_LARGE = 'ERR_MESSAGE_TOO_LARGE'

/** A gossip message larger than its topic's cap (refused before it is decoded). */
export class MessageTooLargeError extends RecordError {
  static override name = 'MessageTooLargeError'
  override name = MessageTooLargeError.name

  override readonly code = MESSAGE_TOO_LARGE
}
