import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { UnsupportedCidError } from './errors.ts'

/**
 * Blocks are checked against their CIDs before anything is stored: the fetcher hashes every block it receives
 * with SHA-256 (node:crypto, ≈1.7 GB/s here) and compares the digest to the CID's multihash. Only CIDv1 with
 * a sha2-256 multihash is accepted, which covers every segment (raw) and record (dag-cbor) Consort makes.
 */
export const SHA256_DIGEST_BYTES = 32

/** Throws `UnsupportedCidError` unless the CID can be verified by `blockMatches`. */
export function assertVerifiableCid(cid: CID): void {
  if (cid.version !== 1) throw new UnsupportedCidError(cid.toString(), 'only CIDv1 is fetched')
  if (cid.multihash.code !== sha256.code || cid.multihash.digest.length !== SHA256_DIGEST_BYTES) {
    throw new UnsupportedCidError(cid.toString(), 'only sha2-256 multihashes are fetched')
  }
}

/** Whether `bytes` hash to `cid` (which `assertVerifiableCid` accepted). */
export function blockMatches(cid: CID, bytes: Uint8Array): boolean {
  const digest = createHash('sha256').update(bytes).digest()
  const expected = cid.multihash.digest
  if (digest.length !== expected.length) return false
  let diff = 0
  for (let i = 0; i < digest.length; i++) diff |= digest[i]! ^ expected[i]!
  return diff === 0
}
