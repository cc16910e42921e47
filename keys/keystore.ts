import { createCipheriv, createDecipheriv, scrypt } from 'node:crypto'
import { link, mkdir, open, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { z } from 'zod'
import { equalBytes } from './bytes.ts'
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SEED_BYTES, type Signer, signerFromLibp2pKey } from './ed25519.ts'
import {
  InvalidKeystoreOptionsError,
  KeystoreCorruptError,
  KeystoreExistsError,
  KeystoreNotEncryptedError,
  KeystoreNotFoundError,
  KeystorePermissionsError,
  PassphraseRequiredError,
  WrongPassphraseError,
} from './errors.ts'
import { type Random, systemRandom } from './random.ts'
import { generateSealingKeyPair, type SealingKeyPair, sealingPublicKeyFromPrivate, X25519_KEY_BYTES } from './x25519.ts'

/**
 * The node's keys on disk: one versioned JSON file, mode 0600, written crash-safely. With a passphrase the
 * secret part is encrypted (scrypt + AES-256-GCM) and the public part is bound to it as associated data. The
 * file format is specified in `keys/README.md`.
 */

const log = logger('consort:keys:keystore')

/** The keys a node runs with. */
export interface NodeKeys {
  /** The libp2p identity (its peer id) and the key that signs the node's records. */
  privateKey: Ed25519PrivateKey
  /** Signs with `privateKey` through node:crypto. */
  signer: Signer
  /** The node's X25519 key pair: what others seal to it (content keys, usage events). */
  sealing: SealingKeyPair
}

export interface ScryptParameters {
  /** CPU/memory cost: a power of two. */
  N: number
  /** Block size. */
  r: number
  /** Parallelism. */
  p: number
}

/** scrypt defaults: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s here): the common interactive setting. */
export const DEFAULT_SCRYPT_PARAMETERS: Readonly<ScryptParameters> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 })
/**
 * Most memory scrypt may use, for saving and for loading: a keystore file names its own parameters, so a
 * tampered file must not make the daemon allocate without bound. 256 MiB allows N = 2^18 at r = 8.
 */
export const MAX_SCRYPT_MEMORY_BYTES = 256 * 1024 * 1024
/** Upper bounds on r and p, so that a file cannot ask for unbounded CPU time either. */
export const MAX_SCRYPT_R = 32
export const MAX_SCRYPT_P = 16
/**
 * Largest keystore file read. The file is under 1 KiB; anything much larger is not a keystore and is refused
 * before it is read into memory.
 */
export const MAX_KEYSTORE_FILE_BYTES = 64 * 1024

export const KEYSTORE_TYPE = 'consort/keystore'
export const KEYSTORE_VERSION = 1
const ENCRYPTION_NONE = 'none'
const ENCRYPTION_SCRYPT_AES_GCM = 'scrypt/aes-256-gcm'
/** Prefix of the associated data that binds the public part to the encrypted secret part. */
const KEYSTORE_AAD_DOMAIN = 'consort/v1/keystore'
const SALT_BYTES = 16
const NONCE_BYTES = 12
const TAG_BYTES = 16
const AES_KEY_BYTES = 32
const SECRET_BYTES = ED25519_SEED_BYTES + X25519_KEY_BYTES
const FILE_MODE = 0o600
const DIRECTORY_MODE = 0o700

export interface SaveNodeKeysOptions {
  /** Encrypt the secret part with this passphrase (non-empty; NFC-normalised, then UTF-8). */
  passphrase?: string
  /** scrypt parameters when a passphrase is given; defaults to `DEFAULT_SCRYPT_PARAMETERS`. */
  scrypt?: Partial<ScryptParameters>
  /** Source of the salt and nonce; defaults to the system CSPRNG. */
  random?: Random
  /** Fail with `KeystoreExistsError` instead of replacing a file that is already there. */
  exclusive?: boolean
}

export interface LoadNodeKeysOptions {
  /** Required for an encrypted file; refused (`KeystoreNotEncryptedError`) for a file that is not encrypted. */
  passphrase?: string
}

export interface LoadOrCreateNodeKeysOptions {
  passphrase?: string
  /** Randomness for new keys (and the salt and nonce); defaults to the system CSPRNG. */
  random?: Random
  scrypt?: Partial<ScryptParameters>
}

/** New node keys in memory: 32 bytes from `random` for the Ed25519 seed, then 32 for the X25519 private key. */
export async function createNodeKeys(random: Random = systemRandom): Promise<NodeKeys> {
  const seed = random.bytes(ED25519_SEED_BYTES)
  const sealing = generateSealingKeyPair(random)
  return await nodeKeysFromSecrets(seed, sealing)
}

async function nodeKeysFromSecrets(seed: Uint8Array, sealing: SealingKeyPair): Promise<NodeKeys> {
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed)
  return { privateKey, signer: signerFromLibp2pKey(privateKey), sealing }
}

// ---------------------------------------------------------------------------------------------------------------
// File format

const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/

const base64 = z.string().regex(base64Pattern, 'must be base64')

const plainSecretSchema = z.strictObject({
  encryption: z.literal(ENCRYPTION_NONE),
  identitySeed: base64,
  sealingPrivateKey: base64,
})

const scryptSchema = z.strictObject({
  N: z.number().int(),
  r: z.number().int(),
  p: z.number().int(),
  salt: base64,
})

const encryptedSecretSchema = z.strictObject({
  encryption: z.literal(ENCRYPTION_SCRYPT_AES_GCM),
  scrypt: scryptSchema,
  nonce: base64,
  ciphertext: base64,
})

const keystoreSchema = z.strictObject({
  type: z.literal(KEYSTORE_TYPE),
  version: z.literal(KEYSTORE_VERSION),
  peerId: z.string(),
  identity: z.strictObject({ algorithm: z.literal('Ed25519'), publicKey: base64 }),
  sealing: z.strictObject({ algorithm: z.literal('X25519'), publicKey: base64 }),
  secret: z.discriminatedUnion('encryption', [plainSecretSchema, encryptedSecretSchema]),
})

type KeystoreFile = z.infer<typeof keystoreSchema>

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/** Decodes canonical base64 of exactly `length` bytes, or throws `KeystoreCorruptError` naming `field`. */
function fromBase64(file: string, field: string, text: string, length: number): Uint8Array {
  const bytes = Buffer.from(text, 'base64')
  if (bytes.toString('base64') !== text) throw new KeystoreCorruptError(file, `${field} is not canonical base64`)
  if (bytes.length !== length) {
    throw new KeystoreCorruptError(file, `${field} is ${bytes.length} bytes, expected ${length}`)
  }
  return new Uint8Array(bytes)
}

/** The problem with scrypt parameters, or undefined when they are within bounds. */
function scryptProblem(params: ScryptParameters): string | undefined {
  const { N, r, p } = params
  if (!Number.isSafeInteger(N) || N < 2 || (N & (N - 1)) !== 0 || N > 2 ** 30) {
    return `N = ${N} is not a power of two >= 2`
  }
  if (!Number.isSafeInteger(r) || r < 1 || r > MAX_SCRYPT_R) return `r = ${r} is not an integer in 1..${MAX_SCRYPT_R}`
  if (!Number.isSafeInteger(p) || p < 1 || p > MAX_SCRYPT_P) return `p = ${p} is not an integer in 1..${MAX_SCRYPT_P}`
  if (scryptMemoryBytes(params) > MAX_SCRYPT_MEMORY_BYTES) {
    return `N = ${N}, r = ${r} need ${scryptMemoryBytes(params)} bytes, more than the limit ${MAX_SCRYPT_MEMORY_BYTES}`
  }
  return undefined
}

/** Memory scrypt allocates (as OpenSSL counts it): 128·r·(N + 2) for V plus 128·r·p for B. */
function scryptMemoryBytes({ N, r, p }: ScryptParameters): number {
  return 128 * r * (N + 2) + 128 * r * p
}

function passphraseBytes(passphrase: string): Buffer {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new InvalidKeystoreOptionsError('passphrase must be a non-empty string')
  }
  return Buffer.from(passphrase.normalize('NFC'), 'utf8')
}

async function deriveFileKey(passphrase: string, salt: Uint8Array, params: ScryptParameters): Promise<Buffer> {
  const secret = passphraseBytes(passphrase)
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      scrypt(
        secret,
        salt,
        AES_KEY_BYTES,
        { N: params.N, r: params.r, p: params.p, maxmem: scryptMemoryBytes(params) + 1024 * 1024 },
        (err, key) => {
          if (err !== null) reject(err)
          else resolve(key)
        },
      )
    })
  } finally {
    secret.fill(0)
  }
}

/** Associated data binding the public part: domain || 0x00 || version || Ed25519 public key || X25519 public key. */
function keystoreAad(identityPublicKey: Uint8Array, sealingPublicKey: Uint8Array): Buffer {
  return Buffer.concat([
    Buffer.from(KEYSTORE_AAD_DOMAIN, 'utf8'),
    Uint8Array.of(0, KEYSTORE_VERSION),
    identityPublicKey,
    sealingPublicKey,
  ])
}

async function encodeKeystore(keys: NodeKeys, options: SaveNodeKeysOptions): Promise<KeystoreFile> {
  const identityPublicKey = keys.privateKey.publicKey.raw
  const seed = keys.privateKey.raw.subarray(0, ED25519_SEED_BYTES)
  const header = {
    type: KEYSTORE_TYPE,
    version: KEYSTORE_VERSION,
    peerId: keys.privateKey.publicKey.toString(),
    identity: { algorithm: 'Ed25519', publicKey: toBase64(identityPublicKey) },
    sealing: { algorithm: 'X25519', publicKey: toBase64(keys.sealing.publicKey) },
  } as const
  if (options.passphrase === undefined) {
    return {
      ...header,
      secret: {
        encryption: ENCRYPTION_NONE,
        identitySeed: toBase64(seed),
        sealingPrivateKey: toBase64(keys.sealing.privateKey),
      },
    }
  }
  const params: ScryptParameters = { ...DEFAULT_SCRYPT_PARAMETERS, ...options.scrypt }
  const problem = scryptProblem(params)
  if (problem !== undefined) throw new InvalidKeystoreOptionsError(`scrypt parameters: ${problem}`)
  const random = options.random ?? systemRandom
  const salt = random.bytes(SALT_BYTES)
  const nonce = random.bytes(NONCE_BYTES)
  const key = await deriveFileKey(options.passphrase, salt, params)
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(keystoreAad(identityPublicKey, keys.sealing.publicKey))
  const secret = Buffer.concat([seed, keys.sealing.privateKey])
  const ciphertext = Buffer.concat([cipher.update(secret), cipher.final(), cipher.getAuthTag()])
  secret.fill(0)
  key.fill(0)
  return {
    ...header,
    secret: {
      encryption: ENCRYPTION_SCRYPT_AES_GCM,
      scrypt: { N: params.N, r: params.r, p: params.p, salt: toBase64(salt) },
      nonce: toBase64(nonce),
      ciphertext: toBase64(ciphertext),
    },
  }
}

function parseKeystore(file: string, text: string): KeystoreFile {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new KeystoreCorruptError(file, 'not valid JSON', { cause: err })
  }
  if (typeof json === 'object' && json !== null && 'version' in json && json.version !== KEYSTORE_VERSION) {
    const version = JSON.stringify(json.version)
    throw new KeystoreCorruptError(
      file,
      `version ${version} is not supported: this build reads version ${KEYSTORE_VERSION}`,
    )
  }
  const result = keystoreSchema.safeParse(json)
  if (!result.success) {
    const issue = result.error.issues[0]
    const where = issue === undefined || issue.path.length === 0 ? '(top level)' : issue.path.join('.')
    throw new KeystoreCorruptError(file, `${where}: ${issue?.message ?? 'invalid'}`, { cause: result.error })
  }
  return result.data
}

async function decodeKeystore(file: string, parsed: KeystoreFile, options: LoadNodeKeysOptions): Promise<NodeKeys> {
  const identityPublicKey = fromBase64(file, 'identity.publicKey', parsed.identity.publicKey, ED25519_PUBLIC_KEY_BYTES)
  const sealingPublicKey = fromBase64(file, 'sealing.publicKey', parsed.sealing.publicKey, X25519_KEY_BYTES)
  let seed: Uint8Array
  let sealingPrivateKey: Uint8Array
  const secret = parsed.secret
  if (secret.encryption === ENCRYPTION_NONE) {
    if (options.passphrase !== undefined) throw new KeystoreNotEncryptedError(file)
    seed = fromBase64(file, 'secret.identitySeed', secret.identitySeed, ED25519_SEED_BYTES)
    sealingPrivateKey = fromBase64(file, 'secret.sealingPrivateKey', secret.sealingPrivateKey, X25519_KEY_BYTES)
  } else {
    if (options.passphrase === undefined) throw new PassphraseRequiredError(file)
    const { salt: saltText, ...params } = secret.scrypt
    const problem = scryptProblem(params)
    if (problem !== undefined) throw new KeystoreCorruptError(file, `secret.scrypt: ${problem}`)
    const salt = fromBase64(file, 'secret.scrypt.salt', saltText, SALT_BYTES)
    const nonce = fromBase64(file, 'secret.nonce', secret.nonce, NONCE_BYTES)
    const sealed = fromBase64(file, 'secret.ciphertext', secret.ciphertext, SECRET_BYTES + TAG_BYTES)
    const key = await deriveFileKey(options.passphrase, salt, params)
    const decipher = createDecipheriv('aes-256-gcm', key, nonce)
    decipher.setAAD(keystoreAad(identityPublicKey, sealingPublicKey))
    decipher.setAuthTag(sealed.subarray(SECRET_BYTES))
    let plain: Buffer
    try {
      plain = Buffer.concat([decipher.update(sealed.subarray(0, SECRET_BYTES)), decipher.final()])
    } catch (err) {
      throw new WrongPassphraseError(file, { cause: err })
    } finally {
      key.fill(0)
    }
    seed = new Uint8Array(plain.subarray(0, ED25519_SEED_BYTES))
    sealingPrivateKey = new Uint8Array(plain.subarray(ED25519_SEED_BYTES))
    plain.fill(0)
  }

  const derivedSealingPublicKey = sealingPublicKeyFromPrivate(sealingPrivateKey)
  if (!equalBytes(derivedSealingPublicKey, sealingPublicKey)) {
    throw new KeystoreCorruptError(file, 'sealing.publicKey does not match the sealing private key')
  }
  const keys = await nodeKeysFromSecrets(seed, { publicKey: derivedSealingPublicKey, privateKey: sealingPrivateKey })
  seed.fill(0)
  if (!equalBytes(keys.privateKey.publicKey.raw, identityPublicKey)) {
    throw new KeystoreCorruptError(file, 'identity.publicKey does not match the identity seed')
  }
  if (keys.privateKey.publicKey.toString() !== parsed.peerId) {
    throw new KeystoreCorruptError(file, `peerId ${JSON.stringify(parsed.peerId)} does not match identity.publicKey`)
  }
  return keys
}

// ---------------------------------------------------------------------------------------------------------------
// Disk

function isErrnoException(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code
}

let tempCounter = 0

/** fsync a directory so that a rename or link in it survives a crash. Not supported on some platforms: ignored. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch (err) {
    if (!['EISDIR', 'EINVAL', 'EPERM', 'EBADF'].some((code) => isErrnoException(err, code))) throw err
  } finally {
    await handle?.close()
  }
}

/**
 * Writes `data` to `file` so that after a crash the file is either the old one or the new one, complete: a
 * temporary file in the same directory (mode 0600), fsync, rename over (or hard-link when `exclusive`, which
 * fails if `file` exists), fsync the directory.
 */
async function writeFileAtomically(file: string, data: string, exclusive: boolean): Promise<void> {
  const dir = path.dirname(file)
  await mkdir(dir, { recursive: true, mode: DIRECTORY_MODE })
  tempCounter++
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${tempCounter}.tmp`)
  const handle = await open(temp, 'wx', FILE_MODE)
  let placed = false
  try {
    try {
      await handle.chmod(FILE_MODE)
      await handle.writeFile(data, 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }
    if (exclusive) {
      try {
        await link(temp, file)
      } catch (err) {
        if (isErrnoException(err, 'EEXIST')) throw new KeystoreExistsError(file, { cause: err })
        throw err
      }
    } else {
      await rename(temp, file)
      placed = true
    }
  } finally {
    if (!placed) await rm(temp, { force: true })
  }
  await syncDirectory(dir)
}

async function readKeystoreFile(file: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(file, 'r')
  } catch (err) {
    if (isErrnoException(err, 'ENOENT')) throw new KeystoreNotFoundError(file, { cause: err })
    throw err
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new KeystoreCorruptError(file, 'not a regular file')
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) throw new KeystorePermissionsError(file, stat.mode)
    if (stat.size > MAX_KEYSTORE_FILE_BYTES) {
      throw new KeystoreCorruptError(file, `${stat.size} bytes, more than ${MAX_KEYSTORE_FILE_BYTES}`)
    }
    const buffer = Buffer.alloc(MAX_KEYSTORE_FILE_BYTES + 1)
    let length = 0
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
      if (length > MAX_KEYSTORE_FILE_BYTES) {
        throw new KeystoreCorruptError(file, `more than ${MAX_KEYSTORE_FILE_BYTES} bytes`)
      }
    }
    const text = buffer.toString('utf8', 0, length)
    buffer.fill(0)
    return text
  } finally {
    await handle.close()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Public API

/**
 * Saves `keys` to `file` (versioned JSON, mode 0600; missing directories are created with mode 0700), crash-safely.
 * With `passphrase` the secret part is encrypted. Throws `InvalidKeystoreOptionsError` (empty passphrase,
 * scrypt parameters out of bounds), `KeystoreExistsError` (with `exclusive`).
 */
export async function saveNodeKeys(file: string, keys: NodeKeys, options: SaveNodeKeysOptions = {}): Promise<void> {
  const encoded = await encodeKeystore(keys, options)
  await writeFileAtomically(file, `${JSON.stringify(encoded, null, 2)}\n`, options.exclusive === true)
  log('saved keystore %s (%s)', file, encoded.secret.encryption)
}

/**
 * Loads the keys saved in `file`. Throws `KeystoreNotFoundError`, `KeystorePermissionsError` (group/other bits
 * set), `KeystoreCorruptError` (naming the field), `PassphraseRequiredError`, `KeystoreNotEncryptedError`,
 * `WrongPassphraseError`, `InvalidKeystoreOptionsError` (empty passphrase).
 */
export async function loadNodeKeys(file: string, options: LoadNodeKeysOptions = {}): Promise<NodeKeys> {
  if (options.passphrase !== undefined) passphraseBytes(options.passphrase).fill(0)
  const text = await readKeystoreFile(file)
  const keys = await decodeKeystore(file, parseKeystore(file, text), options)
  log('loaded keystore %s', file)
  return keys
}

/**
 * Loads the keys in `file`, or creates, saves and returns new ones if there is no file. Two processes racing to
 * create end up with the same keys: the file is placed with an exclusive link, and the loser loads the winner's.
 */
export async function loadOrCreateNodeKeys(file: string, options: LoadOrCreateNodeKeysOptions = {}): Promise<NodeKeys> {
  const loadOptions: LoadNodeKeysOptions = options.passphrase === undefined ? {} : { passphrase: options.passphrase }
  try {
    return await loadNodeKeys(file, loadOptions)
  } catch (err) {
    if ((err as Error).name !== KeystoreNotFoundError.name) throw err
  }
  const keys = await createNodeKeys(options.random ?? systemRandom)
  try {
    await saveNodeKeys(file, keys, { ...options, exclusive: true })
    log('created keystore %s for %s', file, keys.privateKey.publicKey.toString())
    return keys
  } catch (err) {
    if ((err as Error).name !== KeystoreExistsError.name) throw err
  }
  return await loadNodeKeys(file, loadOptions)
}

/** The public keys of a keystore, readable without its passphrase (to name a node in a network record). */
export interface NodePublicKeys {
  peerId: string
  signingKey: Uint8Array
  sealingKey: Uint8Array
}

export async function readNodePublicKeys(file: string): Promise<NodePublicKeys> {
  const parsed = parseKeystore(file, await readKeystoreFile(file))
  return {
    peerId: parsed.peerId,
    signingKey: fromBase64(file, 'identity.publicKey', parsed.identity.publicKey, ED25519_PUBLIC_KEY_BYTES),
    sealingKey: fromBase64(file, 'sealing.publicKey', parsed.sealing.publicKey, X25519_KEY_BYTES),
  }
}

export interface ChangePassphraseOptions {
  /** The keystore's passphrase now (absent for a keystore that is not encrypted). */
  passphrase?: string
  /** The new passphrase; absent to store the keys unencrypted. */
  newPassphrase?: string
  scrypt?: Partial<ScryptParameters>
  random?: Random
}

/**
 * Re-encrypts the keystore in `file` under a new passphrase (or none), keeping the same keys. The old passphrase is
 * checked first (a wrong one changes nothing); the new file replaces the old one crash-safely, so that after a
 * crash the keystore opens with either the old passphrase or the new one, never neither.
 */
export async function changeKeystorePassphrase(file: string, options: ChangePassphraseOptions): Promise<NodeKeys> {
  const keys = await loadNodeKeys(file, options.passphrase === undefined ? {} : { passphrase: options.passphrase })
  await saveNodeKeys(file, keys, {
    ...(options.newPassphrase !== undefined ? { passphrase: options.newPassphrase } : {}),
    ...(options.scrypt !== undefined ? { scrypt: options.scrypt } : {}),
    ...(options.random !== undefined ? { random: options.random } : {}),
  })
  const check = await loadNodeKeys(
    file,
    options.newPassphrase === undefined ? {} : { passphrase: options.newPassphrase },
  )
  if (!equalBytes(check.privateKey.raw, keys.privateKey.raw)) {
    throw new KeystoreCorruptError(file, 'the re-encrypted keystore does not hold the same keys')
  }
  log('changed the passphrase of keystore %s', file)
  return keys
}
