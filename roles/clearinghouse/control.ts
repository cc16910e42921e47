import { InvalidParametersError, NotFoundError } from '@libp2p/interface'

/**
 * The operator's commands, mounted by the node's control API under `/v1/clearinghouse/` (the CLI's `consort ledger
 * transfers`, `consort statement`, `consort audit`, …). Amounts travel as decimal strings (toJsonValue), records as
 * base64 of their bytes.
 */
import { toString as bytesToString } from 'uint8arrays/to-string'
import { toHex } from '../../keys/hex.ts'
import { CURRENCY_CODES } from '../../protocols/identifiers/currencies.ts'
import type { ControlRequest, ControlRoute } from '../role.ts'
import { toAccountingCsv } from './accounting.ts'
import { balanceEntryOf } from './accounts.ts'
import { MAX_LIST_PAGE } from './constants.ts'
import type { ClearingEngine } from './engine.ts'
import { MAX_PAGE_SIZE } from './ledger/constants.ts'
import { accountIdOf, parseParticipant } from './participants.ts'
import { PERIOD_PATTERN } from './state.ts'
import type { Statement } from './statements.ts'

function intParam(value: string | undefined, name: string, fallback: number, max: number): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new InvalidParametersError(`${name}: expected 0..${max}`)
  return n
}

function periodParam(value: string | undefined): string {
  if (value === undefined || !PERIOD_PATTERN.test(value)) throw new InvalidParametersError('period: expected YYYY-MM')
  return value
}

function currencyParam(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  if (!(CURRENCY_CODES as readonly string[]).includes(value))
    throw new InvalidParametersError(`currency: ${value} is not ISO 4217`)
  return value
}

/** A statement as the CLI shows and saves it: records as base64, so `consort statement verify` can check them. */
export function statementJson(s: Statement) {
  return {
    participant: s.participant,
    period: s.period,
    currency: s.currency,
    final: s.final,
    totals: s.totals,
    parts: s.parts.map((p) => ({
      id: p.record.id.toString(),
      record: bytesToString(p.record.bytes, 'base64'),
      part: p.record.body.part,
      lines: p.record.body.lines,
      totals: p.record.body.totals,
      merkleRoot: p.record.body.merkleRoot,
    })),
  }
}

async function statementsFor(engine: ClearingEngine, q: ControlRequest['query']): Promise<Statement[]> {
  const period = periodParam(q.period)
  const currency = currencyParam(q.currency)
  if (q.participant === undefined || q.participant === '') throw new InvalidParametersError('participant: required')
  const out: Statement[] = []
  for (const participant of await engine.statements.resolve(q.participant)) {
    out.push(...(await engine.statements.build(period, participant, currency)))
  }
  return out
}

export function controlRoutes(engine: () => ClearingEngine): ControlRoute[] {
  return [
    {
      method: 'GET',
      path: '/transfers',
      handler: async ({ query }) => {
        const limit = intParam(query.limit, 'limit', 100, MAX_PAGE_SIZE) || 100
        const after = intParam(query.after, 'after', 0, Number.MAX_SAFE_INTEGER)
        let accountId = query.account
        if (accountId !== undefined && parseParticipant(accountId) !== undefined) {
          const currency = currencyParam(query.currency)
          if (currency === undefined) throw new InvalidParametersError('currency: required with a participant id')
          accountId = accountIdOf(accountId, currency)
        }
        return engine().transfers({ ...(accountId !== undefined ? { accountId } : {}), after, limit })
      },
    },
    {
      method: 'GET',
      path: '/balances',
      handler: async ({ query }) => {
        const e = engine()
        if (query.participant === undefined) throw new InvalidParametersError('participant: required')
        const out = []
        for (const participant of await e.statements.resolve(query.participant)) {
          for (const currency of CURRENCY_CODES) {
            const id = accountIdOf(participant, currency)
            if ((await e.ledger.getAccount(id)) === undefined) continue
            out.push({ participant, accountId: id, ...balanceEntryOf(currency, await e.ledger.balance(id)) })
          }
        }
        return { balances: out }
      },
    },
    {
      method: 'GET',
      path: '/participants',
      handler: async ({ query }) => ({
        participants: await engine().statements.participants(
          intParam(query.limit, 'limit', 100, MAX_LIST_PAGE) || 100,
          query.after,
        ),
      }),
    },
    {
      method: 'GET',
      path: '/statements',
      handler: async ({ query }) => ({ statements: (await statementsFor(engine(), query)).map(statementJson) }),
    },
    {
      method: 'GET',
      path: '/statements/csv',
      handler: async ({ query }) => ({ csv: toAccountingCsv(await statementsFor(engine(), query)) }),
    },
    {
      method: 'GET',
      path: '/statements/dsr',
      handler: async ({ query }) => {
        const period = periodParam(query.period)
        if (query.participant === undefined || query.participant === '')
          throw new InvalidParametersError('participant: required')
        const e = engine()
        const reports = []
        for (const participant of await e.statements.resolve(query.participant)) {
          const kind = parseParticipant(participant)?.kind ?? ''
          // A key names all its participants: only those a DSR reports to (not its wallet or fee account).
          if (participant !== query.participant && !['retailer', 'distributor', 'rightsholder'].includes(kind)) continue
          const r = await e.dsr.report(period, participant)
          reports.push({
            participant,
            fileName: r.fileName,
            text: r.text,
            lines: r.lines,
            summaries: r.summaries,
            blocks: r.blocks,
            downloadPlaysLeftOut: r.downloadPlaysLeftOut,
            warnings: r.warnings,
          })
        }
        return { reports }
      },
    },
    {
      method: 'GET',
      path: '/statements/proof',
      handler: async ({ query }) => {
        if (query.ref === undefined) throw new InvalidParametersError('ref: required')
        for (const s of await statementsFor(engine(), query)) {
          const proof = engine().statements.proofOf(
            s,
            (l) => l.ref === query.ref && (query.kind === undefined || l.kind === query.kind),
          )
          if (proof !== undefined) {
            return {
              participant: s.participant,
              period: s.period,
              currency: s.currency,
              record: bytesToString(proof.record, 'base64'),
              index: proof.index,
              line: proof.line,
              path: proof.path.map((p) => toHex(p)),
            }
          }
        }
        throw new NotFoundError(`no line ${query.ref} in that statement`)
      },
    },
    {
      method: 'GET',
      path: '/purchases/:id',
      handler: async ({ params }) => {
        const row = await engine().purchases.get(params.id ?? '')
        if (row === undefined) throw new NotFoundError(`no purchase ${params.id}`)
        // The referral of a purchase made through a share: credited (amount, referrer, payer) or why not (0512).
        return { ...row, referral: (await engine().referrals.verdict(row.purchaseId)) ?? null }
      },
    },
    {
      method: 'GET',
      path: '/held',
      handler: async ({ query }) => {
        const which = query.which === 'missing' ? 'missing' : 'suspicious'
        const limit = intParam(query.limit, 'limit', 100, MAX_LIST_PAGE) || 100
        const page = await engine().ingest.listHeld(which, limit, query.after)
        return {
          held: page.map(({ key, row }) => ({ key, ...row })),
          next: page.length === limit ? page.at(-1)?.key : null,
        }
      },
    },
    {
      method: 'POST',
      path: '/held/review',
      handler: async ({ body }) => {
        const b = body as { device?: unknown; eventId?: unknown; verdict?: unknown } | null
        if (typeof b?.device !== 'string' || typeof b.eventId !== 'string') {
          throw new InvalidParametersError('device and eventId: required strings')
        }
        if (b.verdict !== 'approve' && b.verdict !== 'reject')
          throw new InvalidParametersError('verdict: approve or reject')
        return { result: await engine().ingest.review(b.device, b.eventId, b.verdict) }
      },
    },
    {
      method: 'GET',
      path: '/stats',
      handler: async () => ({
        ...engine().ingest.stats,
        workers: engine().verifier.workers,
        workerCpuMicros: engine().verifier.workerCpu,
      }),
    },
    { method: 'GET', path: '/audit', handler: async () => engine().audit() },
    {
      method: 'POST',
      path: '/tick',
      handler: async () => {
        await engine().tick()
        return { ok: true }
      },
    },
  ]
}
