/**
 * Errors of the audio reader. Each names the file (when the caller gave one) and says what is wrong with it. Match
 * them by `.name` or `.code`.
 */

/** The bytes are not FLAC, WAV, MP3, AAC (ADTS or MP4/M4A) or Ogg Vorbis/Opus, or use a variant not supported. */
export class UnsupportedAudioError extends Error {
  static override name = 'UnsupportedAudioError'
  override name = UnsupportedAudioError.name

  constructor(
    message = 'the bytes are not FLAC, WAV, MP3, AAC (ADTS or MP4/M4A) or Ogg Vorbis/Opus, or use a variant not supported',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  static readonly code = 'ERR_AUDIO_UNSUPPORTED'
  readonly code = UnsupportedAudioError.code
}

/** The file ends before its own structure says it should (a cut-off download or copy). */
export class TruncatedAudioError extends Error {
  static override name = 'TruncatedAudioError'
  override name = TruncatedAudioError.name

  constructor(
    message = 'the file ends before its own structure says it should (a cut-off download or copy)',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  static readonly code = 'ERR_AUDIO_TRUNCATED'
  readonly code = TruncatedAudioError.code
}

/** The file's structure is broken (bad checksum, impossible header value, frames that do not follow each other). */
export class CorruptAudioError extends Error {
  static override name = 'CorruptAudioError'
  override name = CorruptAudioError.name

  constructor(message = "the file's structure is broken", options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_AUDIO_CORRUPT'
  readonly code = CorruptAudioError.code
}

/** The file is larger than `MAX_AUDIO_BYTES`. */
export class AudioTooLargeError extends Error {
  static override name = 'AudioTooLargeError'
  override name = AudioTooLargeError.name

  constructor(message = 'the file is larger than MAX_AUDIO_BYTES', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_AUDIO_TOO_LARGE'
  readonly code = AudioTooLargeError.code
}

/** A preview clip cannot be cut as asked (it lies outside the recording, or the stream cannot be cut). */
export class PreviewCutError extends Error {
  static override name = 'PreviewCutError'
  override name = PreviewCutError.name

  constructor(
    message = 'A preview clip cannot be cut as asked (it lies outside the recording, or the stream cannot be cut)',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  static readonly code = 'ERR_PREVIEW_CUT'
  readonly code = PreviewCutError.code
}

/** Stand-in audio cannot be made as asked (a duration of zero or beyond `MAX_SYNTH_MS`). */
export class SynthesisError extends Error {
  static override name = 'SynthesisError'
  override name = SynthesisError.name

  constructor(
    message = 'stand-in audio cannot be made as asked (a duration of zero or beyond MAX_SYNTH_MS)',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  static readonly code = 'ERR_AUDIO_SYNTHESIS'
  readonly code = SynthesisError.code
}
