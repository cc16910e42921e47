import { createHash } from 'node:crypto'
import { createRequire, syncBuiltinESMExports } from 'node:module'

const require = createRequire(import.meta.url)

/**
 * Work that completes outside the JavaScript thread (the libuv thread pool, the file system, worker threads)
 * finishes when the machine gets to it, not when the simulation says: it is what would make two runs differ. The
 * simulator removes it or waits for it:
 *
 * - `crypto.subtle.digest` (the production role hashes segments with it) is answered on this thread with
 *   `node:crypto`'s hash, the same bytes; the other `crypto.subtle` calls and the callback forms of `node:crypto`
 *   (pbkdf2, scrypt, hkdf, generateKeyPair) are counted while pending, and the driver does not move time on while
 *   any is (`pending()`);
 * - file-system requests and real immediates show in `process.getActiveResourcesInfo()`; the driver waits for
 *   them the same way;
 * - worker threads are refused: a role that verifies in workers must be given its inline mode in a simulation
 *   (the clearinghouse's `verifyWorkers: 0`).
 *
 * A wait for real work happens at one virtual instant. Calls that overlap (labels publishing side by side each read
 * their audio file) finish in whatever order the machine gets to them, so their results are handed back **in the
 * order the calls were made**: each waits for the ones made before it (`fs/promises`, `crypto.subtle`, the callback
 * forms above). Not ordered: a `FileHandle`'s own methods and the callback forms of `node:fs` (nothing in a run uses
 * them).
 */
export interface InstalledOffThreadGuard {
  /** Calls of the counted kinds still running. */
  pending(): number
  restore(): void
}

const DIGESTS: Record<string, string> = {
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
}
const SUBTLE_ASYNC = [
  'encrypt',
  'decrypt',
  'sign',
  'verify',
  'generateKey',
  'deriveKey',
  'deriveBits',
  'importKey',
  'exportKey',
  'wrapKey',
  'unwrapKey',
]
const NODE_ASYNC = ['pbkdf2', 'scrypt', 'hkdf', 'generateKeyPair', 'generateKey', 'generatePrime']
/** The promise functions of `node:fs/promises` whose results are handed back in the order they were called. */
const FS_ASYNC = [
  'access',
  'appendFile',
  'chmod',
  'chown',
  'copyFile',
  'cp',
  'lchown',
  'link',
  'lstat',
  'lutimes',
  'mkdir',
  'mkdtemp',
  'open',
  'opendir',
  'readdir',
  'readFile',
  'readlink',
  'realpath',
  'rename',
  'rm',
  'rmdir',
  'stat',
  'statfs',
  'symlink',
  'truncate',
  'unlink',
  'utimes',
  'writeFile',
]

/** Raised when a simulated node starts a worker thread. */
export class WorkerThreadInSimulationError extends Error {
  static override name = 'WorkerThreadInSimulationError'
  override name = WorkerThreadInSimulationError.name

  constructor(message = 'a simulated node started a worker thread', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_WORKER_IN_SIMULATION'
}

let installed = false

export function installOffThreadGuard(): InstalledOffThreadGuard {
  if (installed) throw new Error('the off-thread guard is already installed in this process')
  installed = true
  let pending = 0
  const subtle = globalThis.crypto.subtle as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  const crypto = require('node:crypto') as Record<string, unknown>
  const workers = require('node:worker_threads') as Record<string, unknown>
  const fsPromises = require('node:fs/promises') as Record<string, unknown>
  const savedFs = Object.fromEntries(FS_ASYNC.map((n) => [n, fsPromises[n]]))
  const savedSubtle = Object.fromEntries(
    ['digest', ...SUBTLE_ASYNC].map((n) => [n, Object.getOwnPropertyDescriptor(subtle, n)]),
  )
  const savedNode = Object.fromEntries(NODE_ASYNC.map((n) => [n, crypto[n]]))
  const savedWorker = workers.Worker

  const realDigest = subtle.digest!.bind(subtle)
  define(subtle, 'digest', (algorithm: unknown, data: ArrayBufferView | ArrayBuffer) => {
    const name = typeof algorithm === 'string' ? algorithm : (algorithm as { name?: string })?.name
    const hash = name == null ? undefined : DIGESTS[name.toUpperCase()]
    if (hash == null) return counted(inCallOrder(realDigest(algorithm, data)))
    const bytes =
      data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    const digest = createHash(hash).update(bytes).digest()
    return Promise.resolve(digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength))
  })
  for (const name of SUBTLE_ASYNC) {
    const real = subtle[name]
    if (typeof real !== 'function') continue
    const bound = real.bind(subtle)
    define(subtle, name, (...args: unknown[]) => counted(inCallOrder(bound(...args))))
  }
  for (const name of FS_ASYNC) {
    const real = fsPromises[name]
    if (typeof real !== 'function') continue
    fsPromises[name] = (...args: unknown[]) => inCallOrder((real as (...a: unknown[]) => Promise<unknown>)(...args))
  }
  for (const name of NODE_ASYNC) {
    const real = crypto[name]
    if (typeof real !== 'function') continue
    crypto[name] = (...args: unknown[]) => {
      const callback = args.at(-1)
      if (typeof callback !== 'function') return (real as (...a: unknown[]) => unknown)(...args)
      pending++
      let done: (result: unknown[]) => void = () => {}
      void inCallOrder(new Promise<unknown[]>((resolve) => (done = resolve))).then((result) => {
        pending--
        ;(callback as (...r: unknown[]) => void)(...result)
      })
      return (real as (...a: unknown[]) => unknown)(...args.slice(0, -1), (...result: unknown[]) => done(result))
    }
  }
  workers.Worker = class {
    constructor() {
      throw new WorkerThreadInSimulationError(
        'a worker thread was started inside a simulation: its results would arrive when the machine gets to them; give the role its inline mode',
      )
    }
  }
  syncBuiltinESMExports()

  /** The last call's result as handed back: the next call's waits for it. */
  let lastInOrder: Promise<unknown> = Promise.resolve()

  /** `promise`'s outcome, handed back only once every call made before it has handed back its own. */
  function inCallOrder<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => {}) // a failure that waits for its turn is not an unhandled rejection meanwhile
    const ordered = lastInOrder.then(() => promise)
    lastInOrder = ordered.then(
      () => {},
      () => {},
    )
    return ordered
  }

  function counted<T>(promise: Promise<T>): Promise<T> {
    pending++
    return promise.finally(() => {
      pending--
    })
  }

  return {
    pending: () => pending,
    restore() {
      for (const [name, descriptor] of Object.entries(savedSubtle)) {
        if (descriptor != null) Object.defineProperty(subtle, name, descriptor)
        else delete subtle[name]
      }
      Object.assign(crypto, savedNode)
      Object.assign(fsPromises, savedFs)
      workers.Worker = savedWorker
      syncBuiltinESMExports()
      installed = false
    },
  }
}

function define(target: object, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, configurable: true, writable: true })
}

/** Resource kinds `process.getActiveResourcesInfo()` lists while real work is in flight (requests, immediates). */
export function realWorkInFlight(): boolean {
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'Immediate' || kind.endsWith('Req') || kind.includes('ReqWrap') || kind.startsWith('FSReq'))
      return true
    if (kind === 'WriteWrap' || kind === 'ShutdownWrap' || kind === 'CloseReq') return true
  }
  return false
}
