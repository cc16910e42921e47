import { randomBytes, timingSafeEqual } from 'node:crypto'
import { chmodSync } from 'node:fs'
import { Readable } from 'node:stream'
import { InvalidParametersError, type PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { CID } from 'multiformats/cid'
import { toHex } from '../keys/hex.ts'
import { withDeadline } from '../protocols/deadline.ts'
import { httpStatusOf } from '../protocols/http-status.ts'
import { isTerritory, tryCanonicalContentId } from '../protocols/identifiers/index.ts'
import { toJsonValue } from '../protocols/json.ts'
import { isRecordError } from '../protocols/records/errors.ts'
import { ROLE_NAMES, type RoleName } from '../protocols/records/types/common.ts'
import { describeVerifiedOffer, queryCertifiedOffers } from '../protocols/reference/offers.ts'
import { announcedAddresses, dialFailureReason, withPeerId } from '../protocols/rpc/addresses.ts'
import { RpcUnreachableError, wireCodeOf } from '../protocols/rpc/errors.ts'
import type { ControlRoute } from '../roles/role.ts'
import { writeBackup } from './backup.ts'
import type { ConsortNode } from './consort-node.ts'
import { dataDirPaths, writeFileAtomic } from './data-dir.ts'
import { NoDataDirError, WebPrefixError } from './errors.ts'
import { keyRotationRoutes } from './key-rotation.ts'
import { registerRoutes } from './register-route.ts'

const log = logger('consort:control-api')

/** Largest request body the control API accepts (a JSON release description with its tracks). */
export const MAX_CONTROL_BODY_BYTES = 4 * 1024 * 1024

export interface ControlApiInfo {
  url: string
  token: string
  pid: number
}

function describePeer(node: ConsortNode) {
  return {
    peerId: node.peerId.toString(),
    addresses: node.addresses(),
    signingKey: toHex(node.keys.signer.publicKey),
    sealingKey: toHex(node.keys.sealing.publicKey),
    network: node.network.name,
    roles: [...node.roles.keys()],
  }
}

/** The node's own commands: identity, peers, connect, record lookup. */
function nodeRoutes(node: ConsortNode): ControlRoute[] {
  return [
    { method: 'GET', path: '/id', handler: async () => describePeer(node) },
    ...registerRoutes(node),
    ...keyRotationRoutes(node),
    {
      // Each connected peer with the addresses it announces (identify), which are where it can be dialled; the
      // remote end of a connection is shown apart, because for an inbound one it is a source port nobody listens on.
      method: 'GET',
      path: '/peers',
      handler: async () => {
        const peers = new Map<string, { peerId: string; addresses: string[]; connectedVia: string[] }>()
        for (const connection of node.libp2p.getConnections()) {
          const peerId = connection.remotePeer.toString()
          let peer = peers.get(peerId)
          if (peer == null) {
            const announced = await node.libp2p.peerStore.get(connection.remotePeer).catch(() => null)
            peer = {
              peerId,
              addresses: [
                ...new Set(
                  (announced?.addresses ?? []).map((a) => withPeerId(a.multiaddr, connection.remotePeer).toString()),
                ),
              ],
              connectedVia: [],
            }
            peers.set(peerId, peer)
          }
          const via = connection.remoteAddr.toString()
          if (!peer.connectedVia.includes(via)) peer.connectedVia.push(via)
        }
        return [...peers.values()]
      },
    },
    {
      // Where a peer (a service named in the network record) listens, as it announced: waits until this node has
      // heard of it (identify, or the peer routing), within `timeoutMs`.
      method: 'GET',
      path: '/peers/:peerId/addresses',
      handler: async ({ params, query, signal }) => {
        let peer: PeerId
        try {
          peer = peerIdFromString(params.peerId ?? '')
        } catch {
          throw new InvalidParametersError(`peerId: not a peer id: ${params.peerId}`)
        }
        const timeoutMs = Math.min(Math.max(Number(query.timeoutMs ?? 10_000) || 10_000, 0), 60_000)
        const service = query.service != null ? query.service.slice(0, 64) : 'peer'
        const within = withDeadline(timeoutMs, signal).signal
        let addresses = await announcedAddresses(node.libp2p, peer, { signal: within, service })
        if (node.libp2p.getConnections(peer).length === 0) {
          // Known addresses may be those of the peer's previous run: check them, and find fresh ones if they fail.
          try {
            await node.libp2p.dial(addresses, { signal: within })
          } catch {
            const stale = addresses.map((a) => a.toString())
            addresses = await announcedAddresses(node.libp2p, peer, { signal: within, service, stale })
            try {
              await node.libp2p.dial(addresses, { signal: within })
            } catch (err) {
              throw new RpcUnreachableError(
                service,
                peer.toString(),
                stale.concat(addresses.map((a) => a.toString())),
                dialFailureReason(err),
              )
            }
          }
        }
        return { peerId: peer.toString(), addresses: addresses.map((a) => a.toString()) }
      },
    },
    {
      method: 'POST',
      path: '/connect',
      handler: async ({ body, signal }) => {
        const address = (body as { address?: unknown } | null)?.address
        if (typeof address !== 'string') throw new InvalidParametersError('address: expected a multiaddr string')
        let ma: ReturnType<typeof multiaddr>
        try {
          ma = multiaddr(address)
        } catch {
          throw new InvalidParametersError(`address: not a multiaddr: ${address}`)
        }
        const connection = await node.libp2p.dial(ma, { signal })
        return { peerId: connection.remotePeer.toString() }
      },
    },
    {
      // Every node can list the certified offers for content in a territory: it asks the reference services and
      // re-validates each answer itself (roles with a market view of their own serve /v1/<role>/market too).
      method: 'GET',
      path: '/market',
      handler: async ({ query, signal }) => {
        const content = tryCanonicalContentId(query.content ?? '')
        const territory = query.territory ?? 'Worldwide'
        if (content == null) throw new InvalidParametersError(`content: not a content id: ${query.content ?? ''}`)
        if (!isTerritory(territory)) throw new InvalidParametersError(`territory: not a territory: ${territory}`)
        const answer = await queryCertifiedOffers(
          { libp2p: node.libp2p, network: node.network, trust: node.trust, clock: node.clock },
          { content, territory },
          { signal },
        )
        return { content, territory, ...answer, offers: answer.offers.map(describeVerifiedOffer) }
      },
    },
    ...syncRoutes(node),
    {
      method: 'GET',
      path: '/records/:cid',
      handler: async ({ params, query, signal }) => {
        let id: CID
        try {
          id = CID.parse(params.cid ?? '')
        } catch {
          throw new InvalidParametersError(`cid: not a CID: ${params.cid}`)
        }
        const record = await node.records.get(id, {
          signal: withDeadline(10_000, signal).signal,
          offline: query.offline === 'true',
        })
        return { id: record.id, type: record.type, signer: record.signer, body: record.body }
      },
    },
  ]
}

/** Largest page of `GET /v1/sync/log`. */
const MAX_SYNC_LOG_LIST = 10_000

/** Catch-up: the log's state, its newest entries, a pull from every connected peer now. */
function syncRoutes(node: ConsortNode): ControlRoute[] {
  return [
    {
      method: 'GET',
      path: '/sync',
      handler: async () => ({
        epoch: node.sync.log.epoch,
        entries: node.sync.log.size,
        last: node.sync.log.last,
        peers: node.sync.peers(),
      }),
    },
    {
      method: 'GET',
      path: '/sync/log',
      handler: async ({ query }) => {
        const limit = query.limit == null ? 100 : Number(query.limit)
        const since = query.since == null ? undefined : Number(query.since)
        if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SYNC_LOG_LIST)
          throw new InvalidParametersError(`limit: 1 to ${MAX_SYNC_LOG_LIST}`)
        if (since != null && !Number.isSafeInteger(since)) throw new InvalidParametersError('since: a time in ms')
        const entries = await node.sync.log.tail({
          limit,
          ...(since != null ? { since } : {}),
          ...(query.type != null ? { type: query.type } : {}),
        })
        return entries.map(({ data: _data, ...entry }) => entry)
      },
    },
    { method: 'POST', path: '/sync/pull', handler: async () => node.sync.round(Number.POSITIVE_INFINITY) },
  ]
}

/**
 * The daemon's control API: HTTP on loopback only, every request carrying the bearer token the daemon wrote
 * into its data directory (mode 0600), so that only the node's own user can command it.
 */
export class ControlApi {
  readonly #node: ConsortNode
  readonly #port: number
  readonly #token = randomBytes(32).toString('hex')
  /** Path prefixes of the roles' own web pages, which authenticate their visitors themselves. */
  readonly #webPrefixes: string[] = []
  #server: FastifyInstance | undefined
  #info: ControlApiInfo | undefined

  constructor(node: ConsortNode, options: { port?: number } = {}) {
    this.#node = node
    this.#port = options.port ?? 0
  }

  get info(): ControlApiInfo | undefined {
    return this.#info
  }

  async start(): Promise<ControlApiInfo> {
    const server = Fastify({ bodyLimit: MAX_CONTROL_BODY_BYTES })
    server.addHook('onRequest', async (request, reply) => this.#authorise(request, reply))
    server.setErrorHandler((err, _request, reply) => this.#replyError(err, reply))
    server.setNotFoundHandler((request, reply) => this.#replyNotFound(request, reply))
    this.#mount(server, '/v1', nodeRoutes(this.#node))
    server.get('/v1/backup', async (request, reply) => this.#backup(request, reply))
    for (const [name, role] of this.#node.roles) {
      this.#mount(server, `/v1/${name}`, role.controlRoutes ?? [])
    }
    for (const [name, role] of this.#node.roles) {
      if (role.web == null) continue
      const prefix = role.web.prefix
      if (!/^\/[a-z][a-z0-9-]*$/.test(prefix) || prefix === '/v1' || this.#webPrefixes.includes(prefix)) {
        throw new WebPrefixError(`role ${name}: web prefix ${prefix} is not allowed`)
      }
      await server.register(role.web.plugin, { prefix })
      this.#webPrefixes.push(prefix)
    }
    await server.listen({ host: '127.0.0.1', port: this.#port })
    const address = server.server.address()
    const port = typeof address === 'object' && address != null ? address.port : this.#port
    this.#server = server
    this.#info = { url: `http://127.0.0.1:${port}`, token: this.#token, pid: process.pid }
    if (this.#node.dataDir != null) {
      const path = dataDirPaths(this.#node.dataDir).api
      writeFileAtomic(path, `${JSON.stringify(this.#info)}\n`, 0o600)
      chmodSync(path, 0o600)
    }
    return this.#info
  }

  async stop(): Promise<void> {
    await this.#server?.close()
    this.#server = undefined
  }

  /** `GET /v1/backup[?blocks=true]`: the node's online backup, streamed (see backup.ts). */
  async #backup(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const node = this.#node
    if (node.dataDir == null) throw new NoDataDirError('this node keeps nothing on disk')
    const blocks = (request.query as Record<string, string | undefined>).blocks === 'true'
    const bytes = writeBackup(
      {
        dataDir: node.dataDir,
        db: node.stores.db,
        blockstore: node.stores.blockstore,
        peerId: node.peerId.toString(),
        network: node.network.name,
        now: node.clock.now(),
      },
      { blocks },
    )
    log('backup requested (blocks %s)', blocks)
    reply.header('content-type', 'application/octet-stream')
    await reply.send(Readable.from(bytes))
  }

  #mount(server: FastifyInstance, prefix: string, routes: readonly ControlRoute[]): void {
    for (const route of routes) {
      server.route({
        method: route.method,
        url: `${prefix}${route.path}`,
        handler: async (request, reply) => {
          // Abort the route's work when the client goes away before its answer was sent (the request stream's own
          // 'close' fires as soon as a POST body has been read, so it says nothing about the client).
          const controller = new AbortController()
          reply.raw.on('close', () => {
            if (!reply.raw.writableFinished) controller.abort()
          })
          const result = await route.handler({
            params: request.params as Record<string, string>,
            query: request.query as Record<string, string | undefined>,
            body: request.body ?? null,
            signal: controller.signal,
          })
          reply.header('content-type', 'application/json; charset=utf-8')
          return JSON.stringify(toJsonValue(result ?? null))
        },
      })
    }
  }

  async #authorise(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const path = request.url.split('?')[0] ?? ''
    if (this.#webPrefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) return
    const header = request.headers.authorization ?? ''
    const presented = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '')
    const expected = Buffer.from(this.#token)
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      await reply.code(401).send({ code: 'ERR_UNAUTHORISED', message: 'missing or wrong control API token' })
    }
  }

  /** A route nobody serves: say which role would, and which roles this node runs, instead of the raw route. */
  #replyNotFound(request: FastifyRequest, reply: FastifyReply): void {
    const path = (request.url.split('?')[0] ?? '').slice(0, 200)
    const roles = [...this.#node.roles.keys()]
    const wanted = /^\/v1\/([a-z]+)\//.exec(path)?.[1]
    const message =
      wanted != null && (ROLE_NAMES as readonly string[]).includes(wanted) && !this.#node.roles.has(wanted as RoleName)
        ? `this node does not run the ${wanted} role (its roles: ${roles.join(', ') || 'none'}); use the data dir of a node that does`
        : `this node has no command ${request.method} ${path} (is the CLI newer than the daemon? restart the daemon)`
    void reply.code(404).send({ code: 'ERR_NOT_FOUND', message })
  }

  #replyError(err: unknown, reply: FastifyReply): void {
    const error = err as Error
    const code = wireCodeOf(err)
    if (isRecordError(err)) {
      void reply.code(422).send({ code: err.code, message: err.message, field: err.field })
      return
    }
    const status = httpStatusOf(err)
    if (status < 500) {
      // A library's own HTTP error (fastify's FST_ERR_…) keeps its code, as before.
      const shown = code ?? (err as { code?: unknown }).code
      void reply
        .code(status)
        .send({ code: typeof shown === 'string' ? shown : 'ERR_BAD_REQUEST', message: error.message })
      return
    }
    if (code != null) {
      void reply.code(409).send({ code, message: error.message })
      return
    }
    log.error('control API request failed: %e', err)
    void reply.code(500).send({ code: 'ERR_INTERNAL', message: error.message })
  }
}
