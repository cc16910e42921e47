import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { type ConsortNode, createConsortNode } from '../../../node/consort-node.ts'
import { ControlApi, type ControlApiInfo } from '../../../node/control-api.ts'
import { signAccountRequest } from '../../../protocols/clearing/account.ts'
import { type AccountRequestFields, CLEARING_OPS, CLEARING_PROTOCOL } from '../../../protocols/clearing/index.ts'
import { type Clock, systemClock } from '../../../protocols/clock.ts'
import { peerIdOfKey } from '../../../protocols/peers.ts'
import type { RoleName } from '../../../protocols/records/types/common.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import { fixturePath } from '../../fixtures.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { stopAll, waitForTopicPeers } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'

/**
 * A whole market on TCP loopback, in this process, as a listener meets it: a label publishes the sample release
 * from the real FLAC fixture (segments, preview clip, escrowed keys, contracts) and serves its segments (delivery); a reference service certifies the
 * retailer's offers made from those contracts; the retailer node also keeps a catalog replica and serves the
 * storefront; a registration manager registers the listener's device and issues licences; a clearinghouse holds
 * the listener's wallet (empty until `fund`, through its test gateway); the listener's player daemon serves the web
 * player on its control API.
 */
export interface BrowserMarket {
  clock: Clock
  net: TestNetwork
  nodes: Map<string, ConsortNode>
  /** The storefront's URL. */
  store: string
  /** The listener's control API (its web player is under `/ui/`). */
  listener: ControlApiInfo
  account: NodeKeys
  /** Top up the listener's wallet through the clearinghouse's test gateway (a signed `fund` account request). */
  fund(amount: bigint, currency: string): Promise<void>
  /** A fresh one-time login link to the listener's web player, through the control API (as `consort ui` asks). */
  loginLink(): Promise<string>
  stop(): Promise<void>
}

/** Wallet top-up for the listener, in minor units (10.00 EUR). */
export const WALLET_TOP_UP = 1000n

async function tcpNode(
  net: TestNetwork,
  clock: Clock,
  keys: NodeKeys,
  roles: RoleName[],
  roleOptions: Partial<Record<RoleName, Record<string, unknown>>> = {},
  certRoles: RoleName[] = roles,
): Promise<ConsortNode> {
  const node = await createConsortNode({
    dataDir: null,
    network: net.record,
    keys,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    transports: { tcp: true, memory: false },
    roles,
    roleOptions,
    clock,
  })
  await node.start()
  if (certRoles.length > 0) await node.credentials.setCert(net.certify(keys, certRoles))
  return node
}

export async function startBrowserMarket(): Promise<BrowserMarket> {
  const clock = systemClock
  const keys = {
    registrar: await createNodeKeys(),
    reference: await createNodeKeys(),
    clearinghouse: await createNodeKeys(),
    label: await createNodeKeys(),
    retailer: await createNodeKeys(),
    listener: await createNodeKeys(),
  }
  const account = await createNodeKeys()
  const net = await createTestNetwork(clock, {
    name: 'testnet',
    registrar: keys.registrar,
    references: [keys.reference],
    clearinghouses: [keys.clearinghouse],
  })
  const nodes = new Map<string, ConsortNode>()
  const apis: ControlApi[] = []
  const stop = async () => {
    for (const api of apis) await api.stop()
    await stopAll([...nodes.values()].reverse())
  }
  try {
    nodes.set('registrar', await tcpNode(net, clock, keys.registrar, ['registration']))
    nodes.set('reference', await tcpNode(net, clock, keys.reference, ['reference']))
    nodes.set('clearinghouse', await tcpNode(net, clock, keys.clearinghouse, ['clearinghouse']))
    nodes.set(
      'label',
      await tcpNode(net, clock, keys.label, ['production', 'delivery'], {
        production: { sampleAudio: fixturePath('audio', 'sample-84k.flac') },
      }),
    )
    nodes.set(
      'retailer',
      await tcpNode(net, clock, keys.retailer, ['retailer', 'catalog'], {
        retailer: { storefront: { name: 'Harbour Music' } },
      }),
    )
    const all = [...nodes.values()]
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) await all[i]!.libp2p.dial(all[j]!.libp2p.getMultiaddrs()[0]!)
    }
    const listener = await tcpNode(
      net,
      clock,
      keys.listener,
      ['player'],
      { player: { account, flushIntervalMs: 0 } },
      [],
    )
    nodes.set('listener', listener)
    for (const node of all) await listener.libp2p.dial(node.libp2p.getMultiaddrs()[0]!)
    await waitForTopicPeers([nodes.get('label')!], topicString(net.name, 'catalog'))
    await waitForTopicPeers([nodes.get('label')!], topicString(net.name, 'contracts'), 2)

    // The label publishes the sample release; the retailer's catalog indexes it.
    const label = nodes.get('label')!.role('production')
    await label.publishSample()
    const catalog = nodes.get('retailer')!.role('catalog')
    await waitUntil(() => catalog.size >= 2, { message: 'the catalog indexed the sample release and its track' })

    // The retailer makes offers from the label's contracts; the reference service certifies them.
    const retailer = nodes.get('retailer')!.role('retailer')
    await waitUntil(async () => (await retailer.store.contracts(10)).length > 0, {
      message: 'the retailer learnt the contracts',
    })
    await waitUntil(
      async () => {
        await retailer.offers.fromContracts()
        return (await retailer.offers.list()).some((o) => o.onSale)
      },
      { message: 'an offer is certified and on sale', intervalMs: 250 },
    )

    let funded = 0
    const api = new ControlApi(listener)
    apis.push(api)
    const info = await api.start()
    const storefront = nodes.get('retailer')!.role('retailer').storefront
    if (storefront.url == null) throw new Error('the retailer node serves no storefront')
    return {
      clock,
      net,
      nodes,
      store: storefront.url,
      listener: info,
      account,
      fund: async (amount, currency) => {
        const request = signAccountRequest(
          {
            network: net.name,
            account: account.signer.publicKey,
            op: 'fund',
            amount,
            currency: currency as AccountRequestFields['currency'],
            paymentToken: null,
            period: null,
            requestId: `fund-${++funded}-${clock.now()}`,
            created: clock.now(),
          },
          account.signer,
        )
        await rpcCall(
          listener.libp2p,
          peerIdOfKey(keys.clearinghouse.signer.publicKey),
          listener.network.protocol(CLEARING_PROTOCOL),
          CLEARING_OPS.fund,
          request,
        )
      },
      loginLink: async () => {
        const response = await fetch(`${info.url}/v1/player/ui/login-link`, {
          method: 'POST',
          headers: { authorization: `Bearer ${info.token}` },
        })
        if (!response.ok) throw new Error(`login link: HTTP ${response.status} ${await response.text()}`)
        const { path } = (await response.json()) as { path: string }
        return `${info.url}${path}`
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
