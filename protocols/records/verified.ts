import { hash } from 'node:crypto'
import { Lru } from '../../keys/lru.ts'
import { capFor, DEFAULT_RECORD_CAPS, type DecodeOptions, decodeRecord, type SignedRecord } from './envelope.ts'

/** Records one `VerifiedRecords` remembers (a few hundred bytes of key and the decoded record each). */
export const DEFAULT_VERIFIED_RECORDS = 4096

/**
 * `decodeRecord` for records that come again and again — the certificate a retailer attaches to every offer it
 * gossips, the registrar's certificate beside every licence — remembering the ones that passed, by the SHA-256 of
 * their bytes. The bytes fix everything `decodeRecord` checks except what depends on the caller's options: the
 * network, the size caps and the time. On a hit those are checked again, and if any fails the full `decodeRecord`
 * runs and throws its usual error; the signature, the canonical form and the schema are not checked twice. Only
 * records that passed are remembered, so a record that failed costs its full check every time.
 *
 * One instance per node (its gossip bus): it is the node's own memory of what it verified, nothing shared.
 */
export class VerifiedRecords {
  readonly #entries: Lru<string, SignedRecord>
  hits = 0

  constructor(max = DEFAULT_VERIFIED_RECORDS) {
    this.#entries = new Lru(Math.max(1, max))
  }

  decode(bytes: Uint8Array, options: DecodeOptions): SignedRecord {
    const key = hash('sha256', bytes, 'base64')
    const known = this.#entries.peek(key)
    if (known !== undefined && this.#stillValid(known, options)) {
      this.#entries.get(key)
      this.hits++
      return known
    }
    const record = decodeRecord(bytes, options)
    this.#entries.set(key, record)
    return record
  }

  /** The checks of `decodeRecord` that depend on its options rather than on the bytes. */
  #stillValid(record: SignedRecord, options: DecodeOptions): boolean {
    const caps = options.caps ?? DEFAULT_RECORD_CAPS
    const body = record.body as { network: string; created: number }
    if (body.network !== options.network) return false
    if (body.created > options.now + caps.clockSkewMs) return false
    return record.bytes.length <= capFor(record.type, caps)
  }
}
