/**
 * Errors of the delivery acknowledgements, in the js-libp2p shape: one class per condition, matched by `.name`;
 * `code` is what the rpc server sends to the peer.
 */

/** The peer asked to acknowledge served no block of those named to the asking peer (or they were acknowledged). */
export class NothingServedError extends Error {
  static override name = 'NothingServedError'
  override name = NothingServedError.name
  readonly code = 'ERR_NOTHING_SERVED'
}

/** An acknowledgement request or answer broke the wire format (names the field). */
export class DeliveryAckInvalidError extends Error {
  static override name = 'DeliveryAckInvalidError'
  override name = DeliveryAckInvalidError.name
  readonly code = 'ERR_BAD_REQUEST'
}

/** A peer that served blocks did not acknowledge them (it is left out of the receipt). */
export class DeliveryAckRefusedError extends Error {
  static override name = 'DeliveryAckRefusedError'
  override name = DeliveryAckRefusedError.name
  readonly code = 'ERR_DELIVERY_ACK_REFUSED'
}
