/**
 * Errors of the web player UI, one class per condition, matched by `name`. The HTTP status each page answers with
 * comes from its code in `protocols/http-status.ts`, the one table of the HTTP edge (decision 0014).
 */
export class PlayerUiError extends Error {
  static override name = 'PlayerUiError'
  override name = PlayerUiError.name

  constructor(message = 'the web player failed', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code: string = 'ERR_PLAYER_UI'
}

/** No session cookie, or one that ended: the page says how to get a login link. */
export class NotLoggedInError extends PlayerUiError {
  static override name = 'NotLoggedInError'
  override name = NotLoggedInError.name

  override readonly code = 'ERR_NOT_LOGGED_IN'
}

/** The login link was already used, expired, or never issued. */
export class LoginLinkInvalidError extends PlayerUiError {
  static override name = 'LoginLinkInvalidError'
  override name = LoginLinkInvalidError.name

  override readonly code = 'ERR_LOGIN_LINK_INVALID'
}

/** A state-changing request without the session's CSRF token, or from another origin. */
export class CsrfError extends PlayerUiError {
  static override name = 'CsrfError'
  override name = CsrfError.name

  override readonly code = 'ERR_CSRF'
}

/** A malformed parameter (names it). */
export class BadUiRequestError extends PlayerUiError {
  static override name = 'BadUiRequestError'
  override name = BadUiRequestError.name

  override readonly code = 'ERR_BAD_REQUEST'
}

/** The offer asked for at checkout is not among the certified offers for this player's territory. */
export class OfferNotListedError extends PlayerUiError {
  static override name = 'OfferNotListedError'
  override name = OfferNotListedError.name

  override readonly code = 'ERR_OFFER_NOT_LISTED'
}

/** No such page or file. */
export class UiNotFoundError extends PlayerUiError {
  static override name = 'UiNotFoundError'
  override name = UiNotFoundError.name

  override readonly code = 'ERR_NOT_FOUND'
}
