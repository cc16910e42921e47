/**
 * Errors of the delivery acknowledgements, in the js-libp2p shape: one class per condition, matched by `.name`;
 * `code` is what the rpc server sends to the peer.
 */

/** The peer asked to acknowledge served no block of those named to the asking peer (or they were acknowledged). */
export class NothingServedError extends Error {
  static override readonly name = 'NothingServedError'
  static readonly code = 'ERR_NOTHING_SERVED'
  override readonly name = NothingServedError.name
  readonly code = NothingServedError.code
}

/** An acknowledgement request or answer broke the wire format (names the field). */
export class DeliveryAckInvalidError extends Error {
  static override readonly name = 'DeliveryAckInvalidError'
  static readonly code = 'ERR_BAD_REQUEST'
  override readonly name = DeliveryAckInvalidError.name
  readonly code = DeliveryAckInvalidError.code
}

/** A peer that served blocks did not acknowledge them (it is left out of the receipt). */
export class DeliveryAckRefusedError extends Error {
  static override readonly name = 'DeliveryAckRefusedError'
  static readonly code = 'ERR_DELIVERY_ACK_REFUSED'
  override readonly name = DeliveryAckRefusedError.name
  readonly code = DeliveryAckRefusedError.code
}
