import { readFileSync } from 'node:fs'
import { toJsonValue } from '../protocols/json.ts'

/** Exit codes of the CLI: 0 ok, 1 the command failed, 2 the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

/** An error the CLI shows as one line, without a stack trace. */
export class CliError extends Error {
  static override name = 'CliError'
  override name = CliError.name

  readonly exitCode: number

  constructor(message: string, exitCode: number = EXIT.failed) {
    super(message)
    this.exitCode = exitCode
  }
}

export interface OutputOptions {
  json?: boolean
}

/** Print a result: JSON on one line for scripts with --json, a readable form otherwise. */
export function print(result: unknown, options: OutputOptions, human?: (value: unknown) => string): void {
  if (options.json === true) {
    process.stdout.write(`${JSON.stringify(toJsonValue(result))}\n`)
  } else if (human != null) {
    process.stdout.write(`${human(result)}\n`)
  } else {
    process.stdout.write(`${JSON.stringify(toJsonValue(result), null, 2)}\n`)
  }
}

/** Format rows as an aligned text table. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)'
  const cells = rows.map((row) => columns.map((c) => String(toJsonValue(row[c]) ?? '')))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)))
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')
}

/** The passphrase for an encrypted keystore: from --passphrase-file, else CONSORT_PASSPHRASE, else none. */
export function passphraseFrom(options: { passphraseFile?: string }): string | undefined {
  if (options.passphraseFile != null) {
    try {
      return readFileSync(options.passphraseFile, 'utf8').replace(/\r?\n$/, '')
    } catch (err) {
      throw new CliError(
        `--passphrase-file: cannot read ${options.passphraseFile}: ${(err as Error).message}`,
        EXIT.usage,
      )
    }
  }
  return process.env.CONSORT_PASSPHRASE
}

/** Split and check a comma-separated list option. */
export function listOption(value: string, allowed?: readonly string[], name = 'value'): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  if (allowed != null) {
    for (const item of items) {
      if (!allowed.includes(item))
        throw new CliError(`${name}: unknown ${JSON.stringify(item)} (one of ${allowed.join(', ')})`, EXIT.usage)
    }
  }
  return items
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** A duration typed on the command line (`90s`, `30m`, `12h`, `7d`, `2w`) in milliseconds; `name` is the option's. */
export function durationOption(value: string, name: string): number {
  const match = /^(\d{1,6})([smhdw])$/.exec(value.trim())
  if (match === null) {
    throw new CliError(
      `${name}: expected a number and a unit (s, m, h, d or w), like 7d or 12h; got ${JSON.stringify(value)}`,
      EXIT.usage,
    )
  }
  const ms = Number(match[1]) * DURATION_UNITS_MS[match[2]!]!
  if (ms <= 0) throw new CliError(`${name}: must be longer than nothing`, EXIT.usage)
  return ms
}
