/**
 * What the running test is waiting for, so that a test stopped by its mocha timeout says which wait never ended
 * (`waitUntil` and `nextEvent` have no deadline of their own: see `wait.ts`), and so that such a wait stops polling
 * once its test is over. Loaded by `.mocharc.json` as a root hook plugin; without it (a `--no-config` run) a timeout
 * reads as mocha's own and an abandoned wait polls until the process exits.
 */

const PENDING = Symbol.for('consort.test.pendingWaits')

interface Wait {
  readonly description: string
  abandoned: boolean
}

/**
 * Kept on the global object: mocha loads this file as a plugin by `require` while the tests import it, which can
 * give two copies of the module; both must see the same waits.
 */
const shared = globalThis as { [PENDING]?: Set<Wait> }
shared[PENDING] ??= new Set<Wait>()
const pending: Set<Wait> = shared[PENDING]

/** Record a wait that has begun; `end` it either way; `abandoned` turns true when its test is over. */
export function trackWait(description: string): { end(): void; readonly abandoned: boolean } {
  const wait: Wait = { description, abandoned: false }
  pending.add(wait)
  return {
    end: () => {
      pending.delete(wait)
    },
    get abandoned() {
      return wait.abandoned
    },
  }
}

export const mochaHooks = {
  afterEach(this: Mocha.Context): void {
    const test = this.currentTest
    const err = test?.state === 'failed' ? test.err : undefined
    if (err != null && pending.size > 0) {
      // Reporters print the stack, which begins with the message: both must say it.
      const before = err.message
      err.message += ` (still waiting for: ${[...pending].map((w) => w.description).join('; ')})`
      err.stack = err.stack?.replace(before, err.message)
    }
    for (const wait of pending) wait.abandoned = true
    pending.clear()
  },
}
