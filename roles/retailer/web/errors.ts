/**
 * Errors of the storefront, one class per condition. Each carries the HTTP status its page answers with, so that
 * the error page says what went wrong in plain words with the right code.
 */
export class StorefrontError extends Error {
  override name = 'StorefrontError'
  readonly code: string = 'ERR_STOREFRONT'
  readonly status: number = 500
}

/** A query parameter or path segment is malformed (names the parameter). */
export class BadStorefrontRequestError extends StorefrontError {
  override name = 'BadStorefrontRequestError'
  override readonly code = 'ERR_BAD_REQUEST'
  override readonly status = 400
}

/** The release, track or preview asked for is not in the catalog (or was taken down). */
export class NotInCatalogError extends StorefrontError {
  override name = 'NotInCatalogError'
  override readonly code = 'ERR_NOT_FOUND'
  override readonly status = 404
}

/** No catalog node answered (none known, or every one failed). */
export class CatalogUnavailableError extends StorefrontError {
  override name = 'CatalogUnavailableError'
  override readonly code = 'ERR_CATALOG_UNAVAILABLE'
  override readonly status = 503
}

/** The preview clip's segments could not be fetched from any peer in time. */
export class PreviewUnavailableError extends StorefrontError {
  override name = 'PreviewUnavailableError'
  override readonly code = 'ERR_PREVIEW_UNAVAILABLE'
  override readonly status = 503
}

/** The track has no preview clip, or its clip is larger than the storefront serves. */
export class NoPreviewError extends StorefrontError {
  override name = 'NoPreviewError'
  override readonly code = 'ERR_NO_PREVIEW'
  override readonly status = 404
}

/** A `Range` header asks for bytes outside the clip (answered 416 with the clip's size). */
export class RangeNotSatisfiableError extends StorefrontError {
  override name = 'RangeNotSatisfiableError'
  override readonly code = 'ERR_RANGE_NOT_SATISFIABLE'
  override readonly status = 416
  readonly size: number

  constructor(size: number, message: string) {
    super(message)
    this.size = size
  }
}

/** The storefront's settings are invalid (names the setting). */
export class StorefrontConfigError extends StorefrontError {
  override name = 'StorefrontConfigError'
  override readonly code = 'ERR_STOREFRONT_CONFIG'
}
