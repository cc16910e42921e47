import { multiaddr } from '@multiformats/multiaddr'
import type { NodeKeys } from '../../keys/keystore.ts'
import type { Clock } from '../../protocols/clock.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { Cluster, SimNode } from '../cluster.ts'
import type { CertifiedOffer } from './overpricer.ts'

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
