import type { Command } from 'commander'
import { toHex } from '../../keys/hex.ts'
import { type Devnet, startDevnet } from '../../node/devnet.ts'
import { DevnetDirError, DevnetRunningError, DevnetStoppedError } from '../../node/errors.ts'
import { configureLogging } from '../../node/logging.ts'
import { isError } from '../../protocols/errors.ts'
import { consortCommand } from '../launcher.ts'
import { CliError, print } from '../output.ts'
import { withJson } from './common.ts'
import { onShutdownSignal } from './daemon.ts'
import { devnetWebLinks } from './ui.ts'

/** What a person can do next, shown once the devnet is ready. */
function tour(devnet: Devnet): string {
  const consort = consortCommand()
  const dir = (name: string) => devnet.nodes.find((n) => n.name === name)?.dataDir ?? `${devnet.dir}/${name}`
  const listener = `--data-dir ${dir('listener')}`
  const sample = devnet.sample
  const lines = ['', 'Try, in another terminal:']
  lines.push(`  ${consort} peers ${listener}`)
  if (sample != null) {
    const offer =
      sample.offers.find((o) => o.status === 'certified' && o.useType === 'PermanentDownload') ?? sample.offers[0]
    lines.push(`  ${consort} search "${sample.title ?? 'sample'}" ${listener}`)
    lines.push(`  ${consort} offers ${sample.release} ${listener}`)
    if (offer != null)
      lines.push(`  ${consort} buy ${offer.offer} ${listener}        (an offer listed by consort offers)`)
    lines.push(`  ${consort} play ${sample.track} --out /tmp/consort-sample.flac ${listener}`)
    lines.push(
      `  ${consort} share ${sample.track} ${listener}        (a link: consort open LINK previews it and lists offers)`,
    )
    lines.push(`  ${consort} licences ${listener}`)
    lines.push(`  ${consort} usage --flush ${listener}`)
    lines.push(`  ${consort} account balance ${listener}`)
    const retailer = devnet.daemons.get('retailer')?.node.keys.signer.publicKey
    const period = new Date().toISOString().slice(0, 7)
    if (retailer != null) {
      const id = `retailer:${toHex(retailer)}`
      lines.push(`  ${consort} statement --participant ${id} --period ${period} --data-dir ${dir('clearinghouse')}`)
    }
    lines.push(`  ${consort} audit --data-dir ${dir('clearinghouse')}`)
    const metrics = devnet.nodes.find((n) => n.name === 'clearinghouse')?.metrics
    if (metrics != null) {
      lines.push(
        `  curl -s ${metrics} | grep -E '^consort_(usage_reports|ledger_transfers|queue_depth)'   (keeping up?)`,
      )
    }
  }
  return lines.join('\n')
}

/** `consort devnet`: a complete local network, one node per role, until Ctrl-C. */
export function registerDevnetCommand(program: Command): void {
  withJson(
    program
      .command('devnet')
      .description(
        'run a complete local network on loopback: one node per role, data in --dir (a temporary dir by default), with a sample release on sale',
      )
      .option(
        '--dir <dir>',
        'where the nodes keep their data (kept after exit; run again with the same --dir to start the same devnet)',
      )
      .option('--no-sample', 'do not publish the sample release, its offers and the listener wallet'),
  ).action(async (options) => {
    const json = options.json === true
    configureLogging()
    // Handlers go in before the first node starts, so that Ctrl-C during start still stops every node cleanly.
    const nodes: { stop?: () => Promise<void> } = {}
    const stopped = onShutdownSignal(async () => {
      await nodes.stop?.()
    })
    const say = (text: string) => {
      if (!json) process.stdout.write(text)
    }
    let devnet: Devnet
    try {
      devnet = await startDevnet({
        ...(options.dir != null ? { dir: options.dir } : {}),
        sample: options.sample !== false,
        onStoppable: (stop) => {
          nodes.stop = stop
        },
        onProgress: (event) => {
          if (event.step === 'network') {
            say(
              `network file  ${event.file}${event.reused ? '  (the devnet already in this directory, started again)' : ''}\n`,
            )
          }
          if (event.step === 'node-started') {
            const n = event.node
            say(
              `\n${n.name} [${n.roles.join(', ') || 'no roles'}]\n  peer id   ${n.peerId}\n  data dir  ${n.dataDir}\n  api       ${n.api}\n${n.metrics != null ? `  metrics   ${n.metrics}\n` : ''}${n.addresses.map((a) => `  address   ${a}\n`).join('')}`,
            )
          }
          if (event.step === 'market') {
            const e = event.event
            if (e.step === 'published') say(`\nsample release ${e.release} published by the label\n`)
            if (e.step === 'contracts-arrived') say(`  ${e.count} contract(s) reached the retailer\n`)
            if (e.step === 'offers-certified') say(`  ${e.count} offer(s) certified by the reference service\n`)
            if (e.step === 'seeded') say(`  seeded by the delivery node (${e.cid})\n`)
            if (e.step === 'wallet-funded') say(`  listener wallet funded with ${e.amount} (test gateway)\n`)
          }
        },
      })
    } catch (err) {
      if (isError(err, DevnetStoppedError)) {
        await stopped
        return
      }
      await nodes.stop?.()
      if (isError(err, DevnetRunningError) || isError(err, DevnetDirError)) throw new CliError(err.message)
      throw err
    }
    const web = await devnetWebLinks(devnet)
    if (json) {
      print({ network: devnet.network, nodes: devnet.nodes, sample: devnet.sample, ...web }, { json: true })
    } else {
      if (web.storefront != null) say(`\nStorefront    ${web.storefront}\n`)
      if (web.login != null) {
        say(
          `Your player   ${web.login}  (one-time login link; ${consortCommand()} ui --data-dir ${devnet.dir}/listener for another)\n`,
        )
      }
      say(
        `\nDevnet ready: ${devnet.nodes.length} nodes in ${devnet.dir}${devnet.temporary ? ' (temporary: removed when it stops; --dir DIR to keep one)' : ''}\n`,
      )
      say(`${tour(devnet)}\n\nCtrl-C stops them all.\n`)
    }
    await stopped
  })
}
