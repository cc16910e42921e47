import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createCipheriv } from 'node:crypto'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { loadavg } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { createNodeKeys } from '../../keys/keystore.ts'
import { SeededRandom } from '../../keys/random.ts'
import { decryptSegment, encryptSegment } from '../../keys/segments.ts'
import { type ConsortNode, createConsortNode } from '../../node/consort-node.ts'
import { systemClock } from '../../protocols/clock.ts'
import { decodeNetworkRecord } from '../../protocols/network.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import { collectBlock } from '../../protocols/records/store.ts'
import { SegmentsService } from '../../protocols/segments/service.ts'
import { createTestNetwork } from '../../test/helpers/network.ts'
import { rawCid, sampleManifestBody } from '../../test/helpers/records.ts'
import { LatencyRecorder } from '../lib/latency.ts'
import { measurePackaging } from '../lib/packaging.ts'
import { measureReceipts } from '../lib/receipts.ts'
import { result } from '../lib/result.ts'
import { median, significant } from '../lib/stats.ts'
import type { BenchOptions, BenchResult } from '../lib/types.ts'

export const description =
  'issue 3: 64 MiB from 1 seeder vs bitswap; from 4 seeders shaped to 40 Mbit/s (netns+tbf); first segment; packaging'

/**
 * The delivery benchmark of issue 3. Every node is its own process (`--swarm-node` below), so that seeders and
 * the fetching node do not share an event loop:
 *
 * 1. one seeder and one fetcher on TCP loopback: a 64 MiB track fetched with the segments protocol and with stock
 *    Helia bitswap, alternately, between the same two nodes (target: segments ≥ 1.0 × bitswap), with the CPU time
 *    each side spends per MiB;
 * 2. four seeders, each in its own network namespace with its egress shaped by `tc tbf` to R = 40 Mbit/s, joined by
 *    veth pairs to a bridge in another namespace, the fetcher in a fifth: aggregate rate against 4R (target ≥ 0.9)
 *    and duplicate bytes (target ≤ 5%, counted at the seeders: every block byte they put on a stream beyond one
 *    copy of the track); where namespaces cannot be made, a user-space token-bucket proxy in front of each seeder
 *    shapes instead, and the metric names say which ran (`netns_tbf` or `userspace_proxy`);
 *    For each round the log gives every seeder's first and last block and its rate between them, the CPU share
 *    of every process and the fetching process's event-loop delay; and, once, the same bytes over plain TCP
 *    (no libp2p) through the same shaped links: the ceiling of what the set-up can carry at that moment;
 * 3. time from the start of a fresh fetch to its first decrypted segment in the shaped swarm, p50 and p95;
 * 4. packaging against raw AES-256-GCM (the production role's `measurePackaging`);
 * 5. paid delivery (issue 19): the CPU of a fetch's delivery receipts — tally, acknowledgements, the device's receipt,
 *    the clearinghouse's checks — per fetched GB, against the fetch's own CPU (target ≤ 2 %; `bench/lib/receipts.ts`).
 *
 * Namespaces are removed on every way out (error, exit, SIGINT, SIGTERM, SIGHUP); those of an earlier run killed
 * with SIGKILL are removed at the next start.
 *
 * For studying the shaped swarm: `DELIVERY_BENCH_ONLY=four` runs part 2 and 3 only (`=packaging` part 4 only, `=receipts` part 5 only); `DELIVERY_BENCH_EXPERIMENT=
 * '{"pipelineTargetMs":1000}'` fetches every other round with those fetch options; `DELIVERY_BENCH_TRACE=1`
 * logs the commands and the fetch's progress events; `DELIVERY_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR'`
 * passes Node flags to the node processes.
 *
 * The machine is shared: the node processes run at a raised scheduling priority (`nice -n -10`, or
 * `CONSORT_BENCH_NICE`; `0` turns it off) so that other work on it disturbs the figures less; the baseline runs
 * under the same priority. The load average is logged with each part.
 */

/** R: the upload rate of each shaped seeder, as in the issue. */
const SHAPED_RATE_MBIT = 40
const SHAPED_RATE_BYTES_PER_S = (SHAPED_RATE_MBIT * 1_000_000) / 8
const SHAPED_SEEDERS = 4
const TRACK_BYTES = 64 * 1024 * 1024
const QUICK_TRACK_BYTES = 16 * 1024 * 1024
const SEGMENT_BYTES = 256 * 1024
/** Targets of issue 3. */
const ONE_SEEDER_TARGET_RATIO = 1.0
const FOUR_SEEDERS_TARGET_RATIO = 0.9
const DUPLICATE_TARGET_PERCENT = 5
/** Fresh fetches timed to their first decrypted segment. */
const FIRST_SEGMENT_SAMPLES = 25
const QUICK_FIRST_SEGMENT_SAMPLES = 8
/** Blocks stock bitswap is asked for at once (Helia fetches a file's blocks with this kind of parallelism). */
const BITSWAP_CONCURRENCY = 64
/** tbf: a 32 KiB bucket (above rate/HZ and several MTUs) and at most 50 ms of queue before drops. */
const TBF_ARGS = ['rate', `${SHAPED_RATE_MBIT}mbit`, 'burst', '32kb', 'latency', '50ms']
const SUBNET = '10.77.0'
const DEFAULT_NICE = '-10'
const MIB = 1024 * 1024

// --- the child: one node per process ---------------------------------------------------------------------

type Command =
  | { op: 'start'; network: string; listen: string; seed: string }
  | { op: 'track'; seed: string; bytes: number }
  | { op: 'dial'; addrs: string[] }
  | {
      op: 'fetch'
      via: 'segments' | 'bitswap'
      manifest: string
      key: string
      firstOnly?: boolean
      pipelineTargetMs?: number
      maxWindow?: number
      sessionsPerPeer?: number
    }
  | { op: 'clear'; manifest: string }
  | { op: 'stats' }
  | { op: 'cpu' }
  | { op: 'tcpServe'; host: string; bytes: number }
  | { op: 'tcpFetch'; hosts: string[]; bytes: number }
  | { op: 'stop' }

interface FetchReport {
  ms: number
  firstMs: number
  bytes: number
  blocksPerPeer: number[]
  /** Per peer: ms from the start to its first and last block, and its rate between them (MiB/s). */
  spans: Array<{ firstMs: number; lastMs: number; mibPerS: number }>
  /** Event-loop delay of the fetching process during the fetch, p50 and p99 (ms). */
  loopDelayMs?: [number, number]
}

interface Track {
  manifest: string
  key: string
}

/** The track every seeder builds from the same seed: identical bytes, CIDs and manifest everywhere. */
async function buildTrack(seed: string, bytes: number, networkName: string) {
  const random = new SeededRandom(`delivery-bench-${seed}`)
  const contentKey = random.bytes(32)
  const keyId = random.bytes(16)
  // the plaintext is a keystream: fast, deterministic, incompressible
  const plaintext = createCipheriv('aes-256-ctr', random.bytes(32), random.bytes(16)).update(new Uint8Array(bytes))
  const segments: Uint8Array[] = []
  for (let i = 0; i * SEGMENT_BYTES < bytes; i++) {
    segments.push(encryptSegment(contentKey, keyId, i, plaintext.subarray(i * SEGMENT_BYTES, (i + 1) * SEGMENT_BYTES)))
  }
  const producer = await createNodeKeys(random)
  const manifest = signRecord(
    'consort/manifest',
    sampleManifestBody(networkName, Date.UTC(2026, 10, 1), {
      isrc: 'ZZCNS2699003',
      segmentSize: SEGMENT_BYTES,
      byteSize: bytes,
      segments: segments.map((s) => rawCid(s)),
      keyId,
    }),
    producer.signer,
  )
  return { contentKey, keyId, segments, manifest }
}

async function childMain(): Promise<void> {
  // the parent went away (Ctrl-C, a crash): nothing is left to answer to
  process.stdout.on('error', () => process.exit(0))
  let node: ConsortNode | undefined
  let service: SegmentsService | undefined
  const reply = (id: number, body: unknown) => process.stdout.write(`${JSON.stringify({ id, ...(body as object) })}\n`)
  for await (const line of createInterface({ input: process.stdin })) {
    const { id, ...command } = JSON.parse(line) as Command & { id: number }
    try {
      reply(id, await handle(command as Command))
    } catch (err) {
      reply(id, { error: (err as Error).stack ?? String(err) })
    }
    if (command.op === 'stop') break
  }
  process.exit(0)

  async function handle(command: Command): Promise<unknown> {
    if (command.op === 'start') {
      const network = decodeNetworkRecord(Buffer.from(command.network, 'base64'), systemClock.now())
      const keys = await createNodeKeys(new SeededRandom(`delivery-bench-node-${command.seed}`))
      node = await createConsortNode({ dataDir: null, network, keys, listen: [command.listen] })
      await node.start()
      service = new SegmentsService(
        { libp2p: node.libp2p, blockstore: node.helia.blockstore as never, network: node.network, clock: systemClock },
        { reprovide: false },
      )
      await service.start()
      return { peerId: node.peerId.toString(), addrs: node.addresses() }
    }
    if (node == null || service == null) throw new TypeError('the node is not started')
    const blocks = node.helia.blockstore
    switch (command.op) {
      case 'track': {
        const track = await buildTrack(command.seed, command.bytes, node.network.name)
        for (let i = 0; i < track.segments.length; i++) {
          await blocks.put(track.manifest.body.segments[i]!, track.segments[i]!)
        }
        await node.records.put(track.manifest)
        return {
          manifest: Buffer.from(track.manifest.bytes).toString('base64'),
          key: Buffer.from([...track.contentKey, ...track.keyId]).toString('hex'),
        }
      }
      case 'dial':
        for (const addr of command.addrs) await node.libp2p.dial(multiaddr(addr))
        return {}
      case 'fetch':
        return fetchTrack(node, service, command)
      case 'clear': {
        const manifest = manifestOf(node, command.manifest)
        for (const cid of manifest.body.segments) await blocks.delete(cid)
        await blocks.delete(manifest.id)
        return {}
      }
      case 'tcpServe':
        return tcpServe(command.host, command.bytes)
      case 'tcpFetch':
        return tcpFetch(command.hosts, command.bytes)
      case 'stats':
        return service.server.stats()
      case 'cpu': {
        const usage = process.cpuUsage()
        return { ms: (usage.user + usage.system) / 1000 }
      }
      case 'stop':
        await service.stop()
        await node.stop()
        return {}
    }
  }
}

/** The raw TCP baseline: a plain socket server (no libp2p) that sends `bytes` to whoever connects. */
const RAW_TCP_PORT = 5002
const RAW_TCP_CHUNK = Buffer.alloc(64 * 1024, 7)

async function tcpServe(host: string, bytes: number): Promise<object> {
  const server = createServer((socket) => {
    let sent = 0
    const pump = () => {
      while (sent < bytes) {
        sent += RAW_TCP_CHUNK.length
        if (!socket.write(RAW_TCP_CHUNK)) return void socket.once('drain', pump)
      }
      socket.end()
    }
    socket.on('error', () => socket.destroy())
    pump()
  })
  await new Promise<void>((resolve) => server.listen(RAW_TCP_PORT, host, resolve))
  server.unref()
  return {}
}

/** Receive `bytes` from every host at once over plain TCP; the time until the last byte. */
async function tcpFetch(hosts: string[], bytes: number): Promise<{ ms: number; bytes: number }> {
  const start = performance.now()
  const received = await Promise.all(
    hosts.map(
      (host) =>
        new Promise<number>((resolve, reject) => {
          let got = 0
          tcpConnect(RAW_TCP_PORT, host)
            .on('data', (chunk: Buffer) => {
              got += chunk.length
            })
            .on('end', () => resolve(got))
            .on('error', reject)
        }),
    ),
  )
  const total = received.reduce((n, b) => n + b, 0)
  if (total < bytes * hosts.length) throw new RangeError(`raw TCP received ${total} of ${bytes * hosts.length} bytes`)
  return { ms: performance.now() - start, bytes: total }
}

function manifestOf(node: ConsortNode, base64: string): SignedRecord<'consort/manifest'> {
  return decodeRecordAs('consort/manifest', Buffer.from(base64, 'base64'), {
    network: node.network.name,
    now: systemClock.now(),
  })
}

/** Fetch a track (or only its first segment) and decrypt segment 0, as a player would before playing. */
async function fetchTrack(
  node: ConsortNode,
  service: SegmentsService,
  command: Extract<Command, { op: 'fetch' }>,
): Promise<FetchReport> {
  const manifest = manifestOf(node, command.manifest)
  const keyBytes = Buffer.from(command.key, 'hex')
  const start = performance.now()
  let firstMs = -1
  const firstDecrypted = (block: Uint8Array) => {
    decryptSegment(keyBytes.subarray(0, 32), keyBytes.subarray(32), 0, block)
    firstMs = performance.now() - start
  }
  if (command.via === 'segments') {
    const loopDelay = monitorEventLoopDelay({ resolution: 5 })
    loopDelay.enable()
    const arrivals = new Map<string, { first: number; last: number; bytes: number }>()
    const fetch = service.fetchTrack(manifest, {
      priority: 'now',
      announce: false,
      ...(command.pipelineTargetMs != null ? { pipelineTargetMs: command.pipelineTargetMs } : {}),
      ...(command.maxWindow != null ? { maxWindow: command.maxWindow } : {}),
      ...(command.sessionsPerPeer != null ? { sessionsPerPeer: command.sessionsPerPeer } : {}),
      onProgress: (event) => {
        if (process.env.DELIVERY_BENCH_TRACE != null && event.type !== 'block') {
          process.stderr.write(`  ${(performance.now() - start).toFixed(0)} ms ${event.type}\n`)
        }
        if (event.type !== 'block') return
        const now = performance.now() - start
        const span = arrivals.get(event.peer) ?? { first: now, last: now, bytes: 0 }
        span.last = now
        span.bytes += event.bytes
        arrivals.set(event.peer, span)
      },
    })
    for await (const block of fetch.blocks()) {
      if (block.index === 0) firstDecrypted(block.bytes)
      if (command.firstOnly === true) {
        fetch.abort()
        loopDelay.disable()
        return { ms: firstMs, firstMs, bytes: 0, blocksPerPeer: [], spans: [] }
      }
    }
    const summary = await fetch.done
    loopDelay.disable()
    return {
      loopDelayMs: [significant(loopDelay.percentile(50) / 1e6, 2), significant(loopDelay.percentile(99) / 1e6, 2)],
      ms: performance.now() - start,
      firstMs,
      bytes: summary.bytesFetched,
      blocksPerPeer: summary.peers.map((p) => p.blocks),
      spans: summary.peers.map((p) => {
        const span = arrivals.get(p.peer) ?? { first: 0, last: 0, bytes: 0 }
        return {
          firstMs: Math.round(span.first),
          lastMs: Math.round(span.last),
          mibPerS: significant(mibPerS(span.bytes, Math.max(1, span.last - span.first)), 3),
        }
      }),
    }
  }
  // stock Helia bitswap: ask the blockstore for every block, BITSWAP_CONCURRENCY at a time
  const cids = manifest.body.segments
  let next = 0
  let bytes = 0
  await Promise.all(
    Array.from({ length: BITSWAP_CONCURRENCY }, async () => {
      while (next < cids.length) {
        const index = next++
        const block = await collectBlock(
          node.helia.blockstore.get(cids[index]!, { signal: AbortSignal.timeout(300_000) }),
        )
        bytes += block.length
        if (index === 0) firstDecrypted(block)
      }
    }),
  )
  return { ms: performance.now() - start, firstMs, bytes, blocksPerPeer: [], spans: [] }
}

// --- the parent: processes, namespaces, rounds -----------------------------------------------------------

const thisFile = fileURLToPath(import.meta.url)

function childArgv(prefix: string[] = []): string[] {
  const nice = process.env.CONSORT_BENCH_NICE ?? DEFAULT_NICE
  // DELIVERY_BENCH_NODE_ARGS: extra Node flags for the node processes (e.g. `--cpu-prof --cpu-prof-dir=DIR`)
  const nodeArgs = process.env.DELIVERY_BENCH_NODE_ARGS?.split(' ').filter((a) => a.length > 0) ?? []
  return [
    ...(nice !== '0' ? ['nice', '-n', nice] : []),
    ...prefix,
    process.execPath,
    ...nodeArgs,
    thisFile,
    '--swarm-node',
  ]
}

/** A node in a child process, driven by JSON lines on its stdin and stdout. */
class SwarmNode {
  readonly name: string
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  #next = 0
  peerId = ''
  addrs: string[] = []

  constructor(name: string, argv: string[]) {
    this.name = name
    this.#child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] })
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      let message: { id: number; error?: string }
      try {
        message = JSON.parse(line) as { id: number; error?: string }
      } catch {
        return
      }
      if (process.env.DELIVERY_BENCH_TRACE != null) process.stderr.write(`<- ${name} ${line.slice(0, 160)}\n`)
      const waiter = this.#pending.get(message.id)
      this.#pending.delete(message.id)
      if (message.error != null) waiter?.reject(new Error(`${name}: ${message.error}`))
      else waiter?.resolve(message)
    })
    this.#child.on('exit', (code) => {
      for (const waiter of this.#pending.values()) waiter.reject(new Error(`${name} exited with ${code}`))
      this.#pending.clear()
    })
  }

  request<T>(command: Command): Promise<T> {
    const id = ++this.#next
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      if (process.env.DELIVERY_BENCH_TRACE != null) process.stderr.write(`-> ${this.name} ${command.op}\n`)
      // the id goes last: a command spread from an earlier reply (a track) carries that reply's id
      this.#child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`)
    })
  }

  async start(network: string, listen: string): Promise<void> {
    const info = await this.request<{ peerId: string; addrs: string[] }>({
      op: 'start',
      network,
      listen,
      seed: this.name,
    })
    this.peerId = info.peerId
    this.addrs = info.addrs
  }

  async cpuMs(): Promise<number> {
    return (await this.request<{ ms: number }>({ op: 'cpu' })).ms
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode != null || this.#child.signalCode != null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.request({ op: 'stop' }).catch(() => {})
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Network namespaces with veth pairs to a bridge; each seeder's egress shaped by tbf. Removed by `destroy()`. */
class Namespaces {
  readonly prefix = `cdl${process.pid}`
  readonly created: string[] = []

  /** Namespaces left by an earlier run whose process is gone (killed with SIGKILL): removed before a new run. */
  static removeStale(): string[] {
    const removed: string[] = []
    let listing = ''
    try {
      listing = execFileSync('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()
    } catch {
      return removed
    }
    for (const match of listing.matchAll(/^cdl(\d+)-\S+/gm)) {
      const pid = Number(match[1])
      if (pid === process.pid || processAlive(pid)) continue
      try {
        execFileSync('ip', ['netns', 'del', match[0]], { stdio: 'ignore' })
        removed.push(match[0])
      } catch {
        // gone meanwhile
      }
    }
    return removed
  }

  static available(): boolean {
    const probe = `cdlprobe${process.pid}`
    try {
      execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' })
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' })
      execFileSync('tc', ['qdisc', 'show'], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  }

  /** The hub namespace with the bridge, then one namespace per node: node k gets 10.77.0.(k+1). */
  create(nodes: number, shaped: (k: number) => boolean): string[] {
    const ip = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    const hub = `${this.prefix}-hub`
    ip(['netns', 'add', hub])
    this.created.push(hub)
    ip(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge'])
    ip(['-n', hub, 'link', 'set', 'br0', 'up'])
    const names: string[] = []
    for (let k = 0; k < nodes; k++) {
      const ns = `${this.prefix}-n${k}`
      ip(['netns', 'add', ns])
      this.created.push(ns)
      ip(['-n', hub, 'link', 'add', `vh${k}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      ip(['-n', hub, 'link', 'set', `vh${k}`, 'master', 'br0'])
      ip(['-n', hub, 'link', 'set', `vh${k}`, 'up'])
      ip(['-n', ns, 'addr', 'add', `${SUBNET}.${k + 1}/24`, 'dev', 'eth0'])
      ip(['-n', ns, 'link', 'set', 'eth0', 'up'])
      ip(['-n', ns, 'link', 'set', 'lo', 'up'])
      if (shaped(k)) ip(['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', ...TBF_ARGS])
      names.push(ns)
    }
    return names
  }

  /** The tbf counters of a namespace's eth0 (for the log). */
  qdiscStats(ns: string): string {
    const out = execFileSync('ip', ['netns', 'exec', ns, 'tc', '-s', 'qdisc', 'show', 'dev', 'eth0']).toString()
    return /Sent \d+ bytes \d+ pkt \(dropped \d+/.exec(out)?.[0] ?? out.replace(/\s+/g, ' ')
  }

  destroy(): void {
    for (const ns of this.created.splice(0).reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
      } catch {
        // already gone
      }
    }
  }
}

/** The fallback shaper: a TCP proxy in front of a seeder whose seeder-to-client direction is a token bucket. */
class ShapingProxy {
  static readonly BUCKET_BYTES = 32 * 1024
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  port = 0

  constructor(target: { host: string; port: number }, bytesPerSecond: number) {
    this.#server = createServer((client) => {
      const upstream = tcpConnect(target.port, target.host)
      this.#sockets.add(client).add(upstream)
      client.pipe(upstream)
      let tokens = ShapingProxy.BUCKET_BYTES
      let last = performance.now()
      upstream.on('data', (chunk: Buffer) => {
        upstream.pause()
        const send = () => {
          const now = performance.now()
          tokens = Math.min(ShapingProxy.BUCKET_BYTES, tokens + ((now - last) / 1000) * bytesPerSecond)
          last = now
          if (tokens >= Math.min(chunk.length, ShapingProxy.BUCKET_BYTES)) {
            tokens -= chunk.length
            client.write(chunk, () => upstream.resume())
          } else {
            setTimeout(send, Math.ceil(((chunk.length - tokens) / bytesPerSecond) * 1000))
          }
        }
        send()
      })
      const close = () => {
        client.destroy()
        upstream.destroy()
      }
      client.on('close', close).on('error', close)
      upstream.on('close', close).on('error', close)
    })
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as { port: number }).port
  }

  close(): void {
    for (const socket of this.#sockets) socket.destroy()
    this.#server.close()
  }
}

const mibPerS = (bytes: number, ms: number) => bytes / MIB / (ms / 1000)
const load = () => loadavg()[0]!.toFixed(1)

/** Part 1: one seeder and one fetcher on loopback, segments against stock bitswap, alternately. */
async function oneSeeder(options: BenchOptions, network: string, trackBytes: number): Promise<BenchResult[]> {
  const seeder = new SwarmNode('loop-seeder', childArgv())
  const fetcher = new SwarmNode('loop-fetcher', childArgv())
  try {
    await Promise.all([seeder.start(network, '/ip4/127.0.0.1/tcp/0'), fetcher.start(network, '/ip4/127.0.0.1/tcp/0')])
    await fetcher.request({ op: 'dial', addrs: [seeder.addrs[0]!] })
    const rates = { segments: [] as number[], bitswap: [] as number[] }
    const cpu = { segments: [] as number[], bitswap: [] as number[] }
    options.log(`one seeder on TCP loopback, load average ${load()}`)
    // round 0 warms both paths up and is not counted
    for (let round = 0; round <= options.rounds; round++) {
      // a fresh track each round: Helia's bitswap does not fetch a block again once it has had it and lost it
      const track = await seeder.request<Track>({ op: 'track', seed: `one-${round}`, bytes: trackBytes })
      const order = round % 2 === 0 ? (['segments', 'bitswap'] as const) : (['bitswap', 'segments'] as const)
      for (const via of order) {
        const cpuBefore = await Promise.all([seeder.cpuMs(), fetcher.cpuMs()])
        const report = await fetcher.request<FetchReport>({ op: 'fetch', via, ...track })
        const cpuAfter = await Promise.all([seeder.cpuMs(), fetcher.cpuMs()])
        await fetcher.request({ op: 'clear', manifest: track.manifest })
        if (report.bytes < trackBytes) throw new RangeError(`${via} fetched ${report.bytes} of ${trackBytes} bytes`)
        const rate = mibPerS(trackBytes, report.ms)
        const perMib = (cpuAfter[0]! - cpuBefore[0]! + cpuAfter[1]! - cpuBefore[1]!) / (trackBytes / MIB)
        if (round > 0) {
          rates[via].push(rate)
          cpu[via].push(perMib)
        }
        options.log(
          `one seeder, round ${round}${round === 0 ? ' (warm-up)' : ''}: ${via} ${rate.toFixed(1)} MiB/s, ` +
            `${perMib.toFixed(1)} ms CPU per MiB (seeder and fetcher)`,
        )
      }
      await seeder.request({ op: 'clear', manifest: track.manifest })
    }
    return [
      result({
        metric: 'one_seeder_loopback',
        value: significant(median(rates.segments), 3),
        unit: 'MiB/s',
        baseline: {
          name: 'stock Helia bitswap, same two nodes, same run',
          value: significant(median(rates.bitswap), 3),
        },
        target: { op: '>=', value: ONE_SEEDER_TARGET_RATIO, of: 'ratio' },
      }),
      result({
        metric: 'one_seeder_loopback_cpu',
        value: significant(median(cpu.segments), 3),
        unit: 'ms CPU/MiB',
        baseline: { name: 'stock Helia bitswap, same run', value: significant(median(cpu.bitswap), 3) },
      }),
    ]
  } finally {
    await Promise.all([seeder.stop(), fetcher.stop()])
  }
}

/** Parts 2 and 3: four shaped seeders, aggregate rate, duplicates, first segment; bitswap for reference. */
async function fourSeeders(options: BenchOptions, network: string, trackBytes: number): Promise<BenchResult[]> {
  const stale = Namespaces.removeStale()
  if (stale.length > 0) options.log(`removed namespaces left by an earlier run: ${stale.join(' ')}`)
  const namespaces = Namespaces.available() ? new Namespaces() : null
  const shaping = namespaces != null ? 'netns_tbf' : 'userspace_proxy'
  options.log(
    `${SHAPED_SEEDERS} seeders shaped to ${SHAPED_RATE_MBIT} Mbit/s each by ` +
      `${namespaces != null ? `network namespaces and tc tbf (${TBF_ARGS.join(' ')})` : 'a user-space token-bucket proxy (no namespaces here)'}, ` +
      `load average ${load()}`,
  )
  const nodes: SwarmNode[] = []
  const proxies: ShapingProxy[] = []
  const cleanup = () => namespaces?.destroy()
  // namespaces outlive the process that made them: remove them on every way out (an error, exit, Ctrl-C, kill)
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup()
    process.kill(process.pid, signal)
  }
  process.once('exit', cleanup)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.once('SIGHUP', onSignal)
  try {
    let seederAddrs: string[]
    if (namespaces != null) {
      const names = namespaces.create(SHAPED_SEEDERS + 1, (k) => k > 0)
      for (const [k, ns] of names.entries()) {
        nodes.push(new SwarmNode(k === 0 ? 'fetcher' : `seeder-${k}`, childArgv(['ip', 'netns', 'exec', ns])))
      }
      await Promise.all(nodes.map(async (n, k) => n.start(network, `/ip4/${SUBNET}.${k + 1}/tcp/4001`)))
      seederAddrs = nodes.slice(1).map((n) => n.addrs[0]!)
    } else {
      for (let k = 0; k <= SHAPED_SEEDERS; k++)
        nodes.push(new SwarmNode(k === 0 ? 'fetcher' : `seeder-${k}`, childArgv()))
      await Promise.all(nodes.map(async (n) => n.start(network, '/ip4/127.0.0.1/tcp/0')))
      seederAddrs = []
      for (const seeder of nodes.slice(1)) {
        const port = Number(/\/tcp\/(\d+)/.exec(seeder.addrs[0]!)![1])
        const proxy = new ShapingProxy({ host: '127.0.0.1', port }, SHAPED_RATE_BYTES_PER_S)
        await proxy.listen()
        proxies.push(proxy)
        seederAddrs.push(`/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${seeder.peerId}`)
      }
    }
    const [fetcher, ...seeders] = nodes as [SwarmNode, ...SwarmNode[]]
    const tracks = await Promise.all(
      seeders.map(async (s) => s.request<Track>({ op: 'track', seed: 'four', bytes: trackBytes })),
    )
    const track = tracks[0]!
    if (tracks.some((t) => t.manifest !== track.manifest)) throw new TypeError('the seeders built different tracks')
    await fetcher.request({ op: 'dial', addrs: seederAddrs })
    const served = async () =>
      (
        await Promise.all(
          seeders.map(async (s) => s.request<{ bytesServed: number; bytesAborted: number }>({ op: 'stats' })),
        )
      ).reduce((n, s) => n + s.bytesServed + s.bytesAborted, 0)

    const fourR = (SHAPED_SEEDERS * SHAPED_RATE_BYTES_PER_S) / MIB
    const aggregate: number[] = []
    const duplicates: number[] = []
    for (let round = 0; round <= options.rounds; round++) {
      const before = await served()
      const cpuBefore = await Promise.all(nodes.map(async (n) => n.cpuMs()))
      const experiment = process.env.DELIVERY_BENCH_EXPERIMENT
      const variant = experiment != null && round % 2 === 1 ? (JSON.parse(experiment) as object) : {}
      const report = await fetcher.request<FetchReport>({ op: 'fetch', via: 'segments', ...track, ...variant })
      const cpuAfter = await Promise.all(nodes.map(async (n) => n.cpuMs()))
      const sent = (await served()) - before
      const cpuShare = cpuAfter.map((ms, k) => ((ms - cpuBefore[k]!) / report.ms).toFixed(2))
      await fetcher.request({ op: 'clear', manifest: track.manifest })
      const rate = mibPerS(trackBytes, report.ms)
      const duplicatePercent = ((sent - report.bytes) / report.bytes) * 100
      if (round > 0) {
        aggregate.push(rate)
        duplicates.push(duplicatePercent)
      }
      const drops =
        namespaces == null
          ? ''
          : `; tbf ${seeders.map((_, k) => namespaces.qdiscStats(`${namespaces.prefix}-n${k + 1}`).replace(/^Sent \d+ bytes \d+ pkt \(/, '')).join(', ')}`
      options.log(
        `four seeders, round ${round}${round === 0 ? ' (warm-up)' : ''}${JSON.stringify(variant) !== '{}' ? ` ${JSON.stringify(variant)}` : ''}: ${rate.toFixed(2)} MiB/s = ${(rate / fourR).toFixed(3)} × 4R; ` +
          `seeders sent ${(sent / MIB).toFixed(2)} MiB for ${(report.bytes / MIB).toFixed(2)} MiB (${duplicatePercent.toFixed(2)}% duplicate); ` +
          `blocks per seeder ${report.blocksPerPeer.join('/')}; first/last block ms and MiB/s between them per seeder ` +
          `${report.spans.map((s) => `${s.firstMs}/${s.lastMs}@${s.mibPerS}`).join(' ')}; CPU share fetcher/seeders ` +
          `${cpuShare.join('/')}; fetcher event-loop delay p50/p99 ${report.loopDelayMs?.join('/')} ms${drops}; load average ${load()}`,
      )
    }
    const results = [
      result({
        metric: `four_seeders_${shaping}`,
        value: significant(median(aggregate), 3),
        unit: 'MiB/s',
        baseline: { name: `4R: four uplinks of ${SHAPED_RATE_MBIT} Mbit/s`, value: significant(fourR, 4) },
        target: { op: '>=', value: FOUR_SEEDERS_TARGET_RATIO, of: 'ratio' },
      }),
      result({
        metric: `four_seeders_duplicate_bytes_${shaping}`,
        value: significant(median(duplicates), 3),
        unit: '%',
        target: { op: '<=', value: DUPLICATE_TARGET_PERCENT, of: 'value' },
      }),
    ]

    const samples = options.quick ? QUICK_FIRST_SEGMENT_SAMPLES : FIRST_SEGMENT_SAMPLES
    const first = new LatencyRecorder()
    try {
      for (let i = 0; i <= samples; i++) {
        const report = await fetcher.request<FetchReport>({ op: 'fetch', via: 'segments', firstOnly: true, ...track })
        await fetcher.request({ op: 'clear', manifest: track.manifest })
        if (i > 0) first.record(report.firstMs)
      }
      options.log(
        `first decrypted segment of ${samples} fresh fetches: p50 ${first.percentileMs(50)} ms, p95 ${first.percentileMs(95)} ms`,
      )
      results.push(
        result({ metric: `first_segment_p50_${shaping}`, value: significant(first.percentileMs(50), 3), unit: 'ms' }),
        result({ metric: `first_segment_p95_${shaping}`, value: significant(first.percentileMs(95), 3), unit: 'ms' }),
      )
    } finally {
      first.destroy()
    }

    // the ceiling: plain TCP (no libp2p) through the same shaped links, the track's share from each seeder at once
    if (namespaces != null) {
      const share = Math.ceil(trackBytes / SHAPED_SEEDERS)
      await Promise.all(
        seeders.map(async (s, k) => s.request({ op: 'tcpServe', host: `${SUBNET}.${k + 2}`, bytes: share })),
      )
      const raw = await fetcher.request<{ ms: number; bytes: number }>({
        op: 'tcpFetch',
        hosts: seeders.map((_, k) => `${SUBNET}.${k + 2}`),
        bytes: share,
      })
      const rate = mibPerS(raw.bytes, raw.ms)
      options.log(
        `four seeders, plain TCP without libp2p (one round): ${rate.toFixed(2)} MiB/s = ${(rate / fourR).toFixed(3)} × 4R; load average ${load()}`,
      )
      results.push(
        result({
          metric: 'four_seeders_plain_tcp_netns_tbf',
          value: significant(rate, 3),
          unit: 'MiB/s',
          baseline: { name: `4R: four uplinks of ${SHAPED_RATE_MBIT} Mbit/s`, value: significant(fourR, 4) },
        }),
      )
    }

    // for reference: stock bitswap from the same shaped seeders (one round: it is slow)
    if (!options.quick) {
      const report = await fetcher.request<FetchReport>({ op: 'fetch', via: 'bitswap', ...track })
      await fetcher.request({ op: 'clear', manifest: track.manifest })
      const rate = mibPerS(trackBytes, report.ms)
      options.log(
        `four seeders, stock bitswap (one round): ${rate.toFixed(2)} MiB/s = ${(rate / fourR).toFixed(3)} × 4R`,
      )
      results.push(
        result({
          metric: `four_seeders_bitswap_${shaping}`,
          value: significant(rate, 3),
          unit: 'MiB/s',
          baseline: { name: `4R: four uplinks of ${SHAPED_RATE_MBIT} Mbit/s`, value: significant(fourR, 4) },
        }),
      )
    }
    return results
  } finally {
    await Promise.all(nodes.map(async (n) => n.stop()))
    for (const proxy of proxies) proxy.close()
    cleanup()
    process.removeListener('exit', cleanup)
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(signal, onSignal)
  }
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const trackBytes = options.quick ? QUICK_TRACK_BYTES : TRACK_BYTES
  const network = Buffer.from((await createTestNetwork(systemClock, { name: 'bench' })).record.bytes).toString('base64')
  options.log(`track of ${trackBytes / MIB} MiB in ${SEGMENT_BYTES / 1024} KiB segments, ${options.rounds} rounds`)
  const packaging = () =>
    measurePackaging({
      rounds: options.rounds,
      ...(options.quick ? { bytes: QUICK_TRACK_BYTES } : {}),
      log: options.log,
    })
  // DELIVERY_BENCH_ONLY=four runs only the shaped swarm, =packaging only the packaging (to study them); the report
  // then lacks the other figures
  if (process.env.DELIVERY_BENCH_ONLY === 'four') return fourSeeders(options, network, trackBytes)
  if (process.env.DELIVERY_BENCH_ONLY === 'packaging') return packaging()
  // =receipts: only what paid delivery's receipts cost next to the fetch (issue 19, bench/lib/receipts.ts)
  if (process.env.DELIVERY_BENCH_ONLY === 'receipts') return measureReceipts(options)
  return [
    ...(await measureReceipts(options)),
    ...(await oneSeeder(options, network, trackBytes)),
    ...(await fourSeeders(options, network, trackBytes)),
    ...(await packaging()),
  ]
}

if ((import.meta as { main?: boolean }).main === true && process.argv.includes('--swarm-node')) {
  await childMain()
}
