/** Errors of packaging. Match them by `.name` or `.code`. */

/** A segment size outside what manifests allow, or a file that needs more segments than a manifest may list. */
export class SegmentLayoutError extends Error {
  static readonly code = 'ERR_SEGMENT_LAYOUT'
  override readonly name = 'SegmentLayoutError'
  readonly code = SegmentLayoutError.code
}

/** A stored segment is missing, does not match its CID, or does not decrypt under the key given. */
export class SegmentReadError extends Error {
  static readonly code = 'ERR_SEGMENT_READ'
  override readonly name = 'SegmentReadError'
  readonly code = SegmentReadError.code
}
