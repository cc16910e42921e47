import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ImportSite, readImports } from '../../helpers/import-reader.ts'
import {
  ARCHITECTURE_DOC,
  checkImport,
  type ImportRow,
  parseImportTable,
  patternRegex,
  rowOf,
} from '../../helpers/import-rules.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** Every TypeScript file of the repository, tracked or new (not ignored), as a repository path. */
function repositoryFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  return listed
    .split('\0')
    .filter((file) => /\.(ts|mts|cts|tsx)$/.test(file) && existsSync(path.join(ROOT, file)))
    .sort()
}

function importsOf(file: string): ImportSite[] {
  try {
    return readImports(readFileSync(path.join(ROOT, file), 'utf8'))
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`)
  }
}

function fail(problems: string[], what: string): void {
  if (problems.length > 0) assert.fail(`${problems.length} ${what}:\n  ${problems.join('\n  ')}`)
}

describe('the import table of docs/architecture.md', () => {
  let rows: ImportRow[]
  let files: string[]

  before(() => {
    rows = parseImportTable(readFileSync(path.join(ROOT, ARCHITECTURE_DOC), 'utf8'))
    files = repositoryFiles()
  })

  it('names only folders and files that exist, and allows only what exists', () => {
    const exists = (pattern: string): boolean => {
      if (!pattern.includes('<')) {
        const full = path.join(ROOT, pattern)
        return existsSync(full) && (pattern.endsWith('/') ? statSync(full).isDirectory() : statSync(full).isFile())
      }
      const regex = patternRegex(pattern)
      return files.some((file) => regex.test(file))
    }
    const problems: string[] = []
    for (const row of rows) {
      if (!exists(row.folder)) problems.push(`line ${row.line}: \`${row.folder}\` does not exist`)
      for (const item of row.allows) {
        if (item.kind === 'path' && !exists(item.pattern)) {
          problems.push(`line ${row.line}: \`${row.folder}\` may import \`${item.pattern}\`, which does not exist`)
        }
      }
    }
    assert.ok(rows.length >= 8, `only ${rows.length} rows`)
    fail(problems, `problems with the table in ${ARCHITECTURE_DOC}`)
  })

  it('has a row for every TypeScript file of the repository', () => {
    fail(
      files.filter((file) => rowOf(rows, file) === undefined).map((file) => `${file} is in no row`),
      `files outside the table in ${ARCHITECTURE_DOC}`,
    )
  })

  it('holds for every import of every TypeScript file (static, dynamic, require and new URL)', () => {
    const problems: string[] = []
    let sites = 0
    for (const file of files) {
      for (const site of importsOf(file)) {
        sites++
        const problem = checkImport(rows, file, site)
        if (problem !== undefined) problems.push(problem)
      }
    }
    // A reader that found nothing would pass everything: the repository has thousands of imports.
    assert.ok(sites > 1000, `only ${sites} imports read from ${files.length} files`)
    fail(problems, `imports break the table in ${ARCHITECTURE_DOC}`)
  })

  it('leaves no import into node_modules/ anywhere (tests included)', () => {
    const problems: string[] = []
    for (const file of files) {
      for (const site of importsOf(file)) {
        if (/(^|\/)node_modules(\/|$)/.test(site.specifier)) problems.push(`${file}:${site.line} '${site.specifier}'`)
      }
    }
    fail(problems, 'imports into node_modules/')
  })
})

describe('reading imports', () => {
  const specifiers = (source: string): string[] => readImports(source).map((site) => site.specifier)

  it('reads static imports and re-exports, type-only ones and those split over lines', () => {
    const source = [
      "import a from './a.ts'",
      "import type { B } from './b.ts'",
      'import {',
      '  c,',
      '  type D,',
      "} from './c.ts'",
      "import * as e from './e.ts'",
      "import f, { g } from './f.ts'",
      "import './side-effect.ts'",
      "export * from './h.ts'",
      "export * as i from './i.ts'",
      "export { j } from './j.ts'",
      "export type { K } from './k.ts'",
      'export const notAnImport = 1',
      'export { local }',
      "import from from './from.ts'",
    ].join('\n')
    assert.deepEqual(specifiers(source), [
      './a.ts',
      './b.ts',
      './c.ts',
      './e.ts',
      './f.ts',
      './side-effect.ts',
      './h.ts',
      './i.ts',
      './j.ts',
      './k.ts',
      './from.ts',
    ])
    assert.equal(readImports(source)[2]!.line, 6)
  })

  it('reads dynamic imports, type-level imports, require and files named by new URL', () => {
    const sites = readImports(
      [
        "const m = await import('./dynamic.ts')",
        "type T = typeof import('./typed.ts')",
        "let u: import('./in-a-type.ts').U",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source as text
        'const b = await import(`./benchmarks/${name}.ts`)',
        "const f = await import('./fixed' + '.ts')",
        'const c = await import(name)',
        "const r = require('node:timers')",
        "const p = require.resolve('chart.js')",
        "const s = new URL('../simulations/run.ts', import.meta.url)",
        "const w = new URL('https://example.org/x.ts')",
        'const meta = import.meta.url',
      ].join('\n'),
    )
    assert.deepEqual(
      sites.map((site) => [site.specifier, site.kind, site.form]),
      [
        ['./dynamic.ts', 'dynamic', 'exact'],
        ['./typed.ts', 'dynamic', 'exact'],
        ['./in-a-type.ts', 'dynamic', 'exact'],
        ['./benchmarks/', 'dynamic', 'prefix'],
        ['./fixed', 'dynamic', 'prefix'],
        ['', 'dynamic', 'computed'],
        ['node:timers', 'require', 'exact'],
        ['chart.js', 'require', 'exact'],
        ['../simulations/run.ts', 'url', 'exact'],
      ],
    )
  })

  it('ignores what only looks like an import: comments, strings, templates, regular expressions', () => {
    const source = [
      "// import { x } from './commented.ts'",
      "/* import('./block-commented.ts') */",
      'const s = "import x from \'./in-a-string.ts\'"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source as text
      "const t = `import('./in-a-template.ts') ${await import('./in-a-substitution.ts')} import('./tail.ts')`",
      "const r = /import\\('.\\/in-a-regex.ts'\\)/",
      "const d = a[0]! / 2 // import('./after-a-division.ts')",
      "const q = x / y; const z = import('./real.ts')",
      'obj.import("./a-method.ts")',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source as text
      "const braces = `${{ a: 1 }.a}`; import('./after-braces.ts')",
    ].join('\n')
    assert.deepEqual(specifiers(source), ['./in-a-substitution.ts', './real.ts', './after-braces.ts'])
  })

  it('says where a source cannot be read', () => {
    assert.throws(() => readImports("const a = 1\nconst s = 'open"), /line 2: unterminated string/)
    assert.throws(() => readImports('/* open'), /unterminated comment/)
  })
})

describe('checking an import against the table', () => {
  const TABLE = [
    '# Architecture',
    '',
    '## Modules and what they may import',
    '',
    '| folder            | what     | may import                                            |',
    '| ----------------- | -------- | ----------------------------------------------------- |',
    '| `keys/`           | keys     | libraries                                             |',
    '| `protocols/`      | wire     | `keys/`, libraries                                    |',
    '| `roles/role.ts`   | contract | `protocols/`                                          |',
    '| `roles/common/`   | shared   | `protocols/`                                          |',
    '| `roles/<role>/`   | a role   | `roles/role.ts`, `roles/common/`, `protocols/`, libraries |',
    '| `node/`           | assembly | `roles/<role>/index.ts`, `protocols/`, libraries      |',
    '| `bench/`          | figures  | `node/`, libraries                                    |',
    '| `deploy/`         | files    | nothing                                               |',
    '| `test/`           | tests    | anything                                              |',
    '',
    'Text after the table.',
  ].join('\n')
  const rows = parseImportTable(TABLE)
  const site = (specifier: string, form: ImportSite['form'] = 'exact'): ImportSite => ({
    specifier,
    kind: 'static',
    line: 7,
    form,
  })
  const check = (file: string, specifier: string, form: ImportSite['form'] = 'exact') =>
    checkImport(rows, file, site(specifier, form))

  it('reads the rows, each file belonging to its most specific row', () => {
    assert.deepEqual(
      rows.map((row) => row.folder),
      ['keys/', 'protocols/', 'roles/role.ts', 'roles/common/', 'roles/<role>/', 'node/', 'bench/', 'deploy/', 'test/'],
    )
    assert.equal(rowOf(rows, 'roles/role.ts')?.row.folder, 'roles/role.ts')
    assert.equal(rowOf(rows, 'roles/common/html.ts')?.row.folder, 'roles/common/')
    assert.deepEqual(rowOf(rows, 'roles/player/web/routes.ts'), { row: rows[4], unit: 'roles/player/' })
    assert.equal(rowOf(rows, 'scripts/x.ts'), undefined)
  })

  it('allows what a row lists, its own files and libraries where listed', () => {
    assert.equal(check('protocols/records/envelope.ts', '../../keys/index.ts'), undefined)
    assert.equal(check('protocols/records/envelope.ts', './registry.ts'), undefined)
    assert.equal(check('protocols/records/envelope.ts', '../rpc/client.ts'), undefined)
    assert.equal(check('roles/player/web/routes.ts', '../library.ts'), undefined)
    assert.equal(check('roles/player/player.ts', '../role.ts'), undefined)
    assert.equal(check('roles/player/player.ts', '../common/html.ts'), undefined)
    assert.equal(check('node/roles.ts', '../roles/player/index.ts'), undefined)
    assert.equal(check('keys/seal.ts', 'node:crypto'), undefined)
    assert.equal(check('keys/seal.ts', '@libp2p/crypto/keys'), undefined)
    assert.equal(check('test/unit/x.test.ts', '../../roles/player/library.ts'), undefined)
    assert.equal(check('bench/run.ts', './benchmarks/', 'prefix'), undefined)
  })

  it('refuses another role, naming the file, the import and the rule', () => {
    const problem = check('roles/retailer/purchase.ts', '../player/library.ts')
    assert.ok(problem !== undefined)
    assert.match(
      problem,
      /^roles\/retailer\/purchase\.ts:7 imports '\.\.\/player\/library\.ts' \(roles\/player\/library\.ts\)/,
    )
    assert.match(problem, /the row `roles\/<role>\/` of docs\/architecture\.md does not allow/)
    assert.match(problem, /may import `roles\/role\.ts`, `roles\/common\/`, `protocols\/`, libraries/)
    assert.match(
      problem,
      /a role is entered only through its index\.ts: export what is needed from roles\/player\/index\.ts/,
    )
    assert.ok(check('roles/retailer/purchase.ts', '../player/index.ts') !== undefined, 'not even its index')
  })

  it("refuses a role's internal file from outside it, and a layer above", () => {
    assert.match(check('node/roles.ts', '../roles/player/library.ts') ?? '', /entered only through its index\.ts/)
    assert.match(check('node/roles.ts', '../roles/player/web/index.ts') ?? '', /entered only through its index\.ts/)
    assert.match(check('protocols/x.ts', '../node/daemon.ts') ?? '', /row `protocols\/`/)
    assert.match(check('roles/role.ts', './player/index.ts') ?? '', /row `roles\/role\.ts`/)
    assert.match(check('bench/x.ts', '../roles/player/index.ts') ?? '', /row `bench\/`/)
  })

  it('refuses libraries where a row does not list them, and private files of a library everywhere', () => {
    assert.match(check('roles/role.ts', 'zod') ?? '', /imports the library 'zod', which the row `roles\/role\.ts`/)
    for (const [file, up] of [
      ['keys/seal.ts', '..'],
      ['test/unit/x.test.ts', '../..'],
    ] as const) {
      assert.match(check(file, '@libp2p/memory/dist/src/connections.js') ?? '', /a private file of a library/)
      const relative = check(file, `${up}/node_modules/@libp2p/memory/dist/src/connections.js`) ?? ''
      assert.match(
        relative,
        /\(node_modules\/@libp2p\/memory\/dist\/src\/connections\.js\), a private file of a library/,
      )
    }
    assert.match(check('keys/seal.ts', '/abs/olute.ts') ?? '', /absolute path/)
    assert.match(check('keys/seal.ts', '../../outside.ts') ?? '', /outside the repository/)
  })

  it('refuses what cannot be checked: a computed import, or a template whose head is a folder not allowed', () => {
    assert.match(check('node/x.ts', '', 'computed') ?? '', /cannot be checked against the row `node\/`/)
    assert.equal(check('test/x.test.ts', '', 'computed'), undefined)
    assert.match(check('node/x.ts', '../roles/', 'prefix') ?? '', /\(roles\/\)/)
    assert.equal(check('node/x.ts', '../protocols/', 'prefix'), undefined)
  })

  it('refuses everything to a row that may import nothing, and a file in no row', () => {
    assert.match(check('deploy/x.ts', 'node:fs') ?? '', /row `deploy\/`/)
    assert.match(check('scripts/x.ts', 'node:fs') ?? '', /scripts\/x\.ts is in no row of the table/)
  })

  it('refuses a table it cannot read: a note among the may-import items, a missing column or heading', () => {
    assert.throws(
      () => parseImportTable(TABLE.replace('`keys/`, libraries', '`keys/`, libraries (never `node/`)')),
      /"libraries \(never `node\/`\)" in the may-import cell of `protocols\/` is neither a path/,
    )
    assert.throws(() => parseImportTable(TABLE.replace('| may import', '| imports')), /a "folder" and a "may import"/)
    assert.throws(() => parseImportTable(TABLE.replace('## Modules', '## Parts')), /has no heading/)
    assert.throws(
      () => parseImportTable(TABLE.replace('| `test/`', '| `test/` | again | anything |\n| `test/`')),
      /`test\/` has two rows/,
    )
  })
})
