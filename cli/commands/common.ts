import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { ControlClient } from '../../node/control-client.ts'

/** The data dir a command acts on: --data-dir, else $CONSORT_DATA_DIR, else ~/.consort. */
export function dataDirOf(options: { dataDir?: string }): string {
  return resolve(options.dataDir ?? process.env.CONSORT_DATA_DIR ?? join(homedir(), '.consort'))
}

export function withDataDir(command: Command): Command {
  return command.option('--data-dir <dir>', 'the node data directory (default $CONSORT_DATA_DIR or ~/.consort)')
}

export function withJson(command: Command): Command {
  return command.option('--json', 'print machine-readable JSON')
}

/** A client for the daemon running on the command's data dir. */
export function clientFor(options: { dataDir?: string }): ControlClient {
  return ControlClient.forDataDir(dataDirOf(options))
}

/** The `account` command group, made by whichever command module registers first (clearing and player both add to it). */
export function accountCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'account') ??
    program.command('account').description('the consumer account of this data dir')
  )
}
