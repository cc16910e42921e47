import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ControlRoute } from '../../roles/role.ts'
import { decimalUnits, type ParsedDsr, parseDsr } from './dsr-parser.ts'

/**
 * Every DSR report a running clearinghouse gives for a period, read with the tests' own DSR parser and held against
 * the clearinghouse's books, all through its operator routes (`/v1/clearinghouse/…`, the ones `consort statement`
 * and `consort ledger` use): each file loads with no error; for each participant, the end users' payments its report
 * counts (`NetRevenue`) equal, to the cent, the ledger's captured sales of the purchases its signed statement names;
 * and its download sales (`SU01.03` usages) are exactly those purchases of download offers.
 */
export interface DsrLedgerCheck {
  files: Array<{ participant: string; fileName: string; errors: string[] }>
  problems: string[]
  /** Per participant: streams reported (`SU02.03`), downloads reported (`SU01.03`), revenue per currency. */
  totals: Map<string, { streams: bigint; downloads: bigint; revenue: Map<string, bigint> }>
}

type Routes = readonly ControlRoute[]

async function call(routes: Routes, path: string, query: Record<string, string> = {}, params = {}): Promise<unknown> {
  const route = routes.find((r) => r.method === 'GET' && r.path === path)
  if (route === undefined) throw new Error(`no route GET ${path}`)
  return route.handler({ query, params, body: undefined, signal: new AbortController().signal })
}

const DOWNLOADS = new Set(['PermanentDownload', 'ConditionalDownload', 'TetheredDownload'])
const one = (r: ParsedDsr['records'][number], name: string) => r.cells[name]?.[0] ?? ''

export async function checkDsrAgainstLedger(
  routes: Routes,
  period: string,
  /** The use type of an offer (by CID), from the records: to tell download sales from the rest. */
  useTypeOf: (offerCid: string) => Promise<string>,
  writeTo?: string,
): Promise<DsrLedgerCheck> {
  const out: DsrLedgerCheck = { files: [], problems: [], totals: new Map() }
  // The ledger's captured consumer payments, by purchase id (holding → retailer, code `sale`).
  const captured = new Map<string, { amount: bigint; currency: string }>()
  for (let after = 0; ; ) {
    const page = (await call(routes, '/transfers', { after: String(after), limit: '1000' })) as {
      transfers: Array<{ code: string; reference?: string; amount: bigint; currency: string }>
      next: number | null
    }
    for (const t of page.transfers) {
      if (t.code === 'sale' && t.reference !== undefined)
        captured.set(t.reference, { amount: BigInt(t.amount), currency: t.currency })
    }
    if (page.next === null) break
    after = page.next
  }
  const participants: string[] = []
  for (let after: string | undefined; ; ) {
    const page = (await call(routes, '/participants', { limit: '1000', ...(after ? { after } : {}) })) as {
      participants: Array<{ id: string }>
    }
    participants.push(...page.participants.map((p) => p.id))
    if (page.participants.length < 1000) break
    after = page.participants.at(-1)!.id
  }
  for (const participant of participants) {
    if (!/^(retailer|distributor|rightsholder)[:#]/.test(participant)) continue
    const statements = (await call(routes, '/statements', { participant, period })) as {
      statements: Array<{ parts: Array<{ lines: Array<{ kind: string; ref: string }> }> }>
    }
    const purchases = new Set<string>()
    for (const s of statements.statements)
      for (const p of s.parts)
        for (const l of p.lines)
          if ((l.kind === 'sale' || l.kind === 'split') && !l.ref.startsWith('plays:')) purchases.add(l.ref)
    const hasPlays = statements.statements.some((s) => s.parts.some((p) => p.lines.some((l) => l.kind === 'play')))
    if (purchases.size === 0 && !hasPlays) continue
    const { reports } = (await call(routes, '/statements/dsr', { participant, period })) as {
      reports: Array<{ fileName: string; text: string }>
    }
    if (reports.length !== 1) {
      out.problems.push(`${participant}: ${reports.length} reports`)
      continue
    }
    const { fileName, text } = reports[0]!
    if (writeTo !== undefined) await writeFile(join(writeTo, fileName), text)
    const parsed = parseDsr(text, fileName)
    out.files.push({ participant, fileName, errors: parsed.errors })
    const revenue = new Map<string, bigint>()
    for (const sy of parsed.records.filter((r) => r.type === 'SY01.03')) {
      const currency = one(sy, 'CurrencyOfReporting')
      revenue.set(currency, (revenue.get(currency) ?? 0n) + decimalUnits(one(sy, 'NetRevenue'), 2))
    }
    const sum = (type: string, cell: string) =>
      parsed.records.filter((r) => r.type === type).reduce((s, r) => s + BigInt(one(r, cell)), 0n)
    const downloads = sum('SU01.03', 'Usages') - sum('SU01.03', 'Returns')
    out.totals.set(participant, { streams: sum('SU02.03', 'NumberOfStreams'), downloads, revenue })
    // The ledger's side of the same purchases.
    const expected = new Map<string, bigint>()
    let expectedDownloads = 0n
    for (const purchaseId of purchases) {
      const sale = captured.get(purchaseId)
      if (sale === undefined) {
        out.problems.push(`${participant}: purchase ${purchaseId} is on the statement, not captured in the ledger`)
        continue
      }
      expected.set(sale.currency, (expected.get(sale.currency) ?? 0n) + sale.amount)
      const row = (await call(routes, '/purchases/:id', {}, { id: purchaseId })) as { offer: string }
      if (DOWNLOADS.has(await useTypeOf(row.offer))) expectedDownloads++
    }
    for (const currency of new Set([...expected.keys(), ...revenue.keys()])) {
      if ((expected.get(currency) ?? 0n) !== (revenue.get(currency) ?? 0n))
        out.problems.push(
          `${participant}: the DSR reports ${revenue.get(currency) ?? 0n} ${currency} of sales, the ledger captured ${expected.get(currency) ?? 0n}`,
        )
    }
    if (downloads !== expectedDownloads)
      out.problems.push(`${participant}: the DSR reports ${downloads} downloads, the ledger ${expectedDownloads}`)
  }
  return out
}
