import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { gridCheckCharacter } from '../../../protocols/identifiers/grid.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { BodyInput } from '../../../protocols/records/registry.ts'
import type { RoleName } from '../../../protocols/records/types/common.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import { offerRevokedHere } from '../../../protocols/topics/offers.ts'
import type { ReferenceService } from '../../../roles/reference/index.ts'
import type { RetailerService } from '../../../roles/retailer/index.ts'
import { untilLinked, untilMesh } from '../../helpers/gossip.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { connectMesh, startMemoryNode, stopAll, waitForTopicPeers } from '../../helpers/nodes.ts'
import { contractBody as contractBodyOf, offerBody as offerBodyOf } from '../../helpers/record-bodies.ts'
import { waitUntil } from '../../helpers/wait.ts'

/** Identifiers with valid check digits for market tests. */
export const TRACK_A = 'isrc:USRC17607839'
export const TRACK_B = 'isrc:GBAYE0601498'
export const TRACK_C = 'isrc:FRZ039800212'
export const RELEASE = 'icpn:00724384960650'
export const OTHER_RELEASE = 'icpn:05012345678900'
export const GRID = `A12425GABC1234002${gridCheckCharacter('A12425GABC1234002')}`

export const DAY = 24 * 3600_000
export const HOUR = 3600_000

/** A node that follows offers with no role at all (as any node may): the topic's rule alone decides what it accepts. */
export interface Observer {
  node: ConsortNode
  /** Is this offer revoked, as far as this node saw (its topic memory)? */
  isRevoked(offer: SignedRecord<'consort/offer'>): boolean
  /** Offer record id → the certification it arrived with. */
  accepted: Map<string, SignedRecord<'consort/certification'>>
  revocations: SignedRecord<'consort/revocation'>[]
}

export interface Market {
  clock: FakeClock
  net: TestNetwork
  reference: ConsortNode
  referenceRole: ReferenceService
  /** Every reference service (the first is `reference`). */
  references: Array<{ node: ConsortNode; role: ReferenceService }>
  label: ConsortNode
  retailers: Array<{ node: ConsortNode; role: RetailerService; keys: NodeKeys }>
  observers: Observer[]
  nodes: ConsortNode[]
  /** Sign a contract as the label, publish it, and wait until the reference service (and retailers) hold it. */
  publishContract(overrides?: Partial<BodyInput<'consort/contract'>>): Promise<SignedRecord<'consort/contract'>>
  /** The label revokes a contract version (a takedown). */
  revokeContract(contract: SignedRecord<'consort/contract'>): Promise<SignedRecord<'consort/revocation'>>
  contractBody(overrides?: Partial<BodyInput<'consort/contract'>>): BodyInput<'consort/contract'>
  stop(): Promise<void>
}

export interface MarketOptions {
  retailers?: number
  observers?: number
  /** Extra nodes to start (clearinghouse, registration…), with their keys listed in the network record. */
  clearinghouses?: NodeKeys[]
  referenceOptions?: Record<string, unknown>
  retailerOptions?: Record<string, unknown>
  policy?: { certificationTtlMs?: number }
  /** Roles of extra nodes started on the same network (each certified for them). */
  extraNodes?: Array<{ roles: RoleName[]; keys?: NodeKeys; certRoles?: RoleName[]; dataDir?: string }>
  registrar?: NodeKeys
  /** Reference services the network record lists, each on its own node (default 1). */
  references?: number
  /** More reference services the network record lists, whose nodes the test starts itself. */
  referenceKeys?: NodeKeys[]
}

/** A running market: a reference service, a label, retailers and observers, connected and meshed on every topic. */
export async function createMarket(options: MarketOptions = {}): Promise<Market & { extra: ConsortNode[] }> {
  const clock = new FakeClock(Date.UTC(2026, 10, 1))
  const referenceKeys: NodeKeys[] = []
  for (let i = 0; i < (options.references ?? 1); i++) referenceKeys.push(await createNodeKeys())
  const net = await createTestNetwork(clock, {
    references: [...referenceKeys, ...(options.referenceKeys ?? [])],
    clearinghouses: options.clearinghouses ?? [],
    ...(options.registrar != null ? { registrar: options.registrar } : {}),
    ...(options.policy != null ? { policy: options.policy } : {}),
  })
  const nodes: ConsortNode[] = []
  try {
    const references: ConsortNode[] = []
    for (const keys of referenceKeys) {
      const node = await startMemoryNode({
        network: net,
        clock,
        keys,
        roles: ['reference'],
        roleOptions: { reference: { fetchUnknownContracts: false, ...options.referenceOptions } },
      })
      nodes.push(node)
      references.push(node)
    }
    const reference = references[0]!
    const label = await startMemoryNode({ network: net, clock, certRoles: ['production'] })
    nodes.push(label)
    const retailers: Market['retailers'] = []
    for (let i = 0; i < (options.retailers ?? 1); i++) {
      const keys = await createNodeKeys()
      const node = await startMemoryNode({
        network: net,
        clock,
        keys,
        roles: ['retailer'],
        roleOptions: { retailer: { renewCheckIntervalMs: 0, ...options.retailerOptions } },
      })
      nodes.push(node)
      retailers.push({ node, role: node.role('retailer'), keys })
    }
    const observers: Observer[] = []
    for (let i = 0; i < (options.observers ?? 0); i++) {
      const node = await startMemoryNode({ network: net, clock })
      nodes.push(node)
      const observer: Observer = {
        node,
        isRevoked: (offer) => offerRevokedHere(offer, node.topics.memory, node.trust),
        accepted: new Map(),
        revocations: [],
      }
      node.topics.subscribe('offers', {
        onMessage: (d) => {
          const certification = d.attachments.find((a) => a.type === 'consort/certification')
          observer.accepted.set(d.record.id.toString(), certification as SignedRecord<'consort/certification'>)
        },
      })
      node.topics.subscribe('revocations', {
        onMessage: (d) => {
          observer.revocations.push(d.record as SignedRecord<'consort/revocation'>)
        },
      })
      observers.push(observer)
    }
    const extra: ConsortNode[] = []
    for (const spec of options.extraNodes ?? []) {
      const node = await startMemoryNode({
        network: net,
        clock,
        roles: spec.roles,
        ...(spec.keys != null ? { keys: spec.keys } : {}),
        ...(spec.certRoles != null ? { certRoles: spec.certRoles } : {}),
        ...(spec.dataDir != null ? { dataDir: spec.dataDir } : {}),
      })
      nodes.push(node)
      extra.push(node)
    }
    // The contracts topic is followed by the reference and the retailers only; publish from the label needs a mesh.
    label.topics.subscribe('contracts', { onMessage: () => {} })
    await connectMesh(nodes, 2)
    const name = net.name
    await waitForTopicPeers(
      [...references, ...retailers.map((r) => r.node), ...observers.map((o) => o.node)],
      topicString(name, 'offers'),
    )
    await waitForTopicPeers([...references, ...retailers.map((r) => r.node), label], topicString(name, 'contracts'))
    await waitForTopicPeers(
      nodes.filter((n) => n !== label),
      topicString(name, 'revocations'),
    )
    // Gossip reaches everyone at once only through meshes, which form at gossipsub's heartbeat.
    const shops = retailers.map((r) => r.node)
    await waitForMesh([...references, ...shops, ...observers.map((o) => o.node)], topicString(name, 'offers'))
    await waitForMesh([...references, ...shops, label], topicString(name, 'contracts'))
    await waitForMesh(nodes, topicString(name, 'revocations'))

    const referenceRole = reference.role('reference')
    const referenceRoles = references.map((r) => r.role('reference'))
    const labelKeys = label.keys
    let contractCounter = 0
    const contractBody = (overrides: Partial<BodyInput<'consort/contract'>> = {}): BodyInput<'consort/contract'> =>
      contractBodyOf(name, labelKeys.signer.publicKey, [TRACK_A, TRACK_B, RELEASE], clock.now(), {
        contractId: `contract-${++contractCounter}`,
        useTypes: ['PermanentDownload', 'OnDemandStream'],
        excludedTerritories: ['KP'],
        validFrom: clock.now() - DAY,
        validUntil: clock.now() + 365 * DAY,
        promotions: {
          minPrice: [{ amount: 49n, currency: 'EUR' }],
          freeWindows: [{ from: clock.now() + 10 * DAY, until: clock.now() + 20 * DAY }],
        },
        ruleBounds: { maxDevices: 5, transferAllowed: false },
        splits: [
          { party: 'Test Records', key: labelKeys.signer.publicKey, bps: 7000 },
          { party: 'The Testers', key: null, bps: 3000 },
        ],
        ...overrides,
      })
    const market: Market & { extra: ConsortNode[] } = {
      clock,
      net,
      reference,
      referenceRole,
      references: references.map((node, i) => ({ node, role: referenceRoles[i]! })),
      label,
      retailers,
      observers,
      nodes,
      extra,
      contractBody,
      async publishContract(overrides = {}) {
        const contract = signRecord('consort/contract', contractBody(overrides), labelKeys.signer)
        await label.topics.publish('contracts', contract, label.credentials.attachments())
        for (const role of referenceRoles) {
          await waitUntil(async () => (await role.store.contractByCid(contract.id)) != null, {
            message: `the reference services store contract ${contract.body.contractId} seq ${contract.body.seq}`,
          })
        }
        for (const r of retailers) {
          const applies =
            contract.body.retailer == null || Buffer.compare(contract.body.retailer, r.keys.signer.publicKey) === 0
          if (!applies) continue
          await waitUntil(async () => (await r.role.store.contractByCid(contract.id)) != null, {
            message: `retailer stores contract ${contract.body.contractId} seq ${contract.body.seq}`,
          })
        }
        for (const role of referenceRoles) await role.idle()
        return contract
      },
      async revokeContract(contract) {
        const revocation = signRecord(
          'consort/revocation',
          {
            network: name,
            created: clock.now(),
            targets: [{ kind: 'contract', id: contract.id }],
            reason: 'takedown',
          },
          labelKeys.signer,
        )
        await label.topics.publish('revocations', revocation, label.credentials.attachments())
        return revocation
      },
      async stop() {
        await stopAll(nodes)
      },
    }
    return market
  } catch (err) {
    await stopAll(nodes)
    throw err
  }
}

/** Wait until every node has at least one mesh peer on a topic (gossip then flows without waiting for IHAVE). */
export async function waitForMesh(nodes: ConsortNode[], topic: string): Promise<void> {
  await untilMesh(nodes, topic, 1)
}

/**
 * Connect `nodes` directly to `publisher` (which follows `topic`) and wait until each side knows the other follows
 * it. A node that rejects a message does not forward it, so tests of refusals need every judge to receive the
 * message first-hand: gossipsub floods a node's own messages to every peer it knows follows the topic, in its mesh
 * or not. (Waiting for the publisher to join each judge's mesh instead can wait for ever: once both meshes hold
 * enough other peers, neither side grafts the other.)
 */
export async function connectToPublisher(publisher: ConsortNode, nodes: ConsortNode[], topic: string): Promise<void> {
  for (const node of nodes) await node.libp2p.dial(publisher.libp2p.getMultiaddrs()[0]!)
  await untilLinked(publisher, nodes, topic)
}

/** A valid offer body under a contract, for a retailer to sign: track A in three territories for 30 days. */
export function offerBody(
  market: Pick<Market, 'clock' | 'net'>,
  contract: SignedRecord<'consort/contract'>,
  overrides: Partial<BodyInput<'consort/offer'>> = {},
): BodyInput<'consort/offer'> {
  const now = market.clock.now()
  return offerBodyOf(contract, now, {
    content: [TRACK_A],
    rules: { devices: 3 },
    territories: ['DE', 'FR', 'GB'],
    validFrom: now,
    validUntil: now + 30 * DAY,
    ...overrides,
  })
}
