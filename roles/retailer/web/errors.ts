/**
 * Errors of the storefront, one class per condition. The HTTP status each page answers with comes from its code in
 * `protocols/http-status.ts`, the one table of the HTTP edge, so that the error page says what went wrong in plain
 * words with the right status.
 */
export class StorefrontError extends Error {
  static override name = 'StorefrontError'
  override name = StorefrontError.name

  constructor(message = 'the storefront failed', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code: string = 'ERR_STOREFRONT'
}

/** The release, track or preview asked for is not in the catalog (or was taken down). */
export class NotInCatalogError extends StorefrontError {
  static override name = 'NotInCatalogError'
  override name = NotInCatalogError.name

  override readonly code = 'ERR_NOT_FOUND'
}

/** No catalog node answered (none known, or every one failed). */
export class CatalogUnavailableError extends StorefrontError {
  static override name = 'CatalogUnavailableError'
  override name = CatalogUnavailableError.name

  override readonly code = 'ERR_CATALOG_UNAVAILABLE'
}

/** The preview clip's segments could not be fetched from any peer in time. */
export class PreviewUnavailableError extends StorefrontError {
  static override name = 'PreviewUnavailableError'
  override name = PreviewUnavailableError.name

  override readonly code = 'ERR_PREVIEW_UNAVAILABLE'
}

/** The track has no preview clip, or its clip is larger than the storefront serves. */
export class NoPreviewError extends StorefrontError {
  static override name = 'NoPreviewError'
  override name = NoPreviewError.name

  override readonly code = 'ERR_NO_PREVIEW'
}

/** The storefront's settings are invalid (names the setting). */
export class StorefrontConfigError extends StorefrontError {
  static override name = 'StorefrontConfigError'
  override name = StorefrontConfigError.name

  override readonly code = 'ERR_STOREFRONT_CONFIG'
}

export { RangeNotSatisfiableError } from '../../common/errors.ts'
