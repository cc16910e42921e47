import type { Command } from 'commander'
import { startDevnet } from '../../devnet.ts'
import { print } from '../output.ts'
import { withJson } from './common.ts'
import { onShutdownSignal } from './daemon.ts'
import { devnetWebLinks } from './ui.ts'

/** `consort devnet`: a complete local network, one node per role, until Ctrl-C. */
export function registerDevnetCommand(program: Command): void {
  withJson(
    program
      .command('devnet')
      .description(
        'run a complete local network on loopback: one node per role, data in --dir (a temporary dir by default)',
      )
      .option('--dir <dir>', 'where the nodes keep their data (kept after exit)'),
  ).action(async (options) => {
    const json = options.json === true
    const devnet = await startDevnet({
      ...(options.dir != null ? { dir: options.dir } : {}),
      onProgress: (event) => {
        if (json) return
        if (event.step === 'network') process.stdout.write(`network file  ${event.file}\n`)
        if (event.step === 'node-started') {
          const n = event.node
          process.stdout.write(
            `\n${n.name} [${n.roles.join(', ') || 'no roles'}]\n  peer id   ${n.peerId}\n  data dir  ${n.dataDir}\n  api       ${n.api}\n${n.addresses.map((a) => `  address   ${a}\n`).join('')}`,
          )
        }
      },
    })
    const web = await devnetWebLinks(devnet)
    if (json) {
      print({ network: devnet.network, nodes: devnet.nodes, ...web }, { json: true })
    } else {
      if (web.storefront != null) process.stdout.write(`\nStorefront    ${web.storefront}\n`)
      if (web.login != null)
        process.stdout.write(
          `Your player   ${web.login}  (one-time login link; consort ui --data-dir ${devnet.dir}/listener for another)\n`,
        )
      const example = devnet.nodes[0]
      process.stdout.write(`\nDevnet ready: ${devnet.nodes.length} nodes in ${devnet.dir}\n`)
      if (example != null)
        process.stdout.write(`Act as any node with --data-dir, e.g.: npx consort peers --data-dir ${example.dataDir}\n`)
      process.stdout.write('Ctrl-C stops them all.\n')
    }
    await onShutdownSignal(devnet.stop)
  })
}
