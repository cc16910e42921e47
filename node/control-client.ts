import { readFileSync } from 'node:fs'
import type { ControlApiInfo } from './control-api.ts'
import { dataDirPaths } from './data-dir.ts'
import { ControlApiError, DaemonNotRunningError } from './errors.ts'

/** How long the CLI waits for the daemon to answer one command. */
export const CONTROL_REQUEST_TIMEOUT_MS = 120_000

/** The CLI's side of the control API: finds the running daemon through its data dir and sends it commands. */
export class ControlClient {
  readonly #info: ControlApiInfo

  constructor(info: ControlApiInfo) {
    this.#info = info
  }

  static forDataDir(dataDir: string): ControlClient {
    let info: ControlApiInfo
    try {
      info = JSON.parse(readFileSync(dataDirPaths(dataDir).api, 'utf8')) as ControlApiInfo
    } catch {
      throw new DaemonNotRunningError(
        `no daemon is running on ${dataDir} (start one with: consort daemon --data-dir ${dataDir})`,
      )
    }
    return new ControlClient(info)
  }

  get url(): string {
    return this.#info.url
  }

  /** A GET whose answer is a byte stream (a backup); errors as `request` reports them. */
  async stream(path: string, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    let response: Response
    try {
      response = await fetch(`${this.#info.url}${path}`, {
        headers: { authorization: `Bearer ${this.#info.token}` },
        ...(signal != null ? { signal } : {}),
      })
    } catch (err) {
      throw new DaemonNotRunningError(
        `the daemon at ${this.#info.url} does not answer (${(err as Error).message}); is it running?`,
      )
    }
    if (!response.ok || response.body == null) {
      const json = await response.json().catch(() => null)
      throw new ControlApiError(response.status, json?.code ?? 'ERR_HTTP', json?.message ?? `HTTP ${response.status}`)
    }
    return response.body
  }

  async request<T = unknown>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    timeoutMs = CONTROL_REQUEST_TIMEOUT_MS,
  ): Promise<T> {
    let response: Response
    try {
      response = await fetch(`${this.#info.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#info.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (err) {
      if ((err as Error).name === 'TimeoutError')
        throw new ControlApiError(504, 'ERR_TIMEOUT', `${method} ${path}: the daemon did not answer in time`)
      throw new DaemonNotRunningError(
        `the daemon at ${this.#info.url} does not answer (${(err as Error).message}); is it running?`,
      )
    }
    const text = await response.text()
    const json = text.length > 0 ? JSON.parse(text) : null
    if (!response.ok) {
      throw new ControlApiError(response.status, json?.code ?? 'ERR_HTTP', json?.message ?? `HTTP ${response.status}`)
    }
    return json as T
  }
}
