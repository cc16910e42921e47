/** Errors of the web player UI, one class per condition, each with the HTTP status its page answers with. */
export class PlayerUiError extends Error {
  override name = 'PlayerUiError'
  readonly code: string = 'ERR_PLAYER_UI'
  readonly status: number = 500
}

/** No session cookie, or one that ended: the page says how to get a login link. */
export class NotLoggedInError extends PlayerUiError {
  override name = 'NotLoggedInError'
  override readonly code = 'ERR_NOT_LOGGED_IN'
  override readonly status = 401
}

/** The login link was already used, expired, or never issued. */
export class LoginLinkInvalidError extends PlayerUiError {
  override name = 'LoginLinkInvalidError'
  override readonly code = 'ERR_LOGIN_LINK_INVALID'
  override readonly status = 403
}

/** A state-changing request without the session's CSRF token, or from another origin. */
export class CsrfError extends PlayerUiError {
  override name = 'CsrfError'
  override readonly code = 'ERR_CSRF'
  override readonly status = 403
}

/** A malformed parameter (names it). */
export class BadUiRequestError extends PlayerUiError {
  override name = 'BadUiRequestError'
  override readonly code = 'ERR_BAD_REQUEST'
  override readonly status = 400
}

/** The offer asked for at checkout is not among the certified offers for this player's territory. */
export class OfferNotListedError extends PlayerUiError {
  override name = 'OfferNotListedError'
  override readonly code = 'ERR_OFFER_NOT_LISTED'
  override readonly status = 404
}

/** No such page or file. */
export class UiNotFoundError extends PlayerUiError {
  override name = 'UiNotFoundError'
  override readonly code = 'ERR_NOT_FOUND'
  override readonly status = 404
}
