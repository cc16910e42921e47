/**
 * The Merkle tree of a statement's lines, as Certificate Transparency defines it (RFC 9162, section 2.1):
 *
 *   leaf hash  = SHA-256(0x00 ‖ leaf bytes)          (a statement line's DAG-CBOR encoding)
 *   node hash  = SHA-256(0x01 ‖ left ‖ right)
 *   MTH([])    = SHA-256()                          MTH([d]) = leaf hash of d
 *   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n]))     k = the largest power of two smaller than n
 *
 * The domain bytes keep a leaf from passing for a node. An inclusion proof is the audit path of RFC 9162
 * section 2.1.3.1; `verifyInclusion` is its verification algorithm (section 2.1.3.2).
 */
import { createHash } from 'node:crypto'

export const HASH_BYTES = 32

export function leafHash(leaf: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(Uint8Array.of(0)).update(leaf).digest())
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(Uint8Array.of(1)).update(left).update(right).digest())
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** The root over leaf hashes (already hashed with `leafHash`). */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return new Uint8Array(createHash('sha256').digest())
  // Bottom-up: pair adjacent nodes; an odd last node moves up unchanged. This builds the same tree as the
  // recursive definition (the left subtree is always the largest complete power of two).
  let level = [...leaves]
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? nodeHash(level[i]!, level[i + 1]!) : level[i]!)
    }
    level = next
  }
  return level[0]!
}

/** The audit path of leaf `index` among `leaves` (leaf hashes), from the leaf's sibling up to the root's child. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`index ${index} is not a leaf of a tree of ${leaves.length}`)
  }
  const path: Uint8Array[] = []
  const walk = (lo: number, hi: number, m: number): void => {
    const n = hi - lo
    if (n <= 1) return
    const k = largestPowerOfTwoBelow(n)
    if (m < k) {
      walk(lo, lo + k, m)
      path.push(merkleRoot(leaves.slice(lo + k, hi)))
    } else {
      walk(lo + k, hi, m - k)
      path.push(merkleRoot(leaves.slice(lo, lo + k)))
    }
  }
  walk(0, leaves.length, index)
  return path
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Does `path` prove that the leaf with hash `leaf` is leaf `index` of a tree of `size` leaves with this `root`? */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of path) {
    if (p.length !== HASH_BYTES) return false
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2)
          sn = Math.floor(sn / 2)
        }
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && equal(r, root)
}
