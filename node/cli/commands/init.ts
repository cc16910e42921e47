import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Command } from 'commander'
import { systemClock } from '../../../protocols/clock.ts'
import { ROLE_NAMES, type RoleName } from '../../../protocols/records/types/common.ts'
import { dataDirPaths } from '../../data-dir.ts'
import { initDataDir } from '../../init.ts'
import { readNetworkFile } from '../../network-file.ts'
import { collect, listOption, passphraseFrom, print } from '../output.ts'
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
        .option('--listen <multiaddr>', 'address to listen on (repeatable)', collect)
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
    const { keys, config } = await initDataDir(dir, {
      ...(network != null ? { network } : {}),
      ...(options.listen != null ? { listen: options.listen } : {}),
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
    }
    print(
      result,
      options,
      () =>
        `initialised ${dir}${result.network != null ? ` for network ${result.network}` : ' (no network yet: consort network join FILE)'}\npeer id ${result.peerId}`,
    )
  })
}
