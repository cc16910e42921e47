import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { SAMPLE_ISRC } from '../../../roles/production/index.ts'
import { type Browser, launchChromium, type PageProblems, pageProblems } from './chromium.ts'
import { type BrowserMarket, startBrowserMarket, WALLET_TOP_UP } from './market.ts'

/**
 * A listener's whole visit in Chromium, against a real market on TCP loopback: search the storefront → the
 * release page → the page of a track on sale → the preview plays (the audio element's time advances) → Buy while not
 * logged in → the login link leads back to that checkout → the checkout in words (title, price, use type) → refused
 * for an empty wallet → buy → the library shows the licence by title → the full track plays from the player's
 * daemon → the play is counted and the purchase appears in the history, by title. No page may log a console error or throw. Every page is saved as a screenshot
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

  it('finds the sample release by search and opens its page; the empty preview bar stays hidden', async () => {
    await page.goto(`${market.store}/?player=${encodeURIComponent(market.listener.url)}`)
    assert.equal(new URL(page.url()).search, '', 'the player address is taken and the address bar cleaned')
    await page.getByRole('heading', { level: 1, name: 'New releases' }).waitFor()
    assert.equal(await page.locator('#previewer').isVisible(), false, 'no empty preview bar on the page')
    await screenshot('store-home')
    await page.getByLabel('Search the catalog').fill('sampler')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.waitForURL(/\/search\?q=sampler/)
    await screenshot('store-search')
    await page.getByRole('link', { name: 'Consort Sampler' }).first().click()
    await page.getByRole('heading', { level: 1, name: 'Consort Sampler' }).waitFor()
    assert.equal(await page.locator('#previewer').isVisible(), false, 'the preview bar shows only with a preview')
    await screenshot('store-release')
    const terms = await page.locator('.offer-terms').allTextContents()
    assert.ok(terms.length > 0, 'the release page lists offers')
    assert.ok(
      terms.some((t) => /play on|plays/.test(t)),
      `offers in plain words: ${terms.join(' | ')}`,
    )
  })

  it('shows the track page of a track on sale (as part of its release) with its offers, not "not on sale"', async () => {
    const releasePage = page.url()
    await page.getByRole('link', { name: 'First Light' }).first().click()
    await page.getByRole('heading', { level: 1, name: 'First Light' }).waitFor()
    const main = (await page.locator('main').textContent()) ?? ''
    assert.doesNotMatch(main, /Not on sale here/)
    assert.match(main, /On sale as part of Consort Sampler/)
    const buys = await page.locator('a.buy').count()
    assert.ok(buys >= 2, `the release's offers are on the track page (${buys})`)
    assert.match(main, /Download to keep/)
    assert.match(main, /Stream on demand/)
    await screenshot('store-track')
    await page.goto(releasePage)
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
    assert.equal(await page.locator('#previewer').isVisible(), true)
    await screenshot('store-preview')
  })

  it('asks to log in at checkout, and the login link leads back to that checkout', async () => {
    const buy = page.locator('a.buy[aria-label*="download to keep"]').first()
    const href = await buy.getAttribute('href')
    assert.ok(href?.startsWith(`${market.listener.url}/ui/checkout?`), `the Buy link goes to the player: ${href}`)
    // Not logged in yet: the player says how to log in. Its 401 is a console message in Chromium, so this step
    // runs in a tab of its own (the same browser: the same cookies).
    const visitor = await browser.context.newPage()
    const asked = await visitor.goto(href!)
    assert.equal(asked?.status(), 401)
    await visitor.getByRole('heading', { level: 1, name: 'Log in to your player' }).waitFor()
    assert.match((await visitor.locator('main').textContent()) ?? '', /you come back to this page/)
    await visitor.close()
    // The login link, opened in this browser, lands on the checkout it came from (not on the library).
    await page.goto(await market.loginLink())
    assert.equal(new URL(page.url()).pathname, '/ui/checkout')
    assert.equal(new URL(page.url()).search, new URL(href!).search)
    await page.getByRole('heading', { level: 1, name: 'Confirm your purchase' }).waitFor()
  })

  it('shows the checkout in words: the title, the price and the use type, never ids', async () => {
    const offer = (await page.locator('section.offer').textContent()) ?? ''
    assert.match(offer, /Consort Sampler — The Consort Ensemble/)
    assert.match((await page.locator('p.price').textContent()) ?? '', /^\d+\.\d\d EUR \([a-z -]+\)$/)
    assert.match((await page.locator('p.use-type').textContent()) ?? '', /What you get: Download to keep: /)
    assert.doesNotMatch(offer, /icpn:|isrc:|PermanentDownload/)
    await screenshot('player-checkout-words')
  })

  it('refuses the purchase while the wallet is empty, and says why', async () => {
    await page.locator('#confirm').click()
    await page.getByRole('heading', { level: 1, name: /did not go through/ }).waitFor()
    assert.match((await page.locator('h1').textContent()) ?? '', /Consort Sampler/)
    const why = (await page.getByRole('alert').textContent()) ?? ''
    assert.match(why, /Why: Your account does not hold enough money/, why)
    await screenshot('player-refused')
    await page.getByRole('link', { name: 'Back to the store' }).click()
    await page.waitForURL(new RegExp(`^${market.store}/`))
    await page.getByRole('heading', { level: 1, name: 'Consort Sampler' }).waitFor()
  })

  it('buys through the listener’s own player: checkout in plain words, confirm, the licence is issued', async () => {
    await market.fund(WALLET_TOP_UP, 'EUR')
    const buy = page.locator('a.buy[aria-label*="download to keep"]').first()
    await buy.click()
    await page.getByRole('heading', { level: 1, name: 'Confirm your purchase' }).waitFor()
    await screenshot('player-checkout')
    await page.locator('#confirm').click()
    await page.waitForLoadState()
    const heading = (await page.locator('h1').textContent()) ?? ''
    assert.equal(
      heading,
      'Bought: Consort Sampler — The Consort Ensemble',
      (await page.locator('main').textContent()) ?? '',
    )
    await screenshot('player-bought')
    const player = market.nodes.get('listener')!.role('player')
    assert.equal(player.licences().length, 1)
  })

  it('shows the licence in the library by its title, in words, with its remaining plays', async () => {
    await page.goto(`${market.listener.url}/ui/`)
    const licence = page.locator('li.licence').first()
    await licence.waitFor()
    const text = (await licence.textContent()) ?? ''
    assert.match(text, /Consort Sampler — The Consort Ensemble/)
    assert.match(text, /First Light/)
    assert.match(text, /Download to keep · bought/)
    assert.doesNotMatch(text, /icpn:|isrc:|PermanentDownload/)
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
    const player = market.nodes.get('listener')!.role('player')
    const view = player.licences()[0]!
    assert.equal(view.state.plays, 1)
    await page.goto(`${market.listener.url}/ui/account`)
    const row = page.locator('tr.usage-event[data-kind="play"]')
    await row.first().waitFor()
    assert.equal(await row.count(), 1)
    const available = (await page.locator('td.available').first().textContent()) ?? ''
    assert.match(available, /^\d+\.\d\d EUR$/)
    assert.notEqual(available, '10.00 EUR', 'the purchase was paid from the wallet')
    // The purchase is in the history, by title, in words, with what was paid.
    const purchases = page.locator('tr.purchase')
    assert.equal(await purchases.count(), 1)
    const bought = (await purchases.first().textContent()) ?? ''
    assert.match(bought, /Consort Sampler — The Consort Ensemble/)
    assert.match(bought, /Download to keep/)
    assert.match(bought, /\d+\.\d\d EUR/)
    assert.match((await page.locator('tr.usage-event').first().textContent()) ?? '', /First Light/)
    await screenshot('player-account')
  })

  it('shares a track from the library, and opens a store’s share in the web player: preview, offers, Buy with the share', async () => {
    // The library's Share button signs a share as this account and shows its link.
    await page.goto(`${market.listener.url}/ui/`)
    await page.locator('button.share').first().click()
    await page.getByRole('heading', { level: 1, name: /^Share / }).waitFor()
    const link = await page.locator('#share-link').inputValue()
    assert.match(link, /^consort:\/\/share\/[A-Za-z0-9_-]+$/)
    await screenshot('player-shared')
    // The store's track page has a share link signed by the store; its page opens the share in the visitor's player.
    await page.goto(`${market.store}/track/${encodeURIComponent(`isrc:${SAMPLE_ISRC}`)}`)
    const storeShare = await page.locator('#share-link').inputValue()
    assert.ok(storeShare.startsWith(`${market.store}/share/`), storeShare)
    await page.locator('a.share').click()
    await page.getByText('Shared by this store').waitFor()
    await screenshot('store-share')
    const open = await page.locator('a.open-share').getAttribute('href')
    assert.ok(open?.startsWith(`${market.listener.url}/ui/share?share=`), `opens in the visitor's player: ${open}`)
    await page.locator('a.open-share').click()
    await page.getByRole('heading', { level: 2, name: /Where to buy it/ }).waitFor()
    assert.match((await page.locator('p.shared-by').textContent()) ?? '', /Shared by the store/)
    // The preview starts as the page opens (or at a click where the browser wants one) and counts nothing.
    const plays = market.nodes.get('listener')!.role('player').licences()[0]!.state.plays
    if ((await page.locator('#start').isEnabled()) === true) await page.locator('#start').click()
    await page.waitForFunction(() => {
      const audio = document.getElementById('player') as HTMLAudioElement | null
      return audio != null && audio.currentTime > 0
    })
    assert.equal(market.nodes.get('listener')!.role('player').licences()[0]!.state.plays, plays, 'a preview is no play')
    await screenshot('player-share-opened')
    const buy = page.locator('a.buy').first()
    assert.match((await buy.getAttribute('href')) ?? '', /[?&]share=[A-Za-z0-9_-]+/)
    await buy.click()
    await page.getByRole('heading', { level: 1, name: 'Confirm your purchase' }).waitFor()
    assert.match((await page.locator('p.via-share').textContent()) ?? '', /Through a share from the store/)
    assert.equal(await page.locator('input[name="share"]').count(), 1, 'the share goes with the purchase')
    await screenshot('player-checkout-share')
  })

  it('no page logged a console error or threw', () => {
    assert.deepEqual(problems.list, [])
  })
})
