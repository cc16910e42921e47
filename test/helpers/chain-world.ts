import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import type { ConsortNode } from '../../node/consort-node.ts'
import { signAccountRequest } from '../../protocols/clearing/account.ts'
import {
  type AccountRequestFields,
  CLEARING_OPS,
  CLEARING_PROTOCOL,
  fundResponse,
} from '../../protocols/clearing/index.ts'
import type { FakeClock } from '../../protocols/clock.ts'
import { parseMessage } from '../../protocols/messages.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import type { RoleName } from '../../protocols/records/types/common.ts'
import type { NetworkPolicy } from '../../protocols/records/types/network.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { topicString } from '../../protocols/topics/names.ts'
import { accountIdOf } from '../../roles/clearinghouse/index.ts'
import type { PlayerRole } from '../../roles/player/index.ts'
import { createTestNetwork, type TestNetwork } from './network.ts'
import { connectMesh, startMemoryNode, stopAll, waitForTopicPeers } from './nodes.ts'

/**
 * The whole chain's world for end-to-end tests, every role real, in one process on the memory transport: a
 * registration manager, a reference service, a clearinghouse, a label (production and delivery), the retailers and
 * extra nodes a test names, and listeners (player nodes, each with its own account, optionally in a territory its
 * registrar attests). Nodes are meshed and the gossip topics linked before it is handed over; the test publishes
 * what it needs (`label.role('production').publishSample(…)`). Shared by `test/e2e/delivery.test.ts` and
 * `test/e2e/share.test.ts`.
 */
export interface ChainWorld {
  clock: FakeClock
  net: TestNetwork
  keys: Record<'registrar' | 'reference' | 'clearinghouse' | 'label', NodeKeys>
  registrar: ConsortNode
  reference: ConsortNode
  house: ConsortNode
  label: ConsortNode
  /** The retailers and extra nodes, by the names the test gave. */
  retailers: Map<string, { node: ConsortNode; keys: NodeKeys }>
  extras: Map<string, { node: ConsortNode; keys: NodeKeys }>
  listeners: Map<string, WorldListener>
  nodes: ConsortNode[]
  /** Top up an account's wallet through the clearinghouse's test gateway (a signed `fund` request). */
  fund(listener: WorldListener, amount: bigint, currency?: string): Promise<ReturnType<typeof parseFund>>
  /** A participant's posted balance at the clearinghouse (credits − debits), in minor units. */
  balance(participant: string, currency?: string): Promise<bigint>
  stop(): Promise<void>
}

export interface WorldListener {
  node: ConsortNode
  player: PlayerRole
  /** The player node's own keys (its device). */
  keys: NodeKeys
  /** The listener's account keys. */
  account: NodeKeys
}

export interface ChainWorldOptions {
  clock: FakeClock
  /** Retailer nodes by name (each plays `retailer`; its options merged in). */
  retailers?: Record<string, Record<string, unknown>>
  /** Other nodes by name and their roles. */
  extras?: Record<string, RoleName[]>
  /** Listeners by name, each in a territory its registrar attests (none: `Worldwide`). */
  listeners?: Record<string, { territory?: string }>
  policy?: Partial<NetworkPolicy>
}

const parseFund = (response: unknown) => parseMessage(fundResponse, response, 'response')

export async function startChainWorld(options: ChainWorldOptions): Promise<ChainWorld> {
  const { clock } = options
  const keys = {
    registrar: await createNodeKeys(),
    reference: await createNodeKeys(),
    clearinghouse: await createNodeKeys(),
    label: await createNodeKeys(),
  }
  const net = await createTestNetwork(clock, {
    registrar: keys.registrar,
    references: [keys.reference],
    clearinghouses: [keys.clearinghouse],
    ...(options.policy !== undefined ? { policy: options.policy } : {}),
  })
  const nodes: ConsortNode[] = []
  const start = async (nodeKeys: NodeKeys, roles: RoleName[], roleOptions = {}) => {
    const node = await startMemoryNode({ network: net, clock, keys: nodeKeys, roles, roleOptions })
    nodes.push(node)
    return node
  }
  const stop = async () => await stopAll(nodes)
  try {
    const registrar = await start(keys.registrar, ['registration'])
    const reference = await start(keys.reference, ['reference'])
    const house = await start(keys.clearinghouse, ['clearinghouse'], { clearinghouse: { sync: false } })
    const label = await start(keys.label, ['production', 'delivery'], { production: { segmentSize: 16 * 1024 } })
    const retailers = new Map<string, { node: ConsortNode; keys: NodeKeys }>()
    for (const [name, retailerOptions] of Object.entries(options.retailers ?? { retailer: {} })) {
      const k = await createNodeKeys()
      const node = await start(k, ['retailer'], {
        retailer: { renewCheckIntervalMs: 0, ...retailerOptions },
      })
      retailers.set(name, { node, keys: k })
    }
    const extras = new Map<string, { node: ConsortNode; keys: NodeKeys }>()
    for (const [name, roles] of Object.entries(options.extras ?? {})) {
      const k = await createNodeKeys()
      extras.set(name, { node: await start(k, roles), keys: k })
    }
    const listeners = new Map<string, WorldListener>()
    for (const [name, listenerOptions] of Object.entries(options.listeners ?? { listener: {} })) {
      const account = await createNodeKeys()
      // Attested before the player registers its device, so that its first registration carries the territory.
      if (listenerOptions.territory !== undefined) {
        await registrar
          .role('registration')
          .registrar.devices.attestTerritory(account.signer.publicKey, listenerOptions.territory)
      }
      const k = await createNodeKeys()
      const node = await startMemoryNode({
        network: net,
        clock,
        keys: k,
        roles: ['player'],
        certRoles: [],
        roleOptions: { player: { account, flushIntervalMs: 0 } },
      })
      nodes.push(node)
      listeners.set(name, { node, player: node.role('player'), keys: k, account })
    }
    await connectMesh(nodes, 3)
    const shops = [...retailers.values()].map((r) => r.node)
    const players = [...listeners.values()].map((l) => l.node)
    // Who must hear of each topic before a test starts: the players and the clearinghouse of the catalog, the
    // services of contracts, offers and revocations, and the players of usage.
    const followers = {
      catalog: [...players, house],
      contracts: [reference, house, ...shops],
      offers: [reference, house, ...shops],
      revocations: [reference, ...shops],
      usage: players,
    }
    for (const [topic, who] of Object.entries(followers)) {
      await waitForTopicPeers(who, topicString(net.name, topic as keyof typeof followers))
    }
    for (const listener of listeners.values()) await listener.player.ensureDevice()
    return {
      clock,
      net,
      keys,
      registrar,
      reference,
      house,
      label,
      retailers,
      extras,
      listeners,
      nodes,
      fund: async (listener, amount, currency = 'EUR') => {
        const request = signAccountRequest(
          {
            network: net.name,
            account: listener.account.signer.publicKey,
            op: 'fund',
            amount,
            currency: currency as AccountRequestFields['currency'],
            paymentToken: 'test-card',
            period: null,
            requestId: `top-up-${amount}-${clock.now()}`,
            created: clock.now(),
          },
          listener.account.signer,
        )
        const response = await rpcCall(
          listener.node.libp2p,
          peerIdOfKey(keys.clearinghouse.signer.publicKey),
          listener.node.network.protocol(CLEARING_PROTOCOL),
          CLEARING_OPS.fund,
          request,
        )
        return parseFund(response)
      },
      balance: async (participant, currency = 'EUR') => {
        try {
          const b = await house.role('clearinghouse').engine.ledger.balance(accountIdOf(participant, currency))
          return b.creditsPosted - b.debitsPosted
        } catch (err) {
          // An account no transfer has touched yet holds nothing.
          if ((err as Error).name === 'AccountNotFoundError') return 0n
          throw err
        }
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
