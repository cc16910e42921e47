import { join } from 'node:path'
import { loadOrCreateNodeKeys } from '../keys/keystore.ts'
import { signAccountRequest } from '../protocols/clearing/account.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL } from '../protocols/clearing/index.ts'
import { formatMinorUnits, icpnKey } from '../protocols/identifiers/index.ts'
import { clearinghousePeers } from '../protocols/peers.ts'
import { rpcCall } from '../protocols/rpc/client.ts'
import { type TopicName, topicString } from '../protocols/topics/names.ts'
import { ControlClient } from './control-client.ts'
import type { Daemon } from './daemon.ts'

/** What the devnet listener's wallet starts with: enough for a few purchases of the sample release. */
export const DEVNET_WALLET_TOP_UP = { amount: 2000n, currency: 'EUR' } as const
/** How long the devnet waits for the sample's contracts to reach the retailer by gossip. */
export const CONTRACT_ARRIVAL_TIMEOUT_MS = 60_000
/** How often the label announces again while the retailer waits. */
export const REANNOUNCE_EVERY_MS = 3_000

export interface SampleMarket {
  /** The sample release's content id and its first track's. */
  release: string
  track: string
  title: string | null
  offers: Array<{ offerId: string; offer: string; content: string[]; useType: string; price: string; status: string }>
  wallet: string
}

export type SampleMarketProgress =
  | { step: 'published'; release: string }
  | { step: 'contracts-arrived'; count: number }
  | { step: 'offers-certified'; count: number }
  | { step: 'seeded'; cid: string }
  | { step: 'wallet-funded'; amount: string }

interface PublishAnswer {
  releases: Array<{
    key: string
    title: string | null
    release: string | null
    tracks: Array<{ isrc: string; title: string }>
  }>
}

interface GossipView {
  getSubscribers(topic: string): Array<{ toString(): string }>
  addEventListener(type: 'subscription-change', listener: () => void): void
  removeEventListener(type: 'subscription-change', listener: () => void): void
}

/** Resolve once every peer of `peers` subscribes to every topic of `topics`, as gossipsub learns it (its events). */
function subscribersFollow(pubsub: GossipView, topics: string[], peers: string[], timeoutMs: number): Promise<void> {
  const ready = () =>
    topics.every((topic) => {
      const subscribers = new Set(pubsub.getSubscribers(topic).map((p) => p.toString()))
      return peers.every((peer) => subscribers.has(peer))
    })
  if (ready()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pubsub.removeEventListener('subscription-change', check)
      const missing = topics.flatMap((topic) => {
        const subscribers = new Set(pubsub.getSubscribers(topic).map((p) => p.toString()))
        return peers.filter((peer) => !subscribers.has(peer)).map((peer) => `${peer} on ${topic}`)
      })
      reject(new Error(`devnet: the label's topics still lack followers after ${timeoutMs} ms: ${missing.join(', ')}`))
    }, timeoutMs)
    const check = () => {
      if (!ready()) return
      clearTimeout(timer)
      pubsub.removeEventListener('subscription-change', check)
      resolve()
    }
    pubsub.addEventListener('subscription-change', check)
  })
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`devnet: timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/**
 * Make the devnet a working market, the way its participants would, through their control APIs: the label
 * publishes the sample release (from the real FLAC fixture), the retailer makes offers from the contracts once they
 * arrive and has them certified, the delivery node seeds the release, and the listener's wallet is topped up
 * through the clearinghouse's test gateway.
 */
export async function prepareSampleMarket(
  daemons: ReadonlyMap<string, Daemon>,
  onProgress: (event: SampleMarketProgress) => void = () => {},
): Promise<SampleMarket> {
  const client = (name: string) => {
    const daemon = daemons.get(name)
    if (daemon == null) throw new Error(`devnet: no ${name} node`)
    return new ControlClient(daemon.api)
  }
  // A label publishes once the nodes that need its records follow its topics: gossip sent before a peer follows a
  // topic never reaches it, and the same record sent again within gossipsub's seen-cache time is dropped as a
  // duplicate. So the label waits (on gossipsub's subscription events) until the retailer and the reference service
  // are subscribers of the catalog and contracts topics it publishes on.
  const label = daemons.get('label')!.node
  const followers = ['retailer', 'reference']
    .map((name) => daemons.get(name)?.node.peerId.toString())
    .filter((id): id is string => id != null)
  await subscribersFollow(
    label.libp2p.services.pubsub as unknown as GossipView,
    ['catalog', 'contracts'].map((t) => topicString(label.network.name, t as TopicName)),
    followers,
    CONTRACT_ARRIVAL_TIMEOUT_MS,
  )
  const published = await client('label').request<PublishAnswer>('POST', '/v1/production/sample', {})
  const sample = published.releases[0]
  if (sample == null) throw new Error('devnet: the sample release was not published')
  onProgress({ step: 'published', release: sample.key })
  // The label keys a release by its 14-digit GTIN; contracts and offers carry the UPC as the message gave it.
  const sameRelease = (content: string) =>
    content.startsWith('icpn:') &&
    sample.key.startsWith('icpn:') &&
    icpnKey(content.slice(5)) === icpnKey(sample.key.slice(5))

  // Gossip meshes form a few heartbeats after the nodes connect: what the label announced before may have reached
  // nobody, so it announces again while the retailer has not heard (as a label does after any restart).
  let lastAnnounce = Date.now()
  const contracts = await until('the sample contracts at the retailer', CONTRACT_ARRIVAL_TIMEOUT_MS, async () => {
    const list = await client('retailer').request<Array<{ content: string[] }>>('GET', '/v1/retailer/contracts')
    const mine = list.filter((c) => c.content.some(sameRelease))
    if (mine.length > 0) return mine
    if (Date.now() - lastAnnounce > REANNOUNCE_EVERY_MS) {
      lastAnnounce = Date.now()
      await client('label').request('POST', '/v1/production/reannounce', {})
    }
    return undefined
  })
  onProgress({ step: 'contracts-arrived', count: contracts.length })
  const release = contracts[0]!.content.find(sameRelease)!

  // Offers are made once (a second start finds them made) and then listed, so that a devnet started again shows the
  // same offers as the first time.
  type OfferView = {
    offerId: string
    offer: string
    content: string[]
    useType: string
    priceText: string
    status: string
  }
  await client('retailer').request<OfferView[]>('POST', '/v1/retailer/offers/from-contracts', { content: [release] })
  const listed = await client('retailer').request<OfferView[]>('GET', '/v1/retailer/offers?limit=1000')
  const offers = listed
    .filter((o) => o.content.includes(release) && o.status !== 'withdrawn')
    .map((o) => ({
      offerId: o.offerId,
      offer: o.offer,
      content: o.content,
      useType: o.useType,
      price: o.priceText,
      status: o.status,
    }))
  onProgress({ step: 'offers-certified', count: offers.filter((o) => o.status === 'certified').length })

  if (sample.release != null && daemons.has('delivery')) {
    await client('delivery').request('POST', '/v1/delivery/seeds', { cid: sample.release, wait: true })
    onProgress({ step: 'seeded', cid: sample.release })
  }

  const listener = daemons.get('listener')
  let wallet = 'not funded (no listener)'
  if (listener != null && listener.node.dataDir != null && listener.node.network.body.clearinghouses.length > 0) {
    const account = await loadOrCreateNodeKeys(join(listener.node.dataDir, 'keys', 'account.key'))
    const network = listener.node.network
    const request = signAccountRequest(
      {
        network: network.name,
        account: account.signer.publicKey,
        op: 'fund',
        amount: DEVNET_WALLET_TOP_UP.amount,
        currency: DEVNET_WALLET_TOP_UP.currency,
        paymentToken: 'devnet',
        period: null,
        // One top-up per devnet: the clearinghouse answers a repeated request id with the first top-up, so a devnet
        // started again on its directory keeps the wallet it had.
        requestId: 'devnet-wallet-top-up',
        created: listener.node.clock.now(),
      },
      account.signer,
    )
    await rpcCall(
      listener.node.libp2p,
      clearinghousePeers(network)[0]!,
      network.protocol(CLEARING_PROTOCOL),
      CLEARING_OPS.fund,
      request,
    )
    wallet = `${formatMinorUnits(DEVNET_WALLET_TOP_UP.amount, DEVNET_WALLET_TOP_UP.currency)} ${DEVNET_WALLET_TOP_UP.currency}`
    onProgress({ step: 'wallet-funded', amount: wallet })
  }
  const firstTrack = sample.tracks[0]
  return {
    release,
    track: firstTrack != null ? `isrc:${firstTrack.isrc}` : release,
    title: sample.title,
    offers,
    wallet,
  }
}
