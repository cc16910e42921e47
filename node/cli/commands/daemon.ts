import type { Command } from 'commander'
import { ROLE_NAMES, type RoleName } from '../../../protocols/records/types/common.ts'
import { startDaemon } from '../../daemon.ts'
import { collect, listOption, passphraseFrom, print } from '../output.ts'
import { dataDirOf, withDataDir, withJson } from './common.ts'

/** Stop cleanly on the first SIGINT or SIGTERM; a second one exits at once. */
export function onShutdownSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`${signal} again: exiting without a clean stop\n`)
        process.exit(130)
      }
      stopping = true
      process.stderr.write(`${signal}: stopping…\n`)
      stop().then(resolve, (err) => {
        process.stderr.write(`stop failed: ${(err as Error).message}\n`)
        process.exit(1)
      })
    }
    process.on('SIGINT', handler)
    process.on('SIGTERM', handler)
  })
}

/** `consort daemon`: run the node and its control API until stopped. */
export function registerDaemonCommand(program: Command): void {
  withJson(
    withDataDir(
      program
        .command('daemon')
        .description('run the node of a data directory, with its roles and its control API on loopback')
        .option('--listen <multiaddr>', 'address to listen on (repeatable; replaces the configured ones)', collect)
        .option(
          '--announce <multiaddr>',
          'address other hosts dial to reach this node (repeatable; replaces the configured ones)',
          collect,
        )
        .option('--bootstrap <multiaddr>', 'peer to dial at start (repeatable; added to the configured ones)', collect)
        .option(
          '--roles <list>',
          `roles to run, comma-separated, replacing the configured ones (${ROLE_NAMES.join(', ')})`,
        )
        .option('--passphrase-file <file>', 'the passphrase of encrypted keys (or set CONSORT_PASSPHRASE)'),
    ),
  ).action(async (options) => {
    const dir = dataDirOf(options)
    const passphrase = passphraseFrom(options)
    const daemon = await startDaemon(dir, {
      ...(options.listen != null ? { listen: options.listen } : {}),
      ...(options.announce != null ? { announce: options.announce } : {}),
      ...(options.bootstrap != null ? { bootstrap: options.bootstrap } : {}),
      ...(options.roles != null ? { roles: listOption(options.roles, ROLE_NAMES, '--roles') as RoleName[] } : {}),
      ...(passphrase != null ? { passphrase } : {}),
    })
    // Handle SIGINT/SIGTERM before saying we are ready: whoever reads that line may signal us at once.
    const stopped = onShutdownSignal(daemon.stop)
    const info = {
      peerId: daemon.node.peerId.toString(),
      addresses: daemon.node.addresses(),
      roles: [...daemon.node.roles.keys()],
      dataDir: dir,
      api: daemon.api.url,
    }
    print(info, options, () =>
      [
        `consort daemon running (pid ${process.pid})`,
        `peer id  ${info.peerId}`,
        `roles    ${info.roles.join(', ') || '(none)'}`,
        ...info.addresses.map((a) => `address  ${a}`),
        `api      ${info.api}`,
        'Ctrl-C to stop',
      ].join('\n'),
    )
    await stopped
  })
}
