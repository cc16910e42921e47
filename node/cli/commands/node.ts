import type { Command } from 'commander'
import { print, table } from '../output.ts'
import { clientFor, withDataDir, withJson } from './common.ts'

interface PeerInfo {
  peerId: string
  addresses: string[]
}

/** `consort id`, `consort peers`, `consort connect`: the running node's identity and connections. */
export function registerNodeCommands(program: Command): void {
  withJson(
    withDataDir(program.command('id').description("show the running node's peer id, addresses and keys")),
  ).action(async (options) => {
    const id = await clientFor(options).request<PeerInfo & Record<string, unknown>>('GET', '/v1/id')
    print(id, options, (v) => {
      const info = v as PeerInfo & { roles: string[]; network: string }
      return [
        `peer id   ${info.peerId}`,
        `network   ${info.network}`,
        `roles     ${info.roles.join(', ') || '(none)'}`,
        ...info.addresses.map((a) => `address   ${a}`),
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
