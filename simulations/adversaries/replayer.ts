import { logger } from '@libp2p/logger'
import { toHex } from '../../keys/hex.ts'
import type { SeededRandom } from '../../keys/random.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL, reportResponse } from '../../protocols/clearing/index.ts'
import { parseMessage } from '../../protocols/messages.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { decodeRecordAs, signRecord } from '../../protocols/records/envelope.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { decodeGossipMessage, encodeGossipMessage } from '../../protocols/topics/message.ts'
import { topicString } from '../../protocols/topics/names.ts'
import type { SimNode } from '../cluster.ts'
import { pick } from '../rng.ts'

const log = logger('consort:sim:replayer')

/** Usage reports one replayer keeps (the oldest are dropped beyond this). */
export const MAX_CAPTURED_REPORTS = 1000

interface Captured {
  usage: Uint8Array
  device: Uint8Array
}

interface PubSubLike {
  subscribe(topic: string): void
  publish(topic: string, data: Uint8Array): Promise<unknown>
  addEventListener(type: 'message', listener: (event: CustomEvent<{ topic: string; data: Uint8Array }>) => void): void
}

export interface ReplayMetrics {
  nodes: number
  /** Distinct real reports captured off the usage topic. */
  captured: number
  /** Replays sent straight to a clearinghouse (`/clearing/1 report`), and its answers by status. */
  sent: number
  answers: Record<string, number>
  /** Replays the clearinghouse refused outright (an error instead of an acknowledgement), by code. */
  refused: Record<string, number>
  /** Captured reports put on the usage topic again, and those its gossipsub would not send (no peer, seen). */
  republished: number
  republishRefused: number
  /**
   * Forgeries sent to a clearinghouse: a captured report's body (another device's plays) signed by the replayer's
   * own key, with the honest device's registration. Answers by status and refusals by code.
   */
  forged: { sent: number; answers: Record<string, number>; refused: Record<string, number> }
}

/**
 * Replayers are certified player nodes that follow the usage topic, keep every real report they see (signed and
 * sealed by the honest devices), and replay them: to every clearinghouse directly and to the topic again. A replay
 * must be answered `duplicate` (or refused) and pay nothing: the ground-truth check proves the second part.
 */
export class Replayers {
  readonly #network: string
  readonly #nodes: SimNode[]
  readonly #captured = new Map<string, Captured>()
  readonly #answers = new Map<string, number>()
  readonly #refused = new Map<string, number>()
  #sent = 0
  #republished = 0
  #republishRefused = 0
  readonly #forged = { sent: 0, answers: new Map<string, number>(), refused: new Map<string, number>() }

  constructor(network: string, nodes: SimNode[]) {
    this.#network = network
    this.#nodes = nodes
  }

  /** Follow the usage topic on a (re)started replayer. */
  attach(sim: SimNode): void {
    if (!this.#nodes.includes(sim) || sim.node == null) return
    const topic = topicString(this.#network, 'usage')
    const pubsub = (sim.node.libp2p.services as unknown as { pubsub: PubSubLike }).pubsub
    pubsub.subscribe(topic)
    pubsub.addEventListener('message', (event) => {
      if (event.detail.topic !== topic) return
      try {
        const [usage, device] = decodeGossipMessage(event.detail.data)
        if (usage == null || device == null) return
        const key = toHex(usage.subarray(-64))
        if (this.#captured.has(key)) return
        if (this.#captured.size >= MAX_CAPTURED_REPORTS) this.#captured.delete(this.#captured.keys().next().value!)
        this.#captured.set(key, { usage, device })
      } catch {
        // not a gossip message: nothing to replay
      }
    })
  }

  get captured(): number {
    return this.#captured.size
  }

  /** Replay `count` captured reports, each to every clearinghouse and to the topic. */
  async replay(count: number, random: SeededRandom, clearinghouses: readonly Uint8Array[]): Promise<void> {
    const captured = [...this.#captured.values()]
    const online = this.#nodes.filter((n) => n.online)
    if (captured.length === 0 || online.length === 0) return
    const topic = topicString(this.#network, 'usage')
    for (let i = 0; i < count; i++) {
      const report = pick(random, captured)
      const sim = pick(random, online)
      const node = sim.started
      for (const key of clearinghouses) {
        this.#sent++
        try {
          const response = await rpcCall(
            node.libp2p,
            peerIdOfKey(key),
            node.network.protocol(CLEARING_PROTOCOL),
            CLEARING_OPS.report,
            { usage: report.usage, device: report.device },
          )
          const ack = parseMessage(reportResponse, response, 'response')
          this.#answers.set(ack.status, (this.#answers.get(ack.status) ?? 0) + 1)
        } catch (err) {
          const code = (err as { code?: string }).code ?? (err as Error).name
          this.#refused.set(code, (this.#refused.get(code) ?? 0) + 1)
          log('replay refused: %e', err)
        }
      }
      await this.#forge(sim, report, clearinghouses)
      const pubsub = (node.libp2p.services as unknown as { pubsub: PubSubLike }).pubsub
      // The same report and device registration with the replayer's own certificate attached: new bytes, so a new
      // gossip message id that gossipsub's seen caches do not stop (the exact bytes would not leave its own node).
      const rewrapped = encodeGossipMessage([
        report.usage,
        report.device,
        ...node.credentials.attachments().map((r) => r.bytes),
      ])
      await pubsub.publish(topic, rewrapped).then(
        () => this.#republished++,
        () => this.#republishRefused++,
      )
    }
  }

  /** Claim another device's plays: its report's body signed with this replayer's key. Must be refused, never paid. */
  async #forge(sim: SimNode, report: Captured, clearinghouses: readonly Uint8Array[]): Promise<void> {
    const node = sim.started
    let forged: Uint8Array
    try {
      const real = decodeRecordAs('consort/usage', report.usage, { network: this.#network, now: node.clock.now() })
      forged = signRecord('consort/usage', real.body, node.keys.signer).bytes
    } catch (err) {
      log('cannot forge from a captured report: %e', err)
      return
    }
    for (const key of clearinghouses) {
      this.#forged.sent++
      try {
        const response = await rpcCall(
          node.libp2p,
          peerIdOfKey(key),
          node.network.protocol(CLEARING_PROTOCOL),
          CLEARING_OPS.report,
          { usage: forged, device: report.device },
        )
        const ack = parseMessage(reportResponse, response, 'response')
        this.#forged.answers.set(ack.status, (this.#forged.answers.get(ack.status) ?? 0) + 1)
      } catch (err) {
        const code = (err as { code?: string }).code ?? (err as Error).name
        this.#forged.refused.set(code, (this.#forged.refused.get(code) ?? 0) + 1)
      }
    }
  }

  metrics(): ReplayMetrics {
    return {
      nodes: this.#nodes.length,
      captured: this.#captured.size,
      sent: this.#sent,
      answers: Object.fromEntries(this.#answers),
      refused: Object.fromEntries(this.#refused),
      republished: this.#republished,
      republishRefused: this.#republishRefused,
      forged: {
        sent: this.#forged.sent,
        answers: Object.fromEntries(this.#forged.answers),
        refused: Object.fromEntries(this.#forged.refused),
      },
    }
  }
}
