import { Command, CommanderError, InvalidArgumentError } from 'commander'
import { isError } from '../protocols/errors.ts'
import { CliError, EXIT } from './output.ts'

type Register = (program: Command) => void

/** The version `consort --version` prints (package.json's). */
export const CONSORT_VERSION = '0.1.0'

/**
 * The command modules and the top-level commands each registers. A module is imported only when its command is
 * run (or for help), because some pull in the whole node (libp2p, Helia, every role): importing them all made
 * every command pay seconds of start-up. `test/unit/cli/commands.test.ts` checks this table against what the
 * modules really register.
 */
export const COMMAND_MODULES: readonly {
  readonly commands: readonly string[]
  readonly load: () => Promise<Register>
}[] = [
  { commands: ['init'], load: async () => (await import('./commands/init.ts')).registerInitCommand },
  { commands: ['daemon'], load: async () => (await import('./commands/daemon.ts')).registerDaemonCommand },
  { commands: ['id', 'peers', 'connect'], load: async () => (await import('./commands/node.ts')).registerNodeCommands },
  { commands: ['sync'], load: async () => (await import('./commands/sync.ts')).registerSyncCommands },
  { commands: ['record'], load: async () => (await import('./commands/record.ts')).registerRecordCommands },
  {
    commands: ['network'],
    load: async () => {
      const { registerNetworkCommands, registerNetworkJoinCommand } = await import('./commands/network.ts')
      return (program) => {
        registerNetworkCommands(program)
        registerNetworkJoinCommand(program)
      }
    },
  },
  { commands: ['devnet'], load: async () => (await import('./commands/devnet.ts')).registerDevnetCommand },
  { commands: ['offer', 'offers'], load: async () => (await import('./commands/retail.ts')).registerRetailCommands },
  {
    commands: ['register', 'registration'],
    load: async () => (await import('./commands/registration.ts')).registerRegistrationCommands,
  },
  {
    commands: ['search', 'buy', 'share', 'open', 'play', 'licences', 'licence', 'export', 'burn', 'usage', 'account'],
    load: async () => (await import('./commands/player.ts')).registerPlayerCommands,
  },
  {
    commands: ['account', 'ledger', 'statement', 'audit'],
    load: async () => (await import('./commands/clearing.ts')).registerClearingCommands,
  },
  {
    commands: ['ern', 'publish', 'release', 'contract', 'escrow'],
    load: async () => (await import('./commands/production.ts')).registerProductionCommands,
  },
  {
    commands: ['fetch', 'seed', 'seeds'],
    load: async () => (await import('./commands/delivery.ts')).registerDeliveryCommands,
  },
  { commands: ['sim'], load: async () => (await import('./commands/sim.ts')).registerSimCommands },
  { commands: ['ui'], load: async () => (await import('./commands/ui.ts')).registerUiCommands },
  { commands: ['keys'], load: async () => (await import('./commands/keys.ts')).registerKeysCommands },
  { commands: ['backup', 'restore'], load: async () => (await import('./commands/backup.ts')).registerBackupCommands },
]

/**
 * The program with the commands `argv` needs: those of the modules that register its command word, or every
 * module when there is none or it is unknown (help, a typo: the error lists every command).
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('consort')
    .description('Consort: a peer-to-peer network for selling and distributing licensed music')
    .version(CONSORT_VERSION)
    .showHelpAfterError()
    .exitOverride()
  const word = argv.slice(2).find((arg) => !arg.startsWith('-'))
  const needed = COMMAND_MODULES.filter((module) => word != null && module.commands.includes(word))
  for (const module of needed.length > 0 ? needed : COMMAND_MODULES) (await module.load())(program)
  return program
}

/** Run the CLI; errors become one line on stderr and an exit code (1 failed, 2 bad command line). */
export async function main(argv: string[]): Promise<void> {
  // `consort --version` needs no command module: answer before loading any.
  const args = argv.slice(2)
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${CONSORT_VERSION}\n`)
    return
  }
  try {
    const program = await buildProgram(argv)
    await program.parseAsync(argv)
  } catch (err) {
    if (isError(err, CommanderError) || isError(err, InvalidArgumentError)) {
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage
      return
    }
    const error = err as Error & { code?: string; exitCode?: number }
    process.stderr.write(`consort: ${error.message}\n`)
    if (process.env.CONSORT_DEBUG != null) process.stderr.write(`${error.stack}\n`)
    process.exitCode = isError(err, CliError) ? err.exitCode : EXIT.failed
  }
}
