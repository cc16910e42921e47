/**
 * One verification worker's share of a usage report: `ReportVerifier.verify` alone, on this thread, over 2,000
 * session-sealed one-play reports of 20 devices (each device's reports sealed in one `SealSession`, as a player seals),
 * with the opener and the registration cache warm, as on a worker of a running clearinghouse. Next to the profile it
 * prints one core's raw Ed25519 verifies in the same process, so that the CPU per report reads as raw verifies, and
 * (without the profiler) what a report costs beside its signature: verify and the signature alone, in turns.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { ed25519Verify } from '../../keys/ed25519.ts'
import { SealOpener, SealSession } from '../../keys/seal.ts'
import { decodeRecordAs, signingPayload } from '../../protocols/records/envelope.ts'
import { type DeviceInfo, ReportVerifier, type VerifyContext } from '../../roles/clearinghouse/index.ts'
import { Market } from '../../test/unit/clearinghouse/market.ts'
import { type Category, frames } from '../lib/cpu-profile.ts'
import type { ProfiledPath } from '../lib/types.ts'
import { verifyLoop } from '../lib/verify-loop.ts'

export const description = 'ReportVerifier.verify of session-sealed one-play usage reports (one worker’s share)'

export const categories: Category[] = [
  { name: 'Ed25519 signature (OpenSSL)', match: frames(['ed25519Verify']) },
  { name: 'box: key and nonce (HKDF expand, key objects)', match: frames(['expand', 'extract', 'boxKey']) },
  { name: 'box: AES-256-GCM, context, checks', match: frames(['open', 'usageSealContext']) },
  { name: 'sealed events: decoding and checks', match: frames(['decodeUsageEvents', 'readUsageEvents']) },
  { name: 'usage record: decoding and checks', match: frames(['decodeRecord', 'readUsageReport']) },
  { name: 'registration (hash, cache)', match: frames(['registration', '#registration']) },
  { name: 'CIDs (text)', match: frames(['cidText', 'of', 'base32Text']) },
  { name: 'ReportVerifier.verify itself', match: (f) => f.functionName === 'verify' && f.url.includes('usage/verify') },
]

const DEVICES = 20
const REPORTS_PER_DEVICE = 100

export async function prepare(log: (message: string) => void): Promise<ProfiledPath> {
  const m = await Market.create({ seed: 'profile-report-verify', start: Date.now() - 2 * 86_400_000 })
  const contract = m.contract({ unit: null, play: 3n })
  const offer = m.offer(contract, { price: 0n })
  const certification = m.certification(offer, contract)
  const reports: Array<{ usage: Uint8Array; device: Uint8Array }> = []
  const t0 = m.clock.now() + 60_000
  const chains: Array<Array<{ usage: Uint8Array; device: Uint8Array }>> = []
  for (let d = 0; d < DEVICES; d++) {
    const buyer = await m.buyer()
    const licence = m.licence(m.receipt(m.order(buyer, offer, certification), `auth:${d}`), contract)
    const session = new SealSession({ random: m.random, now: () => m.clock.now() })
    chains.push(
      Array.from({ length: REPORTS_PER_DEVICE }, (_, r) => {
        const u = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, t0 + r * 60_000, 30)], { session })
        return { usage: u.usage, device: u.device }
      }),
    )
  }
  for (let r = 0; r < REPORTS_PER_DEVICE; r++) for (const c of chains) reports.push(c[r]!)
  m.clock.advance(3_600_000)
  const ctx: VerifyContext = {
    decode: { network: m.network.name, now: m.clock.now(), caps: m.network.caps },
    recipient: m.clearinghouse.signer.publicKey,
    sealingPublicKey: m.clearinghouse.sealing.publicKey,
    opener: new SealOpener(m.clearinghouse.sealing),
  }
  const verifier = new ReportVerifier()
  // As a worker does: each registration read once per batch (of 256 reports), for all the reports that carry it.
  let known = new Map<Uint8Array, DeviceInfo>()
  const verifyAt = (i: number) => {
    if (i % 256 === 0) known = new Map()
    const r = reports[i]!
    let registration = known.get(r.device)
    if (registration === undefined) {
      registration = verifier.registration(r.device, ctx)
      known.set(r.device, registration)
    }
    verifier.verify(r.usage, r.device, ctx, '', registration)
  }
  const raw = verifyLoop(2000)
  const rawUs = raw.cpuUs / raw.verifies
  log(`raw Ed25519 verify: ${rawUs.toFixed(1)} µs of CPU each (${((raw.verifies / raw.ms) * 1000).toFixed(0)}/s)`)
  // What a report costs beside its signature, without the profiler: each batch of 20 reports verified, then the same
  // 20 signatures checked alone on the same messages, in turn (so that the machine's load weighs on both alike).
  const signatures = reports.map((r) => {
    const u = decodeRecordAs('consort/usage', r.usage, ctx.decode)
    return { signer: u.signer, sig: u.sig, message: signingPayload('consort/usage', dagCbor.encode(u.body)) }
  })
  let whole = 0
  let alone = 0
  for (let pass = 0; pass < 4; pass++) {
    for (let start = 0; start < reports.length; start += 20) {
      const t0 = process.threadCpuUsage()
      for (let i = start; i < start + 20; i++) verifyAt(i)
      const t1 = process.threadCpuUsage()
      for (let i = start; i < start + 20; i++) {
        const s = signatures[i]!
        if (!ed25519Verify(s.signer, s.message, s.sig)) throw new Error('a signature did not verify')
      }
      const t2 = process.threadCpuUsage()
      if (pass === 0) continue // warm-up
      whole += t1.user + t1.system - t0.user - t0.system
      alone += t2.user + t2.system - t1.user - t1.system
    }
  }
  const n = 3 * reports.length
  log(
    `interleaved: verify ${(whole / n).toFixed(1)} µs, its signature alone ${(alone / n).toFixed(1)} µs, ` +
      `beside the signature ${((whole - alone) / n).toFixed(1)} µs per report (verify / signature ${(whole / alone).toFixed(3)})`,
  )
  let cpu = 0
  let count = 0
  return {
    unit: 'reports',
    async run() {
      const before = process.threadCpuUsage()
      for (let i = 0; i < reports.length; i++) verifyAt(i)
      const used = process.threadCpuUsage(before)
      cpu += used.user + used.system
      count += reports.length
      return reports.length
    },
    async dispose() {
      log(
        `verify: ${(cpu / count).toFixed(1)} µs of CPU per report (warm-up included) = ` +
          `${(cpu / count / rawUs).toFixed(2)} raw verifies (raw ${rawUs.toFixed(1)} µs)`,
      )
    },
  }
}
