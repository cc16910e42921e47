import type { Signer } from '../../keys/ed25519.ts'
import { toHex } from '../../keys/hex.ts'
import { type Random, systemRandom } from '../../keys/random.ts'
import { isError } from '../errors.ts'
import { type DecodeOptions, decodeRecord, type SignedRecord, signRecord } from '../records/envelope.ts'
import { BadSignatureError, isRecordError } from '../records/errors.ts'
import type { ReferrerKind, SharedContent } from '../records/types/share.ts'
import { NotAShareError, ShareEncodingError, ShareExpiredError, ShareSignatureError } from './errors.ts'

/** How long a share runs unless its maker says otherwise: thirty days. */
export const DEFAULT_SHARE_TTL_MS = 30 * 24 * 3600_000
/**
 * Longest share link accepted, in characters: a share is ≈ 380–430 bytes (≈ 510–570 characters); this bounds the
 * work a pasted text can cause and keeps every link within a QR code's comfortable size (version 25, level L).
 */
export const MAX_SHARE_LINK_CHARS = 1000

export type ShareRecord = SignedRecord<'consort/share'>

export interface CreateShareInit {
  network: string
  /** What is shared: the track and/or the release, and a manifest to preview. */
  content: SharedContent
  /** `account` when `signer` is a consumer's account key; `retailer` when it is a retailer node's key. */
  kind: ReferrerKind
  /** The offer id the referrer recommends, if any. */
  offer?: string | null
  /** Now, on the referrer's clock (ms). */
  now: number
  ttlMs?: number
  random?: Random
}

/** Make and sign a share: its id is 16 random bytes (base64url), `expires` is `now + ttlMs`. */
export function createShare(init: CreateShareInit, signer: Signer): ShareRecord {
  const random = init.random ?? systemRandom
  return signRecord(
    'consort/share',
    {
      network: init.network,
      created: init.now,
      id: Buffer.from(random.bytes(16)).toString('base64url'),
      content: init.content,
      referrer: { kind: init.kind, key: signer.publicKey },
      offer: init.offer ?? null,
      expires: init.now + (init.ttlMs ?? DEFAULT_SHARE_TTL_MS),
    },
    signer,
  )
}

/**
 * Decode a share from its envelope's bytes (as a purchase order carries it) and check it: a `consort/share` of this
 * network, its signature, signed by the referrer it names, not expired at `options.now` (the checker's own clock:
 * the clearinghouse passes its time of the purchase). Whether a retailer referrer is certified is trust's question
 * (`SIGNER_REQUIREMENTS`: `referrer`), asked by whoever pays.
 */
export function decodeShare(bytes: Uint8Array, options: DecodeOptions): ShareRecord {
  let record: SignedRecord
  try {
    record = decodeRecord(bytes, options)
  } catch (err) {
    if (isError(err, BadSignatureError)) throw new ShareSignatureError(`the share's signature does not verify`)
    if (isRecordError(err)) throw new NotAShareError(`not a valid share: ${err.message}`)
    throw err
  }
  if (record.type !== 'consort/share') throw new NotAShareError(`not a share: a ${record.type} record`)
  const share = record as ShareRecord
  if (toHex(share.signer) !== toHex(share.body.referrer.key)) {
    throw new ShareSignatureError(`signed by ${toHex(share.signer)}, not by its referrer`)
  }
  if (options.now >= share.body.expires) {
    throw new ShareExpiredError(`the share expired at ${new Date(share.body.expires).toISOString()}`)
  }
  return share
}

/** The compact text form of a share, for a URL or a QR code: base64url (no padding) of the envelope's bytes. */
export function encodeShareLink(share: ShareRecord): string {
  return Buffer.from(share.bytes).toString('base64url')
}

/** Read a share's text form (surrounding white space ignored) and check it as `decodeShare` does. */
export function decodeShareLink(text: string, options: DecodeOptions): ShareRecord {
  const token = text.trim()
  if (token.length === 0) throw new ShareEncodingError('the share link is empty')
  if (token.length > MAX_SHARE_LINK_CHARS) {
    throw new ShareEncodingError(`the share link is ${token.length} characters, longer than any share`)
  }
  const bad = /[^A-Za-z0-9_-]/.exec(token)
  if (bad !== null) {
    throw new ShareEncodingError(`not base64url: ${JSON.stringify(bad[0])} at position ${bad.index}`)
  }
  const bytes = Buffer.from(token, 'base64url')
  // Node ignores trailing bits that do not make a byte: only the one encoding of the bytes is a share's link.
  if (bytes.toString('base64url') !== token) throw new ShareEncodingError('not base64url: a truncated last character')
  return decodeShare(new Uint8Array(bytes), options)
}
