import { type ChildProcess, execFile, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project root and the CLI entry point; tests run the CLI under the same Node (24) as themselves. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CONSORT_BIN = path.join(PROJECT_ROOT, 'bin', 'consort.ts')

/** How long one CLI command may take before the test gives up on it (a cold start loads the whole node). */
export const CLI_TIMEOUT_MS = 60_000

export interface CliResult {
  /** The exit code, or null when the process was killed by a signal. */
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  /** Extra environment; the test's own CONSORT_* variables are never passed on. */
  env?: Record<string, string>
  timeoutMs?: number
}

function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('CONSORT_')) env[key] = value
  }
  return { ...env, ...extra }
}

/** Run `consort ARGS` to completion. Never rejects: the test looks at the code and the output. */
export function runConsort(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CONSORT_BIN, ...args],
      { cwd: PROJECT_ROOT, env: cliEnv(options.env), timeout: options.timeoutMs ?? CLI_TIMEOUT_MS, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const failure = err as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null
        resolve({
          code: failure == null ? 0 : typeof failure.code === 'number' ? failure.code : null,
          signal: failure?.signal ?? null,
          stdout,
          stderr,
        })
      },
    )
  })
}

/** Run `consort ARGS --json` and parse its one line of output, failing with the command's stderr otherwise. */
export async function consortJson<T = unknown>(args: string[], options: CliOptions = {}): Promise<T> {
  const result = await runConsort([...args, '--json'], options)
  if (result.code !== 0) {
    throw new Error(`consort ${args.join(' ')} exited with ${result.code ?? result.signal}: ${result.stderr.trim()}`)
  }
  return JSON.parse(result.stdout) as T
}

/**
 * A long-running `consort` process (a daemon), started with `--json` so that its first line of output says it is
 * ready. `stop()` sends a signal and waits for the exit; `kill()` is the cleanup of last resort.
 */
export class ConsortProcess {
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stdout = ''
  stderr = ''

  constructor(args: string[], options: CliOptions = {}) {
    this.child = spawn(process.execPath, [CONSORT_BIN, ...args], {
      cwd: PROJECT_ROOT,
      env: cliEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk
    })
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
    })
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })))
  }

  get pid(): number {
    return this.child.pid!
  }

  get running(): boolean {
    return this.child.exitCode == null && this.child.signalCode == null
  }

  /** The first line the process prints, parsed as JSON; rejects if it exits or stays silent for too long. */
  ready<T = unknown>(timeoutMs = CLI_TIMEOUT_MS): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`no output within ${timeoutMs} ms: ${this.stderr}`)), timeoutMs)
      const onData = () => {
        const newline = this.stdout.indexOf('\n')
        if (newline < 0) return
        try {
          finish(undefined, JSON.parse(this.stdout.slice(0, newline)) as T)
        } catch (err) {
          finish(err as Error)
        }
      }
      const onExit = (code: number | null) =>
        finish(new Error(`exited with ${code} before it was ready: ${this.stderr}`))
      const finish = (err?: Error, value?: T) => {
        clearTimeout(timer)
        this.child.stdout!.off('data', onData)
        this.child.off('exit', onExit)
        if (err != null) reject(err)
        else resolve(value as T)
      }
      this.child.stdout!.on('data', onData)
      this.child.once('exit', onExit)
      onData()
    })
  }

  /** Send `signal` and wait for the exit; SIGKILL if it does not exit within `timeoutMs`. */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
    timeoutMs = 30_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs)
    })
    const outcome = await Promise.race([this.exited, timedOut])
    clearTimeout(timer)
    if (outcome === 'timeout') {
      this.child.kill('SIGKILL')
      throw new Error(`pid ${this.pid} did not exit within ${timeoutMs} ms of ${signal}: ${this.stderr}`)
    }
    return outcome
  }

  /** Cleanup after a failed test: kill this process (and only this one) if it still runs. */
  async kill(): Promise<void> {
    if (!this.running) return
    this.child.kill('SIGKILL')
    await this.exited
  }
}

// biome-ignore lint/suspicious/noExplicitAny: tests walk printed JSON of several shapes
export type Printed = any

export interface InProcessCliResult {
  out: string
  err: string
  code: number
  json: () => Printed
}

/**
 * Run `consort ARGS` in this process (faster than a child process, and it reaches in-process nodes' control APIs
 * the same way): what it printed on stdout and stderr, and its exit code.
 */
export async function consortInProcess(...args: string[]): Promise<InProcessCliResult> {
  const { main } = await import('../../cli/main.ts')
  const out: string[] = []
  const err: string[] = []
  const write = process.stdout.write.bind(process.stdout)
  const writeError = process.stderr.write.bind(process.stderr)
  const capture = (into: string[]) =>
    ((chunk: string | Uint8Array) => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString())
      return true
    }) as typeof process.stdout.write
  process.stdout.write = capture(out)
  process.stderr.write = capture(err)
  const before = process.exitCode
  process.exitCode = 0
  try {
    await main(['node', 'consort', ...args])
  } finally {
    process.stdout.write = write
    process.stderr.write = writeError
  }
  const code = Number(process.exitCode ?? 0)
  process.exitCode = before
  const text = out.join('')
  return { out: text, err: err.join(''), code, json: () => JSON.parse(text) }
}
