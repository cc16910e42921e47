/**
 * The messages between `SealPool` (`seal-pool.ts`) and its worker threads (`seal-worker.ts`), in a file of their own
 * so that neither side imports the other.
 */

/**
 * A run of `count` consecutive segments from index `first`, posted to a worker: its plaintext is in the worker's
 * slot of shared memory (`slot`), `length` bytes from the slot's start.
 */
export interface SealRequest {
  id: number
  contentKey: Uint8Array
  keyId: Uint8Array
  segmentSize: number
  first: number
  count: number
  slot: number
  length: number
}

/** What a worker is started with: the shared slots the runs' plaintext is put in. */
export interface SealWorkerData {
  slots: SharedArrayBuffer
  slotBytes: number
}

/** A sealed run comes back as one buffer: each segment's block (ciphertext || tag) in order, then their digests. */
export type SealResponse =
  | { id: number; run: ArrayBuffer }
  | { id: number; error: { segment: number; name: string; message: string; code?: string | undefined } }
