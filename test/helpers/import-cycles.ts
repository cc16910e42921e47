import path from 'node:path'
import { readImports } from './import-reader.ts'

/**
 * Import cycles among the files of one folder, read from their source text with `import-reader.ts` (type-only
 * imports, re-exports, dynamic imports and scripts started by `new URL` all count). Used by
 * `test/unit/architecture/cycles.test.ts`.
 */

/** file → the files of the same folder it imports (relative imports that resolve inside `folder`). */
export function importGraph(
  files: readonly string[],
  read: (file: string) => string,
  folder: string,
): Map<string, string[]> {
  const inside = new Set(files)
  const graph = new Map<string, string[]>()
  for (const file of files) {
    const targets = new Set<string>()
    for (const site of readImports(read(file))) {
      if (site.form !== 'exact' || !site.specifier.startsWith('.')) continue
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), site.specifier))
      if (target.startsWith(`${folder}/`) && inside.has(target)) targets.add(target)
    }
    graph.set(file, [...targets].sort())
  }
  return graph
}

/**
 * The cycles of a graph: each strongly connected component of more than one file (or a file importing itself),
 * shown as one cycle through it, files in import order, sorted by their first file (Tarjan's algorithm).
 */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const visit = (file: string): void => {
    index.set(file, counter)
    low.set(file, counter)
    counter++
    stack.push(file)
    onStack.add(file)
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next)
        low.set(file, Math.min(low.get(file)!, low.get(next)!))
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, index.get(next)!))
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = []
      let member: string
      do {
        member = stack.pop()!
        onStack.delete(member)
        component.push(member)
      } while (member !== file)
      if (component.length > 1 || (graph.get(file) ?? []).includes(file)) components.push(component)
    }
  }
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file)
  return components
    .map((component) => cycleThrough(graph, new Set(component)))
    .sort((x, y) => x[0]!.localeCompare(y[0]!))
}

/** One cycle through a strongly connected component, starting at its first file (by name), to show in a failure. */
function cycleThrough(graph: ReadonlyMap<string, readonly string[]>, component: ReadonlySet<string>): string[] {
  const start = [...component].sort()[0]!
  // Breadth-first from `start` back to `start`, inside the component: the shortest cycle through it.
  const previous = new Map<string, string>()
  const queue = [start]
  while (queue.length > 0) {
    const file = queue.shift()!
    for (const next of graph.get(file) ?? []) {
      if (!component.has(next)) continue
      if (next === start) {
        const cycle = [file]
        while (cycle[0] !== start) cycle.unshift(previous.get(cycle[0]!)!)
        return [...cycle, start]
      }
      if (!previous.has(next)) {
        previous.set(next, file)
        queue.push(next)
      }
    }
  }
  return [start, start]
}
