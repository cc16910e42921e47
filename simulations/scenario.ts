import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { ROLE_NAMES } from '../protocols/records/types/common.ts'
import { TOPIC_NAMES } from '../protocols/topics/names.ts'
import { ScenarioError, ScenarioNotFoundError } from './errors.ts'

/**
 * A scenario is a JSON file (data, not code: anyone can write one, and a run records exactly what it ran). Every
 * field is checked and an unknown one is refused, so a typo never silently falls back to a default. Times are
 * milliseconds of the run from the moment the workload starts; rates are per second of the run.
 */

/** One process on this 2-core machine holds a few hundred nodes; beyond that a run measures the machine, not the network. */
export const MAX_NODES = 1000
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

const group = z
  .object({
    name,
    count: z.number().int().min(1).max(MAX_NODES),
    roles: z.array(z.enum(ROLE_NAMES)).max(ROLE_NAMES.length).default([]),
    /** Run the DHT as a server (routing for others). Large runs make most nodes clients to save CPU. */
    dhtServer: z.boolean().default(true),
    /** Keep this group's state on disk (under the run's directory) so that a kill and restart keeps it. */
    persistent: z.boolean().default(false),
    /** Per-node link settings for this group, instead of `links`. */
    uplinkMbps: mbps.optional(),
    downlinkMbps: mbps.optional(),
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

const links = z
  .object({
    /** One-way latency of each link, drawn once per link from this range. */
    latencyMs: range.default({ min: 0, max: 0 }),
    /** Each node's upload and download capacity; null means unshaped. */
    uplinkMbps: mbps.default(null),
    downlinkMbps: mbps.default(null),
  })
  .strict()

const libp2p = z
  .object({
    /** gossipsub's D; smaller meshes cost less CPU in large runs. */
    meshDegree: z.number().int().min(2).max(32).optional(),
    heartbeatIntervalMs: z.number().int().min(100).max(60_000).optional(),
    maxConnections: z.number().int().min(4).max(1000).optional(),
  })
  .strict()

const start = z
  .object({
    /** Nodes started together; then the runner waits `pauseMs` (spreads the DHT's start-up work). */
    batchSize: z.number().int().min(1).max(MAX_NODES).default(20),
    pauseMs: ms.default(50),
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
    /** Share of nodes cut off into the minority side (chosen by the seed); or name the groups on that side. */
    minority: fraction.optional(),
    minorityGroups: z.array(name).min(1).optional(),
  })
  .strict()
  .refine((p) => (p.minority == null) !== (p.minorityGroups == null), {
    path: ['minority'],
    message: 'give exactly one of minority or minorityGroups',
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

/** What a run must show; any miss fails it (and `consort sim` exits 1). */
const expect = z
  .object({
    /** Share of (message, honest subscriber) pairs delivered, over the honest publishes. */
    gossipReliabilityMin: fraction.default(1),
    /** Largest p99 propagation latency. */
    gossipLatencyP99MaxMs: ms.nullable().default(null),
    /** Share of the (message, node) pairs a partition cut off at publish that reach the node after the heal. */
    catchUpMin: fraction.nullable().default(null),
    /** Largest p99 of the time from the heal to those arrivals (virtual time: deterministic). */
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
    links: links.default({ latencyMs: { min: 0, max: 0 }, uplinkMbps: null, downlinkMbps: null }),
    libp2p: libp2p.default({}),
    start: start.default({ batchSize: 20, pauseMs: 50, meshTimeoutMs: 60_000, settleMs: 1000 }),
    /** Topics every honest node follows, so that gossip reach can be measured on them. */
    measureTopics: z.array(z.enum(TOPIC_NAMES)).min(1).default(['offers', 'catalog']),
    workload: workload.default({ gossip: [] }),
    faults: z.array(fault).max(64).default([]),
    adversaries: z.array(adversary).max(16).default([]),
    expect: expect.default({
      gossipReliabilityMin: 1,
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
      if (f.kind === 'partition')
        for (const [j, g] of (f.minorityGroups ?? []).entries()) known(['faults', i, 'minorityGroups', j], g)
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

/** Where the shipped scenarios live. */
export const SCENARIO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'scenarios')

/** A shipped scenario's name (`market-small`) or a path to a JSON file. */
export function resolveScenarioPath(nameOrPath: string): string {
  if (/^[a-z][a-z0-9-]*$/.test(nameOrPath)) {
    const shipped = join(SCENARIO_DIR, `${nameOrPath}.json`)
    if (existsSync(shipped)) return shipped
  }
  const path = resolve(nameOrPath)
  if (existsSync(path)) return path
  throw new ScenarioNotFoundError(`no scenario ${nameOrPath} (neither a file nor one of ${SCENARIO_DIR})`)
}

export function loadScenario(nameOrPath: string): { scenario: Scenario; path: string } {
  const path = resolveScenarioPath(nameOrPath)
  const text = readFileSync(path, 'utf8')
  if (text.length > MAX_SCENARIO_BYTES) throw new ScenarioError(path, `larger than ${MAX_SCENARIO_BYTES} bytes`)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ScenarioError(path, `not JSON: ${(err as Error).message}`)
  }
  return { scenario: parseScenario(json, path), path }
}
