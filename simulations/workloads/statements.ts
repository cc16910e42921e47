/**
 * Reading the clearinghouse's statements the way the workload's checks need them: the sum and count of one kind of
 * line (`delivery`, `referral`) on a participant's statements for every period a run can span, through the control
 * route `GET /v1/clearinghouse/statements` (called in process).
 */

/** Statement periods a run's settlement may fall in (a run starts on 1 November 2026 and lasts hours at most). */
const MAX_PERIODS = 2

export type StatementCall = (path: string, query: Record<string, string>) => Promise<unknown>

interface StatementsAnswer {
  statements: Array<{ parts: Array<{ lines: Array<{ kind: string; amount: bigint | string | number }> }> }>
}

/** The lines of `kind` on `participant`'s EUR statements: their sum and how many; null without a clearinghouse. */
export async function statementLines(
  call: StatementCall | null,
  participant: string,
  kind: string,
): Promise<{ sum: bigint; lines: number } | null> {
  if (call == null) return null
  let sum = 0n
  let lines = 0
  for (const period of periodsOfRun()) {
    const answer = (await call('/statements', { participant, period, currency: 'EUR' }).catch(() => ({
      statements: [],
    }))) as StatementsAnswer
    for (const s of answer.statements)
      for (const part of s.parts)
        for (const line of part.lines)
          if (line.kind === kind) {
            sum += BigInt(line.amount)
            lines++
          }
  }
  return { sum, lines }
}

/** The statement periods (YYYY-MM) from a month before now to now. */
function periodsOfRun(): string[] {
  const out: string[] = []
  const now = new Date(Date.now())
  for (let k = MAX_PERIODS - 1; k >= 0; k--) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - k, 1))
    out.push(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`)
  }
  return out
}

/** Minor units as euros: `€1.05`, `-€0.72`. */
export function eur(minor: bigint): string {
  const sign = minor < 0n ? '-' : ''
  const abs = minor < 0n ? -minor : minor
  return `${sign}€${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`
}
