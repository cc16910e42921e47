import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import type { NodeKeys } from '../../keys/keystore.ts'
import type { SeededRandom } from '../../keys/random.ts'
import type { Clock } from '../../protocols/clock.ts'
import { parseMessage } from '../../protocols/messages.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import {
  buyResponse,
  PURCHASE_DEADLINE_MS,
  PURCHASE_OPS,
  PURCHASE_PROTOCOL,
  type PurchaseOrder,
  signPurchaseOrder,
} from '../../protocols/purchase/index.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { registerDevice } from '../../protocols/register/client.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import type { Cluster, SimNode } from '../cluster.ts'
import type { CertifiedOffer } from './overpricer.ts'

const log = logger('consort:sim:hostile-buyer')

/**
 * What the hostile buyers of issue 11 get from the market workload: the network's services to dial, the offers on
 * sale with their certifications, and the ground truth to record what they really paid for and really played
 * within a licence (so that the ledger check to the cent covers them too). Each adversary (void-racer.ts,
 * play-inflater.ts, store-wiper.ts, territory-liar.ts) acts once, at the drain, after the honest market, and
 * reports its own metrics and checks. Self-contained: they use nodes, protocols and the player role as any peer
 * could, nothing of the simulator's runtime beyond a clock and the cluster (to restart a node).
 */
export interface HostileBuyerContext {
  network: string
  clock: Clock
  cluster: Cluster
  clearinghouse: SimNode
  /** Nodes an attacker dials before it acts (registrar, clearinghouse, retailers, reference, delivery). */
  services: readonly SimNode[]
  tracks: readonly string[]
  /** Offers the retailers put on sale, with their certifications. */
  certified: readonly CertifiedOffer[]
  /** Whether the workload knows an offer (so that a sale of it can be written into the ground truth). */
  known(offer: string): boolean
  /** Whether an offer is paid per play (its plays move money). */
  perPlay(offer: string): boolean
  /** Top up an account's wallet through the test gateway (and the ground truth). */
  fund(sim: SimNode, account: NodeKeys): Promise<void>
  /** A sale the attacker really paid for; a play it really made within that sale's licence, which must be paid. */
  sale(account: NodeKeys, offer: string, purchaseId: string, price: bigint): void
  play(purchaseId: string): void
}

/** What every hostile buyer reports. */
export interface HostileBuyerReport<M> {
  metrics: M
  checks: Array<{ name: string; ok: boolean; detail: string }>
  /** Plays the clearinghouse is expected to hold (never pay) because of this attack. */
  heldPlays: number
}

/** Dial the services an attacker needs, by their addresses (it joined the network with a few random peers only). */
export async function dialServices(sim: SimNode, services: readonly SimNode[]): Promise<void> {
  const node = sim.started
  await Promise.all(
    services
      .filter((s) => s.online && s !== sim)
      .map((s) => node.libp2p.dial(multiaddr(s.address)).catch(() => undefined)),
  )
}

/** An offer's record and certification by its CID. */
export function certifiedOf(
  context: HostileBuyerContext,
  offer: string,
): { offer: SignedRecord<'consort/offer'>; certification: SignedRecord<'consort/certification'> } | undefined {
  return context.certified.find((c) => c.offer.id.toString() === offer)
}

/**
 * A hostile buyer joins as any buyer would: it dials the services, registers its node key as both its account and
 * its device (so that it speaks to the clearinghouse as the buyer itself), and funds its wallet.
 */
export async function joinAsBuyer(
  sim: SimNode,
  context: HostileBuyerContext,
  name: string,
): Promise<SignedRecord<'consort/device'>> {
  const node = sim.started
  await dialServices(sim, context.services)
  const device = await registerDevice(node.libp2p, node.network, {
    account: sim.keys.signer,
    device: sim.keys.signer,
    sealingKey: sim.keys.sealing.publicKey,
    name,
    now: context.clock.now(),
  })
  await context.fund(sim, sim.keys)
  return device
}

/** The buyer's own signed order for a certified offer, paid through the market's clearinghouse. */
export function orderOf(
  sim: SimNode,
  context: HostileBuyerContext,
  sale: CertifiedOffer,
  purchaseId: string,
  territory: string,
): PurchaseOrder {
  const keys = sim.keys
  return signPurchaseOrder(
    {
      network: context.network,
      purchaseId,
      offer: sale.offer.id,
      certification: sale.certification.id,
      retailer: sale.offer.signer,
      clearinghouse: context.clearinghouse.keys.signer.publicKey,
      account: keys.signer.publicKey,
      device: keys.signer.publicKey,
      price: sale.offer.body.price,
      territory: territory as PurchaseOrder['order']['territory'],
      created: context.clock.now(),
    },
    keys.signer,
  )
}

/** Streaming passes on sale: per-play offers with a plays limit, whose plays the ground truth can account for. */
export function streamingPasses(context: HostileBuyerContext): CertifiedOffer[] {
  const passes = context.certified.filter(
    (c) =>
      c.offer.body.rules.plays != null &&
      context.known(c.offer.id.toString()) &&
      context.perPlay(c.offer.id.toString()),
  )
  if (passes.length === 0) throw new Error('no streaming pass (per-play offer with a plays limit) on sale')
  return passes
}

/**
 * One attacker's own random stream. The attackers act side by side, so each draws from a stream of its own: what one
 * chooses never depends on when another drew.
 */
export type AttackerRandom = (sim: SimNode) => SeededRandom

/**
 * Run `act` for every online node at once, keeping what failed (a failure fails the attacker's check, never the run).
 * Attackers are separate buyers: one after the other, the drain waited out each one's virtual waits in turn (two play
 * inflaters wait some 150 simulated seconds each), and every simulated second of it the whole network's upkeep ran.
 */
export async function eachAttacker(
  nodes: readonly SimNode[],
  failures: string[],
  act: (sim: SimNode) => Promise<void>,
): Promise<void> {
  const online = nodes.filter((sim) => sim.online)
  const outcomes = await Promise.allSettled(online.map((sim) => act(sim)))
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.status === 'fulfilled') continue
    const sim = online[i]!
    failures.push(`${sim.name}: ${(outcome.reason as Error).message}`)
    log('%s: %e', sim.name, outcome.reason)
  }
}

/** Run `act` for every online node at once and wait for all; then throw the first failure, if any (in node order). */
export async function everyAttacker(nodes: readonly SimNode[], act: (sim: SimNode) => Promise<void>): Promise<void> {
  const outcomes = await Promise.allSettled(nodes.filter((sim) => sim.online).map((sim) => act(sim)))
  for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason
}

/** Send the buyer's order to the offer's retailer (`purchase/1 buy`); the retailer's answer, checked for shape. */
export async function buyFromRetailer(
  sim: SimNode,
  order: PurchaseOrder,
  device: SignedRecord<'consort/device'>,
): Promise<{ receipt: Uint8Array; licence: Uint8Array }> {
  const node = sim.started
  const answer = await rpcCall(
    node.libp2p,
    peerIdOfKey(order.order.retailer),
    node.network.protocol(PURCHASE_PROTOCOL),
    PURCHASE_OPS.buy,
    { order, device: device.bytes },
    { deadlineMs: PURCHASE_DEADLINE_MS },
  )
  return parseMessage(buyResponse, answer, 'response')
}
