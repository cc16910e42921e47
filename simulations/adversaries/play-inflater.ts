import type { SeededRandom } from '../../keys/random.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL, reportResponse } from '../../protocols/clearing/index.ts'
import { parseMessage } from '../../protocols/messages.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { decodeRecordAs } from '../../protocols/records/envelope.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import type { UsageEvent } from '../../protocols/usage/index.ts'
import { buildUsageReport } from '../../protocols/usage/report.ts'
import type { SimNode } from '../cluster.ts'
import { pick } from '../rng.ts'
import {
  type AttackerRandom,
  buyFromRetailer,
  eachAttacker,
  type HostileBuyerContext,
  type HostileBuyerReport,
  joinAsBuyer,
  orderOf,
  streamingPasses,
} from './buyer-kit.ts'

/** Plays the inflater claims after its licence was issued, as a multiple of the plays the licence allows. */
export const INFLATION_FACTOR = 3
/** Plays it back-dates to before its licence was issued. */
export const BACKDATED_PLAYS = 5
/** Seconds each claimed play lasts, and the step between two plays' starts (plays never overlap). */
const PLAY_SECONDS = 3
const PLAY_STEP_MS = 5_000

/** What the play inflaters bought, claimed and were answered (plays not paid, by reason). */
export interface PlayInflaterMetrics {
  nodes: number
  passes: number
  claimed: number
  allowed: number
  answers: Record<string, number>
  unpaid: Record<string, number>
  failures: string[]
}

/**
 * Issue 11, finding 2, as an attacker plays it: a buyer pays for a streaming pass of L plays (the retailer pays the
 * rights holders per play), then its device signs one correct report claiming L × INFLATION_FACTOR plays after the
 * licence was issued and BACKDATED_PLAYS more before it. The clearinghouse must pay exactly the licence's L plays
 * and hold the rest, and its acknowledgement must say so: the ground truth records the sale and L paid plays, and
 * the ledger check to the cent proves not one more was paid.
 */
export class PlayInflaters {
  readonly #nodes: SimNode[]
  #passes = 0
  #claimed = 0
  #allowed = 0
  #expectedHeld = 0
  readonly #answers = new Map<string, number>()
  readonly #unpaid = new Map<string, number>()
  readonly #failures: string[] = []

  constructor(nodes: SimNode[]) {
    this.#nodes = nodes
  }

  async act(context: HostileBuyerContext, randomOf: AttackerRandom): Promise<void> {
    await eachAttacker(this.#nodes, this.#failures, (sim) => this.#inflate(sim, context, randomOf(sim)))
  }

  async #inflate(sim: SimNode, context: HostileBuyerContext, random: SeededRandom): Promise<void> {
    const passes = streamingPasses(context)
    const node = sim.started
    const keys = sim.keys
    const device = await joinAsBuyer(sim, context, 'play inflater')
    const sale = pick(random, passes)
    const { offer } = sale
    const house = context.clearinghouse.keys.signer.publicKey
    const purchaseId = `inflate-${sim.index}`
    const order = orderOf(sim, context, sale, purchaseId, device.body.territory ?? 'Worldwide')
    const bought = await buyFromRetailer(sim, order, device)
    // A real sale: the buyer paid for it, the ground truth says so.
    context.sale(keys, offer.id.toString(), purchaseId, offer.body.price.amount)
    this.#passes++
    const licence = decodeRecordAs('consort/licence', bought.licence, {
      network: context.network,
      now: context.clock.now(),
    })
    const allowed = licence.body.rules.plays ?? 0
    const claimed = allowed * INFLATION_FACTOR
    const issued = licence.body.created
    // Wait until every claimed play could have ended (in virtual time), so that none is refused as not yet over.
    const ready = issued + 1_000 + claimed * PLAY_STEP_MS + PLAY_SECONDS * 1000
    const wait = ready - context.clock.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const isrc = licence.body.keys[0]!.isrc
    const event = (id: string, startedAt: number): UsageEvent => ({
      eventId: `${purchaseId}-${id}`,
      kind: 'play',
      isrc,
      purchaseId,
      licence: licence.id,
      offer: licence.body.offer,
      contract: licence.body.contract,
      startedAt,
      seconds: PLAY_SECONDS,
    })
    // Back-dated: before the licence by more than the clock skew the network allows.
    const early = issued - node.network.caps.clockSkewMs - 60_000 - BACKDATED_PLAYS * PLAY_STEP_MS
    const events = [
      ...Array.from({ length: BACKDATED_PLAYS }, (_, i) => event(`early-${i}`, early + i * PLAY_STEP_MS)),
      ...Array.from({ length: claimed }, (_, i) => event(`play-${i}`, issued + 1_000 + i * PLAY_STEP_MS)),
    ]
    const report = buildUsageReport({
      network: node.network,
      device: keys.signer,
      account: keys.signer.publicKey,
      seq: 0,
      prev: null,
      events,
      now: context.clock.now(),
      random,
    })
    // Straight to the clearinghouse, with the licence the plays claim to be under (as the player sends them).
    const ack = parseMessage(
      reportResponse,
      await rpcCall(node.libp2p, peerIdOfKey(house), node.network.protocol(CLEARING_PROTOCOL), CLEARING_OPS.report, {
        usage: report.bytes,
        device: device.bytes,
        licences: [licence.bytes],
      }),
      'response',
    )
    this.#answers.set(ack.status, (this.#answers.get(ack.status) ?? 0) + 1)
    for (const u of ack.unpaid ?? []) this.#unpaid.set(u.reason, (this.#unpaid.get(u.reason) ?? 0) + 1)
    this.#claimed += events.length
    this.#allowed += allowed
    this.#expectedHeld += events.length - allowed
    // What the licence allowed was really played as far as anyone can tell: the retailer pays it.
    for (let i = 0; i < allowed; i++) context.play(purchaseId)
  }

  report(): HostileBuyerReport<PlayInflaterMetrics> {
    const unpaid = [...this.#unpaid.values()].reduce((a, b) => a + b, 0)
    return {
      metrics: {
        nodes: this.#nodes.length,
        passes: this.#passes,
        claimed: this.#claimed,
        allowed: this.#allowed,
        answers: Object.fromEntries(this.#answers),
        unpaid: Object.fromEntries(this.#unpaid),
        failures: this.#failures,
      },
      checks: [
        {
          name: 'inflated plays held beyond the licence',
          ok:
            this.#passes > 0 &&
            this.#failures.length === 0 &&
            unpaid === this.#expectedHeld &&
            (this.#unpaid.get('before-licence') ?? 0) === BACKDATED_PLAYS * this.#passes &&
            (this.#answers.get('held') ?? 0) === this.#passes,
          detail: `${this.#passes} pass(es) allowing ${this.#allowed} play(s): ${this.#claimed} claimed, the acknowledgements list ${unpaid} unpaid (${JSON.stringify(Object.fromEntries(this.#unpaid))}), ${this.#expectedHeld} expected; the ledger check proves only the allowed plays were paid${this.#failures.length > 0 ? `; failed: ${this.#failures.join(' | ')}` : ''}`,
        },
      ],
      heldPlays: this.#expectedHeld,
    }
  }
}
