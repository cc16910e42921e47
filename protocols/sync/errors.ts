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

/** An entry of this node's own catch-up log that is not in either format the log writes (a damaged data dir). */
export class SyncLogCorruptError extends Error {
  static override name = 'SyncLogCorruptError'
  override name = SyncLogCorruptError.name

  constructor(message = 'A catch-up log entry in neither known format', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_SYNC_LOG_CORRUPT'
}
