/**
 * Errors of the consumer player: one class per condition a caller may handle. Each carries a stable `code`
 * (starting `ERR_`, which the control API passes to the CLI); its HTTP status is the control API's business
 * (`protocols/http-status.ts`).
 * Match them by `.name` or `.code`.
 */
export class PlayerError extends Error {
  override name = 'PlayerError'
  readonly code: string = 'ERR_PLAYER'
}

/**
 * The local licence store does not verify: an entry was edited, deleted, reordered or forged. Playback and every
 * other use refuse until `resync()` (`consort licences --resync`).
 */
export class StoreTamperedError extends PlayerError {
  override name = 'StoreTamperedError'
  override readonly code = 'ERR_STORE_TAMPERED'
  /** The first sequence number at fault, or null when the fault is not at one entry (a missing head). */
  readonly seq: number | null

  constructor(seq: number | null, message: string) {
    super(`the licence store was altered (${message}); run: consort licences --resync`)
    this.seq = seq
  }
}

/** The player's sublevel was written by a build with another layout version. */
export class StoreVersionError extends PlayerError {
  override name = 'StoreVersionError'
  override readonly code = 'ERR_STORE_VERSION'
}

/** No licence on this device covers the content (and it has no preview either, for a preview). */
export class NoLicenceError extends PlayerError {
  override name = 'NoLicenceError'
  override readonly code = 'ERR_NO_LICENCE'
}

/** The usage rules deny the use; `reason` is the shared rules function's code (`plays-exhausted`…). */
export class UsageDeniedError extends PlayerError {
  override name = 'UsageDeniedError'
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
  override name = 'AlreadyOwnedError'
  override readonly code = 'ERR_ALREADY_OWNED'
  /** The purchases whose licences cover the offer. */
  readonly purchases: string[]

  constructor(message: string, purchases: string[]) {
    super(message)
    this.purchases = purchases
  }
}

/** The licence was revoked by its registration manager. */
export class LicenceRevokedError extends PlayerError {
  override name = 'LicenceRevokedError'
  override readonly code = 'ERR_LICENCE_REVOKED'
}

/** A licence or receipt that came back does not check out (signer, device, purchase, keys). */
export class InvalidLicenceError extends PlayerError {
  override name = 'InvalidLicenceError'
  override readonly code = 'ERR_LICENCE_INVALID'
}

/** This device has no registration yet (the registration manager was not reachable). */
export class DeviceNotRegisteredError extends PlayerError {
  override name = 'DeviceNotRegisteredError'
  override readonly code = 'ERR_DEVICE_NOT_REGISTERED'
}

/** No offer with that id is known: list offers first (`consort offers CONTENT`). */
export class OfferNotFoundError extends PlayerError {
  override name = 'OfferNotFoundError'
  override readonly code = 'ERR_OFFER_NOT_FOUND'
}

/** The retailer (or a service behind it) refused the purchase; `remoteCode` is its error code. */
export class PurchaseRefusedError extends PlayerError {
  override name = 'PurchaseRefusedError'
  override readonly code = 'ERR_PURCHASE_REFUSED'
  readonly remoteCode: string

  constructor(remoteCode: string, message: string) {
    super(message)
    this.remoteCode = remoteCode
  }
}

/**
 * The retailer did not answer after every attempt. The purchase stays pending under the same id: buying the same
 * offer again retries it, and can never charge twice.
 */
export class PurchasePendingError extends PlayerError {
  override name = 'PurchasePendingError'
  override readonly code = 'ERR_PURCHASE_PENDING'
  readonly purchaseId: string

  constructor(purchaseId: string, message: string) {
    super(message)
    this.purchaseId = purchaseId
  }
}

/** No manifest is known for the content (not seen on the catalog topic, not found by the catalog). */
export class ContentNotFoundError extends PlayerError {
  override name = 'ContentNotFoundError'
  override readonly code = 'ERR_CONTENT_NOT_FOUND'
}

/** A segment could not be fetched (no peer had it within the attempts) or did not verify. */
export class SegmentUnavailableError extends PlayerError {
  override name = 'SegmentUnavailableError'
  override readonly code = 'ERR_SEGMENT_UNAVAILABLE'
}

/** A content key or segment did not open: the licence is not for this device, or the data is corrupt. */
export class DecryptionError extends PlayerError {
  override name = 'DecryptionError'
  override readonly code = 'ERR_DECRYPTION'
}

/** The network record lists no clearinghouse, or none answered. */
export class ClearinghouseUnavailableError extends PlayerError {
  override name = 'ClearinghouseUnavailableError'
  override readonly code = 'ERR_CLEARINGHOUSE_UNAVAILABLE'
}

/** An account key file, or an account export, cannot be used. */
export class AccountKeyError extends PlayerError {
  override name = 'AccountKeyError'
  override readonly code = 'ERR_ACCOUNT_KEY'
}

/** An account key is already there: importing another would orphan this device's licences. */
export class AccountExistsError extends PlayerError {
  override name = 'AccountExistsError'
  override readonly code = 'ERR_ACCOUNT_EXISTS'
}

/** A control request named something malformed (the message names the field). */
export class BadPlayerRequestError extends PlayerError {
  override name = 'BadPlayerRequestError'
  override readonly code = 'ERR_BAD_REQUEST'
}

/** A web playback session is unknown or has expired. */
export class SessionNotFoundError extends PlayerError {
  override name = 'SessionNotFoundError'
  override readonly code = 'ERR_SESSION_NOT_FOUND'
}

/** A byte range asked of a stream lies outside the track. */
export class RangeNotSatisfiableError extends PlayerError {
  override name = 'RangeNotSatisfiableError'
  override readonly code = 'ERR_RANGE_NOT_SATISFIABLE'
  readonly size: number

  constructor(size: number, message: string) {
    super(message)
    this.size = size
  }
}

/** The player is stopped (or was never started). */
export class PlayerStoppedError extends PlayerError {
  override name = 'PlayerStoppedError'
  override readonly code = 'ERR_PLAYER_STOPPED'
}
