import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project root: the directory above `test/`. */
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Where the shared test fixtures live: `$CONSORT_FIXTURES` when set, else `../shared/fixtures` next to the project.
 * Fixtures are read in place and never copied into the project.
 */
export function fixturesDir(): string {
  const fromEnv = process.env.CONSORT_FIXTURES
  const dir =
    fromEnv !== undefined && fromEnv !== ''
      ? path.resolve(fromEnv)
      : path.resolve(projectRoot, '..', 'shared', 'fixtures')
  // A clone placed elsewhere would otherwise fail deep inside a test with a bare ENOENT.
  if (!existsSync(dir)) {
    throw new Error(
      `the shared test fixtures are not at ${dir}: clone the project next to shared/ (its fixtures are read from ../shared/fixtures) or set CONSORT_FIXTURES to their directory`,
    )
  }
  return dir
}

/** The path of a fixture file: `fixturePath('ddex', 'ern43-album-audio.xml')`. */
export function fixturePath(...parts: string[]): string {
  return path.join(fixturesDir(), ...parts)
}
