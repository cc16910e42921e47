import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { readNodePublicKeys } from '../../keys/keystore.ts'
import { loadFileConfig } from '../../node/config.ts'
import { dataDirPaths } from '../../node/data-dir.ts'
import { DaemonNotRunningError } from '../../node/errors.ts'
import { describeIdentity } from '../../node/identity.ts'
import { readNetworkFile } from '../../node/network-file.ts'
import { systemClock } from '../../protocols/clock.ts'
import { isError } from '../../protocols/errors.ts'
import { CliError, EXIT, print, table } from '../output.ts'
import { clientFor, dataDirOf, withDataDir, withJson } from './common.ts'

interface PeerInfo {
  peerId: string
  addresses: string[]
}

/** `consort id`, `consort peers`, `consort connect`: the running node's identity and connections. */
export function registerNodeCommands(program: Command): void {
  withJson(
    withDataDir(
      program
        .command('id')
        .description(
          "show the node's peer id, addresses and public keys (from the running daemon, else from the data dir); " +
            'the --json output is the public identity network create takes',
        ),
    ),
  ).action(async (options) => {
    let id: PeerInfo & Record<string, unknown>
    try {
      id = await clientFor(options).request<PeerInfo & Record<string, unknown>>('GET', '/v1/id')
    } catch (err) {
      if (!isError(err, DaemonNotRunningError)) throw err
      id = await identityFromDataDir(dataDirOf(options))
    }
    print(id, options, (v) => {
      const info = v as PeerInfo & { roles: string[]; network: string | null; running?: boolean }
      return [
        `peer id   ${info.peerId}`,
        `network   ${info.network ?? '(none yet)'}`,
        `roles     ${info.roles.join(', ') || '(none)'}`,
        ...info.addresses.map((a) => `address   ${a}`),
        ...(info.running === false ? ['(daemon not running: addresses from config.json announce/listen)'] : []),
      ].join('\n')
    })
  })

  withJson(withDataDir(program.command('peers').description('list the peers the running node is connected to'))).action(
    async (options) => {
      const peers = await clientFor(options).request<PeerInfo[]>('GET', '/v1/peers')
      print(peers, options, (v) =>
        table(
          (v as PeerInfo[]).map((p) => ({ peer: p.peerId, address: p.addresses.join(' ') })),
          ['peer', 'address'],
        ),
      )
    },
  )

  withJson(
    withDataDir(
      program
        .command('connect')
        .description('dial a peer')
        .argument('<multiaddr>', 'the peer address, with /p2p/<peer id>'),
    ),
  ).action(async (address: string, options) => {
    const result = await clientFor(options).request<{ peerId: string }>('POST', '/v1/connect', { address })
    print(result, options, (v) => `connected to ${(v as { peerId: string }).peerId}`)
  })
}

/** The public identity of a stopped node: keys from its keystore (no passphrase needed), addresses from its config. */
async function identityFromDataDir(dir: string): Promise<PeerInfo & Record<string, unknown>> {
  const paths = dataDirPaths(dir)
  if (!existsSync(paths.keys) || !existsSync(paths.config))
    throw new CliError(`${dir} is not initialised (run: consort init --data-dir ${dir})`, EXIT.usage)
  const keys = await readNodePublicKeys(paths.keys)
  const config = loadFileConfig(paths.config)
  const network = existsSync(paths.network) ? readNetworkFile(paths.network, systemClock.now()).body.network : null
  const addresses = config.announce.length > 0 ? config.announce : config.listen
  return { ...describeIdentity(keys, keys.peerId, addresses), network, roles: config.roles, running: false }
}
