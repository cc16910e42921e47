import type { SeededRandom } from '../../keys/random.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL } from '../../protocols/clearing/index.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { PURCHASE_OPS, PURCHASE_PROTOCOL } from '../../protocols/purchase/index.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import type { SimNode } from '../cluster.ts'
import { pick } from '../rng.ts'
import {
  type AttackerRandom,
  everyAttacker,
  type HostileBuyerContext,
  type HostileBuyerReport,
  joinAsBuyer,
  orderOf,
} from './buyer-kit.ts'

/** Countries a liar claims to be in (its registrar attested none: it is `Worldwide`). */
const CLAIMED = ['IN', 'US', 'BR', 'JP'] as const

/** The territory liars' orders and the answers (by service and code). */
export interface TerritoryLiarMetrics {
  nodes: number
  lies: number
  accepted: number
  answers: Record<string, number>
}

/**
 * Issue 11, finding 4: a buyer that declares its own territory. Its account is attested nowhere (`Worldwide`); it
 * signs orders saying it is in another country and sends them to the retailer and, directly, to the clearinghouse.
 * Both must refuse before any money is held: no sale in the ground truth, and the ledger check proves none.
 */
export class TerritoryLiars {
  readonly #nodes: SimNode[]
  #lies = 0
  #sold = 0
  readonly #answers = new Map<string, number>()

  constructor(nodes: SimNode[]) {
    this.#nodes = nodes
  }

  async act(context: HostileBuyerContext, lies: number, randomOf: AttackerRandom): Promise<void> {
    if (context.certified.length === 0) return
    await everyAttacker(this.#nodes, (sim) => this.#lie(sim, context, lies, randomOf(sim)))
  }

  async #lie(sim: SimNode, context: HostileBuyerContext, lies: number, random: SeededRandom): Promise<void> {
    const node = sim.started
    const device = await joinAsBuyer(sim, context, 'territory liar')
    const house = context.clearinghouse.keys.signer.publicKey
    for (let i = 0; i < lies; i++) {
      const sale = pick(random, [...context.certified])
      const { offer, certification } = sale
      const order = orderOf(sim, context, sale, `lie-${sim.index}-${i}`, pick(random, [...CLAIMED]))
      this.#lies++
      for (const [what, call] of [
        [
          'retailer',
          () =>
            rpcCall(
              node.libp2p,
              peerIdOfKey(offer.signer),
              node.network.protocol(PURCHASE_PROTOCOL),
              PURCHASE_OPS.buy,
              {
                order,
                device: device.bytes,
              },
            ),
        ],
        [
          'clearinghouse',
          () =>
            rpcCall(node.libp2p, peerIdOfKey(house), node.network.protocol(CLEARING_PROTOCOL), CLEARING_OPS.authorise, {
              order: { ...order, order: { ...order.order, purchaseId: `${order.order.purchaseId}-direct` } },
              offer: offer.bytes,
              certification: certification.bytes,
              device: device.bytes,
              attachments: [],
            }),
        ],
      ] as const) {
        try {
          await call()
          this.#sold++
          this.#count(`${what}:accepted`)
        } catch (err) {
          this.#count(`${what}:${(err as { code?: string }).code ?? (err as Error).name}`)
        }
      }
    }
  }

  #count(key: string): void {
    this.#answers.set(key, (this.#answers.get(key) ?? 0) + 1)
  }

  report(): HostileBuyerReport<TerritoryLiarMetrics> {
    return {
      metrics: {
        nodes: this.#nodes.length,
        lies: this.#lies,
        accepted: this.#sold,
        answers: Object.fromEntries(this.#answers),
      },
      checks: [
        {
          name: 'territory lies sold nothing',
          ok: this.#lies > 0 && this.#sold === 0,
          detail: `${this.#lies} order(s) claiming a territory the registrar did not attest: ${this.#sold} accepted; answers ${JSON.stringify(Object.fromEntries(this.#answers))}`,
        },
      ],
      heldPlays: 0,
    }
  }
}
