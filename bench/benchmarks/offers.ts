import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import { SeededRandom } from '../../keys/random.ts'
import type { ConsortNode } from '../../node/consort-node.ts'
import { FakeClock } from '../../protocols/clock.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { BodyInput } from '../../protocols/records/registry.ts'
import { topicString } from '../../protocols/topics/names.ts'
import type { ReferenceService } from '../../roles/reference/index.ts'
import { LatencyRecorder, RepeatedLatency } from '../lib/latency.ts'
import {
  LocalShard,
  OfferShard,
  plainKey,
  plainTopic,
  pubsubOf,
  RemoteShard,
  type ShardArrivals,
  type ShardHandle,
  wallNow,
} from '../lib/offers-shard.ts'
import { result } from '../lib/result.ts'
import { median } from '../lib/stats.ts'
import type { BenchOptions, BenchResult } from '../lib/types.ts'

export const description =
  'certifications per second; offer propagation to 100 nodes with full validation (vs plain gossipsub); contract-change revocations reaching all nodes'

/** issue 4: certifications per second. */
const CERTIFY_TARGET_PER_S = 2000
/** issue 4: offer propagation to 100 nodes, p99, with every hop validating. */
const PROPAGATION_P99_TARGET_MS = 300
/** issue 17: offer propagation's p99 at most this many times plain gossipsub's, in the same run. */
const PROPAGATION_VS_PLAIN_TARGET = 1.1
/** issue 4: a contract change's revocations reach all 100 nodes, p99. */
const REVOCATION_P99_TARGET_MS = 1000
/** Nodes of the propagation and revocation figures (issue 4); --quick uses fewer. */
const NODES = 100
const QUICK_NODES = 30
/** Dials per node when connecting the network: a random sparse graph, as peers find each other. */
const DIALS_PER_NODE = 4
/** How long one message may take to reach every node before it counts as undelivered. */
const DELIVERY_TIMEOUT_MS = 10_000
/** Idle time over which the nodes' background CPU is measured, before and after the propagation messages. */
const IDLE_SAMPLE_MS = 3_000
/** Certify requests in flight at once (a busy reference service serves many retailers). */
const CERTIFY_CONCURRENCY = 64

const NETWORK = 'benchnet'
const DAY = 24 * 3600_000
const TRACKS = ['isrc:USRC17607839', 'isrc:GBAYE0601498', 'isrc:FRZ039800212']

interface Market {
  clock: FakeClock
  network: SignedRecord<'consort/network'>
  /** The reference service, the label and the retailer, then (once a shard holds them) every node of ours here. */
  nodes: ConsortNode[]
  reference: ConsortNode
  referenceRole: ReferenceService
  label: ConsortNode
  retailer: ConsortNode
  retailerKeys: NodeKeys
  retailerCert: SignedRecord<'consort/cert'>
  labelCert: SignedRecord<'consort/cert'>
  stop(): Promise<void>
}

function contractBody(
  market: Pick<Market, 'clock' | 'label'>,
  overrides: Partial<BodyInput<'consort/contract'>> = {},
): BodyInput<'consort/contract'> {
  const now = market.clock.now()
  return {
    network: NETWORK,
    created: now,
    contractId: 'bench-deal',
    seq: 0,
    distributor: market.label.keys.signer.publicKey,
    retailer: null,
    content: TRACKS,
    commercialModel: 'pay-as-you-go',
    useTypes: ['PermanentDownload', 'OnDemandStream'],
    territories: ['Worldwide'],
    excludedTerritories: [],
    validFrom: now - DAY,
    validUntil: now + 365 * DAY,
    wholesale: [{ currency: 'EUR', amount: 70n, per: 'unit' }],
    revenueShareBps: null,
    promotions: { minPrice: [], freeWindows: [] },
    ruleBounds: { maxDevices: 5 },
    splits: [{ party: 'Bench Records', key: null, bps: 10_000 }],
    ...overrides,
  }
}

function offerBody(
  market: Pick<Market, 'clock'>,
  contract: SignedRecord<'consort/contract'>,
  offerId: string,
  territories: string[],
): BodyInput<'consort/offer'> {
  const now = market.clock.now()
  return {
    network: NETWORK,
    created: now,
    offerId,
    seq: 0,
    content: [TRACKS[0]!],
    contract: contract.id,
    price: { amount: 99n, currency: 'EUR' },
    useType: 'PermanentDownload',
    rules: { devices: 3 },
    territories,
    excludedTerritories: [],
    validFrom: now,
    validUntil: now + 30 * DAY,
    promotion: null,
  }
}

let memoryAddressCounter = 0

/**
 * One in-process node on the memory transport, certified for `certRoles`. Its DHT runs in client mode: a hundred
 * nodes refreshing their routing tables in one process stall its event loop for seconds (docs NOTES), and these
 * figures are gossip's and the roles', not the DHT's.
 */
async function startBenchNode(init: {
  network: Awaited<ReturnType<typeof import('../../test/helpers/network.ts').createTestNetwork>>
  clock: FakeClock
  keys: NodeKeys
  transport: 'memory' | 'tcp'
  roles?: Array<'reference' | 'retailer'>
  roleOptions?: Record<string, Record<string, unknown>>
  certRoles?: Array<'production' | 'retailer' | 'reference'>
}): Promise<ConsortNode> {
  const { createConsortNode } = await import('../../node/consort-node.ts')
  const node = await createConsortNode({
    dataDir: null,
    network: init.network.record,
    keys: init.keys,
    listen:
      init.transport === 'tcp'
        ? ['/ip4/127.0.0.1/tcp/0']
        : [`/memory/consort-bench-${process.pid}-${++memoryAddressCounter}`],
    transports: { tcp: init.transport === 'tcp', memory: init.transport === 'memory' },
    roles: init.roles ?? [],
    roleOptions: init.roleOptions ?? {},
    clock: init.clock,
    dhtClientMode: true,
  })
  await node.start()
  const certRoles = init.certRoles ?? init.roles ?? []
  if (certRoles.length > 0) await node.credentials.setCert(init.network.certify(init.keys, certRoles))
  return node
}

/** A reference service, a label and a retailer, on the memory transport or on TCP over loopback. */
async function startMarket(transport: 'memory' | 'tcp'): Promise<Market> {
  const { createTestNetwork } = await import('../../test/helpers/network.ts')
  const { stopAll } = await import('../../test/helpers/nodes.ts')
  const random = new SeededRandom('bench-offers')
  const clock = new FakeClock()
  const referenceKeys = await createNodeKeys(random)
  const net = await createTestNetwork(clock, { name: NETWORK, references: [referenceKeys], random })
  const nodes: ConsortNode[] = []
  const stop = () => stopAll(nodes)
  try {
    const reference = await startBenchNode({
      network: net,
      clock,
      keys: referenceKeys,
      transport,
      roles: ['reference'],
      roleOptions: { reference: { fetchUnknownContracts: false } },
    })
    nodes.push(reference)
    const label = await startBenchNode({
      network: net,
      clock,
      transport,
      keys: await createNodeKeys(random),
      certRoles: ['production'],
    })
    nodes.push(label)
    const retailerKeys = await createNodeKeys(random)
    const retailer = await startBenchNode({
      network: net,
      clock,
      transport,
      keys: retailerKeys,
      certRoles: ['retailer'],
    })
    nodes.push(retailer)
    label.topics.subscribe('contracts', { onMessage: () => {} })
    // Only the label and the reference service follow contracts: they must be neighbours for a contracts mesh.
    await label.libp2p.dial(reference.libp2p.getMultiaddrs()[0]!)
    const referenceRole = reference.role('reference')
    return {
      clock,
      network: net.record,
      nodes,
      reference,
      referenceRole,
      label,
      retailer,
      retailerKeys,
      retailerCert: retailer.credentials.cert()!,
      labelCert: label.credentials.cert()!,
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function meshPeers(node: ConsortNode, topic: string): number {
  return (node.libp2p.services as { pubsub: { getMeshPeers(t: string): string[] } }).pubsub.getMeshPeers(topic).length
}

/**
 * Wait until every node has a mesh peer on every topic. On a loaded machine a few of a hundred in-process nodes
 * may lose their connections while the others start; such a node dials two more peers every few seconds, as a
 * real node would go back to its bootstrap list.
 */
async function waitForMeshes(nodes: ConsortNode[], topics: string[], options: BenchOptions): Promise<void> {
  const pick = new SeededRandom('bench-offers-redials')
  const deadline = performance.now() + 180_000
  let redials = 0
  let lastRedial = performance.now()
  while (!topics.every((t) => meshReady(nodes, t))) {
    if (performance.now() > deadline) {
      const lonely = nodes.filter((n) => topics.some((t) => meshPeers(n, t) === 0))
      throw new Error(
        `timed out waiting for meshes on ${topics.join(', ')}: ${lonely
          .map((n) => `#${nodes.indexOf(n)} (${n.libp2p.getConnections().length} connections)`)
          .join(', ')}`,
      )
    }
    if (performance.now() - lastRedial > 5_000) {
      lastRedial = performance.now()
      for (const node of nodes.filter((n) => topics.some((t) => meshPeers(n, t) === 0))) {
        for (let i = 0; i < 2; i++) {
          const peer = nodes[pick.int(nodes.length)]!
          if (peer === node) continue
          redials++
          await node.libp2p.dial(peer.libp2p.getMultiaddrs()[0]!).catch(() => {})
        }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  if (redials > 0) options.log(`meshes on ${topics.join(', ')} ready after ${redials} re-dial(s)`)
}

function meshReady(nodes: ConsortNode[], topic: string): boolean {
  return nodes.every(
    (n) =>
      (n.libp2p.services as { pubsub: { getMeshPeers(t: string): string[] } }).pubsub.getMeshPeers(topic).length > 0,
  )
}

/** Certifications per second of a reference service, called in-process (its whole path: decode, checks, sign, store). */
async function certifyRate(market: Market, options: BenchOptions): Promise<BenchResult[]> {
  const contract = signRecord(
    'consort/contract',
    contractBody(market, { contractId: 'rate-deal' }),
    market.label.keys.signer,
  )
  market.reference.trust.learnCert(market.labelCert)
  await market.referenceRole.learnContract(contract)
  const batch = options.quick ? 400 : 2000
  const warmup = options.quick ? 200 : 1000
  const attachments = [market.retailerCert.bytes]
  let counter = 0
  const sign = (n: number) =>
    Array.from({ length: n }, () =>
      signRecord(
        'consort/offer',
        offerBody(market, contract, `rate-${++counter}`, ['DE', 'FR']),
        market.retailerKeys.signer,
      ),
    )
  const decodeOptions = { network: NETWORK, now: market.clock.now() }
  const certifyAll = async (offers: SignedRecord<'consort/offer'>[]) => {
    let next = 0
    const worker = async () => {
      while (next < offers.length) {
        const offer = offers[next++]!
        const answer = await market.referenceRole.certify({ offer: offer.bytes, attachments })
        if (answer.status !== 'certified') throw new Error(`not certified: ${JSON.stringify(answer.failures)}`)
      }
    }
    await Promise.all(Array.from({ length: CERTIFY_CONCURRENCY }, worker))
  }
  // The floor: the cryptography and codecs any certification needs (decode and verify the offer and the
  // retailer's certificate, sign the certification), with no checks and no storage.
  const floorAll = (offers: SignedRecord<'consort/offer'>[]) => {
    for (const offer of offers) {
      const o = decodeRecordAs('consort/offer', offer.bytes, decodeOptions)
      decodeRecordAs('consort/cert', attachments[0]!, decodeOptions)
      signRecord(
        'consort/certification',
        {
          network: NETWORK,
          created: decodeOptions.now,
          offer: o.id,
          offerId: o.body.offerId,
          contract: contract.id,
          contractId: contract.body.contractId,
          contractSeq: 0,
          validUntil: decodeOptions.now + DAY,
        },
        market.reference.keys.signer,
      )
    }
  }
  options.log(`certify: warm-up ${warmup}, then ${options.rounds} rounds of ${batch}`)
  await certifyAll(sign(warmup))
  floorAll(sign(warmup))
  const rates: number[] = []
  const floors: number[] = []
  for (let round = 0; round < options.rounds; round++) {
    const offers = sign(batch)
    const floorOffers = sign(batch)
    const t0 = performance.now()
    await certifyAll(offers)
    const t1 = performance.now()
    floorAll(floorOffers)
    const t2 = performance.now()
    rates.push((batch / (t1 - t0)) * 1000)
    floors.push((batch / (t2 - t1)) * 1000)
  }
  options.log(`certify rounds: ${rates.map(Math.round).join(' ')} /s; floor ${floors.map(Math.round).join(' ')} /s`)
  return [
    result({
      metric: 'certify.rate',
      value: median(rates),
      unit: 'certifications/s',
      baseline: {
        name: 'decode+verify offer and cert, sign certification (no checks, no store)',
        value: median(floors),
      },
      target: { op: '>=', value: CERTIFY_TARGET_PER_S, of: 'value' },
    }),
  ]
}

/** V8's sampling profiler on this thread, started and stopped around a phase; the profile is written to a file. */
async function startProfile() {
  const { Session } = await import('node:inspector/promises')
  const { writeFile } = await import('node:fs/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 100 })
  return {
    start: () => session.post('Profiler.start'),
    async stop(file: string) {
      const { profile } = await session.post('Profiler.stop')
      session.disconnect()
      await writeFile(file, JSON.stringify(profile))
    },
  }
}

/**
 * The same sparse random graph as the nodes' first dials, for `n` nodes: each dials the next one and random others
 * until it has `DIALS_PER_NODE` targets (seeded: the same graph every run).
 */
function dialGraph(n: number, seed: string): number[][] {
  const pick = new SeededRandom(seed)
  return Array.from({ length: n }, (_, i) => {
    const targets = new Set<number>([(i + 1) % n])
    while (targets.size < Math.min(DIALS_PER_NODE, n - 1)) {
      const t = pick.int(n)
      if (t !== i) targets.add(t)
    }
    return [...targets]
  })
}

/** Connect the shards' nodes, each network by its own graph over all shards, and wait for every mesh. */
async function connectShards(shards: ShardHandle[], options: BenchOptions): Promise<void> {
  const all = {
    ours: shards.flatMap((s) => s.addresses.ours),
    plain: shards.flatMap((s) => s.addresses.plain),
  }
  const graphs = {
    ours: dialGraph(all.ours.length, 'bench-offers-dials'),
    plain: dialGraph(all.plain.length, 'bench-offers-plain-dials'),
  }
  options.log(
    `connecting ${all.ours.length} + ${all.plain.length} nodes in ${shards.length} process(es), ${DIALS_PER_NODE} dials each`,
  )
  let firstOurs = 0
  let firstPlain = 0
  const dials: Promise<number>[] = []
  for (const shard of shards) {
    const ours = shard.addresses.ours.map((_, i) => graphs.ours[firstOurs + i]!.map((t) => all.ours[t]!))
    const plain = shard.addresses.plain.map((_, i) => graphs.plain[firstPlain + i]!.map((t) => all.plain[t]!))
    firstOurs += shard.addresses.ours.length
    firstPlain += shard.addresses.plain.length
    dials.push(shard.dial({ ours, plain }))
  }
  const failed = (await Promise.all(dials)).reduce((a, b) => a + b, 0)
  options.log(`waiting for the offers and plain meshes${failed > 0 ? ` (${failed} dial(s) failed)` : ''}`)
  const redials = await Promise.all(shards.map((s) => s.meshes(all)))
  const total = redials.reduce((a, b) => a + b, 0)
  if (total > 0) options.log(`meshes ready after ${total} re-dial(s)`)
}

/** Routes each shard's arrivals to the message they belong to. */
class ArrivalBoard {
  readonly #waiting = new Map<
    string,
    { sentAt: number; remaining: number; recorder: RepeatedLatency | null; done(): void }
  >()

  expect(key: string, receivers: number, recorder: RepeatedLatency | null): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.set(key, { sentAt: wallNow(), remaining: receivers, recorder, done: resolve })
    })
  }

  onArrivals({ key, times }: ShardArrivals): void {
    const entry = this.#waiting.get(key)
    if (entry == null) return
    for (const at of times) entry.recorder?.record(at - entry.sentAt)
    entry.remaining -= times.length
    if (entry.remaining <= 0) entry.done()
  }

  /** Forget a message; answers how many receivers it missed. */
  finish(key: string): number {
    const entry = this.#waiting.get(key)
    this.#waiting.delete(key)
    return Math.max(0, entry?.remaining ?? 0)
  }
}

/**
 * One certified offer at a time published by the retailer, timed to its delivery (after every check) at every
 * other node of ours; next to it, a message of the same size published by the plain network's twin of the retailer
 * on a topic without validators, timed to its arrival at every other plain node. `suffix` names the figures of one
 * arrangement of the nodes ('' for one process, '.4x25' for four).
 */
async function propagation(
  market: Market,
  shards: ShardHandle[],
  board: ArrivalBoard,
  plainPublisher: ConsortNode,
  suffix: string,
  options: BenchOptions,
): Promise<BenchResult[]> {
  const where = suffix === '' ? 'one process' : `${shards.length} processes`
  const contract = signRecord(
    'consort/contract',
    contractBody(market, { contractId: `propagation-deal${suffix}` }),
    market.label.keys.signer,
  )
  market.reference.trust.learnCert(market.labelCert)
  await market.referenceRole.learnContract(contract)
  const warmup = options.quick ? 5 : 20
  const messages = options.quick ? 30 : 150
  const certified: Array<{
    offer: SignedRecord<'consort/offer'>
    certification: SignedRecord<'consort/certification'>
  }> = []
  for (let i = 0; i < warmup + messages; i++) {
    const offer = signRecord(
      'consort/offer',
      offerBody(market, contract, `prop${suffix}-${i}`, ['DE']),
      market.retailerKeys.signer,
    )
    const answer = await market.referenceRole.certify({ offer: offer.bytes, attachments: [market.retailerCert.bytes] })
    if (answer.status !== 'certified') throw new Error('propagation offer not certified')
    certified.push({
      offer,
      certification: decodeRecordAs('consort/certification', answer.certification, {
        network: NETWORK,
        now: market.clock.now(),
      }),
    })
  }
  // Tail figures: the median of three repetitions' percentiles (a third of the messages each).
  const validated = new RepeatedLatency(3)
  const plain = new RepeatedLatency(3)
  const receivers = {
    ours: shards.reduce((n, s) => n + s.addresses.ours.length, 0) - 1,
    plain: shards.reduce((n, s) => n + s.addresses.plain.length, 0) - 1,
  }
  const plainTopicName = plainTopic(NETWORK)
  const pubsub = pubsubOf(plainPublisher)
  let validatedDelivered = 0
  let plainDelivered = 0
  // The main threads' CPU per message until every node has it, over every process of the run: what one message
  // costs the network, the publisher and every hop's checks included.
  const cpu = { validated: [] as number[], plain: [] as number[] }
  /** Wall time of each measured message, to take the nodes' background work out of its CPU (see `idleRate`). */
  const wall = { validated: [] as number[], plain: [] as number[] }
  const cpuNow = async () => (await Promise.all(shards.map((s) => s.cpuMs()))).reduce((a, b) => a + b, 0)
  /**
   * The nodes' CPU while no message is in flight (heartbeats, pings), in ms of CPU per ms: a message's CPU holds it in
   * proportion to its wall time, and under load a validated message, slower, collects more of it. Measured before and
   * after the messages; `cpu_per_message_net` takes the mean of both out.
   */
  const idleRate = async () => {
    const cpu0 = await cpuNow()
    const t0 = wallNow()
    await new Promise((resolve) => setTimeout(resolve, IDLE_SAMPLE_MS))
    return ((await cpuNow()) - cpu0) / (wallNow() - t0)
  }
  const idleBefore = await idleRate()
  let cpuMark = await cpuNow()
  let wallMark = wallNow()
  const send = async (
    key: string,
    expected: number,
    recorder: RepeatedLatency | null,
    publish: () => Promise<unknown>,
  ): Promise<number> => {
    let timer: NodeJS.Timeout | undefined
    const arrived = board.expect(key, expected, recorder)
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DELIVERY_TIMEOUT_MS)
    })
    await publish()
    await Promise.race([arrived, timedOut])
    clearTimeout(timer)
    // Whatever a shard still holds of this message is handed over (and counted late, as a miss, if it never came).
    await Promise.all(shards.map((s) => s.abandon(key)))
    return expected - board.finish(key)
  }
  const cpuSince = async (kind: 'validated' | 'plain', measuring: boolean) => {
    const now = await cpuNow()
    const at = wallNow()
    if (measuring) {
      cpu[kind].push(now - cpuMark)
      wall[kind].push(at - wallMark)
    }
    cpuMark = now
    wallMark = at
  }
  options.log(
    `propagation (${where}): ${warmup} warm-up, then ${messages} offers and ${messages} plain messages, alternating`,
  )
  // OFFERS_BENCH_PROFILE=FILE: a V8 CPU profile of the measured messages only (see docs/profiles/offers.md).
  const profiler = process.env.OFFERS_BENCH_PROFILE === undefined || suffix !== '' ? undefined : await startProfile()
  for (const [i, { offer, certification }] of certified.entries()) {
    const measuring = i >= warmup
    if (measuring && i > warmup && (i - warmup) % Math.ceil(messages / validated.repetitions) === 0) {
      validated.next()
      plain.next()
    }
    if (i === warmup) await profiler?.start()
    const v = await send(`v:${offer.id}`, receivers.ours, measuring ? validated : null, () =>
      market.retailer.topics.publish('offers', offer, [certification, market.retailerCert]),
    )
    await cpuSince('validated', measuring)
    // The plain message: as many bytes as the offer message, led by a unique 16-byte tag.
    const data = new Uint8Array(offer.bytes.length + certification.bytes.length + market.retailerCert.bytes.length)
    data.set(new SeededRandom(`plain${suffix}-${i}`).bytes(16))
    const p = await send(plainKey(data), receivers.plain, measuring ? plain : null, () =>
      pubsub.publish(plainTopicName, data),
    )
    await cpuSince('plain', measuring)
    if (measuring) {
      validatedDelivered += v
      plainDelivered += p
    }
  }
  if (profiler !== undefined) await profiler.stop(process.env.OFFERS_BENCH_PROFILE!)
  const idle = (idleBefore + (await idleRate())) / 2
  const net = (kind: 'validated' | 'plain') => median(cpu[kind].map((c, i) => c - idle * wall[kind][i]!))
  options.log(
    `propagation (${where}): background CPU ${idle.toFixed(3)} ms per ms of wall time; net of it, per message: validated ${net('validated').toFixed(1)} ms, plain ${net('plain').toFixed(1)} ms (medians; wall per message ${median(wall.validated).toFixed(0)} vs ${median(wall.plain).toFixed(0)} ms)`,
  )
  const expected = messages * receivers.ours
  const plainExpected = messages * receivers.plain
  options.log(
    `propagation (${where}): CPU per message until every node has it: validated ${median(cpu.validated).toFixed(1)} ms, plain ${median(cpu.plain).toFixed(1)} ms (medians)`,
  )
  options.log(
    `propagation (${where}): validated p50 ${validated.percentileMs(50)} p99 ${validated.percentileMs(99)} ms; plain p50 ${plain.percentileMs(50)} p99 ${plain.percentileMs(99)} ms (medians of ${validated.repetitions} repetitions; p99 of each: validated ${validated.each(99).join(' / ')}, plain ${plain.each(99).join(' / ')})`,
  )
  const p99 = { value: validated.percentileMs(99), unit: 'ms' }
  const plainP99 = {
    name: `plain gossipsub p99 (default signature policy, no validators; ${where})`,
    value: plain.percentileMs(99),
  }
  const metric = (name: string) => `offer.propagation${suffix}.${name}`
  const out = [
    result({
      metric: metric('p50'),
      value: validated.percentileMs(50),
      unit: 'ms',
      baseline: { name: `plain gossipsub p50 (${where})`, value: plain.percentileMs(50) },
    }),
    result({
      metric: metric('p99'),
      ...p99,
      baseline: plainP99,
      target: { op: '<=', value: PROPAGATION_P99_TARGET_MS, of: 'value' },
    }),
    // The same figure held to the plain one of the same run (issue 17): what the checks add to the tail.
    result({
      metric: metric('p99_vs_plain'),
      ...p99,
      baseline: plainP99,
      target: { op: '<=', value: PROPAGATION_VS_PLAIN_TARGET, of: 'ratio' },
    }),
    result({
      metric: metric('cpu_per_message'),
      value: median(cpu.validated),
      unit: `ms (${receivers.ours + 1} nodes, main thread${shards.length > 1 ? 's' : ''} of ${where})`,
      baseline: { name: 'plain gossipsub message of the same size', value: median(cpu.plain) },
    }),
    result({
      metric: metric('cpu_per_message_net'),
      value: net('validated'),
      unit: `ms (as cpu_per_message, less the nodes' background CPU over the message's wall time)`,
      baseline: { name: 'plain gossipsub message of the same size', value: net('plain') },
    }),
    result({
      metric: metric('delivered'),
      value: validatedDelivered / expected,
      unit: `fraction of ${expected}`,
      baseline: { name: 'plain gossipsub delivered', value: plainDelivered / plainExpected },
      target: { op: '>=', value: 1, of: 'value' },
    }),
    result({ metric: metric('nodes'), value: receivers.ours + 1, unit: `nodes (and as many plain), ${where}` }),
  ]
  validated.destroy()
  plain.destroy()
  return out
}

/**
 * Rounds of: a contract in force with offers in two territories; the label narrows it to one; the reference
 * service re-checks and revokes the other half. Timed from the label's publication of the change to the
 * revocation's arrival at every other node.
 */
async function revocationReach(market: Market, options: BenchOptions): Promise<BenchResult[]> {
  const nodes = market.nodes
  await waitForMeshes([market.label, market.reference], [topicString(NETWORK, 'contracts')], options)
  await waitForMeshes(nodes, [topicString(NETWORK, 'revocations')], options)
  const latency = new LatencyRecorder()
  const allNodes: number[] = []
  const watching = new Map<string, { t0: number; seen: Set<ConsortNode>; done: () => void }>()
  for (const node of nodes) {
    if (node === market.reference) continue
    node.topics.subscribe('revocations', {
      onMessage: (d) => {
        const record = d.record as SignedRecord<'consort/revocation'>
        for (const target of record.body.targets) {
          const round = watching.get(target.id.toString())
          if (round == null || round.seen.has(node)) continue
          round.seen.add(node)
          latency.record(performance.now() - round.t0)
          if (round.seen.size === nodes.length - 1) round.done()
          break
        }
      },
    })
  }
  const perRound = options.quick ? 10 : 20
  let delivered = 0
  for (let round = 0; round < options.rounds; round++) {
    const contractId = `revocation-deal-${round}`
    const v0 = signRecord(
      'consort/contract',
      contractBody(market, { contractId, territories: ['DE', 'FR'] }),
      market.label.keys.signer,
    )
    await market.label.topics.publish('contracts', v0, [market.labelCert])
    await waitFor(
      async () => (await market.referenceRole.store.contractByCid(v0.id)) != null,
      'contract v0 at the reference',
    )
    const doomed: string[] = []
    for (let i = 0; i < perRound; i++) {
      const territory = i % 2 === 0 ? 'DE' : 'FR'
      const offer = signRecord(
        'consort/offer',
        offerBody(market, v0, `rev-${round}-${i}`, [territory]),
        market.retailerKeys.signer,
      )
      const answer = await market.referenceRole.certify({
        offer: offer.bytes,
        attachments: [market.retailerCert.bytes],
      })
      if (answer.status !== 'certified') throw new Error('revocation offer not certified')
      if (territory === 'FR') doomed.push(offer.id.toString())
    }
    const v1 = signRecord(
      'consort/contract',
      contractBody(market, { contractId, seq: 1, territories: ['DE'] }),
      market.label.keys.signer,
    )
    const t0 = performance.now()
    const done = new Promise<void>((resolve) => {
      const entry = { t0, seen: new Set<ConsortNode>(), done: resolve }
      for (const id of doomed) watching.set(id, entry)
      setTimeout(resolve, DELIVERY_TIMEOUT_MS)
    })
    await market.label.topics.publish('contracts', v1, [market.labelCert])
    await done
    const seen = watching.get(doomed[0]!)!.seen
    delivered += seen.size
    if (seen.size < nodes.length - 1) {
      const missing = nodes.filter((n) => n !== market.reference && !seen.has(n))
      options.log(
        `round ${round}: ${missing.length} node(s) without the revocation after ${DELIVERY_TIMEOUT_MS} ms: ${missing
          .map((n) => `#${nodes.indexOf(n)} (${meshPeers(n, topicString(NETWORK, 'revocations'))} mesh peers)`)
          .join(', ')}`,
      )
    }
    if (seen.size === nodes.length - 1) allNodes.push(performance.now() - t0)
    for (const id of doomed) watching.delete(id)
  }
  options.log(`revocations: all nodes after ${allNodes.map(Math.round).join(' ')} ms`)
  const expected = options.rounds * (nodes.length - 1)
  const out = [
    result({ metric: 'revocation.reach.p50', value: latency.percentileMs(50), unit: 'ms' }),
    result({
      metric: 'revocation.reach.p99',
      value: latency.percentileMs(99),
      unit: 'ms',
      target: { op: '<=', value: REVOCATION_P99_TARGET_MS, of: 'value' },
    }),
    result({
      metric: 'revocation.all_nodes.median',
      value: allNodes.length > 0 ? median(allNodes) : Number.NaN,
      unit: 'ms',
    }),
    result({
      metric: 'revocation.delivered',
      value: delivered / expected,
      unit: `fraction of ${expected}`,
      target: { op: '>=', value: 1, of: 'value' },
    }),
  ]
  latency.destroy()
  return out
}

/** The parts of the benchmark, all by default; `OFFERS_BENCH_ONLY=one,four` runs some (exploring, profiling). */
const PARTS = ['certify', 'one', 'four'] as const
type Part = (typeof PARTS)[number]

function partsToRun(): Set<Part> {
  const only = process.env.OFFERS_BENCH_ONLY
  if (only == null || only === '') return new Set(PARTS)
  const asked = only.split(',').map((p) => p.trim())
  for (const part of asked) {
    if (!(PARTS as readonly string[]).includes(part)) {
      throw new Error(`OFFERS_BENCH_ONLY: unknown part ${part} (parts: ${PARTS.join(', ')})`)
    }
  }
  return new Set(asked as Part[])
}

/** The retailer's index among a market's nodes (reference service, label, retailer): it publishes; so does its plain twin. */
const RETAILER = 2
/** Processes of the multi-process arrangement (issue 17: 4 × 25 nodes). */
const PROCESSES = 4

/** Propagation and revocations with every node in this process, on the memory transport (issue 4's figures). */
async function oneProcess(options: BenchOptions): Promise<BenchResult[]> {
  const total = options.quick ? QUICK_NODES : NODES
  const market = await startMarket('memory')
  const board = new ArrivalBoard()
  let shard: OfferShard | undefined
  try {
    options.log(`one process: starting ${total} nodes and ${total} plain gossipsub nodes`)
    shard = await OfferShard.start({
      network: market.network,
      clock: market.clock,
      transport: 'memory',
      given: market.nodes,
      ours: total - market.nodes.length,
      plain: total,
      seed: 'bench-offers-one',
      publishers: { ours: RETAILER, plain: RETAILER },
      onArrivals: (arrivals) => board.onArrivals(arrivals),
      log: options.log,
    })
    const shards = [new LocalShard(shard)]
    await connectShards(shards, options)
    const spread = await propagation(market, shards, board, shard.plain[RETAILER]!, '', options)
    market.nodes = shard.ours
    const revocations = await revocationReach(market, options)
    return [...spread, ...revocations]
  } finally {
    await shard?.stop()
    await market.stop()
  }
}

/**
 * Propagation across four OS processes of a quarter of the nodes each (this one and three children), on TCP over
 * loopback: each process has its own event loop, as separate machines would, so what remains over plain gossipsub is
 * our checks', not one thread queueing a hundred nodes' work.
 */
async function fourProcesses(options: BenchOptions): Promise<BenchResult[]> {
  const total = options.quick ? QUICK_NODES : NODES
  const per = Math.ceil(total / PROCESSES)
  const market = await startMarket('tcp')
  const board = new ArrivalBoard()
  const shards: ShardHandle[] = []
  try {
    options.log(`${PROCESSES} processes: starting ${per} + ${per} nodes in each, on TCP over loopback`)
    const local = await OfferShard.start({
      network: market.network,
      clock: market.clock,
      transport: 'tcp',
      given: market.nodes,
      ours: per - market.nodes.length,
      plain: per,
      seed: 'bench-offers-four-0',
      publishers: { ours: RETAILER, plain: RETAILER },
      onArrivals: (arrivals) => board.onArrivals(arrivals),
      log: options.log,
    })
    shards.push(new LocalShard(local))
    const started = await Promise.allSettled(
      Array.from({ length: PROCESSES - 1 }, (_, i) =>
        RemoteShard.start({
          network: market.network,
          now: market.clock.now(),
          ours: per,
          plain: per,
          seed: `bench-offers-four-${i + 1}`,
          onArrivals: (arrivals) => board.onArrivals(arrivals),
        }),
      ),
    )
    for (const s of started) if (s.status === 'fulfilled') shards.push(s.value)
    const failed = started.find((s) => s.status === 'rejected')
    if (failed != null) throw (failed as PromiseRejectedResult).reason
    await connectShards(shards, options)
    return await propagation(market, shards, board, local.plain[RETAILER]!, `.${PROCESSES}x${per}`, options)
  } finally {
    await Promise.all(shards.map((s) => s.stop()))
    await market.stop()
  }
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const parts = partsToRun()
  const out: BenchResult[] = []
  if (parts.has('certify')) {
    // The certification rate on a market of its own: its long synchronous stretches would stall the streams of a
    // hundred nodes still setting up.
    options.log('certify: a reference service, a label and a retailer')
    const small = await startMarket('memory')
    try {
      out.push(...(await certifyRate(small, options)))
    } finally {
      await small.stop()
    }
  }
  if (parts.has('one')) out.push(...(await oneProcess(options)))
  if (parts.has('four')) out.push(...(await fourProcesses(options)))
  return out
}
