/**
 * Summaries of V8 CPU profiles (the `.cpuprofile` JSON that `node --cpu-prof` and the inspector's `Profiler.stop`
 * give): where the samples fell, as shares, by category (a sample belongs to the first category that any frame of
 * its stack matches, so a native call counts with the JavaScript that made it) and by function (self time).
 * A profile measures shares of one thread's time, which a busy machine changes much less than it changes rates.
 */

export interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number }
  children?: number[]
}

export interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

/** A named group of stacks: a sample is in the group when `match` is true for one of its frames. */
export interface Category {
  name: string
  match: (frame: { functionName: string; url: string }) => boolean
}

export interface Share {
  name: string
  /** Milliseconds of samples. */
  ms: number
  /** Fraction of all the samples in the window (idle excluded). */
  share: number
}

export interface ProfileSummary {
  /** Milliseconds sampled while the thread ran (not idle). */
  busyMs: number
  idleMs: number
  categories: Share[]
  /** Self time by function (`name file:line`), largest first. */
  functions: Share[]
}

const IDLE = new Set(['(idle)', '(program)'])

/** Summarise a profile into the categories given (in priority order; the rest is `other`) and top functions. */
export function summariseProfile(profile: CpuProfile, categories: readonly Category[], top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const categoryOf = new Map<number, string>()
  const classify = (id: number): string => {
    const known = categoryOf.get(id)
    if (known !== undefined) return known
    let found: string | undefined
    // Outermost matching category wins within a priority level: walk the stack once per category, in order.
    for (const category of categories) {
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        if (category.match(byId.get(at)!.callFrame)) {
          found = category.name
          break
        }
      }
      if (found !== undefined) break
    }
    const name = found ?? 'other'
    categoryOf.set(id, name)
    return name
  }
  const perCategory = new Map<string, number>()
  const perFunction = new Map<string, number>()
  let busy = 0
  let idle = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    // The delta after a sample is the time it stands for (the first delta is the gap before the first sample).
    const us = profile.timeDeltas[i + 1] ?? 0
    const frame = byId.get(id)!.callFrame
    if (IDLE.has(frame.functionName)) {
      idle += us
      continue
    }
    busy += us
    const category = frame.functionName === '(garbage collector)' ? 'garbage collection' : classify(id)
    perCategory.set(category, (perCategory.get(category) ?? 0) + us)
    const file =
      frame.url === ''
        ? ''
        : ` ${frame.url.replace(/^.*\/(node_modules\/|(?=[^/]+\/[^/]+$))/, '')}:${frame.lineNumber + 1}`
    const fn = `${frame.functionName || '(anonymous)'}${file}`
    perFunction.set(fn, (perFunction.get(fn) ?? 0) + us)
  }
  const shares = (map: Map<string, number>) =>
    [...map]
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy === 0 ? 0 : us / busy }))
      .sort((a, b) => b.ms - a.ms)
  return {
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    categories: shares(perCategory),
    functions: shares(perFunction).slice(0, top),
  }
}

/** Frames of a function by name (any file), or of any function in a file whose path contains `file`. */
export function frames(names: readonly string[], file?: string): Category['match'] {
  const set = new Set(names)
  return (frame) => set.has(frame.functionName) || (file !== undefined && frame.url.includes(file))
}

/** The summary as Markdown tables (category shares, then top functions by self time). */
export function formatSummary(summary: ProfileSummary, perOp?: { ops: number; unit: string }): string {
  const pct = (s: number) => `${(s * 100).toFixed(1)} %`
  const lines = [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms` +
      (perOp === undefined
        ? ''
        : `, ${perOp.ops} ${perOp.unit}: ${((summary.busyMs * 1000) / perOp.ops).toFixed(1)} µs each`),
    '',
    '| category | share | ms |',
    '| --- | --- | --- |',
    ...summary.categories.map((c) => `| ${c.name} | ${pct(c.share)} | ${c.ms.toFixed(0)} |`),
    '',
    '| function (self time) | share |',
    '| --- | --- |',
    ...summary.functions.map((f) => `| \`${f.name}\` | ${pct(f.share)} |`),
  ]
  return lines.join('\n')
}
