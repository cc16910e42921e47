import { posix } from 'node:path'
import type { ImportSite } from './import-reader.ts'

/**
 * The layering rules of docs/architecture.md ("Modules and what they may import"), read from its table so that the
 * document and the rule are one thing, and the check of one import against them.
 *
 * A row names a part of the repository in its "folder" column and, in its "may import" column, a comma-separated
 * list of what that part may import, each item one of:
 *
 * - a path in backticks: a folder (ending in `/`, everything under it) or one file (`roles/role.ts`); `<role>`
 *   stands for any one folder name (`roles/<role>/index.ts`: the entry file of every role);
 * - `libraries`: packages (by their name and the subpaths their package.json exports) and `node:` built-ins;
 * - `anything`: every file of the repository and every library;
 * - `nothing`.
 *
 * A file belongs to the most specific row whose folder holds it (a file row before a folder row, a longer folder
 * before a shorter one, a named folder before `<role>`). It may always import the files of its own row's folder (for
 * `roles/<role>/`, of its own role only). Whatever the table says, no import reaches into `node_modules/` or a
 * library's `dist/` files: a library is entered through what it exports.
 */

export const ARCHITECTURE_DOC = 'docs/architecture.md'
export const IMPORT_TABLE_HEADING = 'Modules and what they may import'

export type AllowItem =
  | { kind: 'path'; pattern: string }
  | { kind: 'libraries' }
  | { kind: 'anything' }
  | { kind: 'nothing' }

export interface ImportRow {
  /** The folder column's pattern, as written without backticks: `roles/<role>/`. */
  folder: string
  allows: AllowItem[]
  /** The "may import" cell as written, for messages. */
  text: string
  /** 1-based line of the row in the document. */
  line: number
}

export class ImportTableError extends Error {
  static override name = 'ImportTableError'
  override name = ImportTableError.name

  constructor(message = 'import table', options?: ErrorOptions) {
    super(message, options)
  }
}

const KEYWORDS = new Set(['libraries', 'anything', 'nothing'])

function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim())
}

/** The rows of the "may import" table under the heading `heading` of `markdown`. */
export function parseImportTable(markdown: string, heading = IMPORT_TABLE_HEADING): ImportRow[] {
  const lines = markdown.split('\n')
  const at = lines.findIndex((line) => /^#+\s/.test(line) && line.replace(/^#+\s+/, '').trim() === heading)
  if (at === -1) throw new ImportTableError(`${ARCHITECTURE_DOC} has no heading "${heading}"`)
  let k = at + 1
  while (k < lines.length && !lines[k]!.trim().startsWith('|')) {
    if (/^#+\s/.test(lines[k]!)) throw new ImportTableError(`no table under "${heading}"`)
    k++
  }
  if (k >= lines.length) throw new ImportTableError(`no table under "${heading}"`)
  const header = cells(lines[k]!).map((cell) => cell.toLowerCase())
  const folderColumn = header.indexOf('folder')
  const importColumn = header.indexOf('may import')
  if (folderColumn === -1 || importColumn === -1) {
    throw new ImportTableError(`the table under "${heading}" needs a "folder" and a "may import" column`)
  }
  const rows: ImportRow[] = []
  for (k += 2; k < lines.length && lines[k]!.trim().startsWith('|'); k++) {
    const line = k + 1
    const row = cells(lines[k]!)
    const folder = /^`([^`]+)`$/.exec(row[folderColumn] ?? '')?.[1]
    if (folder === undefined) {
      throw new ImportTableError(
        `line ${line}: the folder cell must be one path in backticks, not "${row[folderColumn]}"`,
      )
    }
    const text = row[importColumn] ?? ''
    const allows = text.split(',').map((item): AllowItem => {
      const word = item.trim()
      const path = /^`([^`]+)`$/.exec(word)?.[1]
      if (path !== undefined) return { kind: 'path', pattern: path }
      if (KEYWORDS.has(word)) return { kind: word as 'libraries' | 'anything' | 'nothing' }
      throw new ImportTableError(
        `line ${line}: "${word}" in the may-import cell of \`${folder}\` is neither a path in backticks nor one of ` +
          `${[...KEYWORDS].join(', ')} (notes go in the "what" column)`,
      )
    })
    if (allows.some((item) => item.kind === 'nothing') && allows.length > 1) {
      throw new ImportTableError(`line ${line}: \`${folder}\` may import nothing, and something`)
    }
    rows.push({ folder, allows, text, line })
  }
  const seen = new Set<string>()
  for (const row of rows) {
    if (seen.has(row.folder)) throw new ImportTableError(`line ${row.line}: \`${row.folder}\` has two rows`)
    seen.add(row.folder)
  }
  return rows
}

/** A row's or an item's pattern as a regular expression on repository paths (a folder matches as a prefix). */
export function patternRegex(pattern: string): RegExp {
  const source = pattern
    .split(/(<[a-z-]+>)/)
    .map((part) => (/^<[a-z-]+>$/.test(part) ? '([^/]+)' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('')
  return new RegExp(pattern.endsWith('/') ? `^${source}` : `^${source}$`)
}

/** How specific a row's folder is: a file beats any folder, and literal characters beat a `<placeholder>`. */
function specificity(pattern: string): number {
  return pattern.replace(/<[a-z-]+>/g, '').length + (pattern.endsWith('/') ? 0 : 10_000)
}

/** The row a repository file belongs to, and the folder (or file) that is its own unit. */
export function rowOf(rows: readonly ImportRow[], file: string): { row: ImportRow; unit: string } | undefined {
  let best: { row: ImportRow; unit: string } | undefined
  for (const row of rows) {
    const match = patternRegex(row.folder).exec(file)
    if (match === null) continue
    if (best === undefined || specificity(row.folder) > specificity(best.row.folder)) best = { row, unit: match[0] }
  }
  return best
}

/** A specifier that is no path: a package or a built-in. */
function isLibrary(specifier: string): boolean {
  return !specifier.startsWith('.') && !specifier.startsWith('/') && !/^[a-z]+:\/\//.test(specifier)
}

function privateLibraryFile(specifier: string, target: string | undefined): boolean {
  if (target !== undefined) return target === 'node_modules' || target.startsWith('node_modules/')
  return /(^|\/)node_modules(\/|$)/.test(specifier) || /(^|\/)dist(\/|$)/.test(specifier)
}

function describeAllowed(row: ImportRow): string {
  return `\`${row.folder}\` may import ${row.text} (besides its own files)`
}

/** Where a role's files are entered from outside it. */
function roleHint(target: string, unit: string): string {
  const role = /^roles\/([^/]+)\//.exec(target)?.[1]
  if (role === undefined || role === 'common' || target === `roles/${role}/index.ts`) return ''
  if (unit.startsWith(`roles/${role}/`)) return ''
  return `; a role is entered only through its index.ts: export what is needed from roles/${role}/index.ts`
}

/**
 * Why `file`'s import `site` breaks the table, or undefined when it does not. `file` is a repository path
 * (`cli/commands/player.ts`).
 */
export function checkImport(rows: readonly ImportRow[], file: string, site: ImportSite): string | undefined {
  const where = `${file}:${site.line}`
  const written =
    site.form === 'computed' ? 'a computed name' : `'${site.specifier}'${site.form === 'prefix' ? '…' : ''}`
  const owner = rowOf(rows, file)
  if (owner === undefined) return `${where}: ${file} is in no row of the table in ${ARCHITECTURE_DOC}`
  const { row, unit } = owner
  const anything = row.allows.some((item) => item.kind === 'anything')

  if (site.form === 'computed') {
    if (anything) return undefined
    return (
      `${where} imports ${written} (${site.kind}), which cannot be checked against the row \`${row.folder}\` of ` +
      `${ARCHITECTURE_DOC}: name the module with a string literal, or a template literal whose text before \`\${\` ` +
      'names its folder'
    )
  }

  if (isLibrary(site.specifier)) {
    if (privateLibraryFile(site.specifier, undefined)) {
      return (
        `${where} imports ${written}, a private file of a library: enter a library through its package name and ` +
        'the subpaths its package.json exports'
      )
    }
    if (anything || row.allows.some((item) => item.kind === 'libraries')) return undefined
    return `${where} imports the library ${written}, which the row \`${row.folder}\` of ${ARCHITECTURE_DOC} does not allow: ${describeAllowed(row)}`
  }

  if (site.specifier.startsWith('/') || /^[a-z]+:\/\//.test(site.specifier)) {
    return `${where} imports ${written} by an absolute path or URL: import the repository's files by relative paths`
  }
  const joined = posix.normalize(posix.join(posix.dirname(file), site.specifier))
  if (joined === '..' || joined.startsWith('../')) {
    return `${where} imports ${written}, outside the repository`
  }
  if (privateLibraryFile(site.specifier, joined)) {
    return (
      `${where} imports ${written} (${joined}), a private file of a library: enter a library through its package ` +
      'name and the subpaths its package.json exports'
    )
  }
  if (anything) return undefined

  // A template literal's head names a folder (`./benchmarks/`): every file under it must be allowed.
  const folder = site.form === 'prefix' ? posix.dirname(`${joined}x`) + '/' : undefined
  const target = folder ?? joined
  const covers = (pattern: string): boolean => {
    if (folder !== undefined) return pattern.endsWith('/') && patternRegex(pattern).test(folder)
    return patternRegex(pattern).test(target)
  }
  if (covers(unit)) return undefined
  if (row.allows.some((item) => item.kind === 'path' && covers(item.pattern))) return undefined
  return (
    `${where} imports ${written} (${target}), which the row \`${row.folder}\` of ${ARCHITECTURE_DOC} does not ` +
    `allow: ${describeAllowed(row)}${roleHint(target, unit)}`
  )
}
