import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import type { Signer } from '../../keys/ed25519.ts'
import { gridCheckCharacter } from '../../protocols/identifiers/grid.ts'
import { ENVELOPE_VERSION, recordId, signingPayload } from '../../protocols/records/envelope.ts'
import type { BodyInput, RecordType } from '../../protocols/records/registry.ts'
import { assignedPartyId } from '../../protocols/register/party-id.ts'
import { DEFAULT_NETWORK_RULES } from '../../protocols/usage-rules/index.ts'
import { rawCid, sampleManifestBody } from './records.ts'

/** Identifiers with valid check digits. */
export const SAMPLE_ISRC = 'USRC17607839'
export const SAMPLE_ICPN = '00724384960650'
export const SAMPLE_GRID = `A12425GABC1234002${gridCheckCharacter('A12425GABC1234002')}`

/** A fixed 32-byte key-like value (not a real key: schemas only check the length). */
export function sampleKey(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill)
}

/** The id of a record-like block, for fields that link to another record. */
export function sampleRecordCid(label: string): CID {
  return recordId(dagCbor.encode({ label }))
}

export type SampleBodies = { [T in RecordType]: BodyInput<T> }

/**
 * A valid body of every record type, each with every field set (nullable ones mostly to a value), so that
 * strictness tests can remove, add or spoil one field at a time.
 */
export function sampleBodies(network: string, created: number): SampleBodies {
  const year = 365 * 24 * 3600_000
  const segment = rawCid(new TextEncoder().encode('sample segment'))
  return {
    'consort/network': {
      network,
      created,
      seq: 0,
      registrars: [{ name: 'registrar-1', key: sampleKey(1), sealingKey: sampleKey(2) }],
      references: [{ name: 'reference-1', key: sampleKey(3) }],
      clearinghouses: [{ name: 'clearinghouse-1', key: sampleKey(4), sealingKey: sampleKey(5) }],
      bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'],
      caps: { recordBytes: 64 * 1024, largeRecordBytes: 1024 * 1024, messageBytes: 1024 * 1024, clockSkewMs: 300_000 },
      policy: {
        deviceLimit: 5,
        autoApprovePlayers: true,
        clearingFeeBps: 300,
        certificationTtlMs: 24 * 3600_000,
        ruleDefaults: { ...DEFAULT_NETWORK_RULES },
        deliveryPaysListeners: false,
      },
    },
    'consort/cert': {
      network,
      created,
      serial: 1,
      subject: sampleKey(6),
      name: 'A Label',
      partyId: assignedPartyId(sampleKey(6)),
      roles: ['production', 'retailer'],
      sealingKey: sampleKey(7),
      notBefore: created,
      notAfter: created + year,
    },
    'consort/device': {
      network,
      created,
      serial: 1,
      account: sampleKey(8),
      device: sampleKey(9),
      sealingKey: sampleKey(10),
      name: 'Living room player',
      notBefore: created,
      notAfter: created + year,
      territory: 'GB',
    },
    'consort/manifest': sampleManifestBody(network, created, {
      release: { icpn: SAMPLE_ICPN, grid: SAMPLE_GRID, title: 'A Test Album' },
      genre: 'Jazz',
      label: 'Test Records',
      version: 'Remastered',
      preview: {
        startMs: 30_000,
        durationMs: 30_000,
        codec: 'mp3',
        mime: 'audio/mpeg',
        byteSize: 480_000,
        keyId: new Uint8Array(16).fill(2),
        key: new Uint8Array(32).fill(3),
        segments: [segment],
      },
    }),
    'consort/release': {
      network,
      created,
      seq: 0,
      icpn: SAMPLE_ICPN,
      grid: SAMPLE_GRID,
      title: 'A Test Album',
      artists: ['The Testers'],
      type: 'Album',
      label: 'Test Records',
      genre: 'Jazz',
      releaseDate: '2026-11-01',
      tracks: [{ isrc: SAMPLE_ISRC, manifest: sampleRecordCid('manifest') }],
      artwork: segment,
    },
    'consort/escrow': {
      network,
      created,
      keyId: new Uint8Array(16).fill(1),
      isrc: SAMPLE_ISRC,
      manifest: sampleRecordCid('manifest'),
      recipient: sampleKey(11),
      sealedKey: new Uint8Array(92).fill(12),
    },
    'consort/contract': {
      network,
      created,
      contractId: 'contract-1',
      seq: 0,
      distributor: sampleKey(13),
      retailer: null,
      content: [`isrc:${SAMPLE_ISRC}`, `icpn:${SAMPLE_ICPN}`],
      commercialModel: 'pay-as-you-go',
      useTypes: ['PermanentDownload', 'OnDemandStream'],
      territories: ['Worldwide'],
      excludedTerritories: ['KP'],
      validFrom: created,
      validUntil: created + year,
      wholesale: [{ currency: 'EUR', amount: 70n, per: 'unit' }],
      revenueShareBps: null,
      promotions: { minPrice: [{ amount: 49n, currency: 'EUR' }], freeWindows: [] },
      ruleBounds: { maxDevices: 5, transferAllowed: false },
      splits: [
        { party: 'Test Records', key: sampleKey(13), bps: 7000 },
        { party: 'The Testers', key: null, bps: 3000 },
      ],
      delivery: { perGB: [{ amount: 2n, currency: 'EUR' }], saleBps: 500 },
      referral: { bps: 500, from: 'retailer', referrers: ['account', 'retailer'] },
    },
    'consort/offer': {
      network,
      created,
      offerId: 'offer-1',
      seq: 0,
      content: [`isrc:${SAMPLE_ISRC}`],
      contract: sampleRecordCid('contract'),
      price: { amount: 99n, currency: 'EUR' },
      useType: 'PermanentDownload',
      rules: { devices: 3, export: 1, burn: 0 },
      territories: ['DE', 'FR', 'GB'],
      excludedTerritories: [],
      validFrom: created,
      validUntil: created + year,
      promotion: { kind: 'discount', label: 'Launch week' },
    },
    'consort/certification': {
      network,
      created,
      offer: sampleRecordCid('offer'),
      offerId: 'offer-1',
      contract: sampleRecordCid('contract'),
      contractId: 'contract-1',
      contractSeq: 0,
      validUntil: created + 24 * 3600_000,
    },
    'consort/revocation': {
      network,
      created,
      targets: [{ kind: 'offer', id: sampleRecordCid('offer') }],
      reason: 'withdrawn by the retailer',
    },
    'consort/receipt': {
      network,
      created,
      purchaseId: 'purchase-1',
      offer: sampleRecordCid('offer'),
      certification: sampleRecordCid('certification'),
      account: sampleKey(14),
      device: sampleKey(15),
      price: { amount: 99n, currency: 'EUR' },
      clearinghouse: sampleKey(16),
      authorisation: 'auth-1',
    },
    'consort/payment': {
      network,
      created,
      purchaseId: 'purchase-1',
      receipt: sampleRecordCid('receipt'),
      offer: sampleRecordCid('offer'),
      retailer: sampleKey(13),
      account: sampleKey(14),
      device: sampleKey(15),
      price: { amount: 99n, currency: 'EUR' },
      authorisation: 'auth-1',
    },
    'consort/consumption': {
      network,
      created,
      purchaseId: 'purchase-1',
      account: sampleKey(14),
      plays: 3,
      playSeconds: 540,
      exports: 1,
      burns: 0,
      firstPlayAt: created - 3600_000,
    },
    'consort/licence': {
      network,
      created,
      licenceId: 'licence-1',
      purchaseId: 'purchase-1',
      receipt: sampleRecordCid('receipt'),
      offer: sampleRecordCid('offer'),
      contract: sampleRecordCid('contract'),
      content: [`isrc:${SAMPLE_ISRC}`],
      useType: 'PermanentDownload',
      rules: { devices: 3, plays: 100 },
      account: sampleKey(14),
      device: sampleKey(15),
      notAfter: null,
      used: {
        plays: 3,
        playSeconds: 540,
        exports: 0,
        burns: 0,
        firstPlayAt: created - 3600_000,
        asOf: created - 60_000,
      },
      keys: [{ isrc: SAMPLE_ISRC, keyId: new Uint8Array(16).fill(1), sealedKey: new Uint8Array(92).fill(17) }],
    },
    'consort/delivery': {
      network,
      created,
      fetch: 'fetch-1',
      account: sampleKey(14),
      device: sampleKey(15),
      licence: sampleRecordCid('licence'),
      manifest: sampleRecordCid('manifest'),
      peers: [{ peer: sampleKey(20), blocks: 4, bytes: 65_600, ack: new Uint8Array(64).fill(21) }],
    },
    'consort/transfer': {
      network,
      created,
      transferId: 'transfer-1',
      purchaseId: 'purchase-1',
      seq: 1,
      from: sampleKey(14),
      to: sampleKey(22),
      used: {
        plays: 2,
        playSeconds: 300,
        exports: 0,
        burns: 0,
        firstPlayAt: created - 3600_000,
        asOf: created - 60_000,
      },
      revoked: [sampleRecordCid('licence')],
    },
    'consort/share': {
      network,
      created,
      id: 'share-1',
      content: { track: `isrc:${SAMPLE_ISRC}`, release: `icpn:${SAMPLE_ICPN}`, manifest: sampleRecordCid('manifest') },
      referrer: { kind: 'account', key: sampleKey(14) },
      offer: 'offer-1',
      expires: created + 30 * 24 * 3600_000,
    },
    'consort/usage': {
      network,
      created,
      device: sampleKey(15),
      account: sampleKey(14),
      seq: 1,
      prev: sampleRecordCid('usage-0'),
      sealed: [{ recipient: sampleKey(16), box: new Uint8Array(200).fill(18) }],
    },
    'consort/statement': {
      network,
      created,
      period: '2026-10',
      participant: 'Test Records',
      currency: 'EUR',
      part: 0,
      parts: 1,
      lines: [
        {
          kind: 'sale',
          ref: 'purchase-1',
          content: `isrc:${SAMPLE_ISRC}`,
          units: 1,
          amount: 70n,
          counterparty: 'retailer-1',
          at: created,
        },
      ],
      totals: { credits: 70n, debits: 0n, net: 70n },
      merkleRoot: new Uint8Array(32).fill(19),
    },
  }
}

export interface RawEnvelope {
  v?: unknown
  type: string
  body: unknown
  /** Extra envelope fields a strict decoder must refuse. */
  extra?: Record<string, unknown>
  /** Leave out these envelope fields. */
  omit?: Array<'v' | 'type' | 'body' | 'signer' | 'sig'>
  /** Sign this type's payload instead of `type`'s (domain separation tests). */
  signAs?: string
}

/**
 * Build and sign an envelope by hand, bypassing `signRecord`'s checks, so that decoders can be fed records that
 * are properly signed but otherwise wrong. The signature covers what the signing rule says: the domain, the type
 * and the canonical body bytes.
 */
export function signRawEnvelope(envelope: RawEnvelope, signer: Signer): Uint8Array {
  const bodyBytes = dagCbor.encode(envelope.body)
  const sig = signer.sign(signingPayload(envelope.signAs ?? envelope.type, bodyBytes))
  const fields: Record<string, unknown> = {
    v: envelope.v ?? ENVELOPE_VERSION,
    type: envelope.type,
    body: envelope.body,
    signer: signer.publicKey,
    sig,
    ...envelope.extra,
  }
  for (const key of envelope.omit ?? []) delete fields[key]
  return dagCbor.encode(fields)
}

/** A copy of `bytes` with one bit flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = new Uint8Array(bytes)
  copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7))
  return copy
}

/** Where `needle` first occurs in `haystack`, or -1. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(Buffer.from(needle))
}
