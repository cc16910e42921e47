import type { Command } from 'commander'
import { startDaemon } from '../../node/daemon.ts'
import { configureLogging } from '../../node/logging.ts'
import { ROLE_NAMES, type RoleName } from '../../protocols/records/types/common.ts'
import { CliError, collect, EXIT, listOption, passphraseFrom, print } from '../output.ts'
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

/** `HOST:PORT` (IPv6 in brackets: `[::1]:9464`). */
export function parseHostPort(value: string, option: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(value)
  const port = match == null ? Number.NaN : Number(match[3])
  if (match == null || port > 65_535) {
    throw new CliError(
      `${option}: expected HOST:PORT with an IP address (127.0.0.1:9464, [::1]:9464), got ${value}`,
      EXIT.usage,
    )
  }
  return { host: (match[1] ?? match[2])!, port }
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
        .option('--passphrase-file <file>', 'the passphrase of encrypted keys (or set CONSORT_PASSPHRASE)')
        .option('--metrics <host:port>', 'serve Prometheus metrics at http://host:port/metrics (replaces config.json)'),
    ),
  ).action(async (options) => {
    const dir = dataDirOf(options)
    const passphrase = passphraseFrom(options)
    configureLogging()
    const daemon = await startDaemon(dir, {
      ...(options.listen != null ? { listen: options.listen } : {}),
      ...(options.announce != null ? { announce: options.announce } : {}),
      ...(options.bootstrap != null ? { bootstrap: options.bootstrap } : {}),
      ...(options.roles != null ? { roles: listOption(options.roles, ROLE_NAMES, '--roles') as RoleName[] } : {}),
      ...(passphrase != null ? { passphrase } : {}),
      ...(options.metrics != null ? { metrics: parseHostPort(options.metrics, '--metrics') } : {}),
    })
    // Handle SIGINT/SIGTERM before saying we are ready: whoever reads that line may signal us at once.
    const stopped = onShutdownSignal(daemon.stop)
    const info = {
      peerId: daemon.node.peerId.toString(),
      addresses: daemon.node.addresses(),
      roles: [...daemon.node.roles.keys()],
      dataDir: dir,
      api: daemon.api.url,
      metrics: daemon.metrics,
    }
    print(info, options, () =>
      [
        `consort daemon running (pid ${process.pid})`,
        `peer id  ${info.peerId}`,
        `roles    ${info.roles.join(', ') || '(none)'}`,
        ...info.addresses.map((a) => `address  ${a}`),
        `api      ${info.api}`,
        ...(info.metrics != null ? [`metrics  ${info.metrics}`] : []),
        'Ctrl-C to stop',
      ].join('\n'),
    )
    await stopped
  })
}
