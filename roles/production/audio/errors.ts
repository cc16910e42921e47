/**
 * Errors of the audio reader. Each names the file (when the caller gave one) and says what is wrong with it. Match
 * them by `.name` or `.code`.
 */

/** The bytes are not FLAC, WAV, MP3, AAC (ADTS or MP4/M4A) or Ogg Vorbis/Opus, or use a variant not supported. */
export class UnsupportedAudioError extends Error {
  static readonly code = 'ERR_AUDIO_UNSUPPORTED'
  override readonly name = 'UnsupportedAudioError'
  readonly code = UnsupportedAudioError.code
}

/** The file ends before its own structure says it should (a cut-off download or copy). */
export class TruncatedAudioError extends Error {
  static readonly code = 'ERR_AUDIO_TRUNCATED'
  override readonly name = 'TruncatedAudioError'
  readonly code = TruncatedAudioError.code
}

/** The file's structure is broken (bad checksum, impossible header value, frames that do not follow each other). */
export class CorruptAudioError extends Error {
  static readonly code = 'ERR_AUDIO_CORRUPT'
  override readonly name = 'CorruptAudioError'
  readonly code = CorruptAudioError.code
}

/** The file is larger than `MAX_AUDIO_BYTES`. */
export class AudioTooLargeError extends Error {
  static readonly code = 'ERR_AUDIO_TOO_LARGE'
  override readonly name = 'AudioTooLargeError'
  readonly code = AudioTooLargeError.code
}

/** A preview clip cannot be cut as asked (it lies outside the recording, or the stream cannot be cut). */
export class PreviewCutError extends Error {
  static readonly code = 'ERR_PREVIEW_CUT'
  override readonly name = 'PreviewCutError'
  readonly code = PreviewCutError.code
}

/** Stand-in audio cannot be made as asked (a duration of zero or beyond `MAX_SYNTH_MS`). */
export class SynthesisError extends Error {
  static readonly code = 'ERR_AUDIO_SYNTHESIS'
  override readonly name = 'SynthesisError'
  readonly code = SynthesisError.code
}
