/** A catch-up answer that breaks the protocol (wrong shape, a message for a topic not asked for). */
export class SyncProtocolError extends Error {
  override name = 'SyncProtocolError'
  readonly code = 'ERR_SYNC_PROTOCOL'
}
