/**
 * Packaging: `packageAudio` of 64 MiB of audio in 256 KiB segments into a memory blockstore (encrypt, hash, store),
 * as `npm run bench -- delivery` measures it. AES-256-GCM runs on libuv's thread pool (decision 0109), SHA-256 here:
 * the process's CPU time next to this thread's shows it.
 */
import { randomBytes } from 'node:crypto'
import { MemoryBlockstore } from 'blockstore-core'
import { SeededRandom } from '../../keys/random.ts'
import { packageAudio } from '../../roles/production/index.ts'
import type { Category } from '../lib/cpu-profile.ts'
import type { ProfiledPath } from '../lib/types.ts'

export const description = 'packageAudio of 64 MiB into a memory blockstore (MB = 10^6 bytes)'

const named =
  (...names: string[]): Category['match'] =>
  (f) =>
    names.includes(f.functionName)

export const categories: Category[] = [
  { name: 'AES-256-GCM on this thread (cipher update/final)', match: named('update', 'final', 'getAuthTag') },
  {
    name: 'AES-256-GCM handed to the thread pool (WebCrypto: arguments, input copy, job)',
    match: named('encryptSegmentOffThread', 'encrypt', 'AESCipherJob', 'encryptImpl', 'cipherOrWrap', 'jobPromise'),
  },
  { name: 'cipher set-up (key, nonce, AAD)', match: named('createCipheriv', 'setAAD', 'segmentNonce', 'segmentAad') },
  { name: 'copies into the output block', match: named('set') },
  { name: 'SHA-256 (digest, on this thread)', match: named('digest', 'hash', 'rawBlockCid') },
  { name: 'CID', match: named('cidOfDigest', 'createV1', 'create') },
  { name: 'blockstore put', match: named('put') },
]

const BYTES = 64 * 1024 * 1024

export async function prepare(): Promise<ProfiledPath> {
  const data = new Uint8Array(randomBytes(BYTES))
  let round = 0
  return {
    unit: 'MB',
    async run() {
      await packageAudio(new MemoryBlockstore(), data, { random: new SeededRandom(`profile-${round++}`) })
      return BYTES / 1e6
    },
    async dispose() {},
  }
}
