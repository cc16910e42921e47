import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { seal } from '../../../keys/seal.ts'
import { generateContentKey, generateKeyId } from '../../../keys/segments.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { signAccountRequest } from '../../../protocols/clearing/account.ts'
import { balanceResponse, CLEARING_OPS, CLEARING_PROTOCOL } from '../../../protocols/clearing/index.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { ESCROW_SEAL_CONTEXT } from '../../../protocols/escrow/index.ts'
import { parseMessage } from '../../../protocols/messages.ts'
import { peerIdOfKey } from '../../../protocols/peers.ts'
import {
  buyResponse,
  PURCHASE_OPS,
  PURCHASE_PROTOCOL,
  type PurchaseOrder,
  signPurchaseOrder,
} from '../../../protocols/purchase/index.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { BodyInput } from '../../../protocols/records/registry.ts'
import { depositEscrow, registerDevice } from '../../../protocols/register/client.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import type { ClearinghouseRole } from '../../../roles/clearinghouse/index.ts'
import type { RegistrationRole } from '../../../roles/registration/index.ts'
import type { RetailerService } from '../../../roles/retailer/index.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { connectMesh, startMemoryNode, stopAll } from '../../helpers/nodes.ts'
import { contractBody } from '../../helpers/record-bodies.ts'
import { sampleManifestBody } from '../../helpers/records.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { waitForMesh } from './market.ts'

export const ISRC = 'USRC17607839'
const DAY = 24 * 3600_000

/**
 * A market with every service real (registrar, reference, clearinghouse, retailer, a label's escrowed key and
 * contract), a buyer's device node, and the attacker's tools: a node that holds the buyer's **account** key (so it
 * can sign orders and act as the buyer towards the clearinghouse) — what someone attacking the purchase path with
 * the stock CLI and small scripts of their own has. Used by the hostile-buyer tests (issue 11).
 */
export interface HostileMarket {
  clock: FakeClock
  net: TestNetwork
  nodes: ConsortNode[]
  keys: Record<'registrar' | 'reference' | 'clearinghouse' | 'label' | 'retailer' | 'buyer' | 'account', NodeKeys>
  retailer: ConsortNode
  shop: RetailerService
  house: ClearinghouseRole
  registration: RegistrationRole
  /** The buyer's device node (its key is the device key). */
  buyer: ConsortNode
  /** A node whose identity is the buyer's account key: it speaks to the clearinghouse as the buyer. */
  attacker: ConsortNode
  device: SignedRecord<'consort/device'>
  /** A download deal (0.70 EUR wholesale a copy) and a streaming deal (`hostile-stream`: 0.01 EUR a play). */
  contract: SignedRecord<'consort/contract'>
  /** Put an offer on sale at the retailer and return its records. */
  onSale(
    offerId: string,
    overrides?: Partial<Parameters<RetailerService['offers']['create']>[0]>,
  ): Promise<{ offer: SignedRecord<'consort/offer'>; certification: SignedRecord<'consort/certification'> }>
  /** The buyer's signed order for an offer. */
  order(
    sale: { offer: SignedRecord<'consort/offer'>; certification: SignedRecord<'consort/certification'> },
    purchaseId: string,
    overrides?: Partial<PurchaseOrder['order']>,
  ): PurchaseOrder
  /** Send `buy` to the retailer from the buyer's device (with its registration, or another one of it). */
  buy(
    order: PurchaseOrder,
    device?: SignedRecord<'consort/device'>,
  ): Promise<{ receipt: Uint8Array; licence: Uint8Array }>
  /** Fund the buyer's wallet through the test gateway. */
  fund(amount: bigint, requestId: string): Promise<void>
  /** The buyer's available balance (minor units of EUR). */
  wallet(): Promise<bigint>
  stop(): Promise<void>
}

export async function createHostileMarket(
  options: { contract?: Partial<BodyInput<'consort/contract'>> } = {},
): Promise<HostileMarket> {
  const clock = new FakeClock(Date.UTC(2026, 10, 3, 10))
  const keys: HostileMarket['keys'] = {
    registrar: await createNodeKeys(),
    reference: await createNodeKeys(),
    clearinghouse: await createNodeKeys(),
    label: await createNodeKeys(),
    retailer: await createNodeKeys(),
    buyer: await createNodeKeys(),
    account: await createNodeKeys(),
  }
  const net = await createTestNetwork(clock, {
    registrar: keys.registrar,
    references: [keys.reference],
    clearinghouses: [keys.clearinghouse],
  })
  const nodes: ConsortNode[] = []
  const start = async (k: NodeKeys, o: Partial<Parameters<typeof startMemoryNode>[0]>) => {
    const node = await startMemoryNode({ network: net, clock, keys: k, ...o })
    nodes.push(node)
    return node
  }
  try {
    const registrarNode = await start(keys.registrar, { roles: ['registration'] })
    const referenceNode = await start(keys.reference, { roles: ['reference'] })
    const houseNode = await start(keys.clearinghouse, {
      roles: ['clearinghouse'],
      roleOptions: { clearinghouse: { sync: false } },
    })
    const label = await start(keys.label, { certRoles: ['production'] })
    const retailer = await start(keys.retailer, {
      roles: ['retailer'],
      roleOptions: { retailer: { renewCheckIntervalMs: 0 } },
    })
    const buyer = await start(keys.buyer, { certRoles: [] })
    const attacker = await start(keys.account, { certRoles: [] })
    label.topics.subscribe('contracts', { onMessage: () => {} })
    await connectMesh(nodes, 3)
    await waitForMesh([referenceNode, houseNode, label, retailer], topicString(net.name, 'contracts'))

    const contentKey = generateContentKey()
    const keyId = generateKeyId()
    const manifest = signRecord(
      'consort/manifest',
      sampleManifestBody(net.name, clock.now(), { isrc: ISRC, keyId }),
      keys.label.signer,
    )
    await label.records.put(manifest)
    const escrow = signRecord(
      'consort/escrow',
      {
        network: net.name,
        created: clock.now(),
        keyId,
        isrc: ISRC,
        manifest: manifest.id,
        recipient: keys.registrar.signer.publicKey,
        sealedKey: seal(keys.registrar.sealing.publicKey, contentKey, ESCROW_SEAL_CONTEXT),
      },
      keys.label.signer,
    )
    await depositEscrow(label.libp2p, label.network, {
      escrows: [escrow],
      manifests: [manifest],
      release: null,
      attachments: label.credentials.attachments(),
    })
    const device = await registerDevice(buyer.libp2p, buyer.network, {
      account: keys.account.signer,
      device: keys.buyer.signer,
      sealingKey: keys.buyer.sealing.publicKey,
      name: 'test player',
      now: clock.now(),
    })
    const contract = signRecord(
      'consort/contract',
      contractBody(net.name, keys.label.signer.publicKey, [`isrc:${ISRC}`], clock.now(), {
        contractId: 'hostile-1',
        useTypes: ['PermanentDownload', 'OnDemandStream'],
        validFrom: clock.now() - DAY,
        validUntil: clock.now() + 365 * DAY,
        splits: [{ party: 'Hostile Records', key: keys.label.signer.publicKey, bps: 10_000 }],
        ...options.contract,
      }),
      keys.label.signer,
    )
    // A streaming deal: one cent a play to the label, nothing at the sale.
    const streaming = signRecord(
      'consort/contract',
      {
        ...contract.body,
        contractId: 'hostile-stream',
        useTypes: ['OnDemandStream'],
        wholesale: [{ currency: 'EUR', amount: 1n, per: 'play' }],
      },
      keys.label.signer,
    )
    for (const c of [contract, streaming]) {
      await label.records.put(c)
      await label.topics.publish('contracts', c, label.credentials.attachments())
    }
    const reference = referenceNode.role('reference')
    const shop = retailer.role('retailer')
    const house = houseNode.role('clearinghouse')
    for (const c of [contract, streaming]) {
      await waitUntil(async () => (await reference.store.contractByCid(c.id)) != null)
      await waitUntil(async () => (await shop.store.contractByCid(c.id)) != null)
      await waitUntil(async () => (await house.engine.records.contractInForce(c.body.contractId)) !== undefined)
    }

    const accountCall = async (op: 'fund' | 'balance', requestId: string, amount: bigint | null) => {
      const request = signAccountRequest(
        {
          network: net.name,
          account: keys.account.signer.publicKey,
          op,
          amount,
          currency: amount != null ? 'EUR' : null,
          paymentToken: op === 'fund' ? 'test-card' : null,
          period: null,
          requestId,
          created: clock.now(),
        },
        keys.account.signer,
      )
      return rpcCall(
        buyer.libp2p,
        peerIdOfKey(keys.clearinghouse.signer.publicKey),
        buyer.network.protocol(CLEARING_PROTOCOL),
        CLEARING_OPS[op],
        request,
      )
    }
    let reads = 0
    return {
      clock,
      net,
      nodes,
      keys,
      retailer,
      shop,
      house,
      registration: registrarNode.role('registration'),
      buyer,
      attacker,
      device,
      contract,
      async onSale(offerId, overrides = {}) {
        const view = await shop.offers.create({
          offerId,
          content: [`isrc:${ISRC}`],
          contract: 'hostile-1',
          price: { amount: 99n, currency: 'EUR' },
          useType: 'PermanentDownload',
          territories: ['Worldwide'],
          ...overrides,
        })
        if (view.status !== 'certified') throw new Error(`offer ${offerId}: ${JSON.stringify(view.failures)}`)
        const { offer, certification } = await shop.offers.records(offerId)
        return { offer, certification: certification! }
      },
      order(sale, purchaseId, overrides = {}) {
        return signPurchaseOrder(
          {
            network: net.name,
            purchaseId,
            offer: sale.offer.id,
            certification: sale.certification.id,
            retailer: keys.retailer.signer.publicKey,
            clearinghouse: keys.clearinghouse.signer.publicKey,
            account: keys.account.signer.publicKey,
            device: keys.buyer.signer.publicKey,
            price: sale.offer.body.price,
            territory: 'Worldwide',
            created: clock.now(),
            ...overrides,
          },
          keys.account.signer,
        )
      },
      async buy(order, registration = device) {
        return buyResponse.parse(
          await rpcCall(
            buyer.libp2p,
            retailer.peerId,
            buyer.network.protocol(PURCHASE_PROTOCOL),
            PURCHASE_OPS.buy,
            { order, device: registration.bytes },
            { deadlineMs: 30_000 },
          ),
        )
      },
      async fund(amount, requestId) {
        await accountCall('fund', requestId, amount)
      },
      async wallet() {
        const answer = parseMessage(balanceResponse, await accountCall('balance', `read-${++reads}`, null), 'response')
        return answer.balances.find((b) => b.currency === 'EUR')?.available ?? 0n
      },
      async stop() {
        await stopAll(nodes)
      },
    }
  } catch (err) {
    await stopAll(nodes)
    throw err
  }
}
