import type { Command } from 'commander'
import { CliError, EXIT, print, table } from '../output.ts'
import { clientFor, withDataDir, withJson } from './common.ts'

interface SyncStatus {
  epoch: string
  entries: number
  last: number
  peers: Array<{ peer: string; runs: number; accepted: number; rejected: number; lastRunAt: number | null }>
}

interface LogEntry {
  seq: number
  topic: string
  type: string
  id: string
  at: number
  via: string
}

/** `consort sync status|log|now`: the running node's catch-up log and its pulls from peers. */
export function registerSyncCommands(program: Command): void {
  const sync = program.command('sync').description('catch-up with peers: what this node logged and pulled')
  withJson(withDataDir(sync.command('status').description('the catch-up log and the pulls from each peer'))).action(
    async (options) => {
      const status = await clientFor(options).request<SyncStatus>('GET', '/v1/sync')
      print(status, options, (v) => {
        const s = v as SyncStatus
        return [
          `log       ${s.entries} message(s), epoch ${s.epoch}`,
          table(
            s.peers.map((p) => ({
              peer: p.peer,
              pulls: p.runs,
              accepted: p.accepted,
              rejected: p.rejected,
              last: p.lastRunAt == null ? '' : new Date(p.lastRunAt).toISOString(),
            })),
            ['peer', 'pulls', 'accepted', 'rejected', 'last'],
          ),
        ].join('\n')
      })
    },
  )
  withJson(
    withDataDir(
      sync
        .command('log')
        .description('the newest messages this node accepted or published on the catch-up topics')
        .option('--type <type>', 'only records of this type (e.g. consort/offer, consort/revocation)')
        .option('--since <ms>', 'only those accepted at or after this time (ms since the epoch)')
        .option('--limit <n>', 'at most this many (default 100)'),
    ),
  ).action(async (options) => {
    const query = new URLSearchParams()
    if (options.type != null) query.set('type', options.type)
    if (options.since != null) {
      if (!/^\d+$/.test(options.since)) throw new CliError(`--since: a time in ms, got ${options.since}`, EXIT.usage)
      query.set('since', options.since)
    }
    if (options.limit != null) {
      if (!/^\d+$/.test(options.limit)) throw new CliError(`--limit: a count, got ${options.limit}`, EXIT.usage)
      query.set('limit', options.limit)
    }
    const entries = await clientFor(options).request<LogEntry[]>('GET', `/v1/sync/log?${query}`)
    print(entries, options, (v) =>
      table(
        (v as LogEntry[]).map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
        ['seq', 'at', 'via', 'type', 'id'],
      ),
    )
  })
  withJson(withDataDir(sync.command('now').description('pull from every connected peer now'))).action(
    async (options) => {
      const runs = await clientFor(options).request<Array<Record<string, unknown>>>('POST', '/v1/sync/pull')
      print(runs, options, (v) =>
        table(v as Array<Record<string, unknown>>, ['peer', 'pages', 'received', 'accepted', 'ignored', 'rejected']),
      )
    },
  )
}
