/**
 * Errors of the consumer player: one class per condition a caller may handle, matched by `name` (decision 0014).
 * Each carries a stable `code` (starting `ERR_`, which the control API passes to the CLI); its HTTP status is the
 * HTTP edge's business (`protocols/http-status.ts`). Conditions the player shares with a protocol or another role
 * are those classes, re-exported here.
 */
export { DeviceNotRegisteredError, LicenceRevokedError } from '../../protocols/licence/errors.ts'
export { PurchasePendingError } from '../../protocols/purchase/errors.ts'
export { RangeNotSatisfiableError, StoreVersionError } from '../common/errors.ts'

export class PlayerError extends Error {
  static override name = 'PlayerError'
  override name = PlayerError.name

  constructor(message = 'the player refused', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code: string = 'ERR_PLAYER'
}

/**
 * The local licence store does not verify: an entry was edited, deleted, reordered or forged. Playback and every
 * other use refuse until `resync()` (`consort licences --resync`).
 */
export class StoreTamperedError extends PlayerError {
  static override name = 'StoreTamperedError'
  override name = StoreTamperedError.name

  override readonly code = 'ERR_STORE_TAMPERED'
  /** The first sequence number at fault, or null when the fault is not at one entry (a missing head). */
  readonly seq: number | null

  constructor(seq: number | null, message: string) {
    super(`the licence store was altered (${message}); run: consort licences --resync`)
    this.seq = seq
  }
}

/** No licence on this device covers the content (and it has no preview either, for a preview). */
export class NoLicenceError extends PlayerError {
  static override name = 'NoLicenceError'
  override name = NoLicenceError.name

  override readonly code = 'ERR_NO_LICENCE'
}

/** The usage rules deny the use; `reason` is the shared rules function's code (`plays-exhausted`…). */
export class UsageDeniedError extends PlayerError {
  static override name = 'UsageDeniedError'
  override name = UsageDeniedError.name

  override readonly code = 'ERR_USAGE_DENIED'
  readonly reason: string

  constructor(reason: string, message: string) {
    super(`${message} (${reason})`)
    this.reason = reason
  }
}

/**
 * The account already holds, on this device, licences that give at least what the offer would: buying it again would
 * charge again for nothing (issue 11, finding 5). `buy(…, { again: true })` (`consort buy --again`) buys anyway.
 */
export class AlreadyOwnedError extends PlayerError {
  static override name = 'AlreadyOwnedError'
  override name = AlreadyOwnedError.name

  override readonly code = 'ERR_ALREADY_OWNED'
  /** The purchases whose licences cover the offer. */
  readonly purchases: string[]

  constructor(message: string, purchases: string[]) {
    super(message)
    this.purchases = purchases
  }
}

/** A licence or receipt that came back does not check out (signer, device, purchase, keys). */
export class InvalidLicenceError extends PlayerError {
  static override name = 'InvalidLicenceError'
  override name = InvalidLicenceError.name

  override readonly code = 'ERR_LICENCE_INVALID'
}

/** No offer with that id is known: list offers first (`consort offers CONTENT`). */
export class OfferNotFoundError extends PlayerError {
  static override name = 'OfferNotFoundError'
  override name = OfferNotFoundError.name

  override readonly code = 'ERR_OFFER_NOT_FOUND'
}

/** The retailer (or a service behind it) refused the purchase; `remoteCode` is its error code. */
export class PurchaseRefusedError extends PlayerError {
  static override name = 'PurchaseRefusedError'
  override name = PurchaseRefusedError.name

  override readonly code = 'ERR_PURCHASE_REFUSED'
  readonly remoteCode: string

  constructor(remoteCode: string, message: string) {
    super(message)
    this.remoteCode = remoteCode
  }
}

/** No manifest is known for the content (not seen on the catalog topic, not found by the catalog). */
export class ContentNotFoundError extends PlayerError {
  static override name = 'ContentNotFoundError'
  override name = ContentNotFoundError.name

  override readonly code = 'ERR_CONTENT_NOT_FOUND'
}

/** A segment could not be fetched (no peer had it within the attempts) or did not verify. */
export class SegmentUnavailableError extends PlayerError {
  static override name = 'SegmentUnavailableError'
  override name = SegmentUnavailableError.name

  override readonly code = 'ERR_SEGMENT_UNAVAILABLE'
}

/** A content key or segment did not open: the licence is not for this device, or the data is corrupt. */
export class DecryptionError extends PlayerError {
  static override name = 'DecryptionError'
  override name = DecryptionError.name

  override readonly code = 'ERR_DECRYPTION'
}

/** The network record lists no clearinghouse, or none answered. */
export class ClearinghouseUnavailableError extends PlayerError {
  static override name = 'ClearinghouseUnavailableError'
  override name = ClearinghouseUnavailableError.name

  override readonly code = 'ERR_CLEARINGHOUSE_UNAVAILABLE'
}

/** An account key file, or an account export, cannot be used. */
export class AccountKeyError extends PlayerError {
  static override name = 'AccountKeyError'
  override name = AccountKeyError.name

  override readonly code = 'ERR_ACCOUNT_KEY'
}

/** An account key is already there: importing another would orphan this device's licences. */
export class AccountExistsError extends PlayerError {
  static override name = 'AccountExistsError'
  override name = AccountExistsError.name

  override readonly code = 'ERR_ACCOUNT_EXISTS'
}

/** A control request named something malformed (the message names the field). */
export class BadPlayerRequestError extends PlayerError {
  static override name = 'BadPlayerRequestError'
  override name = BadPlayerRequestError.name

  override readonly code = 'ERR_BAD_REQUEST'
}

/** A web playback session is unknown or has expired. */
export class SessionNotFoundError extends PlayerError {
  static override name = 'SessionNotFoundError'
  override name = SessionNotFoundError.name

  override readonly code = 'ERR_SESSION_NOT_FOUND'
}

/** The player is stopped (or was never started). */
export class PlayerStoppedError extends PlayerError {
  static override name = 'PlayerStoppedError'
  override name = PlayerStoppedError.name

  override readonly code = 'ERR_PLAYER_STOPPED'
}

/**
 * What was given as a share link is not one (not `consort://share/…`, no `/share/…` or `?share=` in a web address, or
 * characters a share's text never has). A share that is one but does not verify is the share protocol's error
 * (`protocols/share/errors.ts`: encoding, not a share, signature, expired).
 */
export class ShareLinkError extends PlayerError {
  static override name = 'ShareLinkError'
  override name = ShareLinkError.name

  override readonly code = 'ERR_SHARE_LINK'
}
