import type { BlockStore } from '../records/store.ts'
import { collectBlock } from '../records/store.ts'
import type { BlockSource } from './fetcher.ts'

/**
 * The fetcher's bitswap source over a Helia blockstore: a `get` that is allowed to go to the network asks Helia's
 * block brokers, that is bitswap (every connected peer speaking `/ipfs/bitswap/…`, and the providers routing finds).
 * Helia checks each block against its CID before it hands it over; the fetcher checks it again.
 */
export function bitswapSource(blockstore: BlockStore): BlockSource {
  return {
    get: async (cid, options) => {
      const block = await collectBlock(blockstore.get(cid, { ...options, offline: false }))
      // Helia's stores may hand out Node Buffers: the fetcher yields plain Uint8Arrays whatever the source.
      return block.constructor === Uint8Array ? block : new Uint8Array(block.buffer, block.byteOffset, block.byteLength)
    },
  }
}
