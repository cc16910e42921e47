/**
 * A small market for clearinghouse tests: a network with a registrar, a reference service and a clearinghouse,
 * a distributor with contracts, a retailer with certified offers, buyers with registered devices, and the signed
 * records a purchase and its plays produce (orders, receipts, licences, usage reports), all real.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import type { CID } from 'multiformats/cid'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { SeededRandom } from '../../../keys/random.ts'
import { type SealSession, seal } from '../../../keys/seal.ts'
import { signAccountRequest } from '../../../protocols/clearing/account.ts'
import type { AccountRequestFields } from '../../../protocols/clearing/index.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { type NetworkContext, networkContext } from '../../../protocols/network.ts'
import { type PurchaseOrder, signPurchaseOrder } from '../../../protocols/purchase/order.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { BodyInput } from '../../../protocols/records/registry.ts'
import type { NetworkPolicy } from '../../../protocols/records/types/network.ts'
import { CertificateTrust } from '../../../protocols/trust/trust.ts'
import { encodeUsageEvents, type UsageEvent, usageSealContext } from '../../../protocols/usage/index.ts'
import { ClearingEngine, type ClearinghouseInit } from '../../../roles/clearinghouse/engine.ts'
import type { StateLevel } from '../../../roles/clearinghouse/store.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { certificationBody, contractBody, offerBody } from '../../helpers/record-bodies.ts'

export const START = Date.UTC(2026, 10, 2, 12)
export const ISRC = 'USRC17607839'
export const ISRC_2 = 'GBAYE0601498'

export interface Buyer {
  account: NodeKeys
  /** The territory the registrar attests for the account (absent: none attested, so Worldwide). */
  territory?: string
  devices: Array<{ keys: NodeKeys; registration: SignedRecord<'consort/device'>; seq: number; head: CID | null }>
}

export interface ContractOptions {
  model?: 'pay-as-you-go' | 'subscription' | 'ad-supported' | 'free'
  unit?: bigint | null
  play?: bigint | null
  currency?: string
  revenueShareBps?: number | null
  splits?: Array<{ party: string; bps: number }>
  seq?: number
  contractId?: string
  validFrom?: number
}

export class Market {
  readonly clock: FakeClock
  readonly random: SeededRandom
  net!: TestNetwork
  network!: NetworkContext
  clearinghouse!: NodeKeys
  reference!: NodeKeys
  distributor!: NodeKeys
  retailer!: NodeKeys
  retailerCert!: SignedRecord<'consort/cert'>
  #deviceSerial = 0
  #ids = 0
  /** Device registrations by device key (hex). */
  readonly #devices = new Map<string, SignedRecord<'consort/device'>>()

  private constructor(clock: FakeClock, seed: string) {
    this.clock = clock
    this.random = new SeededRandom(seed)
  }

  static async create(
    options: { seed?: string; policy?: Partial<NetworkPolicy>; name?: string; start?: number } = {},
  ): Promise<Market> {
    const m = new Market(new FakeClock(options.start ?? START), options.seed ?? 'market')
    m.clearinghouse = await createNodeKeys(m.random)
    m.reference = await createNodeKeys(m.random)
    m.distributor = await createNodeKeys(m.random)
    m.retailer = await createNodeKeys(m.random)
    m.net = await createTestNetwork(m.clock, {
      name: options.name ?? 'testnet',
      references: [m.reference],
      clearinghouses: [m.clearinghouse],
      random: m.random,
      ...(options.policy !== undefined ? { policy: options.policy } : {}),
    })
    m.network = networkContext(m.net.record)
    m.retailerCert = m.net.certify(m.retailer, ['retailer'])
    return m
  }

  id(prefix: string): string {
    return `${prefix}-${++this.#ids}`
  }

  trust(): CertificateTrust {
    const trust = new CertificateTrust(this.net.record.body, this.clock)
    trust.learnCert(this.retailerCert)
    return trust
  }

  /** An engine on a memory sublevel (or on `db` when given). */
  async engine(
    init: ClearinghouseInit = {},
    db?: StateLevel,
    trust = this.trust(),
  ): Promise<{ engine: ClearingEngine; db: StateLevel; trust: CertificateTrust }> {
    let level = db
    if (level === undefined) {
      const root = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
      await root.open()
      level = root.sublevel('role-clearinghouse', { valueEncoding: 'view' }) as unknown as StateLevel
    }
    const engine = await ClearingEngine.open(
      { db: level, keys: this.clearinghouse, clock: this.clock, network: this.network, trust },
      { verifyWorkers: 0, sync: false, ...init },
    )
    return { engine, db: level, trust }
  }

  contract(options: ContractOptions = {}): SignedRecord<'consort/contract'> {
    const currency = options.currency ?? 'EUR'
    const wholesale: BodyInput<'consort/contract'>['wholesale'] = []
    if (options.unit !== null) wholesale.push({ currency, amount: options.unit ?? 70n, per: 'unit' })
    if (options.play !== undefined && options.play !== null)
      wholesale.push({ currency, amount: options.play, per: 'play' })
    const now = this.clock.now()
    return signRecord(
      'consort/contract',
      contractBody(this.network.name, this.distributor.signer.publicKey, [`isrc:${ISRC}`, `isrc:${ISRC_2}`], now, {
        created: now - 1000,
        contractId: options.contractId ?? 'contract-1',
        seq: options.seq ?? 1,
        commercialModel: options.model ?? 'pay-as-you-go',
        useTypes: ['PermanentDownload', 'OnDemandStream'],
        validFrom: options.validFrom ?? now - 86_400_000,
        wholesale,
        revenueShareBps: options.revenueShareBps ?? null,
        splits: (
          options.splits ?? [
            { party: 'label:acme', bps: 7000 },
            { party: 'artist:jane', bps: 3000 },
          ]
        ).map((s) => ({ ...s, key: null })),
      }),
      this.distributor.signer,
    )
  }

  offer(
    contract: SignedRecord<'consort/contract'>,
    options: {
      price?: bigint
      currency?: string
      promotion?: boolean
      useType?: 'PermanentDownload' | 'OnDemandStream'
    } = {},
  ): SignedRecord<'consort/offer'> {
    const now = this.clock.now()
    return signRecord(
      'consort/offer',
      offerBody(contract, now, {
        created: now - 1000,
        offerId: this.id('offer'),
        seq: 1,
        content: [`isrc:${ISRC}`],
        price: { amount: options.price ?? 129n, currency: options.currency ?? 'EUR' },
        useType: options.useType ?? 'PermanentDownload',
        validFrom: now - 86_400_000,
        promotion: options.promotion === true ? { kind: 'discount', label: 'launch' } : null,
      }),
      this.retailer.signer,
    )
  }

  certification(
    offer: SignedRecord<'consort/offer'>,
    contract: SignedRecord<'consort/contract'>,
    signer = this.reference,
  ): SignedRecord<'consort/certification'> {
    const now = this.clock.now()
    return signRecord(
      'consort/certification',
      { ...certificationBody(offer, contract, now, 86_400_000), created: now - 1000 },
      signer.signer,
    )
  }

  async buyer(devices = 1, territory?: string): Promise<Buyer> {
    const account = await createNodeKeys(this.random)
    const buyer: Buyer = { account, devices: [], ...(territory === undefined ? {} : { territory }) }
    for (let i = 0; i < devices; i++) await this.addDevice(buyer)
    return buyer
  }

  async addDevice(buyer: Buyer): Promise<Buyer['devices'][number]> {
    const keys = await createNodeKeys(this.random)
    const registration = signRecord(
      'consort/device',
      {
        network: this.network.name,
        created: this.clock.now() - 1000,
        serial: ++this.#deviceSerial,
        account: buyer.account.signer.publicKey,
        device: keys.signer.publicKey,
        sealingKey: keys.sealing.publicKey,
        name: `device-${this.#deviceSerial}`,
        ...(buyer.territory === undefined ? {} : { territory: buyer.territory }),
        notBefore: this.clock.now() - 86_400_000,
        notAfter: this.clock.now() + 365 * 86_400_000,
      },
      this.net.registrarSigner,
    )
    const device = { keys, registration, seq: 0, head: null }
    buyer.devices.push(device)
    this.#devices.set(Buffer.from(keys.signer.publicKey).toString('hex'), registration)
    return device
  }

  order(
    buyer: Buyer,
    offer: SignedRecord<'consort/offer'>,
    certification: SignedRecord<'consort/certification'>,
    purchaseId = this.id('purchase'),
    price = offer.body.price,
  ): PurchaseOrder {
    return signPurchaseOrder(
      {
        network: this.network.name,
        purchaseId,
        offer: offer.id,
        certification: certification.id,
        retailer: offer.signer,
        clearinghouse: this.clearinghouse.signer.publicKey,
        account: buyer.account.signer.publicKey,
        device: buyer.devices[0]!.keys.signer.publicKey,
        price,
        territory: (buyer.territory ?? 'Worldwide') as PurchaseOrder['order']['territory'],
        created: this.clock.now(),
      },
      buyer.account.signer,
    )
  }

  authoriseBody(
    order: PurchaseOrder,
    offer: SignedRecord<'consort/offer'>,
    certification: SignedRecord<'consort/certification'>,
  ) {
    const device = this.#devices.get(Buffer.from(order.order.device).toString('hex'))
    if (device === undefined) throw new Error('the order names a device this market did not register')
    return {
      order,
      offer: offer.bytes,
      certification: certification.bytes,
      device: device.bytes,
      attachments: [this.retailerCert.bytes],
    }
  }

  receipt(order: PurchaseOrder, authorisation: string): SignedRecord<'consort/receipt'> {
    const o = order.order
    return signRecord(
      'consort/receipt',
      {
        network: this.network.name,
        created: this.clock.now(),
        purchaseId: o.purchaseId,
        offer: o.offer,
        certification: o.certification,
        account: o.account,
        device: o.device,
        price: o.price,
        clearinghouse: o.clearinghouse,
        authorisation,
      },
      this.retailer.signer,
    )
  }

  licence(
    receipt: SignedRecord<'consort/receipt'>,
    contract: SignedRecord<'consort/contract'>,
    device: Uint8Array = receipt.body.device,
    overrides: Partial<BodyInput<'consort/licence'>> = {},
  ): SignedRecord<'consort/licence'> {
    return signRecord(
      'consort/licence',
      {
        network: this.network.name,
        created: this.clock.now(),
        licenceId: this.id('licence'),
        purchaseId: receipt.body.purchaseId,
        receipt: receipt.id,
        offer: receipt.body.offer,
        contract: contract.id,
        content: [`isrc:${ISRC}`],
        useType: 'PermanentDownload',
        rules: {},
        account: receipt.body.account,
        device,
        notAfter: null,
        keys: [
          { isrc: ISRC, keyId: new Uint8Array(16).fill(1), sealedKey: new Uint8Array(64).fill(2) },
          { isrc: ISRC_2, keyId: new Uint8Array(16).fill(3), sealedKey: new Uint8Array(64).fill(4) },
        ],
        ...overrides,
      },
      this.net.registrarSigner,
    )
  }

  /** A buyer who bought `offer` and holds its licence (authorised and captured on `engine`). */
  async purchase(
    engine: ClearingEngine,
    buyer: Buyer,
    contract: SignedRecord<'consort/contract'>,
    offer: SignedRecord<'consort/offer'>,
    licenceOverrides: Partial<BodyInput<'consort/licence'>> = {},
  ): Promise<{
    purchaseId: string
    licence: SignedRecord<'consort/licence'>
    receipt: SignedRecord<'consort/receipt'>
  }> {
    const certification = this.certification(offer, contract)
    const order = this.order(buyer, offer, certification)
    const { authorisation } = await engine.authorise(this.authoriseBody(order, offer, certification))
    const receipt = this.receipt(order, authorisation)
    await engine.capture({ purchaseId: order.order.purchaseId, receipt: receipt.bytes })
    const licence = this.licence(receipt, contract, receipt.body.device, licenceOverrides)
    // The registrar's licence reaches the clearinghouse with the device's first report (or by CID from the network).
    await engine.records.keep(licence)
    return { purchaseId: order.order.purchaseId, licence, receipt }
  }

  fundRequest(buyer: Buyer, amount: bigint, currency = 'EUR', requestId = this.id('topup')) {
    const fields: AccountRequestFields = {
      network: this.network.name,
      account: buyer.account.signer.publicKey,
      op: 'fund',
      amount,
      currency: currency as AccountRequestFields['currency'],
      paymentToken: null,
      period: null,
      requestId,
      created: this.clock.now(),
    }
    return signAccountRequest(fields, buyer.account.signer)
  }

  accountRequest(buyer: Buyer, op: 'balance' | 'statement', period: string | null = null) {
    const fields: AccountRequestFields = {
      network: this.network.name,
      account: buyer.account.signer.publicKey,
      op,
      amount: null,
      currency: null,
      paymentToken: null,
      period,
      requestId: this.id('read'),
      created: this.clock.now(),
    }
    return signAccountRequest(fields, buyer.account.signer)
  }

  /** A play event of the licence's purchase. */
  play(
    licence: SignedRecord<'consort/licence'>,
    startedAt: number,
    seconds = 180,
    overrides: Partial<UsageEvent> = {},
  ): UsageEvent {
    return {
      eventId: this.id('event'),
      kind: 'play',
      isrc: ISRC,
      purchaseId: licence.body.purchaseId,
      licence: licence.id,
      offer: licence.body.offer,
      contract: licence.body.contract,
      startedAt,
      seconds,
      ...overrides,
    }
  }

  /**
   * The next usage report of a device (its chain advanced), sealed to the clearinghouse. `chain: false` makes a
   * report without advancing the device's chain (for forks and replays). `session`: the device's sealing session, as a
   * player seals (decision 0513); without it each box has a fresh ephemeral key.
   */
  usage(
    device: Buyer['devices'][number],
    account: NodeKeys,
    events: UsageEvent[],
    options: {
      seq?: number
      prev?: CID | null
      chain?: boolean
      created?: number
      signer?: NodeKeys
      session?: SealSession
    } = {},
  ): { usage: Uint8Array; device: Uint8Array; record: SignedRecord<'consort/usage'> } {
    const seq = options.seq ?? device.seq
    const prev = options.prev !== undefined ? options.prev : device.head
    const context = usageSealContext(this.network.name, device.keys.signer.publicKey, seq)
    const plaintext = encodeUsageEvents(events)
    const box =
      options.session !== undefined
        ? options.session.seal(this.clearinghouse.sealing.publicKey, plaintext, context)
        : seal(this.clearinghouse.sealing.publicKey, plaintext, context, this.random)
    const record = signRecord(
      'consort/usage',
      {
        network: this.network.name,
        created: options.created ?? this.clock.now(),
        device: device.keys.signer.publicKey,
        account: account.signer.publicKey,
        seq,
        prev,
        sealed: [{ recipient: this.clearinghouse.signer.publicKey, box }],
      },
      (options.signer ?? device.keys).signer,
      this.network.caps,
    )
    if (options.chain !== false) {
      device.seq = seq + 1
      device.head = record.id
    }
    return { usage: record.bytes, device: device.registration.bytes, record }
  }
}

/** A LevelDB on disk in a fresh temporary directory. */
export async function tempLevel(): Promise<{
  dir: string
  db: Level<string, Uint8Array>
  dispose: () => Promise<void>
}> {
  const dir = await mkdtemp(join(tmpdir(), 'consort-clearing-'))
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  return {
    dir,
    db,
    dispose: async () => {
      if (db.status === 'open') await db.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
