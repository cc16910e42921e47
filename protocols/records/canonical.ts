import { decodeOptions as dagCborDecodeOptions } from '@ipld/dag-cbor'
import { decode as cborDecode, type TagDecodeControl, Tokenizer, Type } from 'cborg'
import { CID } from 'multiformats/cid'

/** A record's bytes are valid DAG-CBOR but not in the one canonical form. */
export class NotCanonicalError extends Error {
  override name = 'NotCanonicalError'
}

interface Frame {
  /** Items still to come in this map (keys and values), array or tag. */
  remaining: number
  isMap: boolean
  /** Items seen so far: in a map, even ones are keys. */
  index: number
  lastKey: string | null
}

/** DAG-CBOR orders map keys by encoded length first, then bytewise. */
function keyComesBefore(a: string, b: string): boolean {
  // Record keys are ASCII: compare without allocating (UTF-16 order equals byte order there).
  if (isAscii(a) && isAscii(b)) return a.length !== b.length ? a.length < b.length : a < b
  const la = Buffer.byteLength(a, 'utf8')
  const lb = Buffer.byteLength(b, 'utf8')
  if (la !== lb) return la < lb
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')) < 0
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false
  return true
}

/**
 * Checks, token by token while decoding, what decoding alone does not: map keys in canonical order (which also
 * rules out duplicates), floats only where the encoder writes them (64-bit, not whole), no `undefined`, and text that is valid UTF-8
 * (decoding would otherwise replace bad bytes silently), CIDs in their canonical binary form. Minimal integer and length encodings, definite lengths
 * and the only tag (42, CIDs) are already enforced by DAG-CBOR's strict decoder options. Together these mean
 * the bytes are exactly what the encoder would produce — without encoding them a second time to compare.
 */
class CanonicalTokenizer extends Tokenizer {
  readonly #stack: Frame[] = []
  readonly #bytes: Uint8Array

  constructor(data: Uint8Array, options: object) {
    super(data, options)
    this.#bytes = data
  }

  override next() {
    const start = this.pos()
    const token = super.next()
    const type = token.type
    // The encoder writes whole numbers as integers and every other number as a 64-bit float.
    if (type === Type.float && (token.encodedLength !== 9 || Number.isInteger(token.value))) {
      throw new NotCanonicalError('a float that the encoder would have written otherwise')
    }
    // DAG-CBOR's decoder turns `undefined` (0xf7) into null; only 0xf6 is a null the encoder writes.
    if (type === Type.undefined || (type === Type.null && this.#bytes[start] !== 0xf6)) {
      throw new NotCanonicalError('an undefined value')
    }
    const parent = this.#stack.at(-1)
    if (parent != null) {
      if (parent.isMap && parent.index % 2 === 0) {
        if (type !== Type.string) throw new NotCanonicalError('a map key that is not a string')
        const key = token.value as string
        if (parent.lastKey != null && !keyComesBefore(parent.lastKey, key)) {
          throw new NotCanonicalError(`map key ${JSON.stringify(key)} out of canonical order or repeated`)
        }
        parent.lastKey = key
      }
      parent.index++
      parent.remaining--
    }
    if (type === Type.string && (token.value as string).includes('\uFFFD')) {
      const raw = this.#bytes.subarray(start, start + (token.encodedLength ?? 0))
      const text = Buffer.from(token.value as string, 'utf8')
      if (!Buffer.from(raw.subarray(raw.length - text.length)).equals(text)) {
        throw new NotCanonicalError('text that is not valid UTF-8')
      }
    }
    const size = token.value as number
    if (type === Type.map && size > 0) {
      this.#stack.push({ remaining: size * 2, isMap: true, index: 0, lastKey: null })
    } else if (type === Type.array && size > 0) {
      this.#stack.push({ remaining: size, isMap: false, index: 0, lastKey: null })
    } else if (type === Type.tag) {
      this.#stack.push({ remaining: 1, isMap: false, index: 0, lastKey: null })
    } else {
      while (this.#stack.length > 0 && this.#stack.at(-1)!.remaining === 0) this.#stack.pop()
    }
    return token
  }
}

/**
 * Decode DAG-CBOR that must be canonical: throws `NotCanonicalError` for valid but non-canonical bytes, and the
 * decoder's own error for anything that is not DAG-CBOR at all.
 */
/** CBOR tag 42 holds a CID as 0x00 followed by its binary form; the CID must be in the form its encoder writes. */
function canonicalCid(decode: TagDecodeControl): CID {
  const bytes = decode() as Uint8Array
  if (!(bytes instanceof Uint8Array) || bytes[0] !== 0)
    throw new Error('invalid CID for CBOR tag 42: expected bytes with a leading 0x00')
  const cid = CID.decode(bytes.subarray(1))
  if (!Buffer.from(cid.bytes).equals(Buffer.from(bytes.subarray(1))))
    throw new NotCanonicalError('a CID not in its canonical binary form')
  return cid
}

export function decodeCanonical(bytes: Uint8Array): unknown {
  const options = { ...dagCborDecodeOptions, tags: { ...dagCborDecodeOptions.tags, 42: canonicalCid } }
  try {
    return cborDecode(bytes, { ...options, tokenizer: new CanonicalTokenizer(bytes, options) })
  } catch (err) {
    // The strict decoder's refusals of longer-than-needed integers and lengths are canonical-form failures too.
    if ((err as Error).message.includes('(strict decode)')) throw new NotCanonicalError((err as Error).message)
    throw err
  }
}
