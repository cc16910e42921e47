/**
 * Every import a TypeScript module makes, read from its source text: static `import … from`, `import '…'`,
 * `export … from`, dynamic `import(…)` (type positions included: `typeof import('…')`), `require(…)` and
 * `require.resolve(…)`, and files named by `new URL('…', import.meta.url)` (a script a module starts is a
 * dependency too). Comments, strings, template literals and regular expressions are skipped by a small lexer, so an
 * import written inside a comment or a string is not one, and one split over lines still is.
 *
 * The type checker cannot do this for us: TypeScript 7's compiler has no JavaScript API, and Node's type stripping
 * drops `import type` lines, which are imports the layering rules must see.
 */

export type ImportKind = 'static' | 'dynamic' | 'require' | 'url'

export interface ImportSite {
  /** The module named, as written; for a template literal with substitutions, its text before the first `${`. */
  specifier: string
  kind: ImportKind
  /** 1-based line of the specifier. */
  line: number
  /**
   * `exact`: a string literal. `prefix`: a template literal with substitutions, of which only the text before the
   * first `${` is known. `computed`: no literal at all (a variable, a call), so what it names cannot be checked.
   */
  form: 'exact' | 'prefix' | 'computed'
}

type Token =
  | { type: 'word'; value: string; line: number }
  | { type: 'punct'; value: string; line: number }
  | { type: 'string'; value: string; line: number }
  | { type: 'template'; head: string; complete: boolean; line: number }
  | { type: 'regex'; line: number }

/** Words after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER_WORDS = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
])

export class ImportReadError extends Error {
  static override name = 'ImportReadError'
  override name = ImportReadError.name

  readonly line: number

  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`)
    this.line = line
  }
}

function isWordStart(char: string): boolean {
  return /[A-Za-z_$\u0080-\uffff]/.test(char)
}

function isWordPart(char: string): boolean {
  return /[A-Za-z0-9_$\u0080-\uffff]/.test(char)
}

/** Whether a `/` after these tokens starts a regular expression (rather than dividing what comes before it). */
function regexMayStart(previous: Token | undefined, beforePrevious: Token | undefined): boolean {
  if (previous === undefined) return true
  if (previous.type === 'word') return REGEX_AFTER_WORDS.has(previous.value)
  if (previous.type !== 'punct') return false
  // `x! / 2`: a non-null assertion ends an expression like `)` does.
  if (previous.value === '!') return !(beforePrevious !== undefined && endsExpression(beforePrevious))
  return ![')', ']', '}'].includes(previous.value)
}

function endsExpression(token: Token): boolean {
  if (token.type === 'word') return !REGEX_AFTER_WORDS.has(token.value)
  if (token.type === 'punct') return [')', ']'].includes(token.value)
  return true
}

/** The tokens of a module: words, punctuation, literals; comments and whitespace dropped. */
function tokenize(source: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  let line = 1
  /** Brace depths at which an open template substitution `${` closes, innermost last. */
  const substitutions: number[] = []
  let depth = 0

  const advance = (to: number): void => {
    for (let k = i; k < to; k++) if (source[k] === '\n') line++
    i = to
  }

  /** Reads template text from `i` (just after a backtick or a substitution's `}`) to its end or to the next `${`. */
  const templateText = (): { text: string; closed: boolean } => {
    let text = ''
    while (i < source.length) {
      const char = source[i]!
      if (char === '\\') {
        text += source.slice(i, i + 2)
        advance(i + 2)
        continue
      }
      if (char === '`') {
        advance(i + 1)
        return { text, closed: true }
      }
      if (char === '$' && source[i + 1] === '{') {
        advance(i + 2)
        substitutions.push(depth)
        depth++
        return { text, closed: false }
      }
      text += char
      advance(i + 1)
    }
    throw new ImportReadError('unterminated template literal', line)
  }

  while (i < source.length) {
    const char = source[i]!
    const next = source[i + 1]
    if (/\s/.test(char)) {
      advance(i + 1)
    } else if (char === '/' && next === '/') {
      const end = source.indexOf('\n', i)
      advance(end === -1 ? source.length : end)
    } else if (char === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2)
      if (end === -1) throw new ImportReadError('unterminated comment', line)
      advance(end + 2)
    } else if (char === "'" || char === '"') {
      const start = line
      let value = ''
      let k = i + 1
      while (k < source.length && source[k] !== char) {
        if (source[k] === '\n') throw new ImportReadError('unterminated string', start)
        if (source[k] === '\\') {
          value += source[k + 1] ?? ''
          k += 2
        } else {
          value += source[k]
          k++
        }
      }
      if (k >= source.length) throw new ImportReadError('unterminated string', start)
      advance(k + 1)
      tokens.push({ type: 'string', value, line: start })
    } else if (char === '`') {
      const start = line
      advance(i + 1)
      const { text, closed } = templateText()
      tokens.push({ type: 'template', head: text, complete: closed, line: start })
    } else if (char === '}' && substitutions.length > 0 && substitutions.at(-1) === depth - 1) {
      substitutions.pop()
      depth--
      advance(i + 1)
      templateText() // the text after a substitution names no module: only a template's head is kept
    } else if (char === '/' && regexMayStart(tokens.at(-1), tokens.at(-2))) {
      const start = line
      let k = i + 1
      let inClass = false
      while (k < source.length) {
        const c = source[k]
        if (c === '\n') throw new ImportReadError('unterminated regular expression', start)
        if (c === '/' && !inClass) break
        if (c === '[') inClass = true
        else if (c === ']') inClass = false
        k += c === '\\' ? 2 : 1
      }
      k++
      while (k < source.length && isWordPart(source[k]!)) k++
      advance(k)
      tokens.push({ type: 'regex', line: start })
    } else if (isWordStart(char) || /[0-9]/.test(char)) {
      let k = i + 1
      while (k < source.length && (isWordPart(source[k]!) || (/[0-9]/.test(char) && source[k] === '.'))) k++
      tokens.push({ type: 'word', value: source.slice(i, k), line })
      advance(k)
    } else {
      if (char === '{') depth++
      else if (char === '}') depth--
      tokens.push({ type: 'punct', value: char, line })
      advance(i + 1)
    }
  }
  return tokens
}

const isWord = (token: Token | undefined, value?: string): boolean =>
  token?.type === 'word' && (value === undefined || token.value === value)
const isPunct = (token: Token | undefined, value: string): boolean => token?.type === 'punct' && token.value === value

/**
 * The site a call's first argument (`tokens[at]`) names: `import(x)`, `require(x)`, `new URL(x, …)`. A literal
 * followed by `+` is only the head of the name, like a template literal's text before its first `${`.
 */
function argumentSite(tokens: Token[], at: number, kind: ImportKind, fallbackLine: number): ImportSite {
  const token = tokens[at]
  const after = tokens[at + 1]
  const whole = isPunct(after, ')') || isPunct(after, ',')
  if (token?.type === 'string' || (token?.type === 'template' && token.complete)) {
    const specifier = token.type === 'string' ? token.value : token.head
    if (whole) return { specifier, kind, line: token.line, form: 'exact' }
    if (isPunct(after, '+')) return { specifier, kind, line: token.line, form: 'prefix' }
  } else if (token?.type === 'template') {
    return { specifier: token.head, kind, line: token.line, form: 'prefix' }
  }
  return { specifier: '', kind, line: token?.line ?? fallbackLine, form: 'computed' }
}

/**
 * The `from '…'` that ends an import or export clause starting at `start` (just after `import`/`export`), or
 * undefined when the statement is not one that names a module (`export const …`, `export default …`).
 */
function clauseSource(tokens: Token[], start: number, exporting: boolean): Token | undefined {
  let k = start
  if (isWord(tokens[k], 'type')) k++
  if (!exporting && isWord(tokens[k]) && !isWord(tokens[k], 'from')) {
    k++ // default import
    if (isPunct(tokens[k], ',')) k++
  } else if (!exporting && isWord(tokens[k], 'from') && isWord(tokens[k + 1], 'from')) {
    k++ // `import from from '…'`: a default import named from
  }
  if (isPunct(tokens[k], '*')) {
    k++
    if (isWord(tokens[k], 'as')) k += 2
  } else if (isPunct(tokens[k], '{')) {
    while (k < tokens.length && !isPunct(tokens[k], '}')) k++
    k++
  }
  if (isWord(tokens[k], 'from') && tokens[k + 1]?.type === 'string') return tokens[k + 1]
  return undefined
}

/** Every import `source` makes, in source order. */
export function readImports(source: string): ImportSite[] {
  const tokens = tokenize(source)
  const sites: ImportSite[] = []
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k]!
    if (token.type !== 'word' || isPunct(tokens[k - 1], '.')) continue
    const next = tokens[k + 1]
    if (token.value === 'import') {
      if (isPunct(next, '.')) continue // import.meta
      if (isPunct(next, '(')) {
        sites.push(argumentSite(tokens, k + 2, 'dynamic', token.line))
      } else if (next?.type === 'string') {
        sites.push({ specifier: next.value, kind: 'static', line: next.line, form: 'exact' })
      } else {
        const from = clauseSource(tokens, k + 1, false)
        if (from?.type === 'string')
          sites.push({ specifier: from.value, kind: 'static', line: from.line, form: 'exact' })
      }
    } else if (token.value === 'export') {
      const from = clauseSource(tokens, k + 1, true)
      if (from?.type === 'string') sites.push({ specifier: from.value, kind: 'static', line: from.line, form: 'exact' })
    } else if (token.value === 'require') {
      if (isPunct(next, '(')) sites.push(argumentSite(tokens, k + 2, 'require', token.line))
      else if (isPunct(next, '.') && isWord(tokens[k + 2], 'resolve') && isPunct(tokens[k + 3], '(')) {
        sites.push(argumentSite(tokens, k + 4, 'require', token.line))
      }
    } else if (token.value === 'new' && isWord(next, 'URL') && isPunct(tokens[k + 2], '(')) {
      // Only a URL relative to this module names a file of the project: new URL('../x.ts', import.meta.url).
      const argument = tokens[k + 3]
      const base = tokens.slice(k + 4, k + 8)
      const relativeToModule =
        isPunct(base[0], ',') && isWord(base[1], 'import') && isPunct(base[2], '.') && isWord(base[3], 'meta')
      if (relativeToModule && (argument?.type === 'string' || argument?.type === 'template')) {
        sites.push(argumentSite(tokens, k + 3, 'url', token.line))
      }
    }
  }
  return sites
}
