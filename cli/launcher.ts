import { execFileSync } from 'node:child_process'
import { realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** This project's `bin/consort` launcher (a shell script that runs the CLI on the project's pinned Node). */
export function launcherPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'consort')
}

/**
 * How a person runs this very CLI from any directory: `consort` when the `consort` on their PATH is this project's
 * launcher (after `npm link`, or a symlink to it), else the launcher's absolute path. Never `npx consort`, which
 * works only inside the project's directory.
 */
export function consortCommand(): string {
  const own = realpathSync(launcherPath())
  try {
    const found = execFileSync('sh', ['-c', 'command -v consort'], { encoding: 'utf8' }).trim()
    if (found !== '' && realpathSync(found) === own) return 'consort'
  } catch {
    // not on the PATH
  }
  return own
}
