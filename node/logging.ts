import { format } from 'node:util'
import { enabled as libp2pLoggerEnabled } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { type Logger, pino } from 'pino'
import pretty from 'pino-pretty'
import debug from 'weald'

/**
 * One structured sink for every component logger of the process. Consort, libp2p and Helia all log through
 * `@libp2p/logger`, which is `weald` (a `debug` fork) underneath; rather than rewrite every call site, the sink
 * takes over weald's output: each line becomes a pino record with the component (the logger's namespace), the
 * level (`:error` and `:trace` namespaces), the message, and the ids the message carries as fields of their own —
 * `peer` (`%p`), `cid` (`%c`, and CIDs passed to `%s`), and `purchaseId`, `licenceId`, `reportId`, `offerId`,
 * `contractId` when the format names one (`purchase %s`). Which components log is still chosen by `DEBUG`
 * (default: Consort's errors).
 *
 * Secrets: no call site logs a key, a token or plaintext (a devnet test greps the logs for them); as a second
 * line of defence, bytes are never printed, only their length (a key passed by mistake shows as `<32 bytes>`).
 */

export type LogFormat = 'json' | 'pretty'

/** What is logged when `DEBUG` is not set: Consort's errors (libp2p's `:error` lines are mostly normal network events: aborted queries, reset connections). */
export const DEFAULT_LOG_NAMESPACES = 'consort:*:error'

/** A namespace no logger uses, enabled for a moment to see whether `@libp2p/logger` shares this copy of weald. */
const PROBE_NAMESPACE = 'consort-logging-probe'

/** Words that, just before a `%s`, name the kind of id the argument is (`purchase %s`, `for licence %s`). */
const ID_FIELDS: Readonly<Record<string, string>> = {
  purchase: 'purchaseId',
  licence: 'licenceId',
  report: 'reportId',
  offer: 'offerId',
  contract: 'contractId',
}

interface WealdInstance {
  namespace: string
}

interface Weald {
  (namespace: string): unknown
  formatters: Record<string, (this: WealdInstance, value: unknown) => string>
  formatArgs: (this: WealdInstance, args: unknown[]) => void
  log: (this: WealdInstance, ...args: unknown[]) => void
  enable(namespaces: string): void
}

const weald = debug as unknown as Weald

/** Fields gathered by the formatters while one line is being formatted (weald formats and logs synchronously). */
let pending: Record<string, string> = {}
let sink: Logger | undefined

function levelOf(namespace: string): 'error' | 'trace' | 'debug' {
  if (namespace.endsWith(':error')) return 'error'
  if (namespace.endsWith(':trace')) return 'trace'
  return 'debug'
}

/** What may be printed of an argument: bytes only as their length, everything else as it is. */
function printable(value: unknown): unknown {
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  if (value instanceof ArrayBuffer) return `<${value.byteLength} bytes>`
  return value
}

/**
 * The fields named by the words before each remaining `%s`/`%d`/`%o` of a format string, and the printable
 * arguments. `args[0]` is the format with weald's own formatters already applied.
 */
function structure(args: unknown[]): { message: string; fields: Record<string, string> } {
  const fields: Record<string, string> = {}
  const template = typeof args[0] === 'string' ? args[0] : ''
  const rest = args.slice(1).map(printable)
  let index = 0
  for (const match of template.matchAll(/(\w+)?\s*%([sdifjoO%])/g)) {
    if (match[2] === '%') continue
    const value = rest[index++]
    const word = match[1]?.toLowerCase()
    const field = word != null ? ID_FIELDS[word] : undefined
    if (value instanceof CID || CID.asCID(value) != null) fields.cid ??= String(value)
    else if (field != null && (typeof value === 'string' || typeof value === 'number')) fields[field] ??= String(value)
  }
  return { message: format(template, ...rest), fields }
}

/**
 * Send every component logger's lines to one pino sink on stderr: JSON lines (one object per line: `time`,
 * `level`, `component`, `msg`, and the ids), or the same records made readable for a terminal. Call once per
 * process, before the node starts; `destination` is for tests.
 */
export function configureLogging(
  options: {
    format?: LogFormat
    namespaces?: string
    destination?: NodeJS.WritableStream
    base?: Record<string, string>
  } = {},
): Logger {
  const stderrIsTerminal = process.stderr.isTTY === true
  const chosen = options.format ?? (process.env.CONSORT_LOG_FORMAT as LogFormat | undefined)
  const logFormat: LogFormat = chosen === 'json' || chosen === 'pretty' ? chosen : stderrIsTerminal ? 'pretty' : 'json'
  const stream =
    logFormat === 'pretty'
      ? pretty({
          sync: true,
          colorize: stderrIsTerminal,
          ignore: 'pid,hostname',
          messageKey: 'msg',
          ...(options.destination != null ? { destination: options.destination } : { destination: 2 }),
        })
      : (options.destination ?? pino.destination({ dest: 2, sync: true }))
  sink = pino({ level: 'trace', base: { pid: process.pid, ...options.base } }, stream)

  weald.formatters.p = (value) => {
    const text = value == null ? 'undefined' : String(value)
    pending.peer ??= text
    return text
  }
  weald.formatters.c = (value) => {
    const text = value == null ? 'undefined' : String(value)
    pending.cid ??= text
    return text
  }
  // weald colours %o and %O when stderr is a terminal; the sink adds its own colours, or none in JSON.
  weald.formatters.o = (value) => format('%o', printable(value)).replace(/\s*\n\s*/g, ' ')
  weald.formatters.O = (value) => format('%O', printable(value))
  weald.formatArgs = () => {}
  weald.log = function (this: WealdInstance, ...args: unknown[]) {
    const gathered = pending
    pending = {}
    const { message, fields } = structure(args)
    sink?.[levelOf(this.namespace)](
      { component: this.namespace.replace(/:(error|trace)$/, ''), ...gathered, ...fields },
      message,
    )
  }
  // The component loggers must share this copy of weald (npm dedupes it); if a second copy crept in, their lines
  // would bypass the sink as plain text: say so in the sink rather than lose the structure silently.
  // (weald.enable writes DEBUG into the environment: read what to enable first.)
  const namespaces = options.namespaces ?? process.env.DEBUG ?? DEFAULT_LOG_NAMESPACES
  weald.enable(PROBE_NAMESPACE)
  const shared = libp2pLoggerEnabled(PROBE_NAMESPACE)
  weald.enable(namespaces)
  if (!shared) {
    sink.error(
      { component: 'consort:logging' },
      'a second copy of weald is installed: component logs are not structured',
    )
  }
  return sink
}
