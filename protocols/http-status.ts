import { wireCodeOf } from './rpc/errors.ts'

/**
 * The HTTP status of each error code a node's HTTP surfaces answer with: the control API (`node/control-api.ts`)
 * and the web pages served on its origin (the web player, the storefront). Errors themselves carry a `name` (what
 * callers match on) and, where they go on a wire, a `code` (`ERR_…`); how a code shows over HTTP is decided here,
 * once, and nowhere in `roles/` (decision 0014).
 *
 * A code not listed is a conflict with the node's state (409) when it is an `ERR_` code, and an internal error (500)
 * otherwise.
 */
export const HTTP_STATUS_OF_CODE: Readonly<Record<string, number>> = {
  ERR_BAD_REQUEST: 400,
  ERR_STALE_REQUEST: 400,
  ERR_ACCOUNT_KEY: 400,
  ERR_DSR_NOT_APPLICABLE: 400,
  ERR_SHARE_LINK: 400,
  ERR_SHARE_ENCODING: 400,
  ERR_NOT_A_SHARE: 400,
  ERR_SHARE_SIGNATURE: 400,
  ERR_SHARE_EXPIRED: 410,
  ERR_STOREFRONT: 500,
  ERR_PLAYER_UI: 500,
  ERR_STOREFRONT_CONFIG: 500,
  ERR_NO_PREVIEW: 404,
  ERR_CATALOG_UNAVAILABLE: 503,
  ERR_PREVIEW_UNAVAILABLE: 503,
  ERR_PURCHASE_REFUSED: 402,
  ERR_NOT_LOGGED_IN: 401,
  ERR_UNAUTHORISED: 403,
  ERR_LOGIN_LINK_INVALID: 403,
  ERR_CSRF: 403,
  ERR_NOT_PURCHASE_RETAILER: 403,
  ERR_NO_LICENCE: 403,
  ERR_USAGE_DENIED: 403,
  ERR_LICENCE_REVOKED: 403,
  ERR_DECRYPTION: 403,
  ERR_NOT_FOUND: 404,
  ERR_OFFER_NOT_LISTED: 404,
  ERR_OFFER_NOT_FOUND: 404,
  ERR_CONTENT_NOT_FOUND: 404,
  ERR_SESSION_NOT_FOUND: 404,
  ERR_DELIVERY_UNKNOWN_JOB: 404,
  ERR_RANGE_NOT_SATISFIABLE: 416,
  ERR_DELIVERY_TOO_MANY_FETCHES: 429,
  ERR_STORE_VERSION: 500,
  ERR_NO_AUDIO_DEVICE: 501,
  ERR_LICENCE_INVALID: 502,
  ERR_DEVICE_NOT_REGISTERED: 503,
  ERR_CLEARINGHOUSE_UNAVAILABLE: 503,
  ERR_PLAYER_STOPPED: 503,
  ERR_TOO_MANY_PENDING: 503,
  ERR_PURCHASE_PENDING: 504,
  ERR_SEGMENT_UNAVAILABLE: 504,
}

/**
 * The HTTP status to answer an error with: the `statusCode` of a library's HTTP error (fastify's), else by its wire
 * code (`wireCodeOf`: its `ERR_` code, or the one of a reused `@libp2p/interface` error) in `HTTP_STATUS_OF_CODE`,
 * else 409 for any other `ERR_` code, else `otherwise`.
 */
export function httpStatusOf(err: unknown, otherwise = 500): number {
  const error = err as { statusCode?: unknown } | null
  if (typeof error?.statusCode === 'number') return error.statusCode
  const code = wireCodeOf(err)
  if (code == null) return otherwise
  return HTTP_STATUS_OF_CODE[code] ?? 409
}
