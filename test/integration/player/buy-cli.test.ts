import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { dataDirPaths } from '../../../node/data-dir.ts'
import { runConsort } from '../../helpers/cli.ts'

/**
 * `consort buy` against a stand-in of the player's control routes (`GET /v1/player/quote`, `POST /v1/player/buy`,
 * as `roles/player/routes.ts` answers them): the command shows the price in money and in words and asks before it
 * charges (`--yes` for scripts), and refuses a second sale of what the device already holds unless `--again`
 * (issue 11, finding 5); and `consort share`, `consort open` and `buy --share` (issue 19): what they send, and what they
 * print. The player's own refusal behind it is tested with real nodes in `test/e2e/chain.test.ts`, sharing in
 * `test/e2e/share.test.ts`.
 */
describe('player: consort buy asks before it charges (issue 11)', function () {
  this.timeout(120_000)
  let dir: string
  let server: Server
  let owned: Array<{ purchaseId: string; licenceId: string; useType: string; rules: string[] }> = []
  const bought: unknown[] = []
  const transferred: unknown[] = []
  const shared: unknown[] = []
  const opened: unknown[] = []
  const LINK = 'consort://share/omF2AWR0eXBl'
  const shareView = {
    link: LINK,
    content: { track: 'isrc:ZZCNS2600001', release: 'icpn:00012345678905', manifest: 'bafy-manifest' },
    title: 'First Light',
    artists: ['The Consort Ensemble'],
    referrer: { kind: 'account', key: 'cd'.repeat(32), name: null },
    offer: 'harbour-download',
    expires: Date.UTC(2026, 11, 14),
    own: false,
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'consort-buy-cli-'))
    server = createServer((request, response) => {
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' })
        response.end(JSON.stringify(body))
      }
      if (request.headers.authorization !== 'Bearer test-token') return send(401, { code: 'ERR_UNAUTHORISED' })
      if (request.method === 'GET' && request.url?.startsWith('/v1/player/quote?offer=')) {
        return send(200, {
          offer: { offer: 'offer-1', useType: 'PermanentDownload', rules: ['unlimited plays'], retailerName: 'Shop' },
          title: 'First Light',
          priceText: '0.99 EUR',
          priceWords: 'ninety-nine euro cents',
          territory: 'Worldwide',
          owned,
        })
      }
      if (request.method === 'POST' && request.url === '/v1/player/buy') {
        let raw = ''
        request.on('data', (chunk) => {
          raw += chunk
        })
        request.on('end', () => {
          bought.push(JSON.parse(raw))
          send(200, {
            purchaseId: 'p-1',
            licenceId: 'lic-1',
            licence: 'bafy-licence',
            receipt: 'bafy-receipt',
            content: ['isrc:ZZCNS2600001'],
            elapsedMs: 5,
            attempts: 1,
          })
        })
        return
      }
      if (request.method === 'POST' && request.url?.startsWith('/v1/player/shares')) {
        let raw = ''
        request.on('data', (chunk) => {
          raw += chunk
        })
        request.on('end', () => {
          if (request.url === '/v1/player/shares') {
            shared.push(JSON.parse(raw))
            return send(200, shareView)
          }
          opened.push(JSON.parse(raw))
          send(200, {
            share: shareView,
            territory: 'FR',
            offers: [
              {
                offer: 'bafy-corner',
                offerId: 'corner-download',
                retailerName: 'Corner',
                priceText: '2.50 EUR',
                useType: 'PermanentDownload',
                rules: ['unlimited plays'],
                shared: false,
                fromReferrer: false,
              },
            ],
            referrerSellsHere: false,
            sharedOffer: 'not-sold-here',
            own: false,
            preview: { played: false, seconds: 0, sink: null, problem: 'no audio player found on this machine' },
          })
        })
        return
      }
      if (request.method === 'POST' && request.url === '/v1/player/licences/transfer') {
        let raw = ''
        request.on('data', (chunk) => {
          raw += chunk
        })
        request.on('end', () => {
          const body = JSON.parse(raw) as { purchaseId: string; to: string; transferId: string }
          transferred.push(body)
          send(200, {
            purchaseId: body.purchaseId,
            transferId: body.transferId,
            to: body.to,
            revoked: ['bafy-l'],
            used: 0,
          })
        })
        return
      }
      send(404, { code: 'ERR_NOT_FOUND', message: request.url })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await mkdir(dir, { recursive: true })
    await writeFile(
      dataDirPaths(dir).api,
      JSON.stringify({ url: `http://127.0.0.1:${port}`, token: 'test-token', pid: process.pid }),
    )
  })

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await rm(dir, { recursive: true, force: true })
  })

  it('shows the price in money and in words and charges nothing without a confirmation', async () => {
    const result = await runConsort(['buy', 'offer-1', '--data-dir', dir])
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /0\.99 EUR \(ninety-nine euro cents\)/)
    assert.match(result.stderr, /--yes/)
    assert.deepEqual(bought, [], 'nothing was bought')
  })

  it('buys at the price shown with --yes', async () => {
    const result = await runConsort(['buy', 'offer-1', '--yes', '--data-dir', dir])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /purchase\s+p-1/)
    assert.deepEqual(bought, [{ offer: 'offer-1' }])
  })

  it('refuses to buy again what the device already holds, unless --again', async () => {
    owned = [{ purchaseId: 'p-0', licenceId: 'lic-0', useType: 'PermanentDownload', rules: ['unlimited plays'] }]
    bought.length = 0
    const refused = await runConsort(['buy', 'offer-1', '--yes', '--data-dir', dir])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /already hold licence lic-0/)
    assert.match(refused.stderr, /--again/)
    assert.deepEqual(bought, [])
    const again = await runConsort(['buy', 'offer-1', '--yes', '--again', '--data-dir', dir])
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual(bought, [{ offer: 'offer-1', again: true }])
  })

  it('a gift: --for buys, then gives the purchase to that account at once (issue 19)', async () => {
    owned = []
    bought.length = 0
    const to = 'ab'.repeat(32)
    const refused = await runConsort(['buy', 'offer-1', '--yes', '--for', 'someone', '--data-dir', dir])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /--for: "someone" is not an account key/)
    assert.deepEqual(bought, [], 'nothing bought for a bad receiver')
    const gift = await runConsort(['buy', 'offer-1', '--yes', '--for', to, '--data-dir', dir])
    assert.equal(gift.code, 0, gift.stderr)
    assert.match(gift.stdout, /given to\s+abab/)
    assert.deepEqual(transferred, [{ purchaseId: 'p-1', to, transferId: 'gift:p-1', gift: true }])
    const moved = await runConsort(['licence', 'transfer', 'p-1', '--to', to, '--id', 't-1', '--data-dir', dir])
    assert.equal(moved.code, 0, moved.stderr)
    assert.match(moved.stdout, /transferred\s+p-1/)
    assert.deepEqual(transferred[1], { purchaseId: 'p-1', to, transferId: 't-1' })
  })

  it('share: signs a share for the given time and prints its link; a bad duration is refused before anything is asked (issue 19)', async () => {
    const bad = await runConsort(['share', 'isrc:ZZCNS2600001', '--expires', '3 fortnights', '--data-dir', dir])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--expires: expected a number and a unit/)
    assert.deepEqual(shared, [])
    const result = await runConsort([
      'share',
      'isrc:ZZCNS2600001',
      '--offer',
      'harbour-download',
      '--expires',
      '7d',
      '--data-dir',
      dir,
    ])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout.split('\n')[0], LINK, 'the link first, alone on its line')
    assert.match(result.stdout, /shares\s+First Light — The Consort Ensemble/)
    assert.deepEqual(shared, [{ content: 'isrc:ZZCNS2600001', offer: 'harbour-download', expiresInMs: 7 * 86_400_000 }])
    const json = await runConsort(['share', 'isrc:ZZCNS2600001', '--json', '--data-dir', dir])
    assert.equal(JSON.parse(json.stdout).link, LINK)
  })

  it('open: shows the share, why the preview did not play, the offers for the territory and how to buy with it', async () => {
    const result = await runConsort(['open', LINK, '--no-preview', '--data-dir', dir])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(opened, [{ link: LINK, preview: false }])
    assert.match(result.stdout, /preview\s+not played: no audio player/)
    assert.match(result.stdout, /offers in\s+FR/)
    assert.match(result.stdout, /recommends \(harbour-download\) is not sold in FR/)
    assert.match(result.stdout, /Corner/)
    assert.match(result.stdout, new RegExp(`consort buy OFFER --share ${LINK}`))
    bought.length = 0
    const buy = await runConsort(['buy', 'bafy-corner', '--yes', '--share', LINK, '--data-dir', dir])
    assert.equal(buy.code, 0, buy.stderr)
    assert.deepEqual(bought, [{ offer: 'bafy-corner', share: LINK }])
  })
})
