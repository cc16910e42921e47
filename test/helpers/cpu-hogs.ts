import { type ChildProcess, spawn } from 'node:child_process'

/**
 * A busy loop that ends itself once the process that started it is gone: a test or script killed before its
 * `finally` (a mocha timeout, a SIGKILL) must not leave a core burning for everyone else on the machine. It looks
 * at its parent only every 2^24 turns, so the check costs nothing measurable.
 */
const HOG_SOURCE =
  'const parent = process.ppid; for (let i = 1; ; i++) if ((i & 0xffffff) === 0 && process.ppid !== parent) process.exit(0)'

/** `count` busy processes beside the caller, to test that a verdict does not depend on a quiet machine. */
export function startCpuHogs(count: number): { processes: ChildProcess[]; stop: () => void } {
  const processes = Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', HOG_SOURCE], { stdio: 'ignore' }),
  )
  return {
    processes,
    stop: () => {
      for (const hog of processes) hog.kill('SIGKILL')
    },
  }
}
