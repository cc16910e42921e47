import { logger } from '@libp2p/logger'
import type { SeededRandom } from '../../keys/random.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL } from '../../protocols/clearing/index.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { requestReissue } from '../../protocols/register/client.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import type { SimNode } from '../cluster.ts'
import { pick } from '../rng.ts'
import {
  type AttackerRandom,
  buyFromRetailer,
  everyAttacker,
  type HostileBuyerContext,
  type HostileBuyerReport,
  joinAsBuyer,
  orderOf,
} from './buyer-kit.ts'

const log = logger('consort:sim:void-racer')

/** What the void racers did and were answered (answers by step and code). */
export interface VoidRacerMetrics {
  nodes: number
  races: number
  licences: number
  answers: Record<string, number>
}

/**
 * Issue 11, finding 1, as an attacker plays it: a buyer whose node key is its account key (so it speaks to the
 * clearinghouse as the buyer) authorises its own signed order, voids it, then sends the same order to the retailer
 * and asks the registrar for the licence at once. Money before keys means none of this gets a licence or moves money:
 * no sale is written in the ground truth, and the ledger check to the cent proves nothing was charged.
 */
export class VoidRacers {
  readonly #nodes: SimNode[]
  #races = 0
  #licences = 0
  readonly #answers = new Map<string, number>()

  constructor(nodes: SimNode[]) {
    this.#nodes = nodes
  }

  async act(context: HostileBuyerContext, races: number, randomOf: AttackerRandom): Promise<void> {
    if (context.certified.length === 0) return
    await everyAttacker(this.#nodes, (sim) => this.#race(sim, context, races, randomOf(sim)))
  }

  async #race(sim: SimNode, context: HostileBuyerContext, races: number, random: SeededRandom): Promise<void> {
    const node = sim.started
    const device = await joinAsBuyer(sim, context, 'void racer')
    const house = context.clearinghouse.keys.signer.publicKey
    for (let i = 0; i < races; i++) {
      const sale = pick(random, [...context.certified])
      const { offer, certification } = sale
      const order = orderOf(sim, context, sale, `race-${sim.index}-${i}`, device.body.territory ?? 'Worldwide')
      const retailer = context.cluster.nodes.find((n) => n.keys.signer.publicKey.every((b, k) => b === offer.signer[k]))
      const clearing = (op: string, body: unknown) =>
        rpcCall(node.libp2p, peerIdOfKey(house), node.network.protocol(CLEARING_PROTOCOL), op, body)
      this.#races++
      await this.#step('authorise', () =>
        clearing(CLEARING_OPS.authorise, {
          order,
          offer: offer.bytes,
          certification: certification.bytes,
          device: device.bytes,
          attachments: retailer?.online === true ? retailer.started.credentials.attachments().map((r) => r.bytes) : [],
        }),
      )
      await this.#step('void', () =>
        clearing(CLEARING_OPS.void, { purchaseId: order.order.purchaseId, reason: 'mine', order: null }),
      )
      const buy = buyFromRetailer(sim, order, device)
      // The race: the licence asked for while the retailer works on the purchase.
      const reissue = requestReissue(node.libp2p, node.network, {
        purchaseId: order.order.purchaseId,
        device,
        signer: sim.keys.signer,
        now: context.clock.now(),
      })
      const outcomes = await Promise.allSettled([buy, reissue])
      for (const [k, outcome] of outcomes.entries()) {
        const what = k === 0 ? 'buy' : 'reissue'
        if (outcome.status === 'fulfilled') {
          this.#licences++
          this.#count(`${what}:licence`)
        } else {
          const err = outcome.reason as { code?: string; name?: string }
          this.#count(`${what}:${err.code ?? err.name}`)
        }
      }
    }
  }

  async #step(what: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await call()
      this.#count(`${what}:ok`)
    } catch (err) {
      this.#count(`${what}:${(err as { code?: string }).code ?? (err as Error).name}`)
      log('%s refused: %e', what, err)
    }
  }

  #count(key: string): void {
    this.#answers.set(key, (this.#answers.get(key) ?? 0) + 1)
  }

  report(): HostileBuyerReport<VoidRacerMetrics> {
    return {
      metrics: {
        nodes: this.#nodes.length,
        races: this.#races,
        licences: this.#licences,
        answers: Object.fromEntries(this.#answers),
      },
      checks: [
        {
          name: 'void races got no licence',
          ok: this.#races > 0 && this.#licences === 0,
          detail: `${this.#races} race(s) (authorise, void, buy and reissue at once): ${this.#licences} licence(s); answers ${JSON.stringify(Object.fromEntries(this.#answers))}`,
        },
      ],
      heldPlays: 0,
    }
  }
}
