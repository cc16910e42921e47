import type { SingleBar } from 'cli-progress'
import type { Command } from 'commander'
import type { ControlClient } from '../../node/control-client.ts'
import { ControlApiError } from '../../node/errors.ts'
import { isError } from '../../protocols/errors.ts'
import { PRIORITIES, type SegmentPriority } from '../../protocols/segments/constants.ts'
import type { FetchJobStatus, SeedEntry } from '../../roles/delivery/index.ts'
import { CliError, EXIT, print, table } from '../output.ts'
import { clientFor, withDataDir, withJson } from './common.ts'

/**
 * `consort fetch MANIFEST_CID` (fetch a track into the running node, with a progress bar), `consort seed CID`
 * (carry a manifest or a release: fetch, pin and announce it) and `consort seeds` (what the node carries). All go
 * through the daemon's control API under `/v1/delivery`; a fetch is a job the command polls.
 */

/** How often `fetch` and `seed` ask the daemon how their job is going. */
const POLL_INTERVAL_MS = 200
/**
 * Polls of a fetch that may fail in a row (the daemon busy or restarting) before the command gives up; at
 * `POLL_INTERVAL_MS` that is about ten seconds.
 */
const MAX_FAILED_POLLS = 50

const FINISHED: readonly FetchJobStatus['state'][] = ['complete', 'failed', 'aborted']

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}

function describeFetch(status: FetchJobStatus): string {
  const lines = [
    `${status.state}: ${status.title ?? status.cid}`,
    `  segments  ${status.present}/${status.total ?? '?'} (${status.cached} already held)`,
    `  fetched   ${mib(status.bytesFetched)} in ${(status.elapsedMs / 1000).toFixed(1)} s (${mib(status.rateBps)}/s), duplicates ${mib(status.duplicateBytes)}`,
    `  peers     ${status.peers} serving, ${status.droppedPeers} dropped`,
  ]
  if (status.error != null) lines.push(`  error     ${status.error}`)
  return lines.join('\n')
}

function describeSeed(entry: SeedEntry): string {
  const lines = [`${entry.state}: ${entry.cid}${entry.kind != null ? ` (${entry.kind})` : ''}`]
  if (entry.state === 'complete') lines.push(`  ${entry.manifests.length} manifest(s), ${entry.blocks} blocks pinned`)
  if (entry.error != null) lines.push(`  error: ${entry.error}`)
  return lines.join('\n')
}

function parsePriority(value: string): SegmentPriority {
  if (!(PRIORITIES as readonly string[]).includes(value)) {
    throw new CliError(`--priority: ${JSON.stringify(value)} is not one of ${PRIORITIES.join(', ')}`, EXIT.usage)
  }
  return value as SegmentPriority
}

/** A progress bar on stderr; `cli-progress` is loaded only when a bar is shown (it is CommonJS). */
async function progressBar(): Promise<SingleBar> {
  const { default: cliProgress } = await import('cli-progress')
  return new cliProgress.SingleBar(
    { format: ' {phase} |{bar}| {value}/{total} segments {rate} {peers}', hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  )
}

/** Follow a fetch job until it finishes, updating a progress bar on a terminal; the last status. */
async function followFetch(
  client: ControlClient,
  first: FetchJobStatus,
  showBar: boolean,
  onInterrupt: (handler: (() => void) | null) => void,
): Promise<FetchJobStatus> {
  const bar = showBar ? await progressBar() : null
  let status = first
  let started = false
  let failedPolls = 0
  let interrupted = false
  onInterrupt(() => {
    interrupted = true
  })
  const path = `/v1/delivery/fetches/${encodeURIComponent(first.id)}`
  try {
    while (!FINISHED.includes(status.state)) {
      if (interrupted) {
        status = await client.request<FetchJobStatus>('DELETE', path)
        break
      }
      if (bar != null) {
        const payload = {
          phase: status.state,
          rate: status.rateBps > 0 ? `${mib(status.rateBps)}/s` : '',
          peers: status.peers > 0 ? `from ${status.peers} peer(s)` : '',
        }
        if (!started && status.total != null) {
          bar.start(status.total, status.present, payload)
          started = true
        } else if (started) bar.update(status.present, payload)
      }
      await sleep(POLL_INTERVAL_MS)
      try {
        status = await client.request<FetchJobStatus>('GET', path)
        failedPolls = 0
      } catch (err) {
        if (isError(err, ControlApiError) && err.status === 404) throw err
        if (++failedPolls >= MAX_FAILED_POLLS) throw err
      }
    }
    if (bar != null && started) bar.update(status.present, { phase: status.state, rate: '', peers: '' })
  } finally {
    if (bar != null && started) bar.stop()
    onInterrupt(null)
  }
  return status
}

/** Ctrl-C while a fetch runs aborts the job in the daemon instead of leaving it running unseen. */
function interruptHook(): (handler: (() => void) | null) => void {
  let installed: (() => void) | null = null
  return (handler) => {
    if (installed != null) process.off('SIGINT', installed)
    installed = handler
    if (handler != null) process.on('SIGINT', handler)
  }
}

export function registerDeliveryCommands(program: Command): void {
  withJson(
    withDataDir(
      program
        .command('fetch')
        .description('fetch a track (by its manifest CID) into the running node from every peer that has it')
        .argument('<manifest-cid>', 'the CID of the track’s consort/manifest')
        .option('--priority <priority>', `${PRIORITIES.join('|')}: how urgently peers should serve it`, 'now')
        .option('--no-wait', 'start the fetch and print its job without waiting for it')
        .option('--no-progress', 'no progress bar'),
    ),
  ).action(
    async (
      cid: string,
      options: { dataDir?: string; json?: boolean; priority: string; wait: boolean; progress: boolean },
    ) => {
      const priority = parsePriority(options.priority)
      const client = clientFor(options)
      const first = await client.request<FetchJobStatus>('POST', '/v1/delivery/fetches', { cid, priority })
      if (!options.wait) {
        print(first, options, (v) => describeFetch(v as FetchJobStatus))
        return
      }
      const showBar = options.progress && options.json !== true && process.stderr.isTTY === true
      const status = await followFetch(client, first, showBar, interruptHook())
      print(status, options, (v) => describeFetch(v as FetchJobStatus))
      if (status.state !== 'complete') process.exitCode = EXIT.failed
    },
  )

  withJson(
    withDataDir(
      program
        .command('seed')
        .description('carry a manifest or a release: fetch every block it names, pin them, announce them')
        .argument('<cid>', 'a consort/manifest or consort/release CID')
        .option('--no-wait', 'queue the seed and return at once'),
    ),
  ).action(async (cid: string, options: { dataDir?: string; json?: boolean; wait: boolean }) => {
    const client = clientFor(options)
    let entry = await client.request<SeedEntry>('POST', '/v1/delivery/seeds', { cid })
    const path = `/v1/delivery/seeds/${encodeURIComponent(cid)}`
    let failedPolls = 0
    while (options.wait && entry.state === 'pending') {
      await sleep(POLL_INTERVAL_MS)
      try {
        entry = await client.request<SeedEntry>('GET', path)
        failedPolls = 0
      } catch (err) {
        if (++failedPolls >= MAX_FAILED_POLLS) throw err
      }
    }
    print(entry, options, (v) => describeSeed(v as SeedEntry))
    if (entry.state === 'failed') process.exitCode = EXIT.failed
  })

  withJson(
    withDataDir(program.command('seeds').description('list what this node carries (seeded manifests and releases)')),
  ).action(async (options: { dataDir?: string; json?: boolean }) => {
    const seeds = await clientFor(options).request<SeedEntry[]>('GET', '/v1/delivery/seeds')
    print(seeds, options, (v) =>
      table(
        (v as SeedEntry[]).map((s) => ({ ...s, manifests: s.manifests.length, error: s.error ?? '' })),
        ['cid', 'kind', 'state', 'manifests', 'blocks', 'error'],
      ),
    )
  })
}
