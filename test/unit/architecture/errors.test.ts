import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as libp2pInterface from '@libp2p/interface'

/**
 * One error shape (js-libp2p's), read off every TypeScript file of the repository so that it cannot come back
 * undone: a class per condition with a `static name` equal to its class name and its `name` set from it, matched by
 * `.name` (never `instanceof`), no HTTP status on an error (protocols/http-status.ts maps codes at the HTTP edge),
 * `@libp2p/interface`'s errors reused rather than defined again, and no two error classes of one name.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** Files not moved onto the shape yet, each with the reason; this list only ever shrinks (it is empty). */
const NOT_YET: ReadonlyArray<{ prefix: string; why: string }> = []

/**
 * Errors that may carry an HTTP status, with the reason: they are the HTTP edge itself, not a domain error.
 * `ControlApiError` is the CLI's view of a control API answer (the status the daemon answered with).
 */
const HTTP_EDGE_ERRORS: ReadonlySet<string> = new Set(['ControlApiError'])

interface Source {
  file: string
  text: string
}

function sources(): Source[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  return listed
    .split('\0')
    .filter((file) => file.endsWith('.ts') && !file.includes('node_modules/') && existsSync(path.join(ROOT, file)))
    .filter((file) => !NOT_YET.some((n) => file.startsWith(n.prefix)))
    .map((file) => ({ file, text: readFileSync(path.join(ROOT, file), 'utf8') }))
}

interface ErrorClass {
  name: string
  base: string
  file: string
  line: number
  body: string
}

const CLASS = /^\s*(?:export\s+)?(?:abstract\s+)?class\s+(\w+)\s+extends\s+(\w+)(?:<[^>]*>)?\s*\{/gm

/** The body of the class whose `{` is at `open`, by brace depth (error classes hold no braces in strings). */
function bodyAt(text: string, open: number): string {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++
    else if (text[i] === '}' && --depth === 0) return text.slice(open + 1, i)
  }
  return text.slice(open + 1)
}

/** Every class that extends `Error` (or a class that does, transitively, by name), with its body. */
function errorClasses(files: Source[]): ErrorClass[] {
  const all: ErrorClass[] = []
  for (const { file, text } of files) {
    for (const m of text.matchAll(CLASS)) {
      const open = (m.index ?? 0) + m[0].length - 1
      all.push({
        name: m[1]!,
        base: m[2]!,
        file,
        line: text.slice(0, m.index).split('\n').length,
        body: bodyAt(text, open),
      })
    }
  }
  const errors = new Set(['Error', 'TypeError', 'RangeError'])
  let grew = true
  while (grew) {
    grew = false
    for (const c of all) {
      if (errors.has(c.base) && !errors.has(c.name)) {
        errors.add(c.name)
        grew = true
      }
    }
  }
  return all.filter((c) => errors.has(c.base))
}

function lines(files: Source[], pattern: RegExp): string[] {
  return files.flatMap(({ file, text }) =>
    text.split('\n').flatMap((line, i) => (pattern.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
  )
}

describe('one error shape', () => {
  const files = sources()
  const classes = errorClasses(files)
  const where = (c: ErrorClass) => `${c.file}:${c.line} ${c.name}`

  it('finds the error classes (the reader works)', () => {
    assert.ok(classes.length > 150, `only ${classes.length} error classes found`)
    assert.ok(classes.some((c) => c.name === 'RecordSchemaError' && c.base === 'RecordError'))
  })

  it('every error class has a static name equal to its class name, and sets its name from it', () => {
    const wrong = classes.filter((c) => {
      const statics = [...c.body.matchAll(/\bstatic\s+(?:override\s+)?(?:readonly\s+)?name\s*=\s*'(\w+)'/g)]
      const fromStatic = new RegExp(
        `(?:^|\\n)\\s*(?:override\\s+)?name\\s*=\\s*${c.name}\\.name\\b|this\\.name\\s*=\\s*${c.name}\\.name\\b`,
      )
      return statics.length !== 1 || statics[0]![1] !== c.name || !fromStatic.test(c.body)
    })
    assert.deepEqual(wrong.map(where), [])
  })

  it('no error class sets its name from a string of its own (the name comes from the static)', () => {
    const wrong = classes.filter((c) =>
      /(?:^|\n)\s*(?:override\s+)?(?:readonly\s+)?name\s*(?::\s*string\s*)?=\s*'|this\.name\s*=\s*'/.test(c.body),
    )
    assert.deepEqual(wrong.map(where), [])
  })

  it('no two error classes have the same name', () => {
    const seen = new Map<string, ErrorClass>()
    const twice: string[] = []
    for (const c of classes) {
      const first = seen.get(c.name)
      if (first != null) twice.push(`${where(c)} (also ${where(first)})`)
      else seen.set(c.name, c)
    }
    assert.deepEqual(twice, [])
  })

  it("no error class redefines one of @libp2p/interface's errors: those are reused", () => {
    const theirs = new Set(
      Object.entries(libp2pInterface)
        .filter(([name, value]) => typeof value === 'function' && name.endsWith('Error'))
        .map(([name]) => name),
    )
    assert.ok(theirs.has('NotFoundError') && theirs.has('InvalidParametersError'))
    assert.deepEqual(classes.filter((c) => theirs.has(c.name)).map(where), [])
  })

  it('no error carries an HTTP status: protocols/http-status.ts maps codes to statuses at the HTTP edge', () => {
    const wrong = classes.filter(
      (c) =>
        !HTTP_EDGE_ERRORS.has(c.name) &&
        /(?:^|\n)\s*(?:override\s+)?(?:readonly\s+)?(?:status|statusCode)\b/.test(c.body),
    )
    assert.deepEqual(wrong.map(where), [])
    assert.deepEqual(
      lines(
        files.filter((f) => f.file.startsWith('roles/')),
        /\bstatusCode\b/,
      ),
      [],
    )
  })

  it('errors are matched by name: no instanceof on an error class', () => {
    assert.deepEqual(lines(files, /\binstanceof\s+(?!Error\b)\w*Error\b/), [])
  })

  it('no code outside protocols/ matches an error by its wire code', () => {
    const outside = files.filter((f) => !f.file.startsWith('protocols/') && !f.file.startsWith('test/'))
    assert.deepEqual(lines(outside, /\b(?:err|error|e|cause)\)?\.code\s*[!=]==?\s*(?:'ERR_|[A-Z_]+_CODES\.)/), [])
  })

  it('the list of files not moved yet names only files that exist', () => {
    const all = execFileSync('git', ['ls-files', '--', '*.ts'], { cwd: ROOT, encoding: 'utf8' }).split('\n')
    for (const n of NOT_YET)
      assert.ok(
        all.some((f) => f.startsWith(n.prefix)),
        `${n.prefix}: ${n.why}`,
      )
  })
})
