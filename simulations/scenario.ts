import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ParseError, parse as parseJsonc, printParseErrorCode } from 'jsonc-parser'
import { z } from 'zod'
import { ROLE_NAMES } from '../protocols/records/types/common.ts'
import { TOPIC_NAMES } from '../protocols/topics/names.ts'
import { ScenarioError, ScenarioNotFoundError } from './errors.ts'
import { distributionSchema } from './fabric/distributions.ts'
import { deliverySpec, marketExtensionIssues, sharingSpec } from './workloads/market-spec.ts'

/**
 * A scenario is a JSON file (data, not code: anyone can write one, and a run records exactly what it ran). Every
 * field is checked and an unknown one is refused, so a typo never silently falls back to a default. Times are
 * milliseconds of the run from the moment the workload starts; rates are per second of the run.
 */

/**
 * Honest nodes one scenario may have: one process holds them all, about 10 MB each with every role (24 GB on this
 * machine). In virtual time a busy machine makes a run slower, never wrong, so the bound is memory, not CPU.
 */
export const MAX_NODES = 5000
/** A run longer than an hour is a soak test, not a simulation. */
export const MAX_DURATION_MS = 3_600_000
/** Scheduled events (publishes, purchases, faults) one run may plan: the plan is kept in memory and in metrics.json. */
export const MAX_PLANNED_EVENTS = 200_000
/** A scenario file larger than this is not a scenario. */
export const MAX_SCENARIO_BYTES = 256 * 1024

const name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9-]*$/, 'lower-case letters, digits and hyphens, starting with a letter')
const ms = z.number().int().min(0).max(MAX_DURATION_MS)
const rate = z.number().min(0).max(10_000)
const fraction = z.number().min(0).max(1)
const range = z
  .object({ min: ms, max: ms })
  .strict()
  .refine((r) => r.min <= r.max, { path: ['max'], message: 'must not be below min' })
const mbps = z.number().positive().max(100_000).nullable()

/** A group's own link settings, each replacing the scenario's `links` for its nodes (see `links`). */
const groupLinks = z
  .object({
    /** One-way latency of each node's access link, drawn once per node; added to every path through it. */
    accessLatencyMs: distributionSchema.optional(),
    jitterMs: distributionSchema.nullable().optional(),
    lossRate: z.number().min(0).max(0.5).optional(),
    uplinkMbps: mbps.optional(),
    downlinkMbps: mbps.optional(),
  })
  .strict()

const group = z
  .object({
    name,
    count: z.number().int().min(1).max(MAX_NODES),
    roles: z.array(z.enum(ROLE_NAMES)).max(ROLE_NAMES.length).default([]),
    /** Run the DHT as a server (routing for others). Large runs make most nodes clients to save CPU. */
    dhtServer: z.boolean().default(true),
    /** Keep this group's state on disk (under the run's directory) so that a kill and restart keeps it. */
    persistent: z.boolean().default(false),
    /** This group's link settings (`accessLatencyMs`, `jitterMs`, `lossRate`, `uplinkMbps`, `downlinkMbps`). */
    links: groupLinks.optional(),
    /** Shorthands for `links.uplinkMbps` / `links.downlinkMbps`. */
    uplinkMbps: mbps.optional(),
    downlinkMbps: mbps.optional(),
    /** How much slower than the reference hardware this group's nodes are, for the CPU cost model (`cpu`). */
    cpuFactor: z.number().positive().max(100).default(1),
    /**
     * This group's connection limit, instead of `libp2p.maxConnections`: services every node dials (the bootstrap
     * groups) need room for all of them, or libp2p prunes and the nodes dial again, and again.
     */
    maxConnections: z.number().int().min(4).max(10_000).optional(),
  })
  .strict()

const topology = z.discriminatedUnion('kind', [
  /** Every node dials `degree` distinct random peers (so the mean degree is about twice that). */
  z.object({ kind: z.literal('random'), degree: z.number().int().min(1).max(64) }).strict(),
  /** A ring, plus `chords` random extra dials per node. */
  z.object({ kind: z.literal('ring'), chords: z.number().int().min(0).max(64).default(0) }).strict(),
  /** Watts–Strogatz: a ring lattice of `neighbours` (even) per node, each edge rewired with probability `rewire`. */
  z
    .object({
      kind: z.literal('small-world'),
      neighbours: z
        .number()
        .int()
        .min(2)
        .max(64)
        .refine((n) => n % 2 === 0, 'must be even'),
      rewire: fraction,
    })
    .strict(),
])

/** The link model (`simulations/fabric/fabric.ts` has the equations; `docs/simulations.md` explains them). */
const links = z
  .object({
    /** Core one-way latency between two nodes, drawn once per pair (a number, `{min, max}`, or a distribution). */
    latencyMs: distributionSchema.default(0),
    /** Extra delay of each chunk, drawn per chunk (a connection still never reorders). */
    jitterMs: distributionSchema.nullable().default(null),
    /** Probability that a packet (1460 bytes) is lost; a chunk with a lost packet is retransmitted after an RTO. */
    lossRate: z.number().min(0).max(0.5).default(0),
    /** Each node's upload and download capacity; null means unshaped. */
    uplinkMbps: mbps.default(null),
    downlinkMbps: mbps.default(null),
    /** Bytes a connection holds before they are on the wire; beyond it the sender waits (back-pressure). */
    sendBufferKiB: z.number().int().min(4).max(65_536).default(256),
    /** TCP's minimum retransmission time-out. */
    minRtoMs: z.number().int().min(1).max(10_000).default(200),
  })
  .strict()

/**
 * The CPU cost model: every chunk a node receives occupies its CPU for `perChunkUs + perKiBUs × KiB` µs (times its
 * group's `cpuFactor`), and chunks wait for the CPU in order. Off (null) by default: CPU work then takes no
 * simulated time. Coarse by design: it charges for receiving (decrypting, parsing, verifying), not for sending.
 */
const cpu = z
  .object({
    perChunkUs: z.number().min(0).max(1_000_000),
    perKiBUs: z.number().min(0).max(1_000_000),
  })
  .strict()
  .nullable()

const libp2p = z
  .object({
    /** gossipsub's D; smaller meshes cost less CPU in large runs. */
    meshDegree: z.number().int().min(2).max(32).optional(),
    heartbeatIntervalMs: z.number().int().min(100).max(60_000).optional(),
    maxConnections: z.number().int().min(4).max(10_000).optional(),
    /**
     * How often libp2p's connection monitor pings each connection from each end (libp2p's default: 10 s). In an idle
     * network the pings are nearly all of a node's CPU (100 nodes, 2,082 connections: 28 s of CPU per 30 simulated
     * seconds with them, 5 s without); a large run may ping less often (decision 0812).
     */
    pingIntervalMs: z.number().int().min(1_000).max(3_600_000).optional(),
  })
  .strict()

const start = z
  .object({
    /** Nodes started together; then the runner waits `pauseMs` (spreads the DHT's start-up work). */
    batchSize: z.number().int().min(1).max(MAX_NODES).default(20),
    pauseMs: ms.default(50),
    /**
     * Overlay dials the runner has in flight at once while starting. Each batch waits for its dials, and every node
     * already up runs its timers meanwhile: at a thousand nodes a batch's simulated time is what start-up costs.
     */
    dialConcurrency: z.number().int().min(1).max(1024).default(16),
    /** Longest wait for every node to see a gossip peer on the measured topics. */
    meshTimeoutMs: ms.default(60_000),
    /** Quiet time after the mesh formed, before the workload starts (lets the DHT settle). */
    settleMs: ms.default(1000),
  })
  .strict()

const gossipWorkload = z
  .object({
    topic: z.enum(['offers', 'catalog']),
    /** Which group publishes (each message from a random node of it). */
    publishers: name,
    ratePerSec: rate,
    /** Bytes of padding text in each record (message size). */
    padBytes: z
      .number()
      .int()
      .min(0)
      .max(64 * 1024)
      .default(0),
  })
  .strict()

const market = z
  .object({
    /** Releases the production nodes ingest at the start, each with its tracks. */
    releases: z.number().int().min(1).max(1000),
    tracksPerRelease: z.number().int().min(1).max(50).default(2),
    /** Audio bytes per track (synthetic WAV), and the segment size. */
    trackBytes: z
      .number()
      .int()
      .min(16 * 1024)
      .max(64 * 1024 * 1024)
      .default(512 * 1024),
    segmentBytes: z
      .number()
      .int()
      .min(16 * 1024)
      .max(1024 * 1024)
      .default(64 * 1024),
    /** Every retailer offers every release at a price drawn from this range (minor units, EUR). */
    priceMinor: z
      .object({ min: z.number().int().min(0), max: z.number().int().min(0) })
      .strict()
      .default({ min: 99, max: 199 }),
    /** Track fetches per second over the whole network, each by a random listener of a random track. */
    fetchesPerSec: rate.default(0),
    /** Purchases per second over the whole network (needs the player and clearinghouse roles in the simulator). */
    purchasesPerSec: rate.default(0),
    /** Plays of each purchased track. */
    playsPerPurchase: z
      .object({ min: z.number().int().min(0).max(100), max: z.number().int().min(0).max(100) })
      .strict()
      .default({ min: 1, max: 2 }),
    /** Seconds of each play (the licence's rules count them). */
    playSeconds: z.number().int().min(1).max(3600).default(30),
    /** Paid delivery (`workloads/market-spec.ts`); absent: contracts pay no delivery. */
    delivery: deliverySpec.optional(),
    /** Sharing among the players, with referral credits (`workloads/market-spec.ts`); absent: no one shares. */
    sharing: sharingSpec.optional(),
  })
  .strict()

const workload = z
  .object({
    gossip: z.array(gossipWorkload).max(8).default([]),
    market: market.optional(),
  })
  .strict()

const churn = z
  .object({
    kind: z.literal('churn'),
    /** Groups whose nodes may leave (default: every group without a service role). */
    groups: z.array(name).min(1).optional(),
    /** Share of those nodes that leave once during the run. */
    fraction,
    /** When each leaving node goes, and how long it stays away (it comes back with its keys, its memory wiped). */
    leaveAtMs: range,
    downMs: range,
  })
  .strict()

const partition = z
  .object({
    kind: z.literal('partition'),
    atMs: ms,
    healAtMs: ms.nullable(),
    /**
     * Who is cut off into the minority side: a share of all nodes (chosen by the seed), whole groups, or single
     * nodes by name (`retailer-0`: a group's name and the node's index in it). Give exactly one.
     */
    minority: fraction.optional(),
    minorityGroups: z.array(name).min(1).optional(),
    minorityNodes: z
      .array(z.string().regex(/^[a-z][a-z0-9-]*-\d+$/, 'a node name: its group and its index, as retailer-0'))
      .min(1)
      .optional(),
    /**
     * `blackhole` (default): packets across the cut vanish (dials hang, open connections go silent until libp2p's
     * ping monitor closes them; what was in flight is retransmitted after the heal); `reset`: a middlebox resets
     * every connection across the cut at once and refuses new dials.
     */
    mode: z.enum(['blackhole', 'reset']).default('blackhole'),
  })
  .strict()
  .refine((p) => [p.minority, p.minorityGroups, p.minorityNodes].filter((x) => x != null).length === 1, {
    path: ['minority'],
    message: 'give exactly one of minority, minorityGroups or minorityNodes',
  })
  .refine((p) => p.healAtMs == null || p.healAtMs > p.atMs, { path: ['healAtMs'], message: 'must come after atMs' })

const kill = z
  .object({
    kind: z.literal('kill'),
    group: name,
    /** Which node of the group (default the first). */
    index: z.number().int().min(0).default(0),
    atMs: ms,
    /** When it starts again with the same keys (and its disk state if the group is persistent); null: never. */
    restartAtMs: ms.nullable(),
  })
  .strict()
  .refine((k) => k.restartAtMs == null || k.restartAtMs > k.atMs, {
    path: ['restartAtMs'],
    message: 'must come after atMs',
  })

const fault = z.discriminatedUnion('kind', [churn, partition, kill])

const JUNK_KINDS = ['garbage', 'forged-signature', 'uncertified-signer', 'wrong-network', 'oversized'] as const

const adversary = z.discriminatedUnion('kind', [
  /** `perHonest` Sybil identities per honest node, each a real node with a player certificate, publishing junk. */
  z
    .object({
      kind: z.literal('sybil-spam'),
      perHonest: z.number().min(0).max(10),
      ratePerSec: rate,
      topics: z.array(z.enum(TOPIC_NAMES)).min(1).default(['offers', 'catalog']),
      /**
       * Whether the Sybils also follow the topics (and so sit in honest meshes and relay honest messages). Without
       * it they only push junk at the honest nodes they connect to, which costs the simulator far less CPU.
       */
      relay: z.boolean().default(false),
      /** `oversized` is not in the default mix: megabyte messages measure the link shaper, not the validators. */
      junk: z
        .array(z.enum(JUNK_KINDS))
        .min(1)
        .default(['garbage', 'forged-signature', 'uncertified-signer', 'wrong-network']),
    })
    .strict(),
  /** Nodes that publish offers with a forged certification (signed by a key that is no reference service). */
  z.object({ kind: z.literal('forged-offers'), nodes: z.number().int().min(1).max(100), ratePerSec: rate }).strict(),
  /** A certified retailer that publishes offers above the contract's price, with a certification of another offer. */
  z
    .object({ kind: z.literal('overpriced-offers'), nodes: z.number().int().min(1).max(100), ratePerSec: rate })
    .strict(),
  /** Nodes that capture usage reports off the usage topic and replay them, to the topic and to the clearinghouses. */
  z
    .object({
      kind: z.literal('replay-usage'),
      nodes: z.number().int().min(1).max(100),
      replays: z.number().int().min(1).max(10_000),
    })
    .strict(),
  /**
   * Buyers that attack the money paths (issue 11), each at the drain after the honest market: void racers (authorise,
   * void, then buy and ask for the licence at once), play inflaters (a correctly signed report of more plays than the
   * licence allows, some back-dated), store wipers (the real player: play, wipe the store, fetch the licence again)
   * and territory liars (orders for a territory the registrar did not attest).
   */
  z
    .object({
      kind: z.literal('hostile-buyers'),
      voidRacers: z.number().int().min(0).max(20).default(1),
      races: z.number().int().min(1).max(100).default(3),
      playInflaters: z.number().int().min(0).max(20).default(1),
      storeWipers: z.number().int().min(0).max(20).default(1),
      territoryLiars: z.number().int().min(0).max(20).default(1),
      lies: z.number().int().min(1).max(100).default(3),
    })
    .strict(),
  /** Delivery nodes that seed the releases and serve every block corrupted (the segments server's fault injection). */
  z.object({ kind: z.literal('corrupt-seeders'), nodes: z.number().int().min(1).max(100) }).strict(),
  /** Nodes that connect to one player and try to be all of its peers, forwarding nothing. */
  z
    .object({
      kind: z.literal('eclipse'),
      targetGroup: name,
      attackers: z.number().int().min(1).max(500),
    })
    .strict(),
])

/** What a run writes besides its metrics. */
const output = z
  .object({
    /** How often `nodes.csv` has a row per node (its connections, mesh peers, bytes): more rows, more detail. */
    nodeIntervalMs: z.number().int().min(100).max(600_000).default(1000),
  })
  .strict()

/** What a run must show; any miss fails it (and `consort sim` exits 1). */
const expect = z
  .object({
    /**
     * Share of (message, honest node) pairs delivered, over the honest publishes: every honest node up and
     * following the topic at publish time counts, reachable from the publisher or not.
     */
    gossipReliabilityMin: fraction.default(1),
    /** The same over the pairs the publisher could reach at publish time (not cut off by a partition); null: none. */
    gossipReachableReliabilityMin: fraction.nullable().default(null),
    /** Largest p99 propagation latency. */
    gossipLatencyP99MaxMs: ms.nullable().default(null),
    /** Share of the records nodes missed while cut off or down that reach them after they came back (`catchUp`). */
    catchUpMin: fraction.nullable().default(null),
    /**
     * Catch-up: the p99, per record type, of the delay from a node's return (the heal, its restart or rejoin) to its
     * holding each record it missed while away. Null: measured and reported, not checked.
     */
    catchUpP99MaxMs: ms.nullable().default(null),
    /** Every fetch completes and verifies. */
    fetchesComplete: z.boolean().default(true),
    /** The settlement invariants (every licensed play settled once, nothing for forged/replayed/unlicensed). */
    settlementExact: z.boolean().default(true),
    /** The ledgers' audits pass (debits equal credits, replay matches balances). */
    ledgersBalance: z.boolean().default(true),
    /** No adversarial record is accepted by any honest node. */
    noJunkAccepted: z.boolean().default(true),
  })
  .strict()

export const scenarioSchema = z
  .object({
    version: z.literal(1),
    name,
    description: z.string().max(2000).default(''),
    /** The seed used when the command line gives none. */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(1),
    /** How long the workload and the faults run. */
    durationMs: ms,
    /** After the last event: how long to wait for gossip, fetches and reports to settle. */
    drainMs: ms.default(5000),
    groups: z.array(group).min(1).max(64),
    topology,
    /**
     * Groups every node dials at start besides its overlay links, as the network record's bootstrap list (the
     * anchors): topics few nodes follow (contracts) then still reach their followers.
     */
    bootstrapGroups: z.array(name).max(16).default([]),
    /** Random nodes each adversary (but an eclipse attacker) dials when it joins. */
    adversaryDegree: z.number().int().min(1).max(64).default(4),
    links: links.default({
      latencyMs: 0,
      jitterMs: null,
      lossRate: 0,
      uplinkMbps: null,
      downlinkMbps: null,
      sendBufferKiB: 256,
      minRtoMs: 200,
    }),
    cpu: cpu.default(null),
    libp2p: libp2p.default({}),
    start: start.default({ batchSize: 20, pauseMs: 50, dialConcurrency: 16, meshTimeoutMs: 60_000, settleMs: 1000 }),
    /** Topics every honest node follows, so that gossip reach can be measured on them. */
    measureTopics: z.array(z.enum(TOPIC_NAMES)).min(1).default(['offers', 'catalog']),
    workload: workload.default({ gossip: [] }),
    faults: z.array(fault).max(64).default([]),
    output: output.default({ nodeIntervalMs: 1000 }),
    adversaries: z.array(adversary).max(16).default([]),
    expect: expect.default({
      gossipReliabilityMin: 1,
      gossipReachableReliabilityMin: null,
      gossipLatencyP99MaxMs: null,
      catchUpMin: null,
      catchUpP99MaxMs: null,
      fetchesComplete: true,
      settlementExact: true,
      ledgersBalance: true,
      noJunkAccepted: true,
    }),
  })
  .strict()
  .superRefine((s, ctx) => {
    const names = s.groups.map((g) => g.name)
    const seen = new Set<string>()
    for (const [i, n] of names.entries()) {
      if (seen.has(n))
        ctx.addIssue({ code: 'custom', path: ['groups', i, 'name'], message: `group ${n} is named twice` })
      seen.add(n)
    }
    const total = s.groups.reduce((sum, g) => sum + g.count, 0)
    if (total > MAX_NODES)
      ctx.addIssue({ code: 'custom', path: ['groups'], message: `${total} nodes exceed the limit of ${MAX_NODES}` })
    const known = (path: (string | number)[], group: string) => {
      if (!seen.has(group)) ctx.addIssue({ code: 'custom', path, message: `no group named ${group}` })
    }
    for (const [i, g] of s.workload.gossip.entries()) known(['workload', 'gossip', i, 'publishers'], g.publishers)
    for (const [i, g] of s.bootstrapGroups.entries()) known(['bootstrapGroups', i], g)
    for (const [i, f] of s.faults.entries()) {
      if (f.kind === 'churn') for (const [j, g] of (f.groups ?? []).entries()) known(['faults', i, 'groups', j], g)
      if (f.kind === 'partition') {
        for (const [j, g] of (f.minorityGroups ?? []).entries()) known(['faults', i, 'minorityGroups', j], g)
        for (const [j, node] of (f.minorityNodes ?? []).entries()) {
          const [, groupName, index] = /^(.*)-(\d+)$/.exec(node) ?? []
          const g = s.groups.find((x) => x.name === groupName)
          if (g == null || Number(index) >= g.count)
            ctx.addIssue({
              code: 'custom',
              path: ['faults', i, 'minorityNodes', j],
              message: `no node named ${node} (nodes are named by group and index from 0: ${s.groups[0]?.name ?? 'group'}-0)`,
            })
        }
      }
      if (f.kind === 'kill') {
        known(['faults', i, 'group'], f.group)
        const g = s.groups.find((x) => x.name === f.group)
        if (g != null && f.index >= g.count)
          ctx.addIssue({
            code: 'custom',
            path: ['faults', i, 'index'],
            message: `group ${g.name} has ${g.count} node(s)`,
          })
      }
    }
    for (const [i, a] of s.adversaries.entries())
      if (a.kind === 'eclipse') known(['adversaries', i, 'targetGroup'], a.targetGroup)
    // Times after the end of the run would stretch it silently: refuse them.
    const late = (path: (string | number)[], t: number | null | undefined, what: string) => {
      if (t != null && t > s.durationMs)
        ctx.addIssue({
          code: 'custom',
          path,
          message: `${what} at ${t} ms comes after the end of the workload (durationMs ${s.durationMs}): make the run longer or the fault earlier`,
        })
    }
    const honestCount = total
    for (const [i, f] of s.faults.entries()) {
      if (f.kind === 'partition') {
        late(['faults', i, 'atMs'], f.atMs, 'the partition')
        late(['faults', i, 'healAtMs'], f.healAtMs, 'the heal')
        if (f.minority != null && Math.round(f.minority * honestCount) === 0)
          ctx.addIssue({
            code: 'custom',
            path: ['faults', i, 'minority'],
            message: `a share of ${f.minority} of ${honestCount} node(s) rounds to no node: cut off at least one (or name it in minorityNodes)`,
          })
      }
      if (f.kind === 'kill') {
        late(['faults', i, 'atMs'], f.atMs, 'the kill')
        late(['faults', i, 'restartAtMs'], f.restartAtMs, 'the restart')
      }
      if (f.kind === 'churn') {
        late(['faults', i, 'leaveAtMs', 'max'], f.leaveAtMs.max, 'a departure')
        if (f.fraction === 0)
          ctx.addIssue({ code: 'custom', path: ['faults', i, 'fraction'], message: 'a churn of 0 moves no node' })
      }
    }
    for (const [i, a] of s.adversaries.entries()) {
      if (a.kind === 'sybil-spam' && Math.round(a.perHonest * honestCount) === 0)
        ctx.addIssue({
          code: 'custom',
          path: ['adversaries', i, 'perHonest'],
          message: `${a.perHonest} Sybil(s) per honest node × ${honestCount} honest node(s) rounds to no attacker: raise it to at least ${(0.5 / honestCount).toPrecision(2)}`,
        })
    }
    const market = s.workload.market
    if (market != null) {
      if (market.priceMinor.min > market.priceMinor.max)
        ctx.addIssue({
          code: 'custom',
          path: ['workload', 'market', 'priceMinor', 'max'],
          message: 'must not be below min',
        })
      if (market.playsPerPurchase.min > market.playsPerPurchase.max)
        ctx.addIssue({
          code: 'custom',
          path: ['workload', 'market', 'playsPerPurchase', 'max'],
          message: 'must not be below min',
        })
      const players = s.groups.filter((g) => g.roles.includes('player')).reduce((n, g) => n + g.count, 0)
      for (const issue of marketExtensionIssues(market, players))
        ctx.addIssue({ code: 'custom', path: ['workload', 'market', ...issue.path], message: issue.message })
    }
  })

export type Scenario = z.infer<typeof scenarioSchema>
export type GroupSpec = Scenario['groups'][number]
export type FaultSpec = Scenario['faults'][number]
export type AdversarySpec = Scenario['adversaries'][number]
export type JunkKind = (typeof JUNK_KINDS)[number]
export type MarketSpec = NonNullable<Scenario['workload']['market']>

/** Check a parsed JSON value; the error names the first wrong field (`groups.2.count`). */
export function parseScenario(value: unknown, source = 'scenario'): Scenario {
  const result = scenarioSchema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const field = [source, ...issue.path.map(String)].join('.')
    const message = issue.code === 'unrecognized_keys' ? `unknown setting(s) ${issue.keys.join(', ')}` : issue.message
    throw new ScenarioError(field, message)
  }
  return result.data
}

/**
 * What in a valid scenario is probably not what its author meant: printed as warnings before the run (the run goes
 * ahead). Mistakes that cannot be meant are refused by the schema instead.
 */
export function scenarioWarnings(s: Scenario): string[] {
  const warnings: string[] = []
  const cuts = s.faults.some((f) => f.kind !== 'churn' || f.fraction > 0)
  if (cuts && s.expect.gossipReliabilityMin === 1)
    warnings.push(
      'faults cut nodes off or take them down, and every honest node up at publish time counts in gossip reliability (reachable or not): expect.gossipReliabilityMin 1 may fail; set what you expect, or expect.gossipReachableReliabilityMin',
    )
  for (const [i, f] of s.faults.entries()) {
    if (f.kind === 'partition' && f.healAtMs == null) warnings.push(`faults.${i}: the partition never heals`)
    if (f.kind === 'kill' && f.restartAtMs == null) warnings.push(`faults.${i}: ${f.group}-${f.index} never restarts`)
    if (f.kind === 'churn')
      for (const name of f.groups ?? []) {
        const g = s.groups.find((x) => x.name === name)
        if (g?.roles.some((r) => ['registration', 'reference', 'clearinghouse'].includes(r)))
          warnings.push(`faults.${i}: churn takes nodes of ${name} down, which run network services`)
      }
  }
  const market = s.workload.market
  if (market != null && market.fetchesPerSec === 0 && market.purchasesPerSec === 0)
    warnings.push('workload.market: no fetches and no purchases: the market only sets up')
  if (s.workload.gossip.length === 0 && market == null)
    warnings.push('no workload: nothing is published, fetched or bought')
  return warnings
}

/** Scenario files: JSON, or JSON with comments. */
export const SCENARIO_EXTENSIONS = ['.json', '.jsonc'] as const

/** The shipped scenarios' file names. */
export function shippedScenarioFiles(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => SCENARIO_EXTENSIONS.some((e) => f.endsWith(e)))
    .sort()
}

/** Where the shipped scenarios live. */
export const SCENARIO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'scenarios')

/** A shipped scenario's name (`market-small`) or a path to a JSON file. */
export function resolveScenarioPath(nameOrPath: string): string {
  if (/^[a-z][a-z0-9-]*$/.test(nameOrPath)) {
    for (const extension of SCENARIO_EXTENSIONS) {
      const shipped = join(SCENARIO_DIR, `${nameOrPath}${extension}`)
      if (existsSync(shipped)) return shipped
    }
  }
  const path = resolve(nameOrPath)
  if (existsSync(path)) return path
  throw new ScenarioNotFoundError(`no scenario ${nameOrPath} (neither a file nor one of ${SCENARIO_DIR})`)
}

export function loadScenario(nameOrPath: string): { scenario: Scenario; path: string } {
  const path = resolveScenarioPath(nameOrPath)
  const text = readFileSync(path, 'utf8')
  if (text.length > MAX_SCENARIO_BYTES) throw new ScenarioError(path, `larger than ${MAX_SCENARIO_BYTES} bytes`)
  return { scenario: parseScenario(parseJsoncText(text, path), path), path }
}

/**
 * JSON with comments (`//`, `/* *\/`) and trailing commas, as editors call JSONC: what a person writes by hand. A
 * syntax error names its line and column.
 */
export function parseJsoncText(text: string, source: string): unknown {
  const errors: ParseError[] = []
  const value = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false })
  const first = errors[0]
  if (first != null) {
    const before = text.slice(0, first.offset)
    const line = before.split('\n').length
    const column = first.offset - before.lastIndexOf('\n')
    throw new ScenarioError(
      source,
      `not JSON (JSONC): line ${line}, column ${column}: ${printParseErrorCode(first.error)}${errors.length > 1 ? ` (and ${errors.length - 1} more error(s))` : ''}`,
    )
  }
  return value
}
