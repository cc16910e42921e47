/**
 * Consort's keys: Ed25519 identities and signing, X25519 sealing, segment encryption and the node keystore.
 * See `keys/README.md` for the formats.
 */

export {
  clearEd25519KeyCache,
  ED25519_KEY_CACHE_ENTRIES,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SEED_BYTES,
  ED25519_SIGNATURE_BYTES,
  ed25519KeyCacheSize,
  ed25519PublicKeyObject,
  ed25519Verify,
  type Signer,
  signerFromLibp2pKey,
  signerFromSeed,
} from './ed25519.ts'
export * from './errors.ts'
export { fromHex, toHex } from './hex.ts'
export {
  createNodeKeys,
  DEFAULT_SCRYPT_PARAMETERS,
  KEYSTORE_TYPE,
  KEYSTORE_VERSION,
  type LoadNodeKeysOptions,
  type LoadOrCreateNodeKeysOptions,
  loadNodeKeys,
  loadOrCreateNodeKeys,
  MAX_KEYSTORE_FILE_BYTES,
  MAX_SCRYPT_MEMORY_BYTES,
  MAX_SCRYPT_P,
  MAX_SCRYPT_R,
  type NodeKeys,
  type NodePublicKeys,
  readNodePublicKeys,
  type SaveNodeKeysOptions,
  type ScryptParameters,
  saveNodeKeys,
} from './keystore.ts'
export { Lru } from './lru.ts'
export { type Random, SeededRandom, systemRandom } from './random.ts'
export {
  MAX_SEAL_CONTEXT_BYTES,
  MAX_SEAL_PLAINTEXT_BYTES,
  open,
  SEAL_DOMAIN,
  SEAL_OVERHEAD_BYTES,
  SEAL_SESSION_CACHE_ENTRIES,
  SEAL_SESSION_DOMAIN,
  SEAL_SESSION_MAX_AGE_MS,
  SEAL_SESSION_MAX_BOXES,
  SEAL_SESSION_OVERHEAD_BYTES,
  SEAL_SESSION_PROBATION_ENTRIES,
  SEAL_SESSION_VERSION,
  SEAL_VERSION,
  SealOpener,
  SealSession,
  type SealSessionInit,
  seal,
} from './seal.ts'
export {
  CONTENT_KEY_BYTES,
  decryptSegment,
  encryptSegment,
  encryptSegmentInto,
  encryptSegmentOffThread,
  generateContentKey,
  generateKeyId,
  KEY_ID_BYTES,
  MAX_SEGMENT_BYTES,
  SEGMENT_AAD_BYTES,
  SEGMENT_NONCE_BYTES,
  SEGMENT_TAG_BYTES,
  segmentCipherKey,
} from './segments.ts'
export {
  generateSealingKeyPair,
  type SealingKeyPair,
  sealingPublicKeyFromPrivate,
  X25519_KEY_BYTES,
} from './x25519.ts'
