import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

/**
 * How much of one CPU a busy thread of this process gets right now: the runner spins for a moment at the start and
 * at the end of every benchmark and reports the share beside the load average.
 *
 * The load average alone does not say how much of the machine a benchmark had. On Linux with
 * `kernel.sched_autogroup_enabled = 1` (the default of most distributions, and of the project machine) the scheduler
 * first shares the CPUs fairly between sessions (each terminal, each `setsid`, each job of a tool) and only then
 * between the processes of a session, by their nice values. A simulation started with `nice -n 19` in a session of its
 * own therefore takes a whole session's share from a benchmark at nice 0 in another session: on 2 CPUs with three
 * such simulations and their GC threads the load average reads 10 while a benchmark's thread gets 0.4–0.5 of a CPU, and
 * the benchmark's child processes share its session's part. A share near 1 means the benchmark had a CPU to itself.
 */
export interface CpuShare {
  /** CPU time of the spinning thread over the wall time it spun (0–1). */
  share: number
  /** `/proc/sys/kernel/sched_autogroup_enabled`: true, false, or null where it cannot be read (not Linux). */
  autogroup: boolean | null
}

/** Spin for `ms` of wall time on this thread and return the share of a CPU it got. */
export function measureCpuShare(ms = 500): CpuShare {
  const start = performance.now()
  const cpuStart = process.threadCpuUsage()
  let spins = 0
  while (performance.now() - start < ms) spins++
  const cpu = process.threadCpuUsage(cpuStart)
  const wallUs = (performance.now() - start) * 1000
  const share = spins > 0 && wallUs > 0 ? Math.min(1, (cpu.user + cpu.system) / wallUs) : 0
  return { share: Math.round(share * 100) / 100, autogroup: autogroupEnabled() }
}

function autogroupEnabled(): boolean | null {
  try {
    return readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1'
  } catch {
    return null
  }
}
