/**
 * Errors of the segments protocol and the multi-source fetcher: one class per condition a caller may handle,
 * matched by `.name` or `.code`.
 */

/** A frame could not be decoded or broke the wire format (names the field). */
export class SegmentFrameError extends Error {
  static readonly code = 'ERR_SEGMENTS_FRAME'
  override readonly name = 'SegmentFrameError'
  readonly code = SegmentFrameError.code
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** A CID the protocol cannot verify: only CIDv1 with a sha2-256 multihash is fetched or served. */
export class UnsupportedCidError extends Error {
  static readonly code = 'ERR_SEGMENTS_UNSUPPORTED_CID'
  override readonly name = 'UnsupportedCidError'
  readonly code = UnsupportedCidError.code

  constructor(cid: string, reason: string) {
    super(`${cid}: ${reason}`)
  }
}

/** A peer sent bytes that do not hash to the CID asked for. */
export class BlockVerificationError extends Error {
  static readonly code = 'ERR_SEGMENTS_BAD_BLOCK'
  override readonly name = 'BlockVerificationError'
  readonly code = BlockVerificationError.code

  constructor(cid: string, peer: string) {
    super(`block ${cid} from ${peer} does not match its CID`)
  }
}

/** The server answered with an error frame. */
export class SegmentRemoteError extends Error {
  static readonly code = 'ERR_SEGMENTS_REMOTE'
  override readonly name = 'SegmentRemoteError'
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
  static readonly code = 'ERR_SEGMENTS_TIMEOUT'
  override readonly name = 'SegmentTimeoutError'
  readonly code = SegmentTimeoutError.code
}

/** The fetch found nobody to serve the blocks it still needs, for longer than its stall limit. */
export class NoProvidersError extends Error {
  static readonly code = 'ERR_SEGMENTS_NO_PROVIDERS'
  override readonly name = 'NoProvidersError'
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
  static readonly code = 'ERR_SEGMENTS_ABORTED'
  override readonly name = 'FetchAbortedError'
  readonly code = FetchAbortedError.code
}

/** A fetch request is malformed (no CIDs, too many, a limit out of range): names the field. */
export class InvalidFetchRequestError extends Error {
  static readonly code = 'ERR_SEGMENTS_INVALID_FETCH'
  override readonly name = 'InvalidFetchRequestError'
  readonly code = InvalidFetchRequestError.code
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** The service is not started (or was stopped). */
export class SegmentsNotStartedError extends Error {
  static readonly code = 'ERR_SEGMENTS_NOT_STARTED'
  override readonly name = 'SegmentsNotStartedError'
  readonly code = SegmentsNotStartedError.code
}

/** The reason a client gives when it resets a request's stream (cancelled, or superseded by a duplicate). */
export class RequestCancelledError extends Error {
  static readonly code = 'ERR_SEGMENTS_CANCELLED'
  override readonly name = 'RequestCancelledError'
  readonly code = RequestCancelledError.code
}
