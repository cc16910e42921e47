/**
 * Packaging: `packageAudio` of 64 MiB of audio in 256 KiB segments into a memory blockstore (encrypt, hash, store),
 * as `npm run bench -- delivery` and the production role run it: on a pool of worker threads, one per core, that
 * seal and hash (decision 0201) while this thread copies each run's plaintext into shared memory, names and stores
 * the blocks. The profile is this thread's; the process's CPU time next to it shows the workers'.
 * `PACKAGING_PROFILE_WORKERS=0` profiles packaging without the pool (decision 0109: AES on libuv's thread pool,
 * SHA-256 here).
 */
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { MemoryBlockstore } from 'blockstore-core'
import { SeededRandom } from '../../keys/random.ts'
import { MAX_SEAL_WORKERS, packageAudio, SealPool } from '../../roles/production/index.ts'
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
  { name: "a run's plaintext into shared memory, posting it", match: named('#dispatch', 'postMessage') },
  { name: 'sealed runs arriving (message, blocks as views)', match: named('#answer', 'unpack', 'emitMessage') },
  { name: 'CID', match: named('cidOfDigest', 'createV1', 'create') },
  { name: 'blockstore put', match: named('put') },
]

const BYTES = 64 * 1024 * 1024

export async function prepare(): Promise<ProfiledPath> {
  const data = new Uint8Array(randomBytes(BYTES))
  const workers = Number(process.env.PACKAGING_PROFILE_WORKERS ?? Math.min(availableParallelism(), MAX_SEAL_WORKERS))
  const pool = workers > 0 ? new SealPool({ workers }) : undefined
  let round = 0
  return {
    unit: 'MB',
    async run() {
      await packageAudio(new MemoryBlockstore(), data, { random: new SeededRandom(`profile-${round++}`), pool })
      return BYTES / 1e6
    },
    async dispose() {
      await pool?.close()
    },
  }
}
