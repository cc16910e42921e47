import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

/** Debian's Chromium, which `.ci/run` installs (`npx playwright install` cannot download browsers here). */
export const CHROMIUM_PATH = process.env.CONSORT_CHROMIUM ?? '/usr/bin/chromium'

/** The flags NOTES.md lists for this machine: headless, no sandbox (root in CI), nothing that phones home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export class ChromiumMissingError extends Error {
  static override name = 'ChromiumMissingError'
  override name = ChromiumMissingError.name

  constructor(message = 'chromium missing', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_CHROMIUM_MISSING'
}

/** Problems a page reported: console errors and uncaught exceptions, with the page they happened on. */
export interface PageProblems {
  list: string[]
  watch(page: Page): void
}

export function pageProblems(): PageProblems {
  const list: string[] = []
  return {
    list,
    watch(page) {
      page.on('console', (message) => {
        if (message.type() === 'error') list.push(`console error on ${page.url()}: ${message.text()}`)
      })
      page.on('pageerror', (error) => list.push(`uncaught exception on ${page.url()}: ${error.message}`))
    },
  }
}

export interface Browser {
  context: BrowserContext
  close(): Promise<void>
}

/** Chromium with a fresh profile, or a clear failure when it is not installed (never a silent skip). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new ChromiumMissingError(
      `Chromium is not installed at ${CHROMIUM_PATH}: the browser tests need it (apt-get install chromium, as .ci/run does, or set CONSORT_CHROMIUM)`,
    )
  }
  const profile = await mkdtemp(path.join(tmpdir(), 'consort-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 900 },
  })
  return {
    context,
    close: async () => {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}
