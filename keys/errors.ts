/**
 * Errors of the `keys/` module: one class per condition a caller may handle, each with a `static name` that its
 * `name` is set from. Match them by `.name`, which survives being passed across module copies and threads, never by
 * `instanceof`. A refused public key and an unsupported key type are `@libp2p/interface`'s `InvalidPublicKeyError`
 * and `UnsupportedKeyTypeError`, reused rather than defined again.
 */

/** A key, seed, signature, key id or similar fixed-size byte field has the wrong length. */
export class InvalidByteLengthError extends Error {
  static override name = 'InvalidByteLengthError'
  override name = InvalidByteLengthError.name

  static readonly code = 'ERR_KEYS_INVALID_BYTE_LENGTH'
  readonly code = InvalidByteLengthError.code
  readonly field: string
  readonly expected: string
  /** The length found, or what was found instead of bytes. */
  readonly actual: number | string

  constructor(field: string, expected: number | string, actual: number | string) {
    super(`${field} must be ${expected} bytes, got ${actual}`)
    this.field = field
    this.expected = String(expected)
    this.actual = actual
  }
}

/** A private key's stored public half does not match the public key derived from its secret half. */
export class KeyMismatchError extends Error {
  static override name = 'KeyMismatchError'
  override name = KeyMismatchError.name

  static readonly code = 'ERR_KEYS_KEY_MISMATCH'
  readonly code = KeyMismatchError.code

  constructor(message: string) {
    super(message)
  }
}

/** An X25519 public key gives an all-zero shared secret (a low-order point): nothing can be sealed to it. */
export class WeakSealingKeyError extends Error {
  static override name = 'WeakSealingKeyError'
  override name = WeakSealingKeyError.name

  static readonly code = 'ERR_KEYS_WEAK_SEALING_KEY'
  readonly code = WeakSealingKeyError.code

  constructor(message = 'recipientPublicKey is a low-order X25519 point (all-zero shared secret)') {
    super(message)
  }
}

/** A seal context string is empty or too long. */
export class InvalidSealContextError extends Error {
  static override name = 'InvalidSealContextError'
  override name = InvalidSealContextError.name

  static readonly code = 'ERR_KEYS_INVALID_SEAL_CONTEXT'
  readonly code = InvalidSealContextError.code

  constructor(message: string) {
    super(message)
  }
}

/** A sealed box is too short or carries an unknown version byte. */
export class MalformedSealError extends Error {
  static override name = 'MalformedSealError'
  override name = MalformedSealError.name

  static readonly code = 'ERR_KEYS_MALFORMED_SEAL'
  readonly code = MalformedSealError.code

  constructor(message: string) {
    super(message)
  }
}

/**
 * A well-formed sealed box did not open: it was altered, it is sealed to another key, or under another context.
 * The three cannot be told apart, by design.
 */
export class SealOpenError extends Error {
  static override name = 'SealOpenError'
  override name = SealOpenError.name

  static readonly code = 'ERR_KEYS_SEAL_OPEN'
  readonly code = SealOpenError.code

  constructor(
    message = 'sealed box did not open: altered, sealed to another recipient or under another context',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** A segment index is not a non-negative safe integer. */
export class InvalidSegmentIndexError extends Error {
  static override name = 'InvalidSegmentIndexError'
  override name = InvalidSegmentIndexError.name

  static readonly code = 'ERR_KEYS_INVALID_SEGMENT_INDEX'
  readonly code = InvalidSegmentIndexError.code

  constructor(index: unknown) {
    super(`segment index must be a non-negative safe integer, got ${String(index)}`)
  }
}

/** A segment is larger than `MAX_SEGMENT_BYTES`, or an encrypted segment is shorter than its tag. */
export class InvalidSegmentSizeError extends Error {
  static override name = 'InvalidSegmentSizeError'
  override name = InvalidSegmentSizeError.name

  static readonly code = 'ERR_KEYS_INVALID_SEGMENT_SIZE'
  readonly code = InvalidSegmentSizeError.code

  constructor(message: string) {
    super(message)
  }
}

/** An encrypted segment failed authentication: wrong key, key id or index, or altered bytes. */
export class SegmentAuthenticationError extends Error {
  static override name = 'SegmentAuthenticationError'
  override name = SegmentAuthenticationError.name

  static readonly code = 'ERR_KEYS_SEGMENT_AUTHENTICATION'
  readonly code = SegmentAuthenticationError.code

  constructor(index: number, options?: ErrorOptions) {
    super(`segment ${index} failed authentication: wrong content key, key id or index, or altered ciphertext`, options)
  }
}

/** No keystore file at the given path. */
export class KeystoreNotFoundError extends Error {
  static override name = 'KeystoreNotFoundError'
  override name = KeystoreNotFoundError.name

  static readonly code = 'ERR_KEYS_KEYSTORE_NOT_FOUND'
  readonly code = KeystoreNotFoundError.code
  readonly file: string

  constructor(file: string, options?: ErrorOptions) {
    super(`no keystore file at ${file}`, options)
    this.file = file
  }
}

/** An exclusive save found a keystore file already in place. */
export class KeystoreExistsError extends Error {
  static override name = 'KeystoreExistsError'
  override name = KeystoreExistsError.name

  static readonly code = 'ERR_KEYS_KEYSTORE_EXISTS'
  readonly code = KeystoreExistsError.code
  readonly file: string

  constructor(file: string, options?: ErrorOptions) {
    super(`a keystore file already exists at ${file}`, options)
    this.file = file
  }
}

/** The keystore file is readable or writable by group or others. */
export class KeystorePermissionsError extends Error {
  static override name = 'KeystorePermissionsError'
  override name = KeystorePermissionsError.name

  static readonly code = 'ERR_KEYS_KEYSTORE_PERMISSIONS'
  readonly code = KeystorePermissionsError.code
  readonly file: string
  readonly mode: number

  constructor(file: string, mode: number) {
    const octal = (mode & 0o777).toString(8).padStart(3, '0')
    super(`keystore file ${file} has mode ${octal}: it must not be accessible by group or others (chmod 600)`)
    this.file = file
    this.mode = mode
  }
}

/** The keystore file is not what this module writes; the message names the field that is wrong. */
export class KeystoreCorruptError extends Error {
  static override name = 'KeystoreCorruptError'
  override name = KeystoreCorruptError.name

  static readonly code = 'ERR_KEYS_KEYSTORE_CORRUPT'
  readonly code = KeystoreCorruptError.code
  readonly file: string

  constructor(file: string, problem: string, options?: ErrorOptions) {
    super(`keystore file ${file} is corrupt: ${problem}`, options)
    this.file = file
  }
}

/** The keystore file is encrypted and no passphrase was given. */
export class PassphraseRequiredError extends Error {
  static override name = 'PassphraseRequiredError'
  override name = PassphraseRequiredError.name

  static readonly code = 'ERR_KEYS_PASSPHRASE_REQUIRED'
  readonly code = PassphraseRequiredError.code

  constructor(file: string) {
    super(`keystore file ${file} is encrypted: a passphrase is required`)
  }
}

/** A passphrase was given for a keystore file that is not encrypted (refused, so nobody believes it protected). */
export class KeystoreNotEncryptedError extends Error {
  static override name = 'KeystoreNotEncryptedError'
  override name = KeystoreNotEncryptedError.name

  static readonly code = 'ERR_KEYS_KEYSTORE_NOT_ENCRYPTED'
  readonly code = KeystoreNotEncryptedError.code

  constructor(file: string) {
    super(`keystore file ${file} is not encrypted but a passphrase was given: load it without one and save it with one`)
  }
}

/**
 * The encrypted part of the keystore did not open. With AES-GCM a wrong passphrase and an altered file (its
 * ciphertext, or the public part bound to it) look the same.
 */
export class WrongPassphraseError extends Error {
  static override name = 'WrongPassphraseError'
  override name = WrongPassphraseError.name

  static readonly code = 'ERR_KEYS_WRONG_PASSPHRASE'
  readonly code = WrongPassphraseError.code

  constructor(file: string, options?: ErrorOptions) {
    super(`keystore file ${file} did not open: wrong passphrase, or the file was altered`, options)
  }
}

/** A passphrase is empty, or scrypt parameters asked for are out of bounds. */
export class InvalidKeystoreOptionsError extends Error {
  static override name = 'InvalidKeystoreOptionsError'
  override name = InvalidKeystoreOptionsError.name

  static readonly code = 'ERR_KEYS_INVALID_KEYSTORE_OPTIONS'
  readonly code = InvalidKeystoreOptionsError.code

  constructor(message: string) {
    super(message)
  }
}

/** A string is not an even number of hexadecimal digits. */
export class InvalidHexError extends Error {
  static override name = 'InvalidHexError'
  override name = InvalidHexError.name
  readonly field: string

  constructor(field = 'hex', value = '') {
    const shown = value.length > 32 ? `${value.slice(0, 29)}...` : value
    super(`${field} must be an even number of hexadecimal digits, got ${JSON.stringify(shown)}`)
    this.field = field
  }
}
