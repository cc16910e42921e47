/**
 * A verification worker thread: verifies batches of usage reports (`ReportVerifier`) and answers with the verified
 * reports or the reason each was refused. It holds a copy of the sealing key pair, given at start.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { SealOpener } from '../../../keys/seal.ts'
import type { RecordCaps } from '../../../protocols/records/envelope.ts'
import { unpackBatch } from './batch.ts'
import type { PoolRequest, PoolResponse, WorkerInit } from './pool.ts'
import { type DeviceInfo, ReportVerifier, type VerifyContext } from './verify.ts'

const init = workerData as WorkerInit
const opener = new SealOpener(
  { publicKey: init.sealingPublicKey, privateKey: init.sealingPrivateKey },
  { versions: init.sealVersions },
)
const verifier = new ReportVerifier()
const caps: RecordCaps = init.caps

parentPort?.on('message', (request: PoolRequest) => {
  const before = process.threadCpuUsage()
  const ctx: VerifyContext = {
    decode: { network: init.network, now: request.now, caps },
    recipient: init.recipient,
    sealingPublicKey: init.sealingPublicKey,
    opener,
  }
  const registrations: PoolResponse['registrations'] = new Array(request.devices.length / 2).fill(null)
  // Each registration of the batch is read once, for every report that carries it (a refused one refuses them all).
  const known: Array<DeviceInfo | Error | undefined> = new Array(registrations.length)
  const results: PoolResponse['results'] = unpackBatch(request).map((item) => {
    try {
      let registration = known[item.registration]
      if (registration === undefined) {
        try {
          registration = verifier.registration(item.device, ctx)
        } catch (err) {
          registration = err as Error
        }
        known[item.registration] = registration
      }
      if (registration instanceof Error) throw registration
      // The main thread has the bytes and the report's id: neither is posted back (an empty id is not encoded). The
      // registration (and with it the device and account, checked equal to the report's) goes once per batch.
      const r = verifier.verify(item.usage, item.device, ctx, '', registration)
      registrations[item.registration] = r.registration
      return {
        ok: true,
        report: { created: r.created, seq: r.seq, prev: r.prev, events: r.events },
        registration: item.registration,
      }
    } catch (err) {
      const e = err as Error
      return { ok: false, name: typeof e.name === 'string' ? e.name : 'Error', message: e.message }
    }
  })
  const after = process.threadCpuUsage()
  const cpu = after.user + after.system - before.user - before.system
  parentPort?.postMessage({ id: request.id, cpu, registrations, results } satisfies PoolResponse)
})
