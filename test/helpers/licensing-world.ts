import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryLevel } from 'memory-level'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import { type Random, SeededRandom } from '../../keys/random.ts'
import { seal } from '../../keys/seal.ts'
import { generateContentKey, generateKeyId } from '../../keys/segments.ts'
import { type Clock, FakeClock } from '../../protocols/clock.ts'
import { ESCROW_SEAL_CONTEXT } from '../../protocols/escrow/index.ts'
import { type NetworkContext, networkContext } from '../../protocols/network.ts'
import { DEFAULT_RECORD_CAPS, type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { BodyInput } from '../../protocols/records/registry.ts'
import { type BlockStore, RecordStore } from '../../protocols/records/store.ts'
import type { NetworkPolicy } from '../../protocols/records/types/network.ts'
import { signDeviceRequest } from '../../protocols/register/client.ts'
import { assignedPartyId } from '../../protocols/register/party-id.ts'
import { CertificateTrust } from '../../protocols/trust/trust.ts'
import { DEFAULT_NETWORK_RULES } from '../../protocols/usage-rules/index.ts'
import { REGISTRATION_LAYOUT } from '../../roles/registration/index.ts'
import type { IssueMessage } from '../../roles/registration/licences.ts'
import { Registrar } from '../../roles/registration/registrar.ts'
import type { RoleDb } from '../../roles/role.ts'
import { RoleStore, storeContext } from '../../roles/store.ts'
import { certificationBody, contractBody, offerBody } from './record-bodies.ts'

/**
 * A registration manager with everything around it made up in memory — a network, a producer that escrowed
 * a release's keys, a contract, a retailer's certified offer, a registered device — and no libp2p: what the
 * licence benchmark measures, and what unit tests of the registrar's logic run against.
 */
export interface LicensingWorld {
  clock: FakeClock
  network: NetworkContext
  trust: CertificateTrust
  registrar: Registrar
  keys: Record<
    'genesis' | 'registrar' | 'producer' | 'retailer' | 'reference' | 'clearinghouse' | 'account' | 'device',
    NodeKeys
  >
  producerCert: SignedRecord<'consort/cert'>
  retailerCert: SignedRecord<'consort/cert'>
  release: SignedRecord<'consort/release'>
  manifests: SignedRecord<'consort/manifest'>[]
  /** The content keys in clear, by ISRC (only the world's producer knows them). */
  contentKeys: Map<string, Uint8Array>
  contract: SignedRecord<'consort/contract'>
  offer: SignedRecord<'consort/offer'>
  certification: SignedRecord<'consort/certification'>
  device: SignedRecord<'consort/device'>
  /** The issue request of a purchase of the offer by the world's device. */
  purchase(purchaseId: string): IssueMessage
  close(): Promise<void>
}

export interface LicensingWorldOptions {
  /** Tracks on the release the offer sells (default 1). */
  tracks?: number
  policy?: Partial<NetworkPolicy>
  clock?: FakeClock
  random?: Random
}

const NETWORK = 'bench'
const YEAR_MS = 365 * 24 * 3600_000
/** A valid EAN-13 (check digit 0), in its canonical GTIN-14 form. */
export const WORLD_ICPN = '00724384960650'

export function worldIsrc(i: number): string {
  return `ZZBEN26${String(i).padStart(5, '0')}`
}

function certFor(
  registrar: NodeKeys,
  subject: NodeKeys,
  role: 'production' | 'retailer',
  clock: Clock,
  serial: number,
) {
  return signRecord(
    'consort/cert',
    {
      network: NETWORK,
      created: clock.now(),
      serial,
      subject: subject.signer.publicKey,
      name: role,
      partyId: assignedPartyId(subject.signer.publicKey),
      roles: [role],
      sealingKey: subject.sealing.publicKey,
      notBefore: clock.now() - 1000,
      notAfter: clock.now() + YEAR_MS,
    },
    registrar.signer,
  )
}

export async function createLicensingWorld(options: LicensingWorldOptions = {}): Promise<LicensingWorld> {
  const clock = options.clock ?? new FakeClock()
  const random = options.random ?? new SeededRandom('registration-world')
  const names = [
    'genesis',
    'registrar',
    'producer',
    'retailer',
    'reference',
    'clearinghouse',
    'account',
    'device',
  ] as const
  const keys = {} as LicensingWorld['keys']
  for (const name of names) keys[name] = await createNodeKeys(random)
  const now = clock.now()

  const networkRecord = signRecord(
    'consort/network',
    {
      network: NETWORK,
      created: now,
      seq: 0,
      registrars: [
        { name: 'registrar', key: keys.registrar.signer.publicKey, sealingKey: keys.registrar.sealing.publicKey },
      ],
      references: [{ name: 'reference', key: keys.reference.signer.publicKey }],
      clearinghouses: [
        {
          name: 'clearinghouse',
          key: keys.clearinghouse.signer.publicKey,
          sealingKey: keys.clearinghouse.sealing.publicKey,
        },
      ],
      bootstrap: [],
      caps: {
        recordBytes: DEFAULT_RECORD_CAPS.recordBytes,
        largeRecordBytes: DEFAULT_RECORD_CAPS.largeRecordBytes,
        messageBytes: 1024 * 1024,
        clockSkewMs: DEFAULT_RECORD_CAPS.clockSkewMs,
      },
      policy: {
        deviceLimit: 5,
        autoApprovePlayers: true,
        clearingFeeBps: 300,
        certificationTtlMs: 24 * 3600_000,
        ruleDefaults: { ...DEFAULT_NETWORK_RULES },
        ...options.policy,
      },
    },
    keys.genesis.signer,
  )
  const network = networkContext(networkRecord)
  const trust = new CertificateTrust(network.body, clock)
  const producerCert = certFor(keys.registrar, keys.producer, 'production', clock, 1)
  const retailerCert = certFor(keys.registrar, keys.retailer, 'retailer', clock, 2)
  trust.learnCert(producerCert)
  trust.learnCert(retailerCert)

  const level = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  await level.open()
  const db = level.sublevel('role-registration', { valueEncoding: 'view' }) as unknown as RoleDb
  const store = new RoleStore(db, REGISTRATION_LAYOUT, storeContext(network))
  const records = new RecordStore(new MemoryBlockstore() as unknown as BlockStore, () => ({
    network: network.name,
    now: clock.now(),
    caps: network.caps,
  }))
  const registrar = new Registrar({ store, keys: keys.registrar, clock, random, network, trust, records })
  await registrar.start()

  // The producer packages a release and escrows its keys with the registrar.
  const tracks = options.tracks ?? 1
  const contentKeys = new Map<string, Uint8Array>()
  const manifests: SignedRecord<'consort/manifest'>[] = []
  const escrows: SignedRecord<'consort/escrow'>[] = []
  for (let i = 0; i < tracks; i++) {
    const isrc = worldIsrc(i + 1)
    const key = generateContentKey(random)
    const keyId = generateKeyId(random)
    contentKeys.set(isrc, key)
    const manifest = signRecord('consort/manifest', manifestBody(isrc, keyId, now, random), keys.producer.signer)
    manifests.push(manifest)
    escrows.push(
      signRecord(
        'consort/escrow',
        {
          network: NETWORK,
          created: now,
          keyId,
          isrc,
          manifest: manifest.id,
          recipient: keys.registrar.signer.publicKey,
          sealedKey: seal(keys.registrar.sealing.publicKey, key, ESCROW_SEAL_CONTEXT, random),
        },
        keys.producer.signer,
      ),
    )
  }
  const release = signRecord(
    'consort/release',
    {
      network: NETWORK,
      created: now,
      seq: 0,
      icpn: WORLD_ICPN,
      grid: null,
      title: 'Bench Album',
      artists: ['The Benchers'],
      type: 'Album',
      label: null,
      genre: null,
      releaseDate: '2026',
      tracks: manifests.map((m) => ({ isrc: m.body.isrc, manifest: m.id })),
      artwork: null,
    },
    keys.producer.signer,
  )
  await registrar.escrow.deposit({
    escrows: escrows.map((e) => e.bytes),
    manifests: manifests.map((m) => m.bytes),
    release: release.bytes,
    attachments: [producerCert.bytes],
  })

  const contract = signRecord(
    'consort/contract',
    contractBody(NETWORK, keys.producer.signer.publicKey, [`icpn:${WORLD_ICPN}`], now, {
      contractId: 'bench-contract',
      wholesale: [{ currency: 'EUR', amount: 700n, per: 'unit' }],
    }),
    keys.producer.signer,
  )
  await registrar.contracts.learn(contract)
  const offer = signRecord(
    'consort/offer',
    offerBody(contract, now, {
      offerId: 'bench-album',
      price: { amount: 999n, currency: 'EUR' },
      rules: { devices: 3 },
    }),
    keys.retailer.signer,
  )
  const certification = signRecord(
    'consort/certification',
    certificationBody(offer, contract, now, 24 * 3600_000),
    keys.reference.signer,
  )
  const device = await registrar.devices.register(
    signDeviceRequest(
      {
        network: NETWORK,
        account: keys.account.signer.publicKey,
        device: keys.device.signer.publicKey,
        sealingKey: keys.device.sealing.publicKey,
        name: 'bench device',
        created: now,
      },
      keys.account.signer,
      keys.device.signer,
    ),
  )

  return {
    clock,
    network,
    trust,
    registrar,
    keys,
    producerCert,
    retailerCert,
    release,
    manifests,
    contentKeys,
    contract,
    offer,
    certification,
    device,
    purchase(purchaseId) {
      const receipt = signRecord(
        'consort/receipt',
        {
          network: NETWORK,
          created: clock.now(),
          purchaseId,
          offer: offer.id,
          certification: certification.id,
          account: keys.account.signer.publicKey,
          device: keys.device.signer.publicKey,
          price: offer.body.price,
          clearinghouse: keys.clearinghouse.signer.publicKey,
          authorisation: `auth-${purchaseId}`,
        },
        keys.retailer.signer,
      )
      const payment = signRecord(
        'consort/payment',
        {
          network: NETWORK,
          created: clock.now(),
          purchaseId,
          receipt: receipt.id,
          offer: offer.id,
          retailer: keys.retailer.signer.publicKey,
          account: keys.account.signer.publicKey,
          device: keys.device.signer.publicKey,
          price: offer.body.price,
          authorisation: `auth-${purchaseId}`,
        },
        keys.clearinghouse.signer,
      )
      return {
        receipt: receipt.bytes,
        payment: payment.bytes,
        offer: offer.bytes,
        certification: certification.bytes,
        device: device.bytes,
        attachments: [retailerCert.bytes],
      }
    },
    async close() {
      registrar.stop()
      await level.close()
    },
  }
}

function manifestBody(isrc: string, keyId: Uint8Array, created: number, random: Random): BodyInput<'consort/manifest'> {
  return {
    network: NETWORK,
    created,
    seq: 0,
    isrc,
    title: `Track ${isrc}`,
    version: null,
    artists: ['The Benchers'],
    release: null,
    genre: null,
    label: null,
    year: 2026,
    durationMs: 180_000,
    codec: 'flac',
    mime: 'audio/flac',
    byteSize: 256 * 1024,
    segmentSize: 256 * 1024,
    segments: [rawCidOf(random.bytes(32))],
    keyId,
    preview: null,
  }
}

function rawCidOf(bytes: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(sha256.code, createHash('sha256').update(bytes).digest()))
}

export interface LicenceRateResult {
  licences: number
  concurrency: number
  tracks: number
  seconds: number
  licencesPerSecond: number
}

/**
 * Licences issued per second by one registration manager, in process: each is a full first issue (decode and
 * verify the receipt, offer, certification, device and retailer certificate, check the contract, open each
 * escrowed key and seal it to the device, sign, write one LevelDB batch), `concurrency` at a time. The network
 * hop is left out: that is the purchase benchmark's part.
 */
export async function measureLicenceIssueRate(
  options: { licences?: number; concurrency?: number; tracks?: number } = {},
): Promise<LicenceRateResult> {
  const licences = options.licences ?? 2000
  const concurrency = options.concurrency ?? 16
  const tracks = options.tracks ?? 1
  const world = await createLicensingWorld({ tracks })
  try {
    const requests = Array.from({ length: licences }, (_, i) => world.purchase(`bench-${i}`))
    // Warm up: the contract cache, the key caches, the JIT.
    await world.registrar.licences.issue(world.purchase('warm-up'))
    let next = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < requests.length) {
          const request = requests[next++]!
          await world.registrar.licences.issue(request)
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    return { licences, concurrency, tracks, seconds, licencesPerSecond: licences / seconds }
  } finally {
    await world.close()
  }
}
