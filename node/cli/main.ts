import { Command, CommanderError } from 'commander'
import { registerClearingCommands } from './commands/clearing.ts'
import { registerDaemonCommand } from './commands/daemon.ts'
import { registerDevnetCommand } from './commands/devnet.ts'
import { registerInitCommand } from './commands/init.ts'
import { registerNetworkCommands, registerNetworkJoinCommand } from './commands/network.ts'
import { registerNodeCommands } from './commands/node.ts'
import { registerPlayerCommands } from './commands/player.ts'
import { registerProductionCommands } from './commands/production.ts'
import { registerRecordCommands } from './commands/record.ts'
import { registerRegistrationCommands } from './commands/registration.ts'
import { registerRetailCommands } from './commands/retail.ts'
import { registerSimCommands } from './commands/sim.ts'
import { registerUiCommands } from './commands/ui.ts'
import { CliError, EXIT } from './output.ts'

export function buildProgram(): Command {
  const program = new Command('consort')
    .description('Consort: a peer-to-peer network for selling and distributing licensed music')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
  registerInitCommand(program)
  registerDaemonCommand(program)
  registerNodeCommands(program)
  registerRecordCommands(program)
  registerNetworkCommands(program)
  registerNetworkJoinCommand(program)
  registerDevnetCommand(program)
  registerRetailCommands(program)
  registerRegistrationCommands(program)
  registerPlayerCommands(program)
  registerClearingCommands(program)
  registerProductionCommands(program)
  registerSimCommands(program)
  registerUiCommands(program)
  return program
}

/** Run the CLI; errors become one line on stderr and an exit code (1 failed, 2 bad command line). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage
      return
    }
    const error = err as Error & { code?: string; exitCode?: number }
    process.stderr.write(`consort: ${error.message}\n`)
    if (process.env.CONSORT_DEBUG != null) process.stderr.write(`${error.stack}\n`)
    process.exitCode = err instanceof CliError ? err.exitCode : EXIT.failed
  }
}
