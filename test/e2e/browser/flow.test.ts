import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import type { PlayerRole } from '../../../roles/player/index.ts'
import { type Browser, launchChromium, type PageProblems, pageProblems } from './chromium.ts'
import { type BrowserMarket, startBrowserMarket, WALLET_TOP_UP } from './market.ts'

/**
 * A listener's whole visit in Chromium, against a real market on TCP loopback: search the storefront → the
 * release page → the preview plays (the audio element's time advances) → buy (checkout on the listener's own
 * player) → the library shows the licence → the full track plays from the player's daemon → the play is counted
 * and appears in the usage history. No page may log a console error or throw. Every page is saved as a screenshot
 * in a temporary folder (printed), kept for people to look at.
 */
describe('browser: search, preview, buy, play, usage history (Chromium)', function () {
  this.timeout(180_000)
  let market: BrowserMarket
  let browser: Browser
  let page: Page
  let problems: PageProblems
  let shots: string
  let shot = 0

  async function screenshot(name: string): Promise<void> {
    shot++
    await page.screenshot({ path: path.join(shots, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true })
  }

  before(async () => {
    browser = await launchChromium()
    market = await startBrowserMarket()
    shots = await mkdtemp(path.join(tmpdir(), 'consort-screenshots-'))
    process.stdout.write(`      screenshots in ${shots}\n`)
    problems = pageProblems()
    page = await browser.context.newPage()
    problems.watch(page)
  })

  after(async () => {
    await browser?.close()
    await market?.stop()
  })

  it('logs in to the web player with a one-time link, which then stops working', async () => {
    const link = await market.loginLink()
    await page.goto(link)
    assert.equal(new URL(page.url()).pathname, '/ui/')
    await page.getByRole('heading', { level: 1, name: 'Your library' }).waitFor()
    await screenshot('library-empty')
    // Another tab, not watched for console errors: Chromium logs the refused link's 403 as a failed load.
    const again = await browser.context.newPage()
    const response = await again.goto(link)
    assert.equal(response?.status(), 403)
    await again.close()
  })

  it('finds the sample release by search and opens its page', async () => {
    await page.goto(`${market.store}/?player=${encodeURIComponent(market.listener.url)}`)
    assert.equal(new URL(page.url()).search, '', 'the player address is taken and the address bar cleaned')
    await page.getByRole('heading', { level: 1, name: 'New releases' }).waitFor()
    await screenshot('store-home')
    await page.getByLabel('Search the catalog').fill('sampler')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.waitForURL(/\/search\?q=sampler/)
    await screenshot('store-search')
    await page.getByRole('link', { name: 'Consort Sampler' }).first().click()
    await page.getByRole('heading', { level: 1, name: 'Consort Sampler' }).waitFor()
    await screenshot('store-release')
    const terms = await page.locator('.offer-terms').allTextContents()
    assert.ok(terms.length > 0, 'the release page lists offers')
    assert.ok(
      terms.some((t) => /play on|plays/.test(t)),
      `offers in plain words: ${terms.join(' | ')}`,
    )
  })

  it('plays the preview: the audio element’s time advances', async () => {
    const src = await page.locator('button.preview').first().getAttribute('data-src')
    const response = await page.request.get(`${market.store}${src}`)
    assert.equal(response.status(), 200, `the preview is served: ${await response.text()}`)
    await page.locator('button.preview').first().click()
    await page.waitForFunction(() => {
      const audio = document.getElementById('preview-player') as HTMLAudioElement | null
      return audio != null && audio.currentTime > 0
    })
    await screenshot('store-preview')
  })

  it('refuses the purchase while the wallet is empty, and says why', async () => {
    const releasePage = page.url()
    await page.locator('a.buy[aria-label*="download to keep"]').first().click()
    await page.getByRole('heading', { level: 1, name: 'Confirm your purchase' }).waitFor()
    await page.locator('#confirm').click()
    await page.getByRole('heading', { level: 1, name: /did not go through/ }).waitFor()
    const why = (await page.getByRole('alert').textContent()) ?? ''
    assert.match(why, /Why: Your account does not hold enough money/, why)
    await screenshot('player-refused')
    await page.getByRole('link', { name: 'Back to the store' }).click()
    await page.waitForURL(releasePage)
  })

  it('buys through the listener’s own player: checkout in plain words, confirm, the licence is issued', async () => {
    await market.fund(WALLET_TOP_UP, 'EUR')
    const buy = page.locator('a.buy[aria-label*="download to keep"]').first()
    const href = await buy.getAttribute('href')
    assert.ok(href?.startsWith(`${market.listener.url}/ui/checkout?`), `the Buy link goes to the player: ${href}`)
    await buy.click()
    await page.getByRole('heading', { level: 1, name: 'Confirm your purchase' }).waitFor()
    await screenshot('player-checkout')
    await page.locator('#confirm').click()
    await page.waitForLoadState()
    const heading = (await page.locator('h1').textContent()) ?? ''
    assert.match(heading, /^Bought: /, `the purchase went through: ${await page.locator('main').textContent()}`)
    await screenshot('player-bought')
    const player = market.nodes.get('listener')!.roles.get('player') as PlayerRole
    assert.equal(player.licences().length, 1)
  })

  it('shows the licence in the library with its remaining plays', async () => {
    await page.goto(`${market.listener.url}/ui/`)
    const licence = page.locator('li.licence').first()
    await licence.waitFor()
    assert.match((await licence.textContent()) ?? '', /Consort Sampler|First Light/)
    assert.match((await licence.locator('.plays-left').textContent()) ?? '', /plays? left|unlimited/)
    await screenshot('player-library')
  })

  it('plays the full track from the daemon, and the play is counted in the usage history', async () => {
    await page.locator('a.play').first().click()
    await page.locator('#start').waitFor()
    await page.locator('#start').click()
    await page.waitForFunction(() => {
      const audio = document.getElementById('player') as HTMLAudioElement | null
      return audio?.ended === true
    })
    await page.getByText('The play is counted').waitFor()
    await screenshot('player-played')
    const player = market.nodes.get('listener')!.roles.get('player') as PlayerRole
    const view = player.licences()[0]!
    assert.equal(view.state.plays, 1)
    await page.goto(`${market.listener.url}/ui/account`)
    const row = page.locator('tr.usage-event[data-kind="play"]')
    await row.first().waitFor()
    assert.equal(await row.count(), 1)
    const available = (await page.locator('td.available').first().textContent()) ?? ''
    assert.match(available, /^\d+\.\d\d EUR$/)
    assert.notEqual(available, '10.00 EUR', 'the purchase was paid from the wallet')
    await screenshot('player-account')
  })

  it('no page logged a console error or threw', () => {
    assert.deepEqual(problems.list, [])
  })
})
