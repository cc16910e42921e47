/** Errors of packaging. Match them by `.name` or `.code`. */

/** A segment size outside what manifests allow, or a file that needs more segments than a manifest may list. */
export class SegmentLayoutError extends Error {
  static override name = 'SegmentLayoutError'
  override name = SegmentLayoutError.name

  constructor(
    message = 'A segment size outside what manifests allow, or a file that needs more segments than a manifest may list',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  static readonly code = 'ERR_SEGMENT_LAYOUT'
  readonly code = SegmentLayoutError.code
}

/** A stored segment is missing, does not match its CID, or does not decrypt under the key given. */
export class SegmentReadError extends Error {
  static override name = 'SegmentReadError'
  override name = SegmentReadError.name

  constructor(
    message = 'A stored segment is missing, does not match its CID, or does not decrypt under the key given',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  static readonly code = 'ERR_SEGMENT_READ'
  readonly code = SegmentReadError.code
}

/**
 * A segment could not be sealed on a packaging worker thread (decision 0201): the sealing itself failed there (its
 * error's name, code and message are in this one's message and `cause`), the worker died or could not start, or the
 * pool was closed with the run still in it. Names the segments and the worker.
 */
export class SegmentSealError extends Error {
  static override name = 'SegmentSealError'
  override name = SegmentSealError.name

  constructor(message = 'A segment could not be sealed on a packaging worker thread', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_SEGMENT_SEAL'
  readonly code = SegmentSealError.code
}
