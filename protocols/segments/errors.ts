/**
 * Errors of the segments protocol and the multi-source fetcher: one class per condition a caller may handle,
 * matched by `.name` or `.code`.
 */

/** A frame could not be decoded or broke the wire format (names the field). */
export class SegmentFrameError extends Error {
  static override name = 'SegmentFrameError'
  override name = SegmentFrameError.name

  static readonly code = 'ERR_SEGMENTS_FRAME'
  readonly code = SegmentFrameError.code
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** A CID the protocol cannot verify: only CIDv1 with a sha2-256 multihash is fetched or served. */
export class UnsupportedCidError extends Error {
  static override name = 'UnsupportedCidError'
  override name = UnsupportedCidError.name

  static readonly code = 'ERR_SEGMENTS_UNSUPPORTED_CID'
  readonly code = UnsupportedCidError.code

  constructor(cid: string, reason: string) {
    super(`${cid}: ${reason}`)
  }
}

/** A peer sent bytes that do not hash to the CID asked for. */
export class BlockVerificationError extends Error {
  static override name = 'BlockVerificationError'
  override name = BlockVerificationError.name

  static readonly code = 'ERR_SEGMENTS_BAD_BLOCK'
  readonly code = BlockVerificationError.code

  constructor(cid: string, peer: string) {
    super(`block ${cid} from ${peer} does not match its CID`)
  }
}

/** The server answered with an error frame. */
export class SegmentRemoteError extends Error {
  static override name = 'SegmentRemoteError'
  override name = SegmentRemoteError.name

  static readonly code = 'ERR_SEGMENTS_REMOTE'
  readonly code = SegmentRemoteError.code
  /** The server's code (`ERR_BUSY`, `ERR_BAD_REQUEST`…). */
  readonly remoteCode: string

  constructor(remoteCode: string, message: string) {
    super(`${remoteCode}: ${message}`)
    this.remoteCode = remoteCode
  }
}

/** No answer (or no progress on an answer) within the deadline. */
export class SegmentTimeoutError extends Error {
  static override name = 'SegmentTimeoutError'
  override name = SegmentTimeoutError.name

  constructor(message = 'no answer (or no progress on an answer) within the deadline', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_SEGMENTS_TIMEOUT'
  readonly code = SegmentTimeoutError.code
}

/** The fetch found nobody to serve the blocks it still needs, for longer than its stall limit. */
export class NoProvidersError extends Error {
  static override name = 'NoProvidersError'
  override name = NoProvidersError.name

  static readonly code = 'ERR_SEGMENTS_NO_PROVIDERS'
  readonly code = NoProvidersError.code
  /** Blocks still missing. */
  readonly missing: number

  constructor(missing: number, message: string) {
    super(message)
    this.missing = missing
  }
}

/** The fetch was aborted by its caller. */
export class FetchAbortedError extends Error {
  static override name = 'FetchAbortedError'
  override name = FetchAbortedError.name

  constructor(message = 'the fetch was aborted by its caller', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_SEGMENTS_ABORTED'
  readonly code = FetchAbortedError.code
}

/** A fetch request is malformed (no CIDs, too many, a limit out of range): names the field. */
export class InvalidFetchRequestError extends Error {
  static override name = 'InvalidFetchRequestError'
  override name = InvalidFetchRequestError.name

  static readonly code = 'ERR_SEGMENTS_INVALID_FETCH'
  readonly code = InvalidFetchRequestError.code
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** The service is not started (or was stopped). */
export class SegmentsNotStartedError extends Error {
  static override name = 'SegmentsNotStartedError'
  override name = SegmentsNotStartedError.name

  constructor(message = 'the service is not started (or was stopped)', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_SEGMENTS_NOT_STARTED'
  readonly code = SegmentsNotStartedError.code
}

/** The reason a client gives when it resets a request's stream (cancelled, or superseded by a duplicate). */
export class RequestCancelledError extends Error {
  static override name = 'RequestCancelledError'
  override name = RequestCancelledError.name

  constructor(message = 'the request was cancelled', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_SEGMENTS_CANCELLED'
  readonly code = RequestCancelledError.code
}
