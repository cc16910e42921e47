import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { importCycles, importGraph } from '../../helpers/import-cycles.ts'

/**
 * No import cycle inside a role folder. A cycle means no file of it can be read, changed or tested without the
 * others (the player's old `player.ts` ⇄ `routes.ts` ⇄ `streams.ts`): a role is a core and collaborators that take
 * it, never parts that reach back into the whole. Type-only imports count — they are the same coupling, and Node's
 * type stripping hides them from any runtime check — so the imports are read from the source text
 * (`test/helpers/import-reader.ts`, the reader the import-table test uses).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const ROLES = path.join(ROOT, 'roles')

/** Every TypeScript file under `dir`, as a path relative to the repository. */
function sourcesUnder(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) out.push(...sourcesUnder(full))
    else if (/\.(ts|mts|cts)$/.test(name)) out.push(path.relative(ROOT, full))
  }
  return out.sort()
}

/**
 * Cycles that were there when this test was written, outside the player (which the split freed of its own). Each
 * is to be broken by whoever next works in that role; the list may only shrink: a cycle not listed fails, and so
 * does a listed one that is gone (delete its line).
 */
const KNOWN_CYCLES: ReadonlySet<string> = new Set([
  // A worker pool and the worker it starts share their message types: move them to a file both import (as
  // roles/production/packaging did).
  'roles/clearinghouse/usage/pool.ts → roles/clearinghouse/usage/worker.ts → roles/clearinghouse/usage/pool.ts',
  // Routes that take the role class itself: give them the parts they call (as the player's routes do).
  'roles/delivery/delivery.ts → roles/delivery/routes.ts → roles/delivery/delivery.ts',
  'roles/production/index.ts → roles/production/production.ts → roles/production/routes.ts → roles/production/index.ts',
])

describe('no import cycle inside a role folder', () => {
  const folders = readdirSync(ROLES)
    .filter((name) => statSync(path.join(ROLES, name)).isDirectory())
    .map((name) => `roles/${name}`)
  const cyclesOf = new Map<string, string[]>()
  let edges = 0

  before(() => {
    for (const folder of folders) {
      const files = sourcesUnder(path.join(ROOT, folder)).filter((file) => existsSync(path.join(ROOT, file)))
      const graph = importGraph(files, (file) => readFileSync(path.join(ROOT, file), 'utf8'), folder)
      for (const targets of graph.values()) edges += targets.length
      cyclesOf.set(
        folder,
        importCycles(graph).map((cycle) => cycle.join(' → ')),
      )
    }
  })

  it('reads the role folders and the imports between their files', () => {
    assert.ok(folders.includes('roles/player'), folders.join(', '))
    assert.ok(folders.length >= 8, `only ${folders.length} folders under roles/`)
    // A reader that found nothing would find no cycle either: the roles' files import each other hundreds of times.
    assert.ok(edges > 200, `only ${edges} imports read between files of the same role`)
  })

  for (const folder of folders) {
    it(`${folder}/ has none (type-only imports included)`, () => {
      const found = cyclesOf.get(folder) ?? []
      const unknown = found.filter((cycle) => !KNOWN_CYCLES.has(cycle))
      assert.deepEqual(
        unknown,
        [],
        `${unknown.length} import cycle(s) in ${folder}/: split out what both sides need (a core they both take)`,
      )
    })
  }

  it('lists no known cycle that is gone (the list only shrinks)', () => {
    const found = new Set([...cyclesOf.values()].flat())
    assert.deepEqual(
      [...KNOWN_CYCLES].filter((cycle) => !found.has(cycle)),
      [],
      'these cycles were broken: delete their lines from KNOWN_CYCLES',
    )
  })

  it('has none in roles/player/, which nothing may excuse', () => {
    assert.deepEqual(cyclesOf.get('roles/player'), [])
  })
})

describe('finding import cycles', () => {
  const graphOf = (sources: Record<string, string>) =>
    importGraph(Object.keys(sources), (file) => sources[file]!, 'roles/x')

  it('finds a cycle through type-only imports, and names it in import order', () => {
    const graph = graphOf({
      'roles/x/role.ts': "import { routes } from './routes.ts'\nimport { Core } from './core.ts'",
      'roles/x/routes.ts': "import type { Role } from './role.ts'",
      'roles/x/core.ts': "import { z } from 'zod'",
    })
    assert.deepEqual(importCycles(graph), [['roles/x/role.ts', 'roles/x/routes.ts', 'roles/x/role.ts']])
  })

  it('finds a longer cycle across subfolders, and a file that imports itself', () => {
    const graph = graphOf({
      'roles/x/a.ts': "export * from './web/b.ts'",
      'roles/x/web/b.ts': "import { c } from '../c.ts'",
      'roles/x/c.ts': "const a = await import('./a.ts')",
      'roles/x/d.ts': "import { d } from './d.ts'",
    })
    assert.deepEqual(importCycles(graph), [
      ['roles/x/a.ts', 'roles/x/web/b.ts', 'roles/x/c.ts', 'roles/x/a.ts'],
      ['roles/x/d.ts', 'roles/x/d.ts'],
    ])
  })

  it('finds none in a core with collaborators, and ignores imports from outside the folder', () => {
    const graph = graphOf({
      'roles/x/role.ts': "import { Core } from './core.ts'\nimport { Buying } from './buying.ts'",
      'roles/x/buying.ts': "import type { Core } from './core.ts'\nimport { defineRole } from '../role.ts'",
      'roles/x/core.ts': "import { x } from '../../protocols/x.ts'\n// import { Role } from './role.ts'",
    })
    assert.deepEqual(importCycles(graph), [])
    assert.deepEqual(graph.get('roles/x/role.ts'), ['roles/x/buying.ts', 'roles/x/core.ts'])
  })
})
