import type { Helia } from '@helia/interface'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { FastifyPluginAsync } from 'fastify'
import type { z } from 'zod'
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
import { type LayoutSpec, type RoleDb, RoleStore, storeContext } from './store.ts'

/**
 * The contract between the node and its roles. A role is a service built from these components; it registers
 * its protocol handlers and topic subscriptions in `start()` and removes them in `stop()`. Roles never import
 * each other and never reach into `node/`: they meet only through `protocols/`.
 */

export type { RoleDb } from './store.ts'

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

/**
 * What the node knows of a role: its name, its options' schema, the components it needs, its store's layout and how
 * to make it. Every role is one `defineRole(…)` in its `index.ts`, and `node/roles.ts` lists them; the node's typed
 * role map (`node.role('retailer')`) comes from that list.
 */
export interface RoleDefinition<N extends RoleName = RoleName, R extends Role = Role> {
  readonly name: N
  /**
   * The node's components the role is made from; `create` refuses to make it without one of them. Null for a role
   * that has not declared them yet: it gets every component, unchecked.
   */
  readonly components: readonly ComponentName[] | null
  /** The layout of its store (repositories, version, retired prefixes), when it keeps one. */
  readonly layout: AnyLayout | undefined
  /**
   * Check `roleOptions.<name>` of a node's configuration: a strict schema (an unknown field is refused), every field
   * optional with its default written beside it. Throws `RoleOptionsError` naming the field.
   */
  parseOptions(input: unknown): unknown
  /**
   * Make the role from a node's components and its raw options (checked here); nothing runs until `start()`, which
   * first opens the role's store (its layout version checked). Throws `MissingComponentError` naming a declared
   * component the node did not give.
   */
  create(components: Partial<RoleComponents>, input?: unknown): R
}

export type ComponentName = keyof RoleComponents

// biome-ignore lint/suspicious/noExplicitAny: any repositories and sublevels: the definition only opens the store
type AnyLayout = LayoutSpec<any, any>

/** `{ store }` typed by a role's layout, or nothing for a role without one. */
export type StoreOf<L> = L extends LayoutSpec<infer Repos, infer Subs> ? { store: RoleStore<Repos, Subs> } : unknown

export interface RoleSpec<
  N extends RoleName,
  S extends z.ZodType,
  R extends Role,
  C extends ComponentName,
  L extends AnyLayout | undefined,
> {
  name: N
  /** `z.strictObject({...})`: each field optional, with a comment giving its default. */
  options: S
  /**
   * The node's components this role uses: it gets these and no others (plus `store`, from its `layout`). Every role
   * declares them; one that did not would get them all, unchecked (as every role did before the template asked).
   */
  components?: readonly C[]
  /** Its store: the template opens it before the role's own `start()` and refuses another layout version. */
  layout?: L
  /** Build the role from its components and checked options. Web pages, stores and timers are the role's own. */
  create(components: Pick<RoleComponents, C> & StoreOf<L>, options: z.output<S>): R
}

/** A role's options were refused; the message names the field (`roleOptions.retailer.renewCheckIntervalMs: …`). */
export class RoleOptionsError extends Error {
  static override name = 'RoleOptionsError'
  override name = RoleOptionsError.name

  constructor(message = "a role's options were refused", options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_ROLE_OPTIONS'
}

/** A role was made without a component it declares (a node, test or simulation that assembles roles left it out). */
export class MissingComponentError extends Error {
  static override name = 'MissingComponentError'
  override name = MissingComponentError.name

  constructor(message = 'a role was made without a component it declares', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_MISSING_COMPONENT'
}

const log = logger('consort:role')

/**
 * The one template of a role: a checked options schema, a typed name, and one lifecycle for all of them. The role
 * that `create` answers gets `start()` and `stop()` that
 *
 * - run one at a time, in the order called (a `stop()` during `start()` waits for it, then stops);
 * - do nothing when already in the state asked for (`start()` twice starts once, `stop()` before `start()` is a
 *   no-op), so no role has to guard a second call itself;
 * - release what a failed `start()` took: the role's own `stop()` runs before the error is thrown, so handlers and
 *   subscriptions registered before the failure do not outlive it;
 * - may be called again after `stop()`: a role starts and stops any number of times on one node
 *   (`test/integration/roles/compliance.test.ts` holds every role to this).
 *
 * So a role's own `start()` never calls `this.stop()` to clean up (it would wait for itself): it throws, and the
 * template runs its `stop()`, which must cope with a start that ended part-way.
 */
export function defineRole<
  N extends RoleName,
  S extends z.ZodType,
  R extends Role & { readonly name: N },
  C extends ComponentName = ComponentName,
  L extends AnyLayout | undefined = undefined,
>(spec: RoleSpec<N, S, R, C, L>): RoleDefinition<N, R> {
  const parseOptions = (input: unknown): z.output<S> => {
    const result = spec.options.safeParse(input ?? {})
    if (result.success) return result.data
    const issue = result.error.issues[0]!
    const field =
      issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys.join(', ')].join('.') : issue.path.join('.')
    throw new RoleOptionsError(`roleOptions.${spec.name}${field === '' ? '' : `.${field}`}: ${issue.message}`)
  }
  const needs = (components: Partial<RoleComponents>, name: ComponentName, why: string) => {
    if (components[name] === undefined)
      throw new MissingComponentError(
        `role ${spec.name} needs the ${name} component (${why}), which whoever assembled it did not give`,
      )
  }
  return {
    name: spec.name,
    components: spec.components ?? null,
    layout: spec.layout,
    parseOptions,
    create(components, input = {}) {
      const declared = spec.components
      for (const name of declared ?? []) needs(components, name, 'declared in its defineRole')
      const given = (
        declared == null ? components : Object.fromEntries(declared.map((name) => [name, components[name]]))
      ) as Pick<RoleComponents, C>
      // biome-ignore lint/suspicious/noExplicitAny: the layout's own types reach the role through StoreOf<L>
      let store: RoleStore<any, any> | undefined
      if (spec.layout != null) {
        needs(components, 'db', 'its store lives there')
        needs(components, 'network', 'its store decodes the records it kept')
        const network = components.network!
        store = new RoleStore(components.db!, spec.layout, storeContext(network))
      }
      const role = spec.create(
        { ...given, ...(store != null ? { store } : {}) } as Pick<RoleComponents, C> & StoreOf<L>,
        parseOptions(input),
      )
      return withLifecycle(role, store)
    },
  }
}

/** `role` with the template's `start()` and `stop()` (see `defineRole`) in front of its own. */
function withLifecycle<R extends Role>(role: R, store: { open(): Promise<void> } | undefined): R {
  const ownStart = role.start.bind(role)
  const ownStop = role.stop.bind(role)
  let running = false
  let last: Promise<unknown> = Promise.resolve()
  const inTurn = (step: () => Promise<void>): Promise<void> => {
    const next = last.then(step, step)
    last = next.catch(() => {})
    return next
  }
  // Own properties in front of the class's methods: a subclass's `super.start()` still reaches the class's own.
  Object.defineProperties(role, {
    start: {
      value: () =>
        inTurn(async () => {
          if (running) return
          // The layout version is checked before the role reads a key of its store.
          await store?.open()
          try {
            await ownStart()
          } catch (err) {
            await ownStop().catch((stopErr: unknown) =>
              log.error('role %s failed to stop after a failed start: %e', role.name, stopErr),
            )
            throw err
          }
          running = true
        }),
    },
    stop: {
      value: () =>
        inTurn(async () => {
          if (!running) return
          running = false
          await ownStop()
        }),
    },
  })
  return role
}

/**
 * Pages a role serves beside its own work — the web player, the storefront — composed onto the role rather than
 * subclassed from it (as Helia composes a node from parts instead of extending one). They may bring a `web` mount
 * for the control API's origin, control routes of their own, and a lifecycle.
 */
export interface RolePages {
  /** Pages on the control API's origin (`/ui`), outside `/v1`. */
  readonly web?: RoleWebMount
  /** Control routes the pages add to the role's (under `/v1/<role>/`). */
  readonly controlRoutes?: readonly ControlRoute[]
  start?(): Promise<void>
  stop?(): Promise<void>
}

/**
 * `role` with `pages` composed onto it under `key` (`role.ui`, `role.storefront`): the pages' control routes follow
 * the role's, their `web` mount becomes the role's, they start after the role has started and stop before it stops
 * (and the role still stops when they fail to). The role is not changed otherwise: its own methods and private
 * state stay its own, so a role with pages is the same role, and `defineRole`'s lifecycle wraps the whole.
 */
export function withPages<R extends Role, K extends string, P extends RolePages>(
  role: R,
  key: K,
  pages: P,
): WithPages<R, K, P> {
  const ownStart = role.start.bind(role)
  const ownStop = role.stop.bind(role)
  Object.defineProperties(role, {
    [key]: { value: pages, enumerable: true },
    controlRoutes: {
      value: [...(role.controlRoutes ?? []), ...(pages.controlRoutes ?? [])],
      enumerable: true,
      configurable: true,
    },
    ...(pages.web !== undefined ? { web: { value: pages.web, enumerable: true, configurable: true } } : {}),
    // Configurable: `defineRole` puts its lifecycle in front of these, as it does of a role's own methods.
    start: {
      configurable: true,
      value: async () => {
        await ownStart()
        await pages.start?.()
      },
    },
    stop: {
      configurable: true,
      value: async () => {
        try {
          await pages.stop?.()
        } finally {
          await ownStop()
        }
      },
    },
  })
  return role as WithPages<R, K, P>
}

/** A role with pages composed on under `K`: its own type, the pages under `K`, and their `web` mount if they have one. */
export type WithPages<R extends Role, K extends string, P extends RolePages> = R & {
  readonly [k in K]: P
} & (P extends {
    readonly web: infer W
  }
    ? { readonly web: W }
    : unknown)
