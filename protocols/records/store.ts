import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { type DecodeOptions, decodeRecord, decodeRecordAs, type SignedRecord } from './envelope.ts'
import type { RecordType } from './registry.ts'

/** The part of a Helia blockstore the record store uses. */
export interface BlockStore {
  put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<CID> | CID
  get(cid: CID, options?: AbortOptions & { offline?: boolean }): AsyncIterable<Uint8Array> | Iterable<Uint8Array>
  has(cid: CID, options?: AbortOptions): Promise<boolean> | boolean
}

export interface GetRecordOptions extends AbortOptions {
  /** Only look in the local store; never ask the network. */
  offline?: boolean
}

/** Gather a block that a Helia 7 blockstore yields in chunks. */
export async function collectBlock(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const chunk of chunks) {
    parts.push(chunk)
    length += chunk.length
  }
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/**
 * Records live as Helia blocks under their own id, so that any peer can fetch any record by CID (bitswap
 * verifies the bytes against the CID; this store then verifies the record itself).
 */
export class RecordStore {
  readonly #blocks: BlockStore
  readonly #decodeOptions: () => DecodeOptions

  constructor(blocks: BlockStore, decodeOptions: () => DecodeOptions) {
    this.#blocks = blocks
    this.#decodeOptions = decodeOptions
  }

  async put(record: SignedRecord, options?: AbortOptions): Promise<CID> {
    return this.#blocks.put(record.id, record.bytes, options)
  }

  async has(id: CID, options?: AbortOptions): Promise<boolean> {
    return this.#blocks.has(id, options)
  }

  async get(id: CID, options: GetRecordOptions = {}): Promise<SignedRecord> {
    const bytes = await collectBlock(this.#blocks.get(id, options))
    return decodeRecord(bytes, this.#decodeOptions())
  }

  async getAs<T extends RecordType>(type: T, id: CID, options: GetRecordOptions = {}): Promise<SignedRecord<T>> {
    const bytes = await collectBlock(this.#blocks.get(id, options))
    return decodeRecordAs(type, bytes, this.#decodeOptions())
  }
}
