/** A catch-up answer that breaks the protocol (wrong shape, a message for a topic not asked for). */
export class SyncProtocolError extends Error {
  static override name = 'SyncProtocolError'
  override name = SyncProtocolError.name

  constructor(
    message = 'A catch-up answer that breaks the protocol (wrong shape, a message for a topic not asked for)',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_SYNC_PROTOCOL'
}
