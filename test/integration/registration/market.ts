import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { seal } from '../../../keys/seal.ts'
import { generateContentKey, generateKeyId } from '../../../keys/segments.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { ESCROW_SEAL_CONTEXT } from '../../../protocols/escrow/index.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { BodyInput } from '../../../protocols/records/registry.ts'
import type { NetworkPolicy } from '../../../protocols/records/types/network.ts'
import { depositEscrow, registerDevice, requestLicence } from '../../../protocols/register/client.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import type { RegistrationRole } from '../../../roles/registration/index.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll, waitForTopicPeers } from '../../helpers/nodes.ts'
import { paymentFor } from '../../helpers/payments.ts'
import { certificationBody, contractBody, offerBody } from '../../helpers/record-bodies.ts'
import { sampleManifestBody } from '../../helpers/records.ts'

/**
 * A small market on the memory transport for the registration manager's tests: the registrar (a real node with
 * the registration role), a producer, a retailer and a reference service (real nodes with certificates, whose
 * records the tests sign by hand), and a player node that registers devices.
 */
export interface Market {
  clock: FakeClock
  net: TestNetwork
  keys: { registrar: NodeKeys; producer: NodeKeys; retailer: NodeKeys; reference: NodeKeys; clearinghouse: NodeKeys }
  registrar: ConsortNode
  producer: ConsortNode
  retailer: ConsortNode
  reference: ConsortNode
  player: ConsortNode
  nodes: ConsortNode[]
  role: RegistrationRole
  stop(): Promise<void>
}

export async function startMarket(policy: Partial<NetworkPolicy> = {}): Promise<Market> {
  const clock = new FakeClock()
  const keys = {
    registrar: await createNodeKeys(),
    producer: await createNodeKeys(),
    retailer: await createNodeKeys(),
    reference: await createNodeKeys(),
    clearinghouse: await createNodeKeys(),
  }
  const net = await createTestNetwork(clock, {
    registrar: keys.registrar,
    references: [keys.reference],
    clearinghouses: [keys.clearinghouse],
    policy,
  })
  const registrar = await startMemoryNode({ network: net, clock, keys: keys.registrar, roles: ['registration'] })
  const producer = await startMemoryNode({ network: net, clock, keys: keys.producer, certRoles: ['production'] })
  const retailer = await startMemoryNode({ network: net, clock, keys: keys.retailer, certRoles: ['retailer'] })
  const reference = await startMemoryNode({ network: net, clock, keys: keys.reference })
  const player = await startMemoryNode({ network: net, clock })
  const nodes = [registrar, producer, retailer, reference, player]
  for (const node of nodes.slice(1)) await node.libp2p.dial(registrar.libp2p.getMultiaddrs()[0]!)
  await waitForTopicPeers(nodes.slice(1), topicString(net.name, 'revocations'))
  return {
    clock,
    net,
    keys,
    registrar,
    producer,
    retailer,
    reference,
    player,
    nodes,
    role: registrar.role('registration'),
    stop: () => stopAll(nodes),
  }
}

export interface Track {
  isrc: string
  contentKey: Uint8Array
  manifest: SignedRecord<'consort/manifest'>
  escrow: SignedRecord<'consort/escrow'>
}

/** The producer packages tracks (manifests, content keys sealed to the registrar) without depositing them. */
export function packageTracks(market: Market, isrcs: string[]): Track[] {
  const now = market.clock.now()
  return isrcs.map((isrc) => {
    const contentKey = generateContentKey()
    const keyId = generateKeyId()
    const manifest = signRecord(
      'consort/manifest',
      sampleManifestBody(market.net.name, now, { isrc, keyId }),
      market.keys.producer.signer,
    )
    const escrow = signRecord(
      'consort/escrow',
      {
        network: market.net.name,
        created: now,
        keyId,
        isrc,
        manifest: manifest.id,
        recipient: market.keys.registrar.signer.publicKey,
        sealedKey: seal(market.keys.registrar.sealing.publicKey, contentKey, ESCROW_SEAL_CONTEXT),
      },
      market.keys.producer.signer,
    )
    return { isrc, contentKey, manifest, escrow }
  })
}

export async function deposit(
  market: Market,
  tracks: Track[],
  release: SignedRecord<'consort/release'> | null = null,
): Promise<number> {
  return depositEscrow(market.producer.libp2p, market.producer.network, {
    escrows: tracks.map((t) => t.escrow),
    manifests: tracks.map((t) => t.manifest),
    release,
    attachments: market.producer.credentials.attachments(),
  })
}

export function releaseOf(market: Market, icpn: string, tracks: Track[]): SignedRecord<'consort/release'> {
  return signRecord(
    'consort/release',
    {
      network: market.net.name,
      created: market.clock.now(),
      seq: 0,
      icpn,
      grid: null,
      title: 'Night Trains',
      artists: ['The Lanterns'],
      type: 'Album',
      label: null,
      genre: null,
      releaseDate: '2026',
      tracks: tracks.map((t) => ({ isrc: t.isrc, manifest: t.manifest.id })),
      artwork: null,
    },
    market.keys.producer.signer,
  )
}

/** A contract of the producer, signed and put in the producer's store (the registrar fetches it by CID). */
export async function contractFor(
  market: Market,
  content: string[],
  overrides: Partial<BodyInput<'consort/contract'>> = {},
): Promise<SignedRecord<'consort/contract'>> {
  const now = market.clock.now()
  const contract = signRecord(
    'consort/contract',
    contractBody(market.net.name, market.keys.producer.signer.publicKey, content, now, {
      contractId: `contract-${content.join('-').replace(/:/g, '')}`,
      splits: [{ party: 'The Lanterns', key: null, bps: 10_000 }],
      ...overrides,
    }),
    market.keys.producer.signer,
  )
  await market.producer.records.put(contract)
  return contract
}

export interface CertifiedOffer {
  offer: SignedRecord<'consort/offer'>
  certification: SignedRecord<'consort/certification'>
}

/** A retailer's offer under a contract, certified by the reference service for `validForMs`. */
export function certifiedOffer(
  market: Market,
  contract: SignedRecord<'consort/contract'>,
  options: { offerId: string; rules?: BodyInput<'consort/offer'>['rules']; validForMs?: number; content?: string[] },
): CertifiedOffer {
  const now = market.clock.now()
  const offer = signRecord(
    'consort/offer',
    offerBody(contract, now, {
      offerId: options.offerId,
      content: options.content ?? contract.body.content,
      rules: options.rules ?? {},
    }),
    market.keys.retailer.signer,
  )
  const certification = signRecord(
    'consort/certification',
    certificationBody(offer, contract, now, options.validForMs ?? 3600_000),
    market.keys.reference.signer,
  )
  return { offer, certification }
}

export interface Device {
  account: NodeKeys
  keys: NodeKeys
  record: SignedRecord<'consort/device'>
}

/** Register a device (new keys) to an account, from the player node. */
export async function newDevice(market: Market, account: NodeKeys, name = 'phone'): Promise<Device> {
  const keys = await createNodeKeys()
  const record = await registerDevice(market.player.libp2p, market.player.network, {
    account: account.signer,
    device: keys.signer,
    sealingKey: keys.sealing.publicKey,
    name,
    now: market.clock.now(),
  })
  return { account, keys, record }
}

/** The retailer's receipt for a purchase of a certified offer by a device. */
export function receiptFor(
  market: Market,
  sale: CertifiedOffer,
  device: Device,
  purchaseId: string,
  signer: NodeKeys = market.keys.retailer,
): SignedRecord<'consort/receipt'> {
  return signRecord(
    'consort/receipt',
    {
      network: market.net.name,
      created: market.clock.now(),
      purchaseId,
      offer: sale.offer.id,
      certification: sale.certification.id,
      account: device.account.signer.publicKey,
      device: device.keys.signer.publicKey,
      price: sale.offer.body.price,
      clearinghouse: market.keys.clearinghouse.signer.publicKey,
      authorisation: `auth-${purchaseId}`,
    },
    signer.signer,
  )
}

/** The retailer asks the registrar for the licence of a purchase (or `from` does, with its own receipt). */
export async function buyLicence(
  market: Market,
  sale: CertifiedOffer,
  device: Device,
  purchaseId: string,
  options: {
    from?: ConsortNode
    receipt?: SignedRecord<'consort/receipt'>
    payment?: SignedRecord<'consort/payment'> | null
  } = {},
): Promise<SignedRecord<'consort/licence'>> {
  const from = options.from ?? market.retailer
  const receipt = options.receipt ?? receiptFor(market, sale, device, purchaseId)
  return requestLicence(from.libp2p, from.network, {
    receipt,
    payment: options.payment ?? paymentFor(receipt, market.keys.clearinghouse.signer, market.clock.now()),
    offer: sale.offer,
    certification: sale.certification,
    device: device.record,
    attachments: from.credentials.attachments(),
    now: market.clock.now(),
  })
}

/** The clearinghouse's signed statement of what a purchase used (nothing by default), for a reissue. */
export function consumptionFor(
  market: Market,
  purchaseId: string,
  account: NodeKeys,
  counts: Partial<{
    plays: number
    playSeconds: number
    exports: number
    burns: number
    firstPlayAt: number | null
  }> = {},
): SignedRecord<'consort/consumption'> {
  return signRecord(
    'consort/consumption',
    {
      network: market.net.name,
      created: market.clock.now(),
      purchaseId,
      account: account.signer.publicKey,
      plays: 0,
      playSeconds: 0,
      exports: 0,
      burns: 0,
      firstPlayAt: null,
      ...counts,
    },
    market.keys.clearinghouse.signer,
  )
}

/** Publish a revocation from a node, with its certificate attached. */
export async function publishRevocation(
  node: ConsortNode,
  signer: NodeKeys,
  targets: Array<{ kind: 'contract' | 'offer' | 'certification'; id: SignedRecord['id'] }>,
  clock: FakeClock,
): Promise<SignedRecord<'consort/revocation'>> {
  const record = signRecord(
    'consort/revocation',
    { network: node.network.name, created: clock.now(), targets, reason: 'test' },
    signer.signer,
  )
  await node.topics.publish('revocations', record, node.credentials.attachments())
  return record
}
