import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Signer } from '../../keys/ed25519.ts'
import { recordId, type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { BodyInput } from '../../protocols/records/registry.ts'

/**
 * Records the gossip workload and the adversaries publish on their own (the market workload's records come from
 * the roles). They are real, signed, schema-valid records: only who signed them and what vouches for them differ.
 */

/** A deterministic ISRC for the n-th synthetic recording of a run (`QZ` is the prefix issued to distributors). */
export function simIsrc(n: number): string {
  return `QZS1M${String(26 + (Math.floor(n / 100_000) % 74)).padStart(2, '0')}${String(n % 100_000).padStart(5, '0')}`
}

/** A stand-in link to a record nobody needs to fetch (a contract of the gossip workload). */
export function placeholderRecordCid(label: string): CID {
  return recordId(dagCbor.encode({ label }))
}

/** The CID of a raw block with these bytes. */
export function rawCidOf(bytes: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(sha256.code, createHash('sha256').update(bytes).digest()))
}

export interface OfferInit {
  network: string
  now: number
  offerId: string
  content: string
  contract: CID
  priceMinor: bigint
  seq?: number
}

export function offerBody(init: OfferInit): BodyInput<'consort/offer'> {
  return {
    network: init.network,
    created: init.now,
    offerId: init.offerId,
    seq: init.seq ?? 0,
    content: [init.content],
    contract: init.contract,
    price: { amount: init.priceMinor, currency: 'EUR' },
    useType: 'OnDemandStream',
    rules: {},
    territories: ['Worldwide'],
    excludedTerritories: [],
    validFrom: init.now - 60_000,
    validUntil: null,
    promotion: null,
  }
}

/** A certification of `offer`, signed with `certifier` (a reference service's key, or a forger's). */
export function certificationOf(
  offer: SignedRecord<'consort/offer'>,
  certifier: Signer,
  now: number,
  ttlMs = 24 * 3600_000,
): SignedRecord<'consort/certification'> {
  return signRecord(
    'consort/certification',
    {
      network: offer.body.network,
      created: now,
      offer: offer.id,
      offerId: offer.body.offerId,
      contract: offer.body.contract,
      contractId: 'sim-contract',
      contractSeq: 0,
      validUntil: now + ttlMs,
    },
    certifier,
  )
}

/** A manifest for the catalog topic, padded with `padBytes` of artist names to set the message size. */
export function manifestBody(network: string, now: number, n: number, padBytes: number): BodyInput<'consort/manifest'> {
  const segmentSize = 256 * 1024
  const segments = [rawCidOf(new TextEncoder().encode(`sim segment ${n}`))]
  const artists = ['Sim Ensemble']
  for (let left = padBytes; left > 0 && artists.length < 64; left -= 500)
    artists.push(`Guest ${artists.length} ${'x'.repeat(Math.max(1, Math.min(480, left)))}`)
  return {
    network,
    created: now,
    seq: 0,
    isrc: simIsrc(n),
    title: `Simulated Recording ${n}`,
    version: null,
    artists,
    release: null,
    genre: 'Simulation',
    label: 'Sim Records',
    year: 2026,
    durationMs: 180_000,
    codec: 'flac',
    mime: 'audio/flac',
    byteSize: segmentSize,
    segmentSize,
    segments,
    keyId: new Uint8Array(16).fill(n % 256),
    preview: null,
  }
}
