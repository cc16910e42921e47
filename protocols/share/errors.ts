/**
 * Why a share link or a share record was not accepted, one class per condition in the js-libp2p shape (matched by
 * `.name`, decision 0014). Each message names what is wrong, so a person who pasted a link can be told.
 */

/** The text is not base64url (RFC 4648 §5, no padding) or is longer than any share. */
export class ShareEncodingError extends Error {
  static override name = 'ShareEncodingError'
  override name = ShareEncodingError.name
  readonly code = 'ERR_SHARE_ENCODING'
}

/** The bytes are not a valid `consort/share` record of this network (another record, a broken envelope or body). */
export class NotAShareError extends Error {
  static override name = 'NotAShareError'
  override name = NotAShareError.name
  readonly code = 'ERR_NOT_A_SHARE'
}

/** The share's signature does not verify, or it is not signed by the referrer it names. */
export class ShareSignatureError extends Error {
  static override name = 'ShareSignatureError'
  override name = ShareSignatureError.name
  readonly code = 'ERR_SHARE_SIGNATURE'
}

/** The share expired (against the clock of whoever checks it). */
export class ShareExpiredError extends Error {
  static override name = 'ShareExpiredError'
  override name = ShareExpiredError.name
  readonly code = 'ERR_SHARE_EXPIRED'
}
