import { multiaddr } from '@multiformats/multiaddr'
import { toHex } from '../../keys/hex.ts'
import { createNodeKeys } from '../../keys/keystore.ts'
import { SeededRandom } from '../../keys/random.ts'
import type { ConsortNode } from '../../node/consort-node.ts'
import type { GossipSignaturePolicy } from '../../node/pubsub.ts'
import type { Clock } from '../../protocols/clock.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { topicString } from '../../protocols/topics/names.ts'

/**
 * One share of the `offers` benchmark's two networks, run in one OS process: `ours` (Consort nodes following the
 * offers topic with its full validator, on the network's gossipsub settings) and `plain` (Consort nodes with
 * gossipsub's default signature policy, following a topic without validators: gossipsub as deployed by default).
 * The benchmark runs one shard of 100 + 100 nodes in its own process, or four of 25 + 25 — its own and three child
 * processes (`offers-shard-process.ts`) on TCP over loopback — so that what one event loop carrying a hundred nodes
 * adds to the tail can be told from what our checks add.
 *
 * Arrival times are read on `wallNow()` (the process's time origin plus its monotonic clock: the same timeline in
 * every process of the machine) and handed over per message once every node of the shard has it.
 */
export const PLAIN_TOPIC_SUFFIX = 'plain'

/** The benchmark's plain topic: no validator on any node. */
export function plainTopic(network: string): string {
  return `/consort-bench/${network}/${PLAIN_TOPIC_SUFFIX}`
}

/** Milliseconds on a timeline every process of this machine shares (sub-millisecond resolution). */
export function wallNow(): number {
  return performance.timeOrigin + performance.now()
}

/** The key under which a message's arrivals are counted: `v:` and the offer's CID, or `p:` and the plain tag. */
export function plainKey(data: Uint8Array): string {
  return `p:${toHex(data.subarray(0, 16))}`
}

export interface ShardArrivals {
  key: string
  /** `wallNow()` at each node of the shard that delivered the message. */
  times: number[]
}

export interface ShardInit {
  network: SignedRecord<'consort/network'>
  clock: Clock
  transport: 'memory' | 'tcp'
  /** Nodes the caller made (the reference service, the label, the retailer), counted as `ours`. */
  given?: ConsortNode[]
  /** Nodes to create in each network (besides `given` in ours). */
  ours: number
  plain: number
  /** Seed of this shard's node keys. */
  seed: string
  /** Nodes that publish and so do not count their own messages: indices into ours (with `given` first) and plain. */
  publishers?: { ours?: number; plain?: number }
  /** The signature policy of `ours` (the network's default when absent). */
  oursPolicy?: GossipSignaturePolicy
  onArrivals(arrivals: ShardArrivals): void
  log?(message: string): void
}

export interface ShardAddresses {
  ours: string[]
  plain: string[]
}

interface PlainPubSub {
  subscribe(topic: string): void
  publish(topic: string, data: Uint8Array): Promise<unknown>
  getMeshPeers(topic: string): string[]
  addEventListener(type: 'message', listener: (event: CustomEvent<{ topic: string; data: Uint8Array }>) => void): void
}

export function pubsubOf(node: ConsortNode): PlainPubSub {
  return (node.libp2p.services as { pubsub: PlainPubSub }).pubsub
}

let memoryAddressCounter = 0

/** Dials a shard runs at once while connecting, and attempts per dial (see `OfferShard.dial`). */
const DIALS_IN_FLIGHT = 8
const DIAL_ATTEMPTS = 3

/** A plain node's gossipsub policy: gossipsub's own default. */
const PLAIN_POLICY: GossipSignaturePolicy = 'StrictSign'

export class OfferShard {
  readonly ours: ConsortNode[]
  readonly plain: ConsortNode[]
  readonly #init: ShardInit
  /** Arrivals of messages not yet complete in this shard, by key. */
  readonly #pending = new Map<string, number[]>()
  /** Keys already handed over (a straggler after a time-out must not open a new entry). */
  readonly #done = new Set<string>()
  readonly #receivers: { ours: number; plain: number }

  private constructor(init: ShardInit, ours: ConsortNode[], plain: ConsortNode[]) {
    this.#init = init
    this.ours = ours
    this.plain = plain
    this.#receivers = {
      ours: ours.length - (init.publishers?.ours != null ? 1 : 0),
      plain: plain.length - (init.publishers?.plain != null ? 1 : 0),
    }
  }

  static async start(init: ShardInit): Promise<OfferShard> {
    const random = new SeededRandom(init.seed)
    const ours = [...(init.given ?? [])]
    const plain: ConsortNode[] = []
    try {
      for (let i = 0; i < init.ours; i++) {
        if (i % 25 === 0) init.log?.(`starting nodes: ${i}/${init.ours}`)
        ours.push(await startNode(init, random, init.oursPolicy))
      }
      for (let i = 0; i < init.plain; i++) {
        if (i % 25 === 0) init.log?.(`starting plain gossipsub nodes: ${i}/${init.plain}`)
        plain.push(await startNode(init, random, PLAIN_POLICY))
      }
    } catch (err) {
      await Promise.all([...ours.slice(init.given?.length ?? 0), ...plain].map((n) => n.stop()))
      throw err
    }
    const shard = new OfferShard(init, ours, plain)
    shard.#follow()
    return shard
  }

  addresses(): ShardAddresses {
    return {
      ours: this.ours.map((n) => n.addresses()[0]!),
      plain: this.plain.map((n) => n.addresses()[0]!),
    }
  }

  /**
   * Dial, for each local node of each network, the addresses given for it; answers how many dials failed for good.
   * A few at a time, each tried up to three times: a hundred noise handshakes at once on a loaded machine outlast the
   * upgrader's time-out, and two nodes dialling each other at once over TCP may see one dial reset.
   */
  async dial(targets: { ours: string[][]; plain: string[][] }): Promise<number> {
    const jobs: Array<{ node: ConsortNode; address: string }> = []
    for (const [nodes, lists] of [
      [this.ours, targets.ours],
      [this.plain, targets.plain],
    ] as const) {
      nodes.forEach((node, i) => {
        for (const address of lists[i] ?? []) jobs.push({ node, address })
      })
    }
    const reasons = new Map<string, number>()
    let failed = 0
    let next = 0
    const worker = async () => {
      while (next < jobs.length) {
        const { node, address } = jobs[next++]!
        for (let attempt = 1; ; attempt++) {
          try {
            await node.libp2p.dial(multiaddr(address))
            break
          } catch (err) {
            if (attempt < DIAL_ATTEMPTS) continue
            failed++
            const reason = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 80)
            reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
            break
          }
        }
      }
    }
    await Promise.all(Array.from({ length: DIALS_IN_FLIGHT }, worker))
    if (failed > 0) this.#init.log?.(`${failed} dial(s) failed: ${JSON.stringify([...reasons])}`)
    return failed
  }

  /**
   * Wait until every local node has a mesh peer on its network's topic. On a loaded machine a few nodes may lose their
   * connections while the others start; such a node dials two more peers of `all` every few seconds, as a real node
   * would go back to its bootstrap list.
   */
  async meshes(all: ShardAddresses, timeoutMs = 180_000): Promise<number> {
    const pick = new SeededRandom(`${this.#init.seed}-redials`)
    const offers = topicString(this.#init.network.body.network, 'offers')
    const plain = plainTopic(this.#init.network.body.network)
    const lonely = () => [
      ...this.ours.filter((n) => pubsubOf(n).getMeshPeers(offers).length === 0).map((n) => [n, all.ours] as const),
      ...this.plain.filter((n) => pubsubOf(n).getMeshPeers(plain).length === 0).map((n) => [n, all.plain] as const),
    ]
    const deadline = performance.now() + timeoutMs
    let redials = 0
    let lastRedial = performance.now()
    for (let waiting = lonely(); waiting.length > 0; waiting = lonely()) {
      if (performance.now() > deadline) {
        throw new Error(`timed out waiting for meshes: ${waiting.length} node(s) without a mesh peer`)
      }
      if (performance.now() - lastRedial > 5_000) {
        lastRedial = performance.now()
        for (const [node, addresses] of waiting) {
          for (let i = 0; i < 2; i++) {
            const address = addresses[pick.int(addresses.length)]!
            if (address === node.addresses()[0]) continue
            redials++
            await node.libp2p.dial(multiaddr(address)).catch(() => {})
          }
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return redials
  }

  /** Hand over what arrived of a message so far (its time is up) and forget it. */
  abandon(key: string): void {
    const times = this.#pending.get(key)
    this.#pending.delete(key)
    this.#done.add(key)
    if (times != null) this.#init.onArrivals({ key, times })
  }

  /** This process's main-thread CPU so far, in ms: every node of the shard shares it. */
  cpuMs(): number {
    const used = process.threadCpuUsage()
    return (used.user + used.system) / 1000
  }

  async stop(): Promise<void> {
    const given = new Set(this.#init.given ?? [])
    await Promise.all([...this.ours.filter((n) => !given.has(n)), ...this.plain].map((n) => n.stop()))
  }

  #follow(): void {
    const network = this.#init.network.body.network
    this.ours.forEach((node, i) => {
      // The publisher follows the topic too (a mesh to publish into), without counting its own messages.
      if (i === this.#init.publishers?.ours) {
        node.topics.subscribe('offers', { onMessage: () => {} })
        return
      }
      node.topics.subscribe('offers', { onMessage: (d) => this.#arrive(`v:${d.record.id}`, this.#receivers.ours) })
      node.topics.subscribe('revocations', { onMessage: () => {} })
    })
    const topic = plainTopic(network)
    this.plain.forEach((node, i) => {
      const pubsub = pubsubOf(node)
      pubsub.subscribe(topic)
      if (i === this.#init.publishers?.plain) return
      pubsub.addEventListener('message', (event) => {
        if (event.detail.topic === topic) this.#arrive(plainKey(event.detail.data), this.#receivers.plain)
      })
    })
  }

  #arrive(key: string, receivers: number): void {
    const at = wallNow()
    if (this.#done.has(key)) return
    let times = this.#pending.get(key)
    if (times == null) {
      times = []
      this.#pending.set(key, times)
    }
    times.push(at)
    if (times.length >= receivers) this.abandon(key)
  }
}

async function startNode(
  init: ShardInit,
  random: SeededRandom,
  signaturePolicy: GossipSignaturePolicy | undefined,
): Promise<ConsortNode> {
  const { createConsortNode } = await import('../../node/consort-node.ts')
  const tcp = init.transport === 'tcp'
  const node = await createConsortNode({
    dataDir: null,
    network: init.network,
    keys: await createNodeKeys(random),
    listen: tcp ? ['/ip4/127.0.0.1/tcp/0'] : [`/memory/consort-bench-${process.pid}-shard-${++memoryAddressCounter}`],
    transports: { tcp, memory: !tcp },
    clock: init.clock,
    // The DHT in client mode: a hundred nodes refreshing routing tables stall an event loop for seconds (docs NOTES),
    // and these figures are gossip's and the topics', not the DHT's.
    dhtClientMode: true,
    ...(signaturePolicy != null ? { gossip: { signaturePolicy } } : {}),
  })
  await node.start()
  return node
}

/** A shard as the benchmark drives it: in this process (`LocalShard`) or in a child process (`RemoteShard`). */
export interface ShardHandle {
  readonly addresses: ShardAddresses
  /** Answers how many dials failed (a node left alone is re-dialled by `meshes`). */
  dial(targets: { ours: string[][]; plain: string[][] }): Promise<number>
  /** Resolves once every node of the shard has a mesh peer; answers the re-dials it took. */
  meshes(all: ShardAddresses): Promise<number>
  cpuMs(): Promise<number>
  /** Hand over what arrived of a message (its time is up); resolves after its arrivals were handed over. */
  abandon(key: string): Promise<void>
  stop(): Promise<void>
}

export class LocalShard implements ShardHandle {
  readonly shard: OfferShard
  readonly addresses: ShardAddresses

  constructor(shard: OfferShard) {
    this.shard = shard
    this.addresses = shard.addresses()
  }

  dial(targets: { ours: string[][]; plain: string[][] }) {
    return this.shard.dial(targets)
  }

  meshes(all: ShardAddresses) {
    return this.shard.meshes(all)
  }

  async cpuMs() {
    return this.shard.cpuMs()
  }

  async abandon(key: string) {
    this.shard.abandon(key)
  }

  stop() {
    return this.shard.stop()
  }
}

/** A shard in a child process (`offers-shard-process.ts`) on TCP over loopback. */
export class RemoteShard implements ShardHandle {
  readonly #child: import('node:child_process').ChildProcess
  readonly #replies = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>()
  #next = 0
  addresses: ShardAddresses = { ours: [], plain: [] }

  private constructor(child: import('node:child_process').ChildProcess, onArrivals: (a: ShardArrivals) => void) {
    this.#child = child
    child.on('message', (message: import('./offers-shard-process.ts').ShardMessage) => {
      if (message.op === 'arrivals') return onArrivals({ key: message.key, times: message.times })
      const waiting = this.#replies.get(message.id)
      this.#replies.delete(message.id)
      if (message.error != null) waiting?.reject(new Error(`shard process: ${message.error}`))
      else waiting?.resolve(message.value)
    })
    child.on('exit', (code, signal) => {
      for (const waiting of this.#replies.values()) {
        waiting.reject(new Error(`shard process exited (${code ?? signal}) before answering`))
      }
      this.#replies.clear()
    })
  }

  static async start(init: {
    network: SignedRecord<'consort/network'>
    now: number
    ours: number
    plain: number
    seed: string
    onArrivals(arrivals: ShardArrivals): void
  }): Promise<RemoteShard> {
    const { fork } = await import('node:child_process')
    const child = fork(new URL('./offers-shard-process.ts', import.meta.url), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    })
    const shard = new RemoteShard(child, init.onArrivals)
    try {
      shard.addresses = (await shard.#request({
        op: 'start',
        network: init.network.bytes,
        networkName: init.network.body.network,
        now: init.now,
        ours: init.ours,
        plain: init.plain,
        seed: init.seed,
      })) as ShardAddresses
    } catch (err) {
      child.kill()
      throw err
    }
    return shard
  }

  async dial(targets: { ours: string[][]; plain: string[][] }) {
    return (await this.#request({ op: 'dial', targets })) as number
  }

  async meshes(all: ShardAddresses) {
    return (await this.#request({ op: 'meshes', all })) as number
  }

  async cpuMs() {
    return (await this.#request({ op: 'cpu' })) as number
  }

  async abandon(key: string) {
    await this.#request({ op: 'abandon', key })
  }

  async stop() {
    if (this.#child.exitCode != null || this.#child.signalCode != null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    await this.#request({ op: 'stop' }).catch(() => this.#child.kill())
    await exited
  }

  #request(request: import('./offers-shard-process.ts').ShardRequest): Promise<unknown> {
    const id = ++this.#next
    return new Promise((resolve, reject) => {
      this.#replies.set(id, { resolve, reject })
      this.#child.send({ id, request })
    })
  }
}
