import { createServer, type Server } from 'node:http'
import { logger } from '@libp2p/logger'
import type { NodeMetrics } from './metrics.ts'

const log = logger('consort:metrics')

/** Where the Prometheus endpoint listens unless the operator says otherwise: loopback, Prometheus' exporter range. */
export const DEFAULT_METRICS_HOST = '127.0.0.1'
export const DEFAULT_METRICS_PORT = 9464
/** A scrape that takes longer than this is answered 503 (a scraper retries at its next interval). */
const SCRAPE_TIMEOUT_MS = 10_000

/**
 * The node's Prometheus endpoint: `GET /metrics` on its own port, nothing else. It carries no secrets and takes no
 * commands, so it has no token; it binds where the operator says (loopback by default) and a firewall or the
 * scraper's network decides who reaches it.
 */
export class MetricsServer {
  readonly #metrics: NodeMetrics
  readonly #host: string
  readonly #port: number
  #server: Server | undefined
  #url: string | undefined

  constructor(metrics: NodeMetrics, options: { host?: string; port?: number } = {}) {
    this.#metrics = metrics
    this.#host = options.host ?? DEFAULT_METRICS_HOST
    this.#port = options.port ?? DEFAULT_METRICS_PORT
  }

  /** `http://host:port/metrics` once started. */
  get url(): string | undefined {
    return this.#url
  }

  async start(): Promise<string> {
    const server = createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0]
      if (path !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n')
        return
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only\n')
        return
      }
      const timeout = AbortSignal.timeout(SCRAPE_TIMEOUT_MS)
      Promise.race([
        this.#metrics.exposition(),
        new Promise<never>((_, reject) => timeout.addEventListener('abort', () => reject(timeout.reason))),
      ]).then(
        ({ contentType, body }) => {
          response.writeHead(200, { 'content-type': contentType })
          response.end(request.method === 'HEAD' ? undefined : body)
        },
        (err) => {
          log.error('scrape failed: %e', err)
          response.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n')
        },
      )
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#port, this.#host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.#server = server
    const address = server.address()
    const port = typeof address === 'object' && address != null ? address.port : this.#port
    const host = this.#host.includes(':') ? `[${this.#host}]` : this.#host
    this.#url = `http://${host}:${port}/metrics`
    log('serving %s', this.#url)
    return this.#url
  }

  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server == null) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
