import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { toString as bytesToString } from 'uint8arrays/to-string'
import { saveNodeKeys } from '../../../keys/keystore.ts'
import { SeededRandom } from '../../../keys/random.ts'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import { decodeResponse, encodeRequest } from '../../../protocols/rpc/codec.ts'
import {
  accountIdOf,
  distributorParticipant,
  feeParticipant,
  retailerParticipant,
  rightsholderParticipant,
} from '../../../roles/clearinghouse/participants.ts'
import type { StateLevel } from '../../../roles/clearinghouse/store.ts'
import { Market } from '../../unit/clearinghouse/market.ts'

/** Kills of the clearinghouse process the test makes (issue 5: at least 50). */
const KILLS = 50
const DEVICES = 16
const REPORTS_PER_DEVICE = 120
const RATE = 100n
/** Requests in flight at once. */
const WINDOW = 24
const CHILD = new URL('./crash-child.ts', import.meta.url).pathname

interface Life {
  child: ChildProcess
  /** Let it open the data dir. */
  go(): void
  port: Promise<number>
  exited: Promise<void>
}

/** A clearinghouse process, loaded but waiting for `go()` before it touches the data dir. */
function start(config: string, cacheDir: string): Life {
  const child = spawn(process.execPath, [CHILD, config], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_COMPILE_CACHE: cacheDir },
  })
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += String(d)
  })
  child.stdin?.on('error', () => {})
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const port = new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d) => {
      out += String(d)
      const match = /READY (\d+)/.exec(out)
      if (match !== null) resolve(Number(match[1]))
    })
    child.once('exit', (code, signal) =>
      reject(new Error(`child exited (${code ?? signal}) before it was ready: ${stderr}`)),
    )
  })
  port.catch(() => {})
  return { child, port, exited, go: () => child.stdin?.write('go\n') }
}

/** A connection speaking the child's framing: [length][request id][RPC frame]. */
class Client {
  readonly #socket: Socket
  readonly #waiting = new Map<number, (response: ReturnType<typeof decodeResponse>) => void>()
  #next = 1
  #buffer = Buffer.alloc(0)

  constructor(socket: Socket) {
    this.#socket = socket
    socket.on('data', (chunk) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk])
      while (this.#buffer.length >= 4) {
        const length = this.#buffer.readUInt32BE(0)
        if (this.#buffer.length < 4 + length) break
        const id = this.#buffer.readUInt32BE(4)
        const body = this.#buffer.subarray(8, 4 + length)
        this.#buffer = this.#buffer.subarray(4 + length)
        this.#waiting.get(id)?.(decodeResponse(new Uint8Array(body)))
        this.#waiting.delete(id)
      }
    })
    socket.on('error', () => {})
  }

  static async open(port: number): Promise<Client> {
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve())
      socket.once('error', reject)
    })
    return new Client(socket)
  }

  /** Resolves with the answer, or never (the process was killed first). */
  call(op: string, body: unknown): Promise<ReturnType<typeof decodeResponse>> {
    const id = this.#next++
    const frame = encodeRequest({ op, body })
    const header = Buffer.alloc(8)
    header.writeUInt32BE(frame.length + 4, 0)
    header.writeUInt32BE(id, 4)
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve)
      this.#socket.write(Buffer.concat([header, frame]))
    })
  }

  close(): void {
    this.#socket.destroy()
  }
}

/** Wait a little; true once `promise` has settled. */
async function settledOrTick(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  void promise.then(
    () => {
      done = true
    },
    () => {
      done = true
    },
  )
  await new Promise((resolve) => setTimeout(resolve, 2))
  return done
}

describe('clearinghouse crash safety (kill -9 during ingest)', function () {
  this.timeout(600_000)
  let dir: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'consort-clearing-crash-'))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it(`loses no acknowledged report and counts none twice across ${KILLS} kills`, async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000)
    const random = new SeededRandom(`crash-${seed}`)
    const m = await Market.create({ start: Date.now() - 2 * 86_400_000, seed: `crash-${seed}` })

    // Seed the data dir: funded buyers who bought a per-play offer, each with a device.
    const dataDir = join(dir, 'node')
    const db = new Level<string, Uint8Array>(join(dataDir, 'db'), { valueEncoding: 'view' })
    await db.open()
    const { engine } = await m.engine(
      { sync: true },
      db.sublevel('role-clearinghouse', { valueEncoding: 'view' }) as unknown as StateLevel,
    )
    const contract = m.contract({ unit: null, play: RATE })
    await engine.learnContract(contract)
    const offer = m.offer(contract, { price: 0n })
    const reports: Array<{ usage: Uint8Array; device: Uint8Array; id: string }> = []
    // Every licence is bought first; its plays start after it was issued and end before their reports are made.
    const bought: Array<{ buyer: Awaited<ReturnType<Market['buyer']>>; licence: SignedRecord<'consort/licence'> }> = []
    for (let d = 0; d < DEVICES; d++) {
      const buyer = await m.buyer()
      const { licence } = await m.purchase(engine, buyer, contract, offer)
      bought.push({ buyer, licence })
    }
    const t0 = m.clock.now() + 3_600_000
    m.clock.set(t0 + REPORTS_PER_DEVICE * 240_000)
    for (const { buyer, licence } of bought) {
      for (let r = 0; r < REPORTS_PER_DEVICE; r++) {
        const report = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, t0 + r * 240_000, 180)])
        reports.push({ usage: report.usage, device: report.device, id: report.record.id.toString() })
      }
    }
    await engine.close()
    await db.close()
    const keysPath = join(dir, 'clearinghouse.key')
    await saveNodeKeys(keysPath, m.clearinghouse)
    const config = join(dir, 'config.json')
    await writeFile(
      config,
      JSON.stringify({ dataDir, network: bytesToString(m.net.record.bytes, 'base64'), keys: keysPath }),
    )
    const cacheDir = join(dir, 'compile-cache')

    const acked = new Set<string>()
    const statuses = new Map<string, Set<string>>()
    let kills = 0
    let duringRecovery = 0
    const started = Date.now()
    // The next process loads while the current one runs; each opens the data dir only once the last one is dead.
    let next = start(config, cacheDir)
    while (kills < KILLS) {
      const life = next
      next = start(config, cacheDir)
      life.go()
      // About one life in eight is killed while it starts (replaying its journal), before it answers anything.
      if (random.int(8) === 0) {
        await new Promise((resolve) => setTimeout(resolve, 20 + random.int(300)))
        life.child.kill('SIGKILL')
        await life.exited
        kills++
        duringRecovery++
        continue
      }
      const t = Date.now()
      const client = await Client.open(await life.port)
      if (process.env.CRASH_DEBUG)
        process.stderr.write(`life ${kills}: ready in ${Date.now() - t} ms, acked ${acked.size}\n`)
      const pending = reports.filter((r) => !acked.has(r.id))
      // Unacknowledged reports in a shuffled order (chains arrive out of order), and some acknowledged ones again.
      const queue = [...pending, ...reports.filter(() => random.int(40) === 0)]
      for (let i = queue.length - 1; i > 0; i--) {
        const j = random.int(i + 1)
        ;[queue[i], queue[j]] = [queue[j]!, queue[i]!]
      }
      let stop = false
      const sender = (async () => {
        const inFlight = new Set<Promise<void>>()
        for (const r of queue) {
          if (stop) break
          const p: Promise<void> = client.call('report', { usage: r.usage, device: r.device }).then((response) => {
            inFlight.delete(p)
            if (!response.ok) {
              if (process.env.CRASH_DEBUG) process.stderr.write(`  refused: ${response.code} ${response.message}\n`)
              throw new Error(`report refused: ${response.code} ${response.message}`)
            }
            const body = response.body as { reportId: string; status: string }
            assert.equal(body.reportId, r.id)
            acked.add(r.id)
            const seen = statuses.get(r.id) ?? new Set()
            seen.add(body.status)
            statuses.set(r.id, seen)
          })
          inFlight.add(p)
          if (inFlight.size >= WINDOW) await Promise.race(inFlight)
        }
        await Promise.all(inFlight)
      })()
      sender.catch(() => {})
      // Killed at a random instant of its ingest: after a random number of acknowledgements (so that the kill
      // lands amid ingest however fast this machine is), a few milliseconds more, or a deadline.
      const before = acked.size
      const target = random.int(WINDOW)
      const deadline = Date.now() + 2_000
      while (acked.size - before < target && Date.now() < deadline && !(await settledOrTick(sender))) {}
      await new Promise((resolve) => setTimeout(resolve, random.int(15)))
      if (process.env.CRASH_DEBUG) {
        process.stderr.write(
          `  queued ${queue.length} (${pending.length} new), target ${target}, got ${acked.size - before}\n`,
        )
      }
      stop = true
      life.child.kill('SIGKILL')
      await life.exited
      client.close()
      kills++
    }

    // The last life: everything not yet acknowledged, to the end.
    const life = next
    life.go()
    const client = await Client.open(await life.port)
    const rest = reports.filter((x) => !acked.has(x.id))
    for (let i = 0; i < rest.length; i += WINDOW) {
      await Promise.all(
        rest.slice(i, i + WINDOW).map(async (r) => {
          const response = await client.call('report', { usage: r.usage, device: r.device })
          assert.ok(response.ok, `${response.ok ? '' : response.message}`)
          acked.add(r.id)
        }),
      )
    }
    // Every report acknowledged, each play settled exactly once: the totals are exact.
    assert.equal(acked.size, reports.length)
    const n = BigInt(reports.length)
    const ids = {
      retailer: accountIdOf(retailerParticipant(m.retailer.signer.publicKey), 'EUR'),
      distributor: accountIdOf(distributorParticipant(m.distributor.signer.publicKey), 'EUR'),
      label: accountIdOf(rightsholderParticipant('label:acme'), 'EUR'),
      artist: accountIdOf(rightsholderParticipant('artist:jane'), 'EUR'),
      fee: accountIdOf(feeParticipant(m.clearinghouse.signer.publicKey), 'EUR'),
    }
    const balances = await client.call('balances', Object.values(ids))
    assert.ok(balances.ok)
    const b = balances.body as Record<string, string>
    assert.deepEqual(
      {
        retailer: b[ids.retailer],
        distributor: b[ids.distributor],
        label: b[ids.label],
        artist: b[ids.artist],
        fee: b[ids.fee],
      },
      {
        retailer: `${-n * (RATE + 3n)}`,
        distributor: '0',
        label: `${n * 70n}`,
        artist: `${n * 30n}`,
        fee: `${n * 3n}`,
      },
      `seed ${seed}`,
    )
    const audit = await client.call('audit', null)
    assert.ok(audit.ok)
    const report = audit.body as { ok: boolean; violations: string[]; counts: { reports: number } }
    assert.deepEqual(report.violations, [], `seed ${seed}`)
    assert.equal(report.counts.reports, reports.length)
    // A report acknowledged twice (a replay) was answered `duplicate` the second time, never settled again.
    for (const [id, seen] of statuses)
      assert.ok(seen.size <= 2 && (seen.size === 1 || seen.has('duplicate')), `${id}: ${[...seen]}`)
    life.child.kill('SIGKILL')
    await life.exited
    client.close()
    process.stdout.write(
      `      ${kills} kills (${duringRecovery} while starting), ${reports.length} reports, ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${seed}\n`,
    )
  })
})
