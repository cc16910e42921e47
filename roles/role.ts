import type { Helia } from '@helia/interface'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { AbstractSublevel } from 'abstract-level'
import type { FastifyPluginAsync } from 'fastify'
import type { NodeKeys } from '../keys/keystore.ts'
import type { Random } from '../keys/random.ts'
import type { Clock } from '../protocols/clock.ts'
import type { Metrics } from '../protocols/metrics.ts'
import type { NetworkContext } from '../protocols/network.ts'
import type { SignedRecord } from '../protocols/records/envelope.ts'
import type { RecordStore } from '../protocols/records/store.ts'
import type { RoleName } from '../protocols/records/types/common.ts'
import type { TopicBus } from '../protocols/topics/bus.ts'
import type { CertificateTrust } from '../protocols/trust/trust.ts'

/**
 * The contract between the node and its roles. A role is a service built from these components; it registers
 * its protocol handlers and topic subscriptions in `start()` and removes them in `stop()`. Roles never import
 * each other and never reach into `node/`: they meet only through `protocols/`.
 */

// biome-ignore lint/suspicious/noExplicitAny: the root database's own type parameter does not matter to a role
export type RoleDb = AbstractSublevel<any, string | Uint8Array | Buffer, string, Uint8Array>

export interface RoleComponents {
  peerId: PeerId
  libp2p: Libp2p
  helia: Helia
  /** This role's own sublevel of the node's LevelDB (values are bytes; keys are strings). */
  db: RoleDb
  keys: NodeKeys
  clock: Clock
  random: Random
  network: NetworkContext
  topics: TopicBus
  trust: CertificateTrust
  records: RecordStore
  /** This node's own certificate and device registration, attached to what it publishes. */
  credentials: Credentials
  /** What the role counts for the node's Prometheus endpoint (a no-op when the operator turned metrics off). */
  metrics: Metrics
  /** The data directory, or null when the node keeps everything in memory. */
  dataDir: string | null
}

/** The records that vouch for this node, kept by the node and shown to peers with what it signs. */
export interface Credentials {
  cert(): SignedRecord<'consort/cert'> | undefined
  device(): SignedRecord<'consort/device'> | undefined
  /** What to attach to a record this node publishes (its cert and/or device registration). */
  attachments(): SignedRecord[]
  setCert(cert: SignedRecord<'consort/cert'>): Promise<void>
  setDevice(device: SignedRecord<'consort/device'>): Promise<void>
}

/** A command the CLI can send to a running daemon, served by the role on the control API under `/v1/<role>/`. */
export interface ControlRoute {
  method: 'GET' | 'POST' | 'DELETE'
  /** Relative to `/v1/<role>`, fastify syntax (`/offers/:id`). */
  path: string
  handler(request: ControlRequest): Promise<unknown>
}

export interface ControlRequest {
  params: Record<string, string>
  query: Record<string, string | undefined>
  body: unknown
  /** Aborted when the client goes away or the daemon stops. */
  signal: AbortSignal
}

/**
 * Web pages a role serves on the control API's own origin under `prefix` (the web player at `/ui`). They bring
 * their own authentication: the control API does not ask for its bearer token there, which never reaches a browser.
 */
export interface RoleWebMount {
  /** `/ui`: every path under it is the role's. Never `/v1`. */
  readonly prefix: string
  /** A fastify plugin, registered with this prefix in its own encapsulated context. */
  readonly plugin: FastifyPluginAsync
}

export interface Role {
  readonly name: RoleName
  start(): Promise<void>
  stop(): Promise<void>
  /** Commands this role serves to the local CLI and web pages. */
  readonly controlRoutes?: readonly ControlRoute[]
  /** Pages this role serves on the control API's origin, outside `/v1` (optional). */
  readonly web?: RoleWebMount
}

export type RoleFactory = (components: RoleComponents, init: Record<string, unknown>) => Role
