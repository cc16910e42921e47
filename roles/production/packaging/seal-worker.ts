/**
 * A packaging worker thread (docs/decisions/0201): seals runs of consecutive segments with `encryptSegmentInto`
 * (node:crypto AES-256-GCM, each block ciphertext || tag) and hashes each block (SHA-256, the digest of its raw-block
 * CID). A run's plaintext is read in place from its slot of shared memory; its blocks and then their digests are
 * written into one buffer that goes back transferred, not copied: the blocks the blockstore stores are views of it.
 */
import { hash } from 'node:crypto'
import { parentPort, workerData } from 'node:worker_threads'
import { encryptSegmentInto, SEGMENT_TAG_BYTES } from '../../../keys/segments.ts'
import type { SealRequest, SealResponse, SealWorkerData } from './seal-messages.ts'

const { slots, slotBytes } = workerData as SealWorkerData

parentPort?.on('message', (request: SealRequest) => {
  const { count, segmentSize } = request
  const plaintext = new Uint8Array(slots, request.slot * slotBytes, request.length)
  const blocksBytes = request.length + SEGMENT_TAG_BYTES * count
  const run = new Uint8Array(blocksBytes + 32 * count)
  let index = request.first
  let response: SealResponse
  try {
    for (let n = 0, at = 0; n < count; n++, index++) {
      const segment = plaintext.subarray(n * segmentSize, (n + 1) * segmentSize)
      const block = run.subarray(at, at + segment.length + SEGMENT_TAG_BYTES)
      encryptSegmentInto(request.contentKey, request.keyId, index, segment, block)
      run.set(hash('sha256', block, 'buffer'), blocksBytes + 32 * n)
      at += block.length
    }
    response = { id: request.id, run: run.buffer }
  } catch (err) {
    const e = err as Error & { code?: unknown }
    const code = typeof e.code === 'string' ? e.code : undefined
    response = { id: request.id, error: { segment: index, name: e.name, message: e.message, code } }
  }
  parentPort!.postMessage(response, 'run' in response ? [response.run] : [])
})
