/**
 * The HTTP status of each error code a node's HTTP surfaces answer with: the control API (`node/control-api.ts`)
 * and the web pages served on its origin (the web player, the storefront). Errors themselves carry only a `name`
 * and a `code` (`ERR_…`), which is what every caller matches on; how a code shows over HTTP is decided here, once,
 * and nowhere in `roles/`.
 *
 * A code not listed is a conflict with the node's state (409) when it is an `ERR_` code, and an internal error (500)
 * otherwise.
 */
export const HTTP_STATUS_OF_CODE: Readonly<Record<string, number>> = {
  ERR_BAD_REQUEST: 400,
  ERR_STALE_REQUEST: 400,
  ERR_ACCOUNT_KEY: 400,
  ERR_DSR_NOT_APPLICABLE: 400,
  ERR_PURCHASE_REFUSED: 402,
  ERR_UNAUTHORISED: 403,
  ERR_NOT_PURCHASE_RETAILER: 403,
  ERR_NO_LICENCE: 403,
  ERR_USAGE_DENIED: 403,
  ERR_LICENCE_REVOKED: 403,
  ERR_DECRYPTION: 403,
  ERR_NOT_FOUND: 404,
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
 * The HTTP status to answer an error with: the `status` of a web page's own error, the `statusCode` of a library's
 * HTTP error (fastify's), else by the error's `code` in `HTTP_STATUS_OF_CODE`, else 409 for any other `ERR_` code,
 * else `otherwise`.
 */
export function httpStatusOf(err: unknown, otherwise = 500): number {
  const error = err as { status?: unknown; statusCode?: unknown; code?: unknown } | null
  if (typeof error?.status === 'number') return error.status
  if (typeof error?.statusCode === 'number') return error.statusCode
  if (typeof error?.code !== 'string') return otherwise
  return HTTP_STATUS_OF_CODE[error.code] ?? (error.code.startsWith('ERR_') ? 409 : otherwise)
}
