import { createCipheriv, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { MemoryBlockstore } from 'blockstore-core'
import { LevelBlockstore } from 'blockstore-level'
import { SeededRandom } from '../../keys/random.ts'
import { DEFAULT_SEGMENT_BYTES, MAX_SEAL_WORKERS, packageAudio, SealPool } from '../../roles/production/index.ts'

/**
 * The packaging benchmark of issue 3 (`npm run bench -- delivery` reports it next to the fetch figures): packaging
 * throughput — segment, AES-256-GCM under the content key, CID of each ciphertext, store as a block in a memory
 * blockstore — against raw AES-256-GCM over the same bytes in the same segments, on one thread. Target: at least
 * half the raw rate.
 *
 * The two are measured side by side in short turns, as `compareRates` does for synchronous cases: the 64 MiB are cut
 * into tracks of 16 MiB (an album's track), and each round packages every track and encrypts it raw, one right after
 * the other, the order alternating from track to track and from round to round. A turn lasts 10–60 ms, so on a
 * shared machine whose load changes from one tenth of a second to the next both see the same moments; a round's
 * ratio is its packaged bytes per packaging time over its raw bytes per raw time, and the figure is the median of
 * the rounds' ratios. (Until issue 17 a round ran raw AES over 64 MiB, 25–200 ms, then packaging over 64 MiB, about
 * 300 ms: at load 15 the raw figure swung eightfold between rounds, and the ratio with it.)
 *
 * Packaging runs as the production role runs it: on a pool of worker threads, one per core (decision 0201). The
 * same tracks packaged without the pool (AES on libuv's thread pool, SHA-256 on the calling thread: decision 0109,
 * what `packagingWorkers: 0` does) take a third turn in each round and are reported without a target, so the two
 * designs are compared at the same moments.
 *
 * The same packaging into a LevelDB blockstore on disk (what a daemon uses) is reported next to it, without a target:
 * it measures the disk as much as the packaging.
 */

export interface BenchResult {
  metric: string
  value: number
  unit: string
  baseline: { name: string; value: number } | null
  ratio: number | null
  target: { op: '>=' | '<='; value: number; of: 'value' | 'ratio' } | null
  met: boolean
}

export interface PackagingBenchOptions {
  rounds?: number
  /** Bytes of audio packaged per round (default 64 MiB). */
  bytes?: number
  /** Bytes per track: one turn of packaging and one of raw AES (default 16 MiB, at most `bytes`). */
  trackBytes?: number
  segmentSize?: number
  log?(message: string): void
}

/** Packaging must reach at least this share of raw AES-256-GCM throughput. */
export const PACKAGING_TARGET_RATIO = 0.5

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function rawGcm(data: Uint8Array, segmentSize: number, key: Uint8Array): void {
  const nonce = Buffer.alloc(12)
  for (let offset = 0, i = 0; offset < data.length; offset += segmentSize, i++) {
    nonce.writeUInt32BE(i, 8)
    const cipher = createCipheriv('aes-256-gcm', key, nonce)
    cipher.update(data.subarray(offset, offset + segmentSize))
    cipher.final()
    cipher.getAuthTag()
  }
}

export async function measurePackaging(options: PackagingBenchOptions = {}): Promise<BenchResult[]> {
  const rounds = options.rounds ?? 7
  const bytes = options.bytes ?? 64 * 1024 * 1024
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_BYTES
  const data = new Uint8Array(randomBytes(bytes))
  const key = new Uint8Array(randomBytes(32))
  const mb = bytes / 1e6
  const dir = await mkdtemp(path.join(tmpdir(), 'consort-packaging-bench-'))
  const level = new LevelBlockstore(dir)
  await level.open()
  const figures = {
    raw: [] as number[],
    memory: [] as number[],
    thread: [] as number[],
    ratio: [] as number[],
    disk: [] as number[],
    diskRatio: [] as number[],
  }
  const trackBytes = Math.min(bytes, options.trackBytes ?? 16 * 1024 * 1024)
  const tracks: Uint8Array[] = []
  for (let at = 0; at < data.length; at += trackBytes) tracks.push(data.subarray(at, at + trackBytes))
  const seconds = async (fn: () => unknown) => {
    const start = performance.now()
    await fn()
    return (performance.now() - start) / 1000
  }
  const workers = Math.min(availableParallelism(), MAX_SEAL_WORKERS)
  const pool = new SealPool({ workers })
  try {
    // One warm-up of each, then rounds of turns.
    rawGcm(data, segmentSize, key)
    await packageAudio(new MemoryBlockstore(), data, { segmentSize, random: new SeededRandom('warm-up'), pool })
    await packageAudio(new MemoryBlockstore(), data, { segmentSize, random: new SeededRandom('warm-up') })
    for (let round = 0; round < rounds; round++) {
      let rawSeconds = 0
      let packagingSeconds = 0
      let threadSeconds = 0
      for (const [t, track] of tracks.entries()) {
        const turns = [
          async () => {
            rawSeconds += await seconds(() => rawGcm(track, segmentSize, key))
          },
          async () => {
            const random = new SeededRandom(`${round}-${t}`)
            const store = new MemoryBlockstore()
            packagingSeconds += await seconds(() => packageAudio(store, track, { segmentSize, random, pool }))
          },
          async () => {
            const random = new SeededRandom(`${round}-${t}-thread`)
            const store = new MemoryBlockstore()
            threadSeconds += await seconds(() => packageAudio(store, track, { segmentSize, random }))
          },
        ]
        // Each turn comes first, second and third in turn, from track to track and round to round.
        const shift = (round + t) % turns.length
        for (const turn of [...turns.slice(shift), ...turns.slice(0, shift)]) await turn()
      }
      const raw = mb / rawSeconds
      const memory = mb / packagingSeconds
      const thread = mb / threadSeconds
      const disk =
        mb /
        (await seconds(() =>
          packageAudio(level, data, { segmentSize, random: new SeededRandom(`disk-${round}`), pool }),
        ))
      figures.raw.push(raw)
      figures.memory.push(memory)
      figures.thread.push(thread)
      figures.disk.push(disk)
      figures.ratio.push(memory / raw)
      figures.diskRatio.push(disk / raw)
      options.log?.(
        `round ${round + 1}/${rounds}: raw AES-256-GCM ${raw.toFixed(0)} MB/s, packaging ${memory.toFixed(0)} MB/s (${(memory / raw).toFixed(2)}; without workers ${thread.toFixed(0)} MB/s, ${(thread / raw).toFixed(2)}), to LevelDB ${disk.toFixed(0)} MB/s`,
      )
    }
  } finally {
    await pool.close()
    await level.close()
    await rm(dir, { recursive: true, force: true })
  }
  const baseline = {
    name: 'raw AES-256-GCM (node:crypto, one thread), same segments, in turns with packaging',
    value: Math.round(median(figures.raw)),
  }
  const ratio = median(figures.ratio)
  const diskRatio = median(figures.diskRatio)
  const threadRatio = median(figures.thread.map((thread, round) => thread / figures.raw[round]!))
  return [
    {
      metric: 'packaging_throughput',
      value: Math.round(median(figures.memory)),
      unit: 'MB/s',
      baseline,
      ratio: Math.round(ratio * 100) / 100,
      target: { op: '>=', value: PACKAGING_TARGET_RATIO, of: 'ratio' },
      met: ratio >= PACKAGING_TARGET_RATIO,
    },
    {
      metric: 'packaging_throughput_without_workers',
      value: Math.round(median(figures.thread)),
      unit: 'MB/s',
      baseline,
      ratio: Math.round(threadRatio * 100) / 100,
      target: null,
      met: true,
    },
    {
      metric: 'packaging_throughput_to_leveldb',
      value: Math.round(median(figures.disk)),
      unit: 'MB/s',
      baseline,
      ratio: Math.round(diskRatio * 100) / 100,
      target: null,
      met: true,
    },
  ]
}
