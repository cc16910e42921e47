import { readFileSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { isError } from '../protocols/errors.ts'
import { ROLE_NAMES } from '../protocols/records/types/common.ts'
import { RoleOptionsError } from '../roles/role.ts'
import { ConfigError } from './errors.ts'
import { DEFAULT_PING_INTERVAL_MS } from './libp2p-options.ts'
import { roleDefinition } from './roles.ts'

/**
 * The TCP port a node listens on unless its operator says otherwise. Fixed, so that an operator can write a node's
 * bootstrap address (host, port and peer id) down before the node first starts, and open it in a firewall.
 */
export const DEFAULT_P2P_PORT = 4150

/** Every IPv4 interface on the default port: a daemon is for other hosts to reach. */
export const DEFAULT_LISTEN: readonly string[] = [`/ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT}`]

/** The WebSocket port a service node opens for browsers when asked (`consort init --websocket`). */
export const DEFAULT_WEBSOCKET_PORT = 4151

const multiaddrString = z.string().refine((value) => {
  try {
    multiaddr(value)
    return true
  } catch {
    return false
  }
}, 'not a multiaddr')

/**
 * `config.json` in a data directory. Plain data with commented defaults; every field is checked and an
 * unknown one is refused (a typo must not silently fall back to a default).
 */
export const fileConfigSchema = z
  .object({
    version: z.literal(1),
    /**
     * Addresses to listen on: every interface on port 4150 by default, so that other hosts can reach the node
     * (docs/decisions/0010-listen-and-announce.md). Tests and the devnet pass loopback with port 0.
     */
    listen: z
      .array(multiaddrString)
      .max(16)
      .default(() => [...DEFAULT_LISTEN]),
    /**
     * The addresses other peers should dial, announced through identify and the DHT instead of the listen addresses
     * (a public address in front of a NAT, a DNS name, a port forward). Empty: announce what the node listens on.
     */
    announce: z.array(multiaddrString).max(16).default([]),
    /** NAT traversal: reachability checks, relaying and hole punching (docs/decisions/0012-nat-traversal.md). */
    nat: z
      .object({
        /** Ask peers whether this node's addresses are reachable from outside (AutoNAT), and answer them in turn. */
        autonat: z.boolean().default(true),
        /** Offer circuit relay v2 to nodes behind NAT (a service node with a public address). */
        relayServer: z.boolean().default(false),
        /** Reserve a slot on relays and be reachable through them (a node behind NAT, e.g. a player at home). */
        reserveRelay: z.boolean().default(false),
        /** Turn relayed connections into direct ones by hole punching (DCUtR). */
        holePunching: z.boolean().default(true),
      })
      .strict()
      .default({ autonat: true, relayServer: false, reserveRelay: false, holePunching: true }),
    /** Peers to dial at start, besides those the network record lists. */
    bootstrap: z.array(multiaddrString).max(64).default([]),
    /** Roles this node plays. */
    roles: z.array(z.enum(ROLE_NAMES)).max(ROLE_NAMES.length).default([]),
    /** The control API the CLI talks to. Always loopback; port 0 picks a free one. */
    api: z
      .object({ port: z.number().int().min(0).max(65_535).default(0) })
      .strict()
      .default({ port: 0 }),
    /**
     * The Prometheus endpoint (`GET /metrics`), off unless turned on. Loopback by default: give `host` an address
     * a scraper can reach (and firewall it) to scrape from elsewhere. Port 0 picks a free one.
     */
    metrics: z
      .object({
        enabled: z.boolean().default(false),
        host: z.union([z.ipv4(), z.ipv6()]).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(9464),
      })
      .strict()
      .default({ enabled: false, host: '127.0.0.1', port: 9464 }),
    /**
     * libp2p's connection monitor: how often it pings each connection to measure its round trip (ms; default once a
     * minute, docs/decisions/0019). A failed ping closes nothing (0009), and yamux's keep-alive, not this, keeps idle
     * connections through TCP and NAT time-outs: a shorter interval costs CPU and buys fresher round trips only.
     */
    connectionMonitor: z
      .object({ pingIntervalMs: z.number().int().min(1_000).max(3_600_000).default(DEFAULT_PING_INTERVAL_MS) })
      .strict()
      .default({ pingIntervalMs: DEFAULT_PING_INTERVAL_MS }),
    /** Players and small nodes may run the DHT as clients only. */
    dht: z
      .object({ clientMode: z.boolean().default(false) })
      .strict()
      .default({ clientMode: false }),
    /** Settings of each role, passed to the role as its `init`. */
    roleOptions: z.partialRecord(z.enum(ROLE_NAMES), z.record(z.string(), z.unknown())).default({}),
  })
  .strict()

export type FileConfig = z.infer<typeof fileConfigSchema>

export function defaultFileConfig(): FileConfig {
  return fileConfigSchema.parse({ version: 1 })
}

export function parseFileConfig(value: unknown, source = 'config'): FileConfig {
  const result = fileConfigSchema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const field = [source, ...issue.path.map(String)].join('.')
    const message = issue.code === 'unrecognized_keys' ? `unknown setting(s) ${issue.keys.join(', ')}` : issue.message
    throw new ConfigError(field, message)
  }
  checkRoleOptions(result.data.roleOptions, source)
  return result.data
}

/**
 * Each role's options checked by its own schema when the configuration is read, so that `consort init` (and a daemon
 * reading a hand-edited file) refuses a bad one by its field, rather than the role failing to start later.
 */
function checkRoleOptions(roleOptions: FileConfig['roleOptions'], source: string): void {
  for (const [name, options] of Object.entries(roleOptions)) {
    try {
      roleDefinition(name)?.parseOptions(options)
    } catch (err) {
      if (!isError(err, RoleOptionsError)) throw err
      // `roleOptions.retailer.storefront.port: …`: the field, then what is wrong with it.
      const at = err.message.indexOf(': ')
      throw new ConfigError(`${source}.${err.message.slice(0, at)}`, err.message.slice(at + 2))
    }
  }
}

export function loadFileConfig(path: string): FileConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(path, `cannot read: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(path, `not JSON: ${(err as Error).message}`)
  }
  return parseFileConfig(json, path)
}
