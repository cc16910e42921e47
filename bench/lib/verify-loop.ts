/**
 * The body of the `threads` benchmark's loops: raw node:crypto Ed25519 verifies for a given time, on whichever thread or
 * process runs it, with what that thread used meanwhile — its CPU time and its context switches, voluntary (it waited:
 * a lock, I/O) and involuntary (the kernel gave its core to someone else). Run as a worker thread or a child process
 * (`process.send`), or called directly.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { isMainThread, parentPort, workerData } from 'node:worker_threads'

export interface LoopResult {
  verifies: number
  ms: number
  cpuUs: number
  voluntary: number
  involuntary: number
}

/** This thread's context switches so far (Linux: /proc/thread-self/status, read on the thread itself). */
function switches(): { voluntary: number; involuntary: number } {
  try {
    const status = readFileSync('/proc/thread-self/status', 'latin1')
    const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN)
    return { voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') }
  } catch {
    return { voluntary: Number.NaN, involuntary: Number.NaN }
  }
}

/** Verify one report-sized message's signature, again and again, for `ms`; `batch` verifies between clock reads. */
export function verifyLoop(ms: number, batch = 32): LoopResult {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const message = Buffer.alloc(700, 7)
  const signature = sign(null, message, privateKey)
  for (let i = 0; i < 200; i++) verify(null, message, publicKey, signature)
  const before = switches()
  const cpu = process.threadCpuUsage()
  const start = performance.now()
  let verifies = 0
  let elapsed = 0
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) verify(null, message, publicKey, signature)
    verifies += batch
    elapsed = performance.now() - start
  }
  const used = process.threadCpuUsage(cpu)
  const after = switches()
  return {
    verifies,
    ms: elapsed,
    cpuUs: used.user + used.system,
    voluntary: after.voluntary - before.voluntary,
    involuntary: after.involuntary - before.involuntary,
  }
}

/** As a worker thread: wait for the start signal (a shared flag, so that every loop starts at once), loop, answer. */
if (!isMainThread && parentPort !== null && (workerData as { verifyLoop?: boolean } | undefined)?.verifyLoop) {
  const { ms, flag } = workerData as { ms: number; flag: Int32Array }
  Atomics.wait(flag, 0, 0)
  parentPort.postMessage(verifyLoop(ms))
}

/** As a child process: the same, started by a message. */
if (isMainThread && typeof process.send === 'function' && process.env.CONSORT_VERIFY_LOOP === '1') {
  process.once('message', (ms: number) => {
    process.send!(verifyLoop(ms), () => process.exit(0))
  })
  process.send('ready')
}
