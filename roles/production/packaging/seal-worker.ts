/**
 * A packaging worker thread: seals runs of consecutive segments (`encryptSegment`) and hashes each ciphertext
 * (SHA-256, its raw-block CID). The plaintext arrives in a buffer of its own, transferred; each ciphertext goes back
 * in a buffer of its own, transferred too, so no byte crosses threads by copy; the plaintext's buffer goes back for
 * the next run.
 */
import { hash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import { encryptSegment } from '../../../keys/segments.ts'
import type { SealRequest, SealResponse } from './seal-pool.ts'

parentPort?.on('message', (request: SealRequest) => {
  let response: SealResponse
  try {
    const ciphertexts: Uint8Array[] = []
    const digests: Uint8Array[] = []
    const plaintext = new Uint8Array(request.plaintext, 0, request.length)
    for (let at = 0, i = request.first; at < plaintext.length; at += request.segmentSize, i++) {
      const sealed = encryptSegment(
        request.contentKey,
        request.keyId,
        i,
        plaintext.subarray(at, at + request.segmentSize),
      )
      ciphertexts.push(sealed)
      digests.push(hash('sha256', sealed, 'buffer'))
    }
    response = { id: request.id, ciphertexts, digests, plaintext: request.plaintext }
  } catch (err) {
    response = { id: request.id, error: (err as Error).message }
  }
  parentPort!.postMessage(
    response,
    'ciphertexts' in response
      ? [...response.ciphertexts.map((c) => c.buffer as ArrayBuffer), request.plaintext]
      : [request.plaintext],
  )
})
