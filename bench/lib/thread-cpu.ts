/**
 * CPU time of this process's threads, by name (`/proc/self/task/<tid>/comm`, digits dropped: `V8Worker`,
 * `libuv-worker`, `WorkerThread`, `MainThread`…), in µs. Linux only: elsewhere an empty map. What a benchmark's own
 * counters leave out shows here: V8's collector helpers and LevelDB's writes on libuv's pool. The kernel counts in
 * ticks (10 ms), so a difference is meaningful over seconds of work.
 */
import { readdirSync, readFileSync } from 'node:fs'

const US_PER_TICK = 10_000

export function threadCpu(): Map<string, number> {
  const out = new Map<string, number>()
  let tasks: string[]
  try {
    tasks = readdirSync('/proc/self/task')
  } catch {
    return out
  }
  for (const tid of tasks) {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim().replace(/\d+$/, '')
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      // utime and stime: fields 14 and 15, counted after the command's closing parenthesis.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ticks = Number(fields[11]) + Number(fields[12])
      out.set(name, (out.get(name) ?? 0) + ticks * US_PER_TICK)
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out
}

/** `after − before` per thread name, in µs per `ops`, largest first (threads that ended in between are lost). */
export function threadCpuPer(before: Map<string, number>, after: Map<string, number>, ops: number): string {
  return [...after]
    .map(([name, us]) => [name, (us - (before.get(name) ?? 0)) / ops] as const)
    .filter(([, us]) => us > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => `${name} ${us.toFixed(0)} µs`)
    .join(', ')
}
