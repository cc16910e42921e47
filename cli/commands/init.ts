import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Command } from 'commander'
import { DEFAULT_LISTEN, DEFAULT_P2P_PORT, DEFAULT_WEBSOCKET_PORT } from '../../node/config.ts'
import { dataDirPaths } from '../../node/data-dir.ts'
import { initDataDir } from '../../node/init.ts'
import { readNetworkFile } from '../../node/network-file.ts'
import { systemClock } from '../../protocols/clock.ts'
import { ROLE_NAMES, type RoleName } from '../../protocols/records/types/common.ts'
import { CliError, collect, EXIT, listOption, passphraseFrom, print } from '../output.ts'
import { dataDirOf, withDataDir, withJson } from './common.ts'

/** `consort init`: create a node's identity and configuration for one network. */
export function registerInitCommand(program: Command): void {
  withJson(
    withDataDir(
      program
        .command('init')
        .description('create the node identity and configuration in a data directory')
        .option(
          '--network <file>',
          'the network file (network.json) of the network to join (or later: consort network join)',
        )
        .option(
          '--listen <multiaddr>',
          `address to listen on (repeatable; default /ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT}, every interface)`,
          collect,
        )
        .option('--port <n>', `listen on every IPv4 interface on this TCP port (default ${DEFAULT_P2P_PORT})`)
        .option(
          '--announce <multiaddr>',
          'address other hosts dial to reach this node, e.g. its public IP or DNS name and port (repeatable)',
          collect,
        )
        .option(
          '--websocket [port]',
          `also listen for WebSocket connections (browsers) on every interface (default port ${DEFAULT_WEBSOCKET_PORT})`,
        )
        .option(
          '--relay-server',
          'relay connections for peers behind NAT (circuit relay v2): for nodes with a public address',
        )
        .option('--behind-nat', 'this node is behind NAT: reserve a slot on a relay so that others can reach it')
        .option('--no-hole-punching', 'do not try to turn relayed connections into direct ones (DCUtR)')
        .option(
          '--storefront <host:port>',
          "where the retailer's web storefront listens (default 127.0.0.1, a free port)",
        )
        .option('--storefront-url <url>', 'the public URL of the storefront, when a proxy or another name is in front')
        .option('--bootstrap <multiaddr>', 'peer to dial at start (repeatable)', collect)
        .option('--roles <list>', `roles to run, comma-separated (${ROLE_NAMES.join(', ')})`)
        .option(
          '--passphrase-file <file>',
          'encrypt the keys with the passphrase in this file (or set CONSORT_PASSPHRASE)',
        )
        .option('--force', 'rewrite the configuration of an initialised data dir (keys are kept)'),
    ),
  ).action(async (options) => {
    const dir = dataDirOf(options)
    const network = options.network != null ? readNetworkFile(options.network, systemClock.now()) : undefined
    const passphrase = passphraseFrom(options)
    const listen = listenOption(options)
    const storefront = storefrontOption(options)
    const { keys, config } = await initDataDir(dir, {
      ...(network != null ? { network } : {}),
      ...(listen != null ? { listen } : {}),
      ...(options.announce != null ? { announce: options.announce } : {}),
      nat: {
        autonat: true,
        relayServer: options.relayServer === true,
        reserveRelay: options.behindNat === true,
        holePunching: options.holePunching !== false,
      },
      ...(storefront != null ? { roleOptions: { retailer: { storefront } } } : {}),
      ...(options.bootstrap != null ? { bootstrap: options.bootstrap } : {}),
      ...(options.roles != null ? { roles: listOption(options.roles, ROLE_NAMES, '--roles') as RoleName[] } : {}),
      ...(passphrase != null ? { passphrase } : {}),
      force: options.force === true,
    })
    const result = {
      dataDir: dir,
      network: network?.body.network ?? null,
      peerId: peerIdFromPrivateKey(keys.privateKey).toString(),
      keys: dataDirPaths(dir).keys,
      roles: config.roles,
      listen: config.listen,
      announce: config.announce,
    }
    print(result, options, () =>
      [
        `initialised ${dir}${result.network != null ? ` for network ${result.network}` : ' (no network yet: consort network join FILE)'}`,
        `peer id  ${result.peerId}`,
        ...result.listen.map((a) => `listen   ${a}`),
        ...result.announce.map((a) => `announce ${a}`),
      ].join('\n'),
    )
  })
}

function portOption(value: string, name: string): number {
  const port = Number(value)
  if (!/^\d+$/.test(value) || port > 65_535) throw new CliError(`${name}: not a TCP port: ${value}`, EXIT.usage)
  return port
}

/**
 * `--listen` as given, or `--port N` as every IPv4 interface on that port, plus `--websocket [PORT]`; none of them:
 * the config's default.
 */
function listenOption(options: {
  listen?: string[]
  port?: string
  websocket?: string | boolean
}): string[] | undefined {
  let listen = options.listen
  if (options.port != null) listen = [...(listen ?? []), `/ip4/0.0.0.0/tcp/${portOption(options.port, '--port')}`]
  if (options.websocket != null && options.websocket !== false) {
    const port = options.websocket === true ? DEFAULT_WEBSOCKET_PORT : portOption(options.websocket, '--websocket')
    listen = [...(listen ?? DEFAULT_LISTEN), `/ip4/0.0.0.0/tcp/${port}/ws`]
  }
  return listen
}

/** `--storefront HOST:PORT` and `--storefront-url URL` as the retailer's storefront settings. */
function storefrontOption(options: {
  storefront?: string
  storefrontUrl?: string
}): Record<string, unknown> | undefined {
  if (options.storefront == null && options.storefrontUrl == null) return undefined
  const settings: Record<string, unknown> = {}
  if (options.storefront != null) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(options.storefront)
    const port = Number(match?.[2])
    if (match == null || port > 65_535)
      throw new CliError(`--storefront: expected HOST:PORT (e.g. 0.0.0.0:8080), got ${options.storefront}`, EXIT.usage)
    settings.host = match[1]!.replace(/^\[(.*)\]$/, '$1')
    settings.port = port
  }
  if (options.storefrontUrl != null) {
    try {
      const url = new URL(options.storefrontUrl)
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)')
    } catch {
      throw new CliError(`--storefront-url: not an http(s) URL: ${options.storefrontUrl}`, EXIT.usage)
    }
    settings.publicUrl = options.storefrontUrl
  }
  return settings
}
