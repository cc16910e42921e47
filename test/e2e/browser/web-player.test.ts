import assert from 'node:assert/strict'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { SeededRandom } from '../../../keys/random.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { ControlApi, type ControlApiInfo } from '../../../node/control-api.ts'
import { FakeClock, systemClock } from '../../../protocols/clock.ts'
import {
  LOGIN_TOKEN_TTL_MS,
  MAX_LOGIN_TOKENS,
  PlayerUi,
  SESSION_IDLE_MS,
  UiAuth,
} from '../../../roles/player/web/index.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll } from '../../helpers/nodes.ts'

/**
 * The web player's authentication and its refusals over HTTP, without a browser: a player node (no registrar: the
 * device is not registered, which these pages do not need) with its control API on loopback.
 */
describe('web player over HTTP: login links, sessions, CSRF, refusals', function () {
  this.timeout(60_000)
  const nodes: ConsortNode[] = []
  let api: ControlApi
  let info: ControlApiInfo

  before(async () => {
    const net = await createTestNetwork(systemClock)
    const node = await startMemoryNode({
      network: net,
      clock: systemClock,
      roles: ['player'],
      certRoles: [],
      roleOptions: { player: { account: await createNodeKeys(), registerDevice: false, flushIntervalMs: 0 } },
    })
    nodes.push(node)
    // The pages are composed onto the role: its `ui`, its `web` mount and its login-link route are the pages' own.
    const player = node.role('player')
    assert.ok(player.ui instanceof PlayerUi)
    assert.equal(player.web, player.ui.web)
    assert.ok(player.controlRoutes.some((route) => route.path === '/ui/login-link'))
    api = new ControlApi(node)
    info = await api.start()
  })

  after(async () => {
    await api?.stop()
    await stopAll(nodes)
  })

  async function loginLink(): Promise<string> {
    const response = await fetch(`${info.url}/v1/player/ui/login-link`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.token}` },
    })
    assert.equal(response.status, 200)
    const { path } = (await response.json()) as { path: string }
    assert.match(path, /^\/ui\/login\?token=[0-9a-f]{64}$/)
    return `${info.url}${path}`
  }

  async function login(): Promise<{ cookie: string; csrf: string }> {
    const response = await fetch(await loginLink(), { redirect: 'manual' })
    assert.equal(response.status, 303)
    assert.equal(response.headers.get('location'), '/ui/')
    const setCookie = response.headers.get('set-cookie') ?? ''
    assert.match(setCookie, /^consort_ui=[0-9a-f]{64}; Path=\/ui; HttpOnly; SameSite=Lax; Max-Age=\d+$/)
    const cookie = setCookie.split(';')[0]!
    const library = await fetch(`${info.url}/ui/`, { headers: { cookie } })
    const body = await library.text()
    const csrf = /<meta name="csrf-token" content="([0-9a-f]{64})">/.exec(body)?.[1]
    assert.ok(csrf != null, 'the page carries its CSRF token')
    return { cookie, csrf }
  }

  it('asks for a login link without a session, and keeps the control API behind its bearer token', async () => {
    const page = await fetch(`${info.url}/ui/`)
    assert.equal(page.status, 401)
    const body = await page.text()
    assert.match(body, /consort ui --data-dir/)
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/)
    assert.equal(page.headers.get('x-frame-options'), 'DENY')
    assert.equal((await fetch(`${info.url}/v1/id`)).status, 401)
    assert.equal((await fetch(`${info.url}/v1/player/ui/login-link`, { method: 'POST' })).status, 401)
    assert.equal((await fetch(`${info.url}/uix/`)).status, 401, 'only the /ui prefix itself is open')
  })

  it('spends a login link once', async () => {
    const link = await loginLink()
    assert.equal((await fetch(link, { redirect: 'manual' })).status, 303)
    const again = await fetch(link, { redirect: 'manual' })
    assert.equal(again.status, 403)
    assert.match(await again.text(), /already used, has expired/)
    assert.equal((await fetch(`${info.url}/ui/login?token=${'0'.repeat(64)}`)).status, 403)
  })

  it('shows the library with a session', async () => {
    const { cookie } = await login()
    const page = await fetch(`${info.url}/ui/`, { headers: { cookie } })
    assert.equal(page.status, 200)
    const body = await page.text()
    assert.match(body, /<h1>Your library<\/h1>/)
    assert.match(body, /No licences yet/)
  })

  it('refuses state changes without the CSRF token or from another origin', async () => {
    const { cookie, csrf } = await login()
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
    const offer = 'bafyreiewf4l73rixnjpxak7eprlzgcd4ixlzwzfthjhsermyqe57hoojoq'
    const headers = { cookie, 'content-type': 'application/x-www-form-urlencoded' }
    const missing = await fetch(`${info.url}/ui/checkout`, {
      method: 'POST',
      headers,
      body: form({ offer, content: 'icpn:00012345678905' }),
    })
    assert.equal(missing.status, 403)
    const wrong = await fetch(`${info.url}/ui/checkout`, {
      method: 'POST',
      headers,
      body: form({ offer, content: 'icpn:00012345678905', csrf: 'f'.repeat(64) }),
    })
    assert.equal(wrong.status, 403)
    const elsewhere = await fetch(`${info.url}/ui/checkout`, {
      method: 'POST',
      headers: { ...headers, origin: 'http://evil.example' },
      body: form({ offer, content: 'icpn:00012345678905', csrf }),
    })
    assert.equal(elsewhere.status, 403)
    assert.match(await elsewhere.text(), /evil\.example was refused/)
    const stream = await fetch(`${info.url}/ui/api/streams`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'isrc:ZZCNS2600001' }),
    })
    assert.equal(stream.status, 403)
    assert.equal(((await stream.json()) as { code: string }).code, 'ERR_CSRF')
  })

  it('says why an offer cannot be bought here, and refuses malformed parameters by name', async () => {
    const { cookie } = await login()
    const unknown = await fetch(
      `${info.url}/ui/checkout?offer=bafyreiewf4l73rixnjpxak7eprlzgcd4ixlzwzfthjhsermyqe57hoojoq&content=icpn:00012345678905`,
      { headers: { cookie } },
    )
    assert.equal(unknown.status, 404)
    assert.match(await unknown.text(), /not among the certified offers for icpn:00012345678905/)
    const bad = await fetch(`${info.url}/ui/checkout?offer=x&content=y`, { headers: { cookie } })
    assert.equal(bad.status, 400)
    assert.match(await bad.text(), /offer: missing or malformed/)
  })

  it('refuses a share link that is none, is cut or was altered, naming why; sharing asks for the CSRF token (issue 19)', async () => {
    const { cookie } = await login()
    const open = async (link: string) => {
      const response = await fetch(`${info.url}/ui/share?${new URLSearchParams({ link })}`, { headers: { cookie } })
      return { status: response.status, body: await response.text() }
    }
    const none = await open('https://store.example/track/isrc:ZZCNS2600001')
    assert.equal(none.status, 400)
    assert.match(
      none.body,
      /not a share link: the address https:\/\/store\.example\/track\/isrc:ZZCNS2600001 carries no share/,
    )
    const cut = await open('consort://share/omF2AWR0eXBlbWNvbnNvcnQvc2hhcmU')
    assert.equal(cut.status, 400)
    assert.match(cut.body, /not a valid share|not base64url/)
    const missing = await fetch(`${info.url}/ui/share`, { headers: { cookie } })
    assert.equal(missing.status, 400)
    assert.match(await missing.text(), /link: give the share link to open/)
    const unsigned = await fetch(`${info.url}/ui/share`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ content: 'isrc:ZZCNS2600001' }).toString(),
    })
    assert.equal(unsigned.status, 403, 'a share is signed with the account key: a CSRF-protected POST')
  })

  it('answers 404 for static names Object.prototype holds, before login and without the install path (issue 11)', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'valueOf']) {
      const response = await fetch(`${info.url}/ui/static/${name}`)
      assert.equal(response.status, 404, name)
      assert.doesNotMatch(await response.text(), /\/work\/|node_modules|roles\/player|ENOENT/, name)
    }
    assert.equal((await fetch(`${info.url}/ui/static/player.css`)).status, 200)
  })

  it('logs out', async () => {
    const { cookie, csrf } = await login()
    const out = await fetch(`${info.url}/ui/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf }).toString(),
    })
    assert.equal(out.status, 303)
    assert.equal((await fetch(`${info.url}/ui/`, { headers: { cookie } })).status, 401)
  })
})

describe('web player authentication (UiAuth)', () => {
  it('lets a login token work once and only until it expires', () => {
    const clock = new FakeClock()
    const auth = new UiAuth(clock, new SeededRandom(1))
    const { token } = auth.issueLoginToken()
    const late = auth.issueLoginToken()
    assert.ok(auth.redeem(token) != null)
    assert.equal(auth.redeem(token), null)
    clock.advance(LOGIN_TOKEN_TTL_MS)
    assert.equal(auth.redeem(late.token), null)
  })

  it('keeps a bounded number of unused tokens, forgetting the oldest', () => {
    const auth = new UiAuth(new FakeClock(), new SeededRandom(2))
    const first = auth.issueLoginToken()
    for (let i = 0; i < MAX_LOGIN_TOKENS; i++) auth.issueLoginToken()
    assert.equal(auth.redeem(first.token), null)
  })

  it('ends a session left idle, and compares CSRF tokens exactly', () => {
    const clock = new FakeClock()
    const auth = new UiAuth(clock, new SeededRandom(3))
    const session = auth.redeem(auth.issueLoginToken().token)!
    assert.equal(auth.checkCsrf(session, session.csrf), true)
    assert.equal(auth.checkCsrf(session, session.csrf.slice(1)), false)
    assert.equal(auth.checkCsrf(session, undefined), false)
    clock.advance(SESSION_IDLE_MS - 1)
    assert.ok(auth.session(session.id) != null, 'still alive, and its idle timer restarts')
    clock.advance(SESSION_IDLE_MS + 1)
    assert.equal(auth.session(session.id), null)
  })
})
