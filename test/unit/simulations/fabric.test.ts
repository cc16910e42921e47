import assert from 'node:assert/strict'
import { defaultLogger } from '@libp2p/logger'
import type { SimConnection } from '../../../simulations/fabric/connection.ts'
import { type Distribution, draw, meanOf } from '../../../simulations/fabric/distributions.ts'
import { Fabric, type FabricSettings, type NodeLink } from '../../../simulations/fabric/fabric.ts'
import { Sfc32 } from '../../../simulations/virtual-time/sfc32.ts'
import { simulate } from '../../../simulations/virtual-time/world.ts'

const world = { seed: 'fabric-test', epochMs: Date.UTC(2026, 10, 1) }
const log = defaultLogger().forComponent('test:fabric')
const unshaped: NodeLink = {
  uplinkBps: null,
  downlinkBps: null,
  accessLatencyMs: 0,
  jitter: null,
  lossRate: 0,
  cpuFactor: 1,
}

/** Two nodes a and b, `oneWayMs` apart; b listens; answers the fabric and a's connected end and b's. */
async function twoNodes(
  oneWayMs: number,
  links: Partial<NodeLink> = {},
  settings: Partial<FabricSettings> = {},
): Promise<{ fabric: Fabric; a: SimConnection; b: SimConnection }> {
  const fabric = new Fabric({
    coreLatency: () => oneWayMs,
    sendBufferBytes: 64 * 1024,
    minRtoMs: 200,
    maxChunkBytes: 16 * 1024,
    cpu: null,
    seed: 'test',
    ...settings,
  })
  fabric.addNode(0, 'peer-a', '/memory/a', { ...unshaped, ...links })
  fabric.addNode(1, 'peer-b', '/memory/b', { ...unshaped, ...links })
  let b: SimConnection | undefined
  fabric.listen('/memory/b', (connection) => {
    b = connection
  })
  const a = await fabric.connect('peer-a', '/memory/b', new AbortController().signal, { dialer: log, listener: log })
  assert.ok(b != null)
  return { fabric, a, b }
}

/** Resolves with the time (performance.now()) at which `bytes` bytes have arrived at `end`, and their order. */
function receive(end: SimConnection, bytes: number): Promise<{ at: number; data: number[] }> {
  return new Promise((resolve) => {
    const data: number[] = []
    end.addEventListener('message', (event) => {
      for (const b of event.data.subarray()) data.push(b)
      if (data.length >= bytes) resolve({ at: performance.now(), data })
    })
  })
}

type Sendable = Parameters<SimConnection['send']>[0]

/** A list of buffers of the type libp2p hands a connection (its own copy of `uint8arraylist`, taken from the end). */
function listOf(end: SimConnection, ...buffers: Uint8Array[]): Sendable {
  const List = (end as unknown as { writeBuffer: object }).writeBuffer.constructor as new (
    ...buffers: Uint8Array[]
  ) => Sendable
  return new List(...buffers)
}

describe('simulations: the link fabric', () => {
  it('takes a round trip to connect, then one-way latency per chunk, in order', async () => {
    const { value } = await simulate(world, async () => {
      const start = performance.now()
      const { a, b } = await twoNodes(25)
      const connected = performance.now() - start
      const got = receive(b, 3)
      const sent = performance.now()
      a.send(Uint8Array.of(1))
      a.send(Uint8Array.of(2))
      a.send(Uint8Array.of(3))
      const { at, data } = await got
      return { connected, latency: at - sent, data }
    })
    assert.equal(value.connected, 50)
    assert.equal(value.latency, 25)
    assert.deepEqual(value.data, [1, 2, 3])
  })

  it('serialises on the uplink and the downlink: 1 MB over 8 Mbit/s takes a second', async () => {
    const { value } = await simulate(world, async () => {
      const { a, b } = await twoNodes(10, { uplinkBps: 1_000_000, downlinkBps: 2_000_000 })
      const got = receive(b, 1_000_000)
      const sent = performance.now()
      const payload = new Uint8Array(1_000_000)
      let pushed = 0
      // Send as libp2p does: stop when the buffer is full, continue on 'drain'.
      await new Promise<void>((resolve) => {
        const pump = () => {
          while (pushed < payload.length) {
            const more = a.send(payload.subarray(pushed, pushed + 16_384))
            pushed += 16_384
            if (!more) return
          }
          resolve()
        }
        a.addEventListener('drain', pump)
        pump()
      })
      const { at } = await got
      return at - sent
    })
    // 1 s on the uplink, 10 ms of latency, and the last 16 KiB chunk's 8 ms on the (faster) downlink.
    assert.ok(value >= 1000 && value < 1030, `took ${value} ms`)
  })

  it('puts what libp2p hands over at once on the wire as one chunk, up to the largest chunk', async () => {
    const { value } = await simulate(world, async () => {
      const { fabric, a, b } = await twoNodes(10)
      const before = fabric.traffic('peer-a').sentChunks
      const got = receive(b, 5 + 40 * 1024)
      // A Noise frame comes as its two-byte length and its ciphertext; one socket write, as TCP would send it.
      a.send(listOf(a, Uint8Array.of(0, 3), Uint8Array.of(1, 2, 3)))
      const small = fabric.traffic('peer-a').sentChunks - before
      // Larger than a chunk (16 KiB here): buffer by buffer, as before.
      a.send(listOf(a, new Uint8Array(20 * 1024), new Uint8Array(20 * 1024)))
      const { data } = await got
      return { small, all: fabric.traffic('peer-a').sentChunks - before, first: data.slice(0, 5) }
    })
    assert.equal(value.small, 1)
    assert.ok(value.all >= 3, `${value.all} chunks`)
    assert.deepEqual(value.first, [0, 3, 1, 2, 3])
  })

  it('retransmits lost packets after an RTO, and never reorders', async () => {
    const { value } = await simulate(world, async () => {
      const { a, b } = await twoNodes(5, { lossRate: 0.3 })
      const got = receive(b, 200)
      const sent = performance.now()
      for (let i = 0; i < 200; i++) a.send(Uint8Array.of(i))
      const { at, data } = await got
      return { elapsed: at - sent, data }
    })
    assert.deepEqual(
      value.data,
      Array.from({ length: 200 }, (_, i) => i),
    )
    assert.ok(value.elapsed >= 200, `some packet was lost and waited for an RTO of 200 ms (${value.elapsed} ms)`)
  })

  it('black-holes a partition: nothing crosses, and what was held arrives after the heal', async () => {
    const { value } = await simulate(world, async () => {
      const { fabric, a, b } = await twoNodes(10)
      fabric.partition(new Map([['peer-b', 1]]))
      const got = receive(b, 1)
      const sent = performance.now()
      a.send(Uint8Array.of(42))
      let early = false
      got.then(() => {
        early = performance.now() - sent < 5000
      })
      await new Promise((resolve) => setTimeout(resolve, 5000))
      fabric.heal()
      const { at } = await got
      const dial = fabric
        .connect('peer-a', '/memory/b', AbortSignal.timeout(100), { dialer: log, listener: log })
        .then(() => 'connected')
      return { early, arrivedAfter: at - sent, statusA: a.status, dial: await dial }
    })
    assert.equal(value.early, false)
    // Sent at 0, retransmitted at 200·(2^k − 1) ≥ 5000 ms: 6200 ms, plus 10 ms of latency.
    assert.equal(value.arrivedAfter, 6210)
    assert.equal(value.statusA, 'open')
    assert.equal(value.dial, 'connected')
  })

  it('resets connections across a partition in reset mode, and refuses dials across it', async () => {
    const { value } = await simulate(world, async () => {
      const { fabric, a, b } = await twoNodes(10)
      fabric.partition(new Map([['peer-b', 1]]), 'reset')
      const refused = await fabric
        .connect('peer-a', '/memory/b', new AbortController().signal, { dialer: log, listener: log })
        .then(
          () => 'connected',
          (err: Error) => err.name,
        )
      return { a: a.status, b: b.status, refused }
    })
    assert.deepEqual(value, { a: 'aborted', b: 'aborted', refused: 'ConnectionFailedError' })
  })

  it('draws distributions with the documented means', () => {
    const random = new Sfc32('distributions')
    const u = () => random.float()
    const cases: Distribution[] = [
      7,
      { min: 10, max: 30 },
      { dist: 'normal', mean: 50, sd: 5 },
      { dist: 'lognormal', median: 20, sigma: 0.5 },
      { dist: 'exponential', mean: 8 },
      { dist: 'pareto', scale: 10, shape: 3 },
    ]
    for (const d of cases) {
      let sum = 0
      const n = 20_000
      for (let i = 0; i < n; i++) sum += draw(d, u)
      const mean = sum / n
      assert.ok(Math.abs(mean - meanOf(d)) / meanOf(d) < 0.05, `${JSON.stringify(d)}: ${mean} vs ${meanOf(d)}`)
    }
    assert.equal(
      draw({ dist: 'pareto', scale: 10, shape: 0.5, cap: 100 }, () => 0.999999),
      100,
    )
  })
})
