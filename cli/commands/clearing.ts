import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Command } from 'commander'
import { Level } from 'level'
import { createLibp2p } from 'libp2p'
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { fromHex, toHex } from '../../keys/hex.ts'
import { loadOrCreateNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import { dataDirPaths } from '../../node/data-dir.ts'
import { ControlApiError, DaemonNotRunningError } from '../../node/errors.ts'
import { readNetworkFile } from '../../node/network-file.ts'
import { signAccountRequest } from '../../protocols/clearing/account.ts'
import {
  type AccountRequestFields,
  balanceResponse,
  CLEARING_OPS,
  CLEARING_PROTOCOL,
  fundResponse,
} from '../../protocols/clearing/index.ts'
import { systemClock } from '../../protocols/clock.ts'
import { isError } from '../../protocols/errors.ts'
import { parseDecimalAmount } from '../../protocols/identifiers/currencies.ts'
import { toJsonValue } from '../../protocols/json.ts'
import { parseMessage } from '../../protocols/messages.ts'
import { type NetworkContext, networkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { RpcRemoteError, RpcTimeoutError, RpcUnreachableError } from '../../protocols/rpc/errors.ts'
import {
  ACCOUNTING_COLUMNS,
  type AuditReport,
  auditStopped,
  checkAccountingCsv,
  checkDsr,
  checkLineProof,
  checkStatement,
  formatAmount,
  type StateLevel,
} from '../../roles/clearinghouse/index.ts'
import { CliError, EXIT, print, table } from '../output.ts'
import { accountCommand, clientFor, dataDirOf, withDataDir, withJson } from './common.ts'

/**
 * `consort account fund|balance` (on the account holder's node: the request is signed with the account key of the
 * data dir, `keys/account.key`, created on first use as the player does, and sent to a clearinghouse of the network
 * over `/clearing/1`); `consort ledger transfers`, `consort statement`, `consort audit` (on the clearinghouse's node).
 */

/** How long one request to a clearinghouse may take. */
const CLEARINGHOUSE_DEADLINE_MS = 20_000
/** The account key lives beside the node key (the player role keeps it there too). */
export function accountKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'account.key')
}

function networkOf(dataDir: string): NetworkContext {
  const path = dataDirPaths(dataDir).network
  if (!existsSync(path)) throw new CliError(`${dataDir} has no network.json (run: consort init --data-dir ${dataDir})`)
  return networkContext(readNetworkFile(path, systemClock.now()))
}

/**
 * Where to reach a clearinghouse: `--clearinghouse`, else the addresses a clearinghouse of the network announced to
 * the running node (it waits until it has heard of one), else those in the network record's bootstrap list. Never
 * the remote end of a connection: for a connection the clearinghouse opened, that is a port nobody listens on.
 */
async function clearinghouseAddresses(
  options: { dataDir?: string; clearinghouse?: string },
  network: NetworkContext,
): Promise<{ key: Uint8Array; peerId: string; addresses: Multiaddr[] }> {
  const anchors = network.body.clearinghouses
  if (anchors.length === 0) throw new CliError(`network ${network.name} lists no clearinghouse`)
  if (options.clearinghouse !== undefined) {
    let address: Multiaddr
    try {
      address = multiaddr(options.clearinghouse)
    } catch {
      throw new CliError(`--clearinghouse: not a multiaddr: ${options.clearinghouse}`, EXIT.usage)
    }
    const peer = address.getComponents().find((c) => c.name === 'p2p')?.value
    const anchor = anchors.find((a) => peerIdOfKey(a.key).toString() === peer) ?? anchors[0]!
    return { key: anchor.key, peerId: peer ?? peerIdOfKey(anchor.key).toString(), addresses: [address] }
  }
  let client: ReturnType<typeof clientFor> | undefined
  try {
    client = clientFor(options)
  } catch (err) {
    if (!isError(err, DaemonNotRunningError)) throw err
  }
  const reasons: string[] = []
  for (const anchor of anchors) {
    const id = peerIdOfKey(anchor.key).toString()
    const fromBootstrap = network.body.bootstrap.filter((a) => a.endsWith(`/p2p/${id}`)).map((a) => multiaddr(a))
    if (client !== undefined) {
      try {
        const known = await client.request<{ addresses: string[] }>(
          'GET',
          `/v1/peers/${id}/addresses?service=clearinghouse&timeoutMs=${CLEARINGHOUSE_DEADLINE_MS / 2}`,
        )
        return {
          key: anchor.key,
          peerId: id,
          addresses: [...known.addresses.map((a) => multiaddr(a)), ...fromBootstrap],
        }
      } catch (err) {
        if (!isError(err, ControlApiError)) throw err
        reasons.push(err.message)
      }
    }
    if (fromBootstrap.length > 0) return { key: anchor.key, peerId: id, addresses: fromBootstrap }
  }
  throw new CliError(
    `cannot find a clearinghouse to talk to${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}: start this node (consort daemon) so it can find one, or pass --clearinghouse MULTIADDR`,
  )
}

/** A short-lived libp2p client whose identity is the account key, to send one request to a clearinghouse. */
async function withClient<T>(keys: NodeKeys, fn: (libp2p: Libp2p) => Promise<T>): Promise<T> {
  const libp2p = (await createLibp2p({
    privateKey: keys.privateKey,
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  })) as unknown as Libp2p
  try {
    return await fn(libp2p)
  } finally {
    await libp2p.stop()
  }
}

async function accountCall(
  options: { dataDir?: string; clearinghouse?: string },
  op: 'fund' | 'balance',
  fields: Partial<AccountRequestFields>,
): Promise<unknown> {
  const dataDir = dataDirOf(options)
  const network = networkOf(dataDir)
  const keys = await loadOrCreateNodeKeys(accountKeyPath(dataDir))
  const { addresses, peerId } = await clearinghouseAddresses(options, network)
  const request = signAccountRequest(
    {
      network: network.name,
      account: keys.signer.publicKey,
      op,
      amount: null,
      currency: null,
      paymentToken: null,
      period: null,
      requestId: `cli-${randomBytes(12).toString('hex')}`,
      created: systemClock.now(),
      ...fields,
    },
    keys.signer,
  )
  return withClient(keys, async (libp2p) => {
    try {
      return await rpcCall(libp2p, addresses, network.protocol(CLEARING_PROTOCOL), CLEARING_OPS[op], request, {
        deadlineMs: CLEARINGHOUSE_DEADLINE_MS,
        service: 'clearinghouse',
      })
    } catch (err) {
      if (isError(err, RpcRemoteError)) throw new CliError(err.message)
      if (isError(err, RpcUnreachableError) || isError(err, RpcTimeoutError)) {
        throw new CliError(err.message.includes(peerId) ? err.message : `clearinghouse ${peerId}: ${err.message}`)
      }
      throw err
    }
  })
}

type Balance = ReturnType<typeof balanceResponse.parse>['balances'][number]

function balanceTable(balances: Balance[]): string {
  return table(
    balances.map((b) => ({
      currency: b.currency,
      available: formatAmount(b.available, b.currency),
      pending: formatAmount(b.pending, b.currency),
      posted: formatAmount(b.posted, b.currency),
    })),
    ['currency', 'available', 'pending', 'posted'],
  )
}

interface StatementFile {
  statements?: Array<{ parts?: Array<{ record?: string }> }>
  record?: string
  index?: number
  line?: unknown
  path?: string[]
}

/** Read statement records (and a line proof) from what `consort statement --json` or `statement proof` wrote. */
function statementRecordsOf(text: string): {
  records: Uint8Array[]
  proof?: { index: number; path: string[]; record: Uint8Array }
} {
  let json: StatementFile
  try {
    json = JSON.parse(text) as StatementFile
  } catch {
    const trimmed = text.trim()
    return { records: [bytesFromString(trimmed, 'base64')] }
  }
  if (typeof json.record === 'string' && Array.isArray(json.path) && typeof json.index === 'number') {
    const record = bytesFromString(json.record, 'base64')
    return { records: [record], proof: { index: json.index, path: json.path, record } }
  }
  const records: Uint8Array[] = []
  for (const s of json.statements ?? [])
    for (const p of s.parts ?? []) if (typeof p.record === 'string') records.push(bytesFromString(p.record, 'base64'))
  if (records.length === 0) throw new CliError('the file holds no statement records', EXIT.usage)
  return { records }
}

export function registerClearingCommands(program: Command): void {
  const account = accountCommand(program)

  withJson(
    withDataDir(
      account
        .command('fund')
        .description("top up this data dir's account at a clearinghouse (through its payment gateway)")
        .argument('<amount>', 'a decimal amount, e.g. 25.00')
        .argument('<currency>', 'an ISO 4217 code, e.g. EUR')
        .option('--token <token>', "the payment gateway's token (the test gateway declines `decline`)")
        .option('--clearinghouse <multiaddr>', 'the clearinghouse to use (default: one the running node knows)'),
    ),
  ).action(async (amountText: string, currencyText: string, options) => {
    const currency = currencyText.toUpperCase()
    let amount: bigint
    try {
      amount = parseDecimalAmount(amountText, currency)
    } catch (err) {
      throw new CliError(`amount: ${(err as Error).message}`, EXIT.usage)
    }
    if (amount <= 0n) throw new CliError('amount: must be more than zero', EXIT.usage)
    const response = await accountCall(options, 'fund', {
      amount,
      currency: currency as AccountRequestFields['currency'],
      paymentToken: options.token ?? null,
    })
    const result = parseMessage(fundResponse, response, 'response')
    print(result, options, () => `funded: transfer ${result.transferId}\n${balanceTable([result.balance])}`)
  })

  withJson(
    withDataDir(
      account
        .command('balance')
        .description("this data dir's account balances at a clearinghouse")
        .option('--clearinghouse <multiaddr>', 'the clearinghouse to ask (default: one the running node knows)'),
    ),
  ).action(async (options) => {
    const result = parseMessage(balanceResponse, await accountCall(options, 'balance', {}), 'response')
    print(result, options, () => (result.balances.length === 0 ? '(no money yet)' : balanceTable(result.balances)))
  })

  const ledger = program.command('ledger').description("the clearinghouse's ledger (on the clearinghouse's node)")
  withJson(
    withDataDir(
      ledger
        .command('transfers')
        .description('list transfers in log order')
        .option('--account <id>', 'only those of this ledger account, or participant id with --currency')
        .option('--currency <code>', "the participant's currency")
        .option('--after <seq>', 'the cursor of the previous page', '0')
        .option('--limit <n>', 'at most this many (1..1000)', '100'),
    ),
  ).action(async (options) => {
    const query = new URLSearchParams({ after: options.after, limit: options.limit })
    if (options.account !== undefined) query.set('account', options.account)
    if (options.currency !== undefined) query.set('currency', options.currency)
    const page = await clientFor(options).request<{ transfers: Array<Record<string, unknown>>; next: number | null }>(
      'GET',
      `/v1/clearinghouse/transfers?${query}`,
    )
    print(page, options, () =>
      [
        table(
          page.transfers.map((t) => ({
            seq: t.seq,
            kind: t.kind,
            id: t.id,
            debit: t.debitAccountId,
            credit: t.creditAccountId,
            // Money as every other command prints it (`0.97 EUR`); --json keeps the minor units.
            amount: `${formatAmount(BigInt(String(t.amount)), String(t.currency))} ${String(t.currency)}`,
            code: t.code,
          })),
          ['seq', 'kind', 'id', 'debit', 'credit', 'amount', 'code'],
        ),
        ...(page.next !== null ? [`more: --after ${page.next}`] : []),
      ].join('\n'),
    )
  })

  const statement = withJson(
    withDataDir(
      program
        .command('statement')
        .description("a participant's statement for a period (on the clearinghouse's node)")
        .option('--participant <id>', 'a participant id (retailer:<key>, rightsholder:<party>…) or a key (hex)')
        .option('--period <YYYY-MM>', 'the month')
        .option('--currency <code>', 'only this currency')
        .option('--csv', 'the accounting export: every line (fees and splits too) with its Merkle proof, as CSV')
        .option('--dsr', 'a DDEX DSR sales report (flat file, Basic Audio Profile) of the sales and usage')
        .option(
          '--out <file>',
          'write to this file instead of stdout (with --dsr: a directory takes the standard name)',
        ),
    ),
  ).action(async (options) => {
    if (options.participant === undefined || options.period === undefined) {
      throw new CliError(
        'statement: --participant and --period are required (or: consort statement verify FILE)',
        EXIT.usage,
      )
    }
    const query = new URLSearchParams({ participant: options.participant, period: options.period })
    if (options.currency !== undefined) query.set('currency', options.currency)
    const client = clientFor(options)
    if (options.dsr === true) {
      if (options.csv === true) throw new CliError('statement: --dsr or --csv, not both', EXIT.usage)
      const { reports } = await client.request<{
        reports: Array<{ participant: string; fileName: string; text: string; warnings: string[] }>
      }>('GET', `/v1/clearinghouse/statements/dsr?${query}`)
      if (reports.length === 0) throw new CliError(`statement: no DSR for ${options.participant}`, EXIT.failed)
      const intoDir = options.out !== undefined && existsSync(options.out) && statSync(options.out).isDirectory()
      if (reports.length > 1 && !intoDir) {
        throw new CliError(
          `statement: ${options.participant} is ${reports.length} participants (${reports.map((r) => r.participant).join(', ')}): give --out DIR, or one participant id`,
          EXIT.usage,
        )
      }
      const written: string[] = []
      for (const r of reports) {
        for (const w of r.warnings) process.stderr.write(`warning: ${r.participant}: ${w}\n`)
        if (options.out === undefined) process.stdout.write(r.text)
        else {
          const file = intoDir ? join(options.out, r.fileName) : options.out
          writeFileSync(file, r.text)
          written.push(file)
        }
      }
      if (written.length > 0) print({ files: written }, options, () => written.map((f) => `wrote ${f}`).join('\n'))
      return
    }
    if (options.csv === true) {
      const { csv } = await client.request<{ csv: string }>('GET', `/v1/clearinghouse/statements/csv?${query}`)
      if (options.out !== undefined) writeFileSync(options.out, csv)
      else process.stdout.write(csv)
      return
    }
    const result = await client.request<{
      statements: Array<{
        participant: string
        currency: string
        period: string
        final: boolean
        totals: { credits: string; debits: string; net: string; lines: number }
        parts: Array<{ lines: Array<Record<string, unknown>>; merkleRoot: string; id: string }>
      }>
    }>('GET', `/v1/clearinghouse/statements?${query}`)
    if (options.out !== undefined) {
      writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`)
      if (options.json !== true) process.stdout.write(`wrote ${options.out}\n`)
      return
    }
    print(result, options, () =>
      result.statements.length === 0
        ? '(no lines in that period)'
        : result.statements
            .map((s) =>
              [
                `${s.participant} · ${s.period} · ${s.currency}${s.final ? ' · final' : ' · provisional'}`,
                table(
                  s.parts.flatMap((p) =>
                    p.lines.map((l) => ({
                      kind: l.kind,
                      ref: l.ref,
                      content: l.content,
                      units: l.units,
                      amount: formatAmount(BigInt(String(l.amount)), s.currency),
                      counterparty: l.counterparty,
                    })),
                  ),
                  ['kind', 'ref', 'content', 'units', 'amount', 'counterparty'],
                ),
                `credits ${formatAmount(BigInt(s.totals.credits), s.currency)}  debits ${formatAmount(BigInt(s.totals.debits), s.currency)}  net ${formatAmount(BigInt(s.totals.net), s.currency)}`,
                ...s.parts.map((p, i) => `part ${i} ${p.id} merkle root ${p.merkleRoot}`),
              ].join('\n'),
            )
            .join('\n\n'),
    )
  })

  withJson(
    withDataDir(
      statement
        .command('verify')
        .description(
          'check a statement file: signatures, totals, Merkle roots and line proofs (--json, --csv, proof); the DSR standard (--dsr)',
        )
        .argument(
          '<file>',
          'what `consort statement` (--json, --csv or --dsr) or `consort statement proof --json` wrote',
        )
        .option(
          '--network <file>',
          "check against this network (default: the data dir's), so the signer must be its clearinghouse",
        ),
    ),
  ).action(async (file: string, _options, command: Command) => {
    // `statement` shares option names with its subcommands: commander gives them to the parent, so read both.
    const options = command.optsWithGlobals()
    const text = readFileSync(file, 'utf8')
    const networkFile = options.network ?? dataDirPaths(dataDirOf(options)).network
    const now = systemClock.now()
    const net = existsSync(networkFile) ? readNetworkFile(networkFile, now) : undefined
    const checkRecord = (bytes: Uint8Array) =>
      checkStatement(bytes, {
        network: net?.body.network ?? decodeNetworkName(bytes) ?? '',
        now,
        ...(net !== undefined ? { clearinghouses: net.body.clearinghouses.map((c) => c.key) } : {}),
      })
    if (text.startsWith('HEAD\t')) {
      // A DSR sales report: the standard's syntax, order, references and totals (it carries no signature).
      const check = checkDsr(text)
      print({ format: 'dsr', ...check }, options, () =>
        check.ok
          ? `OK  DSR (Basic Audio Profile): ${check.lines} lines, ${check.summaries} summaries, ${check.blocks} blocks; net revenue ${
              Object.entries(check.netRevenue)
                .map(([c, v]) => `${v} ${c}`)
                .join(', ') || 'none'
            }`
          : `BAD DSR: ${check.problems.join('; ')}`,
      )
      if (!check.ok) process.exitCode = EXIT.failed
      return
    }
    if (text.startsWith(`${ACCOUNTING_COLUMNS.join(',')}\r\n`)) {
      const check = checkAccountingCsv(text, checkRecord)
      print({ format: 'csv', checkedAgainstNetwork: net?.body.network ?? null, ...check }, options, () =>
        [
          check.ok
            ? `OK  accounting export: ${check.parts} signed part(s), ${check.lines} line(s), every line proved`
            : `BAD accounting export: ${check.problems.join('; ')}`,
          net === undefined ? '(no network file: the signer was not checked against the network)' : '',
        ]
          .filter((l) => l !== '')
          .join('\n'),
      )
      if (!check.ok) process.exitCode = EXIT.failed
      return
    }
    const { records, proof } = statementRecordsOf(text)
    const results = records.map((bytes) => {
      const check = checkRecord(bytes)
      let proved: boolean | undefined
      if (proof !== undefined && check.record !== undefined) {
        const line = check.record.body.lines[proof.index]
        proved =
          line !== undefined &&
          checkLineProof(check.record, {
            index: proof.index,
            line,
            path: proof.path.map((p) => fromHex(p)),
          })
        if (!proved) check.problems.push(`proof: line ${proof.index} is not proved by the path`)
      }
      return {
        id: check.record?.id.toString() ?? null,
        participant: check.record?.body.participant ?? null,
        period: check.record?.body.period ?? null,
        part: check.record?.body.part ?? null,
        signer: check.record !== undefined ? toHex(check.record.signer) : null,
        ok: check.problems.length === 0,
        problems: check.problems,
        ...(proved !== undefined ? { lineProved: proved } : {}),
      }
    })
    const ok = results.every((r) => r.ok)
    print({ ok, checkedAgainstNetwork: net?.body.network ?? null, statements: results }, options, () =>
      [
        ...results.map((r) =>
          r.ok
            ? `OK  ${r.participant} ${r.period} part ${r.part} (${r.id})${r.lineProved === true ? ', line proved' : ''}`
            : `BAD ${r.participant ?? '?'} ${r.period ?? ''}: ${r.problems.join('; ')}`,
        ),
        net === undefined ? '(no network file: the signer was not checked against the network)' : '',
      ]
        .filter((l) => l !== '')
        .join('\n'),
    )
    if (!ok) process.exitCode = EXIT.failed
  })

  withJson(
    withDataDir(
      statement
        .command('proof')
        .description('the Merkle proof of one line of a statement (on the clearinghouse node)')
        .option('--participant <id>', 'the participant')
        .option('--period <YYYY-MM>', 'the month')
        .option('--ref <ref>', "the line's reference (a purchase id, `plays:…`)")
        .option('--kind <kind>', "the line's kind, if the reference has several")
        .option('--currency <code>', 'only this currency'),
    ),
  ).action(async (_options, command: Command) => {
    const options = command.optsWithGlobals()
    if (options.participant === undefined || options.period === undefined || options.ref === undefined) {
      throw new CliError('statement proof: --participant, --period and --ref are required', EXIT.usage)
    }
    const query = new URLSearchParams({ participant: options.participant, period: options.period, ref: options.ref })
    if (options.kind !== undefined) query.set('kind', options.kind)
    if (options.currency !== undefined) query.set('currency', options.currency)
    const proof = await clientFor(options).request('GET', `/v1/clearinghouse/statements/proof?${query}`)
    print(proof, options)
  })

  withJson(
    withDataDir(
      program
        .command('audit')
        .description(
          "recompute every clearinghouse balance from its transfers and check every invariant (the daemon's, or a stopped node's data dir)",
        ),
    ),
  ).action(async (options) => {
    const dataDir = dataDirOf(options)
    let report: AuditReport
    try {
      report = await clientFor(options).request<AuditReport>('GET', '/v1/clearinghouse/audit')
    } catch (err) {
      if (!isError(err, DaemonNotRunningError)) throw err
      report = await auditOffline(dataDir)
    }
    const violations = [...report.ledger, ...report.clearing]
    print(toJsonValue(report), options, () =>
      report.ok
        ? `audit passed: ${report.counts.accounts} accounts, ${report.counts.lines} statement lines, ${report.counts.purchases} purchases, ${report.counts.reports} usage reports` +
          (report.counts.pendingJournal > 0
            ? ` (${report.counts.pendingJournal} journalled batch(es) to replay at start)`
            : '')
        : [
            `audit FAILED: ${violations.length} violation(s)`,
            ...violations.map((v) => `  ${v.code}: ${v.message}`),
          ].join('\n'),
    )
    if (!report.ok) process.exitCode = EXIT.failed
  })
}

/** The network a record names itself (to check a statement when no network file is at hand). */
function decodeNetworkName(bytes: Uint8Array): string | undefined {
  try {
    const name = (dagCbor.decode(bytes) as { body?: { network?: unknown } })?.body?.network
    return typeof name === 'string' ? name : undefined
  } catch {
    return undefined
  }
}

/** Audit the data dir of a stopped node, read-only. */
async function auditOffline(dataDir: string): Promise<AuditReport> {
  const paths = dataDirPaths(dataDir)
  if (!existsSync(paths.db)) throw new CliError(`${dataDir} has no database`)
  const db = new Level<string, Uint8Array>(paths.db, { valueEncoding: 'view' })
  try {
    await db.open()
  } catch (err) {
    throw new CliError(`cannot open ${paths.db} (is a daemon running on it?): ${(err as Error).message}`)
  }
  try {
    return await auditStopped(
      db.sublevel('role-clearinghouse', { valueEncoding: 'view' }) as unknown as StateLevel,
      systemClock,
    )
  } finally {
    await db.close()
  }
}
