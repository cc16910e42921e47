/**
 * Clearinghouse ingest on one thread: signed, sealed usage reports (one play each, 100 devices, each with its licence
 * attached as a player sends it) through `ClearingEngine.reportRequest` — verified (device signature, box opening, event decoding), settled and written to LevelDB
 * with fsync in group commits — with verification on the calling thread (`verifyWorkers: 0`), so that one profile
 * holds a report's whole cost. 1,000 reports are in flight per batch.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { SealSession } from '../../keys/seal.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { ClearingEngine, StateLevel } from '../../roles/clearinghouse/index.ts'
import { type Buyer, Market } from '../../test/unit/clearinghouse/market.ts'
import type { Category } from '../lib/cpu-profile.ts'
import type { ProfiledPath } from '../lib/types.ts'

export const description =
  'ClearingEngine.reportRequest of sealed one-play usage reports with their licence, verification on the same thread'

const url =
  (...parts: string[]): Category['match'] =>
  (f) =>
    parts.some((p) => f.url.includes(p))
const named =
  (...names: string[]): Category['match'] =>
  (f) =>
    names.includes(f.functionName)

export const categories: Category[] = [
  { name: 'Ed25519 signature (OpenSSL)', match: named('verifyOneShot') },
  { name: 'X25519: ephemeral key object + agreement', match: named('x25519SharedSecret') },
  { name: 'box: HKDF, AES-GCM, context', match: named('open') },
  { name: 'events: DAG-CBOR + zod', match: named('decodeUsageEvents') },
  { name: 'record decode: CBOR, canonical, schema', match: named('decodeRecord') },
  { name: 'report id (SHA-256, CID)', match: named('reportIdOf', 'recordId') },
  { name: 'CID ↔ string', match: url('multiformats/dist/src/cid.js', 'multiformats/dist/src/bases/') },
  { name: 'hex', match: url('uint8arrays/dist/src/to-string') },
  { name: 'LevelDB (native + abstract-level)', match: url('classic-level', 'abstract-level', 'level-transcoder') },
  { name: 'row encoding (CBOR, zod)', match: named('encodeRow', 'decodeRow', 'encodeReportRow', 'decodeReportRow') },
  { name: 'settlement (events, templates, lines, journal, ledger)', match: url('roles/clearinghouse/') },
]

/**
 * Verification threads: 0 (default) profiles a report's whole cost on one thread; `CLEARING_PROFILE_WORKERS=2`
 * profiles what the main thread keeps when workers verify (the workers' CPU shows in the process's CPU time).
 */
const WORKERS = Number(process.env.CLEARING_PROFILE_WORKERS ?? 0)
const DEVICES = 100
const REPORTS_PER_DEVICE = 100
const BATCH = 1000
const HOUR = 3_600_000

async function tempEngine(m: Market) {
  const dir = await mkdtemp(join(tmpdir(), `consort-profile-clearing-${process.pid}-`))
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  const { engine } = await m.engine(
    { verifyWorkers: WORKERS, sync: true },
    db.sublevel('role-clearinghouse', { valueEncoding: 'view' }) as unknown as StateLevel,
  )
  return {
    engine,
    dispose: async () => {
      await engine.close()
      await db.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

async function workload(m: Market, perDevice: number) {
  const contract = m.contract({ unit: null, play: 3n })
  const offer = m.offer(contract, { price: 0n })
  const certification = m.certification(offer, contract)
  const buyers: Buyer[] = []
  const licences: Array<SignedRecord<'consort/licence'>> = []
  for (let d = 0; d < DEVICES; d++) {
    const buyer = await m.buyer()
    buyers.push(buyer)
    licences.push(m.licence(m.receipt(m.order(buyer, offer, certification), `auth:${d}`), contract))
  }
  const t0 = m.clock.now() + 60_000
  m.clock.advance(2 * HOUR)
  const chains = buyers.map((buyer, d) => {
    // Sealed in the device's session, as a player seals (decision 0513).
    const session = new SealSession({ random: m.random, now: () => m.clock.now() })
    return Array.from({ length: perDevice }, (_, r) =>
      // As a player sends it: the report, its device's registration and the licence of its play.
      ({
        ...m.usage(buyer.devices[0]!, buyer.account, [m.play(licences[d]!, t0 + r * 60_000, 30)], { session }),
        licences: [licences[d]!.bytes],
      }),
    )
  })
  const reports = chains[0]!.flatMap((_, k) => chains.map((c) => c[k]!))
  const setUp = async (engine: ClearingEngine) => {
    await engine.learnContract(contract)
    for (const l of licences) await engine.records.keep(l)
    await engine.records.keep(offer)
  }
  return { reports, setUp }
}

export async function prepare(log: (message: string) => void): Promise<ProfiledPath> {
  // Warm-up on a market and engine of their own, so that the profiled engine starts as a running one would.
  log('warming up')
  const warm = await Market.create({ seed: 'profile-clearing-warm', start: Date.now() - 2 * 86_400_000 })
  const w = await workload(warm, 20)
  const first = await tempEngine(warm)
  await w.setUp(first.engine)
  await Promise.all(
    w.reports.map((r) => first.engine.reportRequest({ usage: r.usage, device: r.device, licences: r.licences })),
  )
  await first.dispose()

  log(`generating ${DEVICES * REPORTS_PER_DEVICE} signed, sealed reports`)
  const m = await Market.create({ seed: 'profile-clearing', start: Date.now() - 2 * 86_400_000 })
  const { reports, setUp } = await workload(m, REPORTS_PER_DEVICE)
  const { engine, dispose } = await tempEngine(m)
  await setUp(engine)
  let next = 0
  return {
    unit: 'reports',
    warmupMs: 0,
    async run() {
      const batch = reports.slice(next, next + BATCH)
      next += batch.length
      await Promise.all(
        batch.map((r) => engine.reportRequest({ usage: r.usage, device: r.device, licences: r.licences })),
      )
      return batch.length
    },
    async dispose() {
      if (engine.ingest.stats.playsSettled !== next) {
        log(`warning: ${engine.ingest.stats.playsSettled} plays settled of ${next}`)
      }
      await dispose()
    },
  }
}
