import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ControlClient } from '../../../node/control-client.ts'
import { type Devnet, devnetPaths, startDevnet } from '../../../node/devnet.ts'
import { DevnetDirError, DevnetRunningError } from '../../../node/errors.ts'
import { isError } from '../../../protocols/errors.ts'

/** What a devnet is: its network, its nodes' identities, and the state a person sees (offers, the wallet). */
async function snapshot(devnet: Devnet) {
  const retailer = new ControlClient(devnet.daemons.get('retailer')!.api)
  const offers = await retailer.request<Array<{ offerId: string; offer: string; status: string }>>(
    'GET',
    '/v1/retailer/offers?limit=1000',
  )
  return {
    network: await readFile(devnet.network, 'utf8'),
    genesis: await readFile(devnetPaths(devnet.dir).genesis, 'utf8'),
    nodes: devnet.nodes.map((n) => [n.name, n.peerId]),
    offers: offers.map((o) => [o.offerId, o.offer, o.status]).sort(),
    sample: devnet.sample?.offers.map((o) => o.offer).sort(),
    wallet: devnet.sample?.wallet,
  }
}

describe('devnet: a directory you can come back to', function () {
  this.timeout(300_000)
  let dir: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `consort-devnet-test-${process.pid}-`))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('starts the same network, nodes and state again, refuses to start twice, and never overwrites a network', async () => {
    const kept = join(dir, 'kept')
    const first = await startDevnet({ dir: kept })
    let before: Awaited<ReturnType<typeof snapshot>>
    try {
      before = await snapshot(first)
      assert.ok(before.sample != null && before.sample.length >= 2, 'the sample offers are on sale')
      // What a buyer expects of each (item 6, decision 0307): the download is not limited offline and may be
      // exported; the stream lets no copy out and reconnects at least monthly.
      const views = await new ControlClient(first.daemons.get('retailer')!.api).request<
        Array<{ useType: string; rules: Record<string, unknown>; status: string }>
      >('GET', '/v1/retailer/offers?limit=1000')
      const live = views.filter((v) => v.status === 'certified')
      assert.deepEqual(live.find((v) => v.useType === 'PermanentDownload')?.rules, {})
      assert.deepEqual(live.find((v) => v.useType === 'OnDemandStream')?.rules, {
        plays: 10,
        offline: 30,
        export: 0,
        burn: 0,
      })
      // A second devnet on the same directory while the first runs: refused, and nothing was written.
      await assert.rejects(startDevnet({ dir: kept }), (err: Error) => {
        assert.ok(isError(err, DevnetRunningError), `${err.name}: ${err.message}`)
        assert.match(err.message, new RegExp(`a devnet is already running in ${kept} \\(pid ${process.pid}\\)`))
        return true
      })
      assert.equal(await readFile(first.network, 'utf8'), before.network)
      // One release, one id: the banner's GTIN-14 and the UPC printed on the sleeve list the same offers (item 3).
      const listener = new ControlClient(first.daemons.get('listener')!.api)
      const offersOf = async (content: string) =>
        (
          await listener.request<{ content: string; offers: Array<{ offer: string }> }>(
            'GET',
            `/v1/market?content=${encodeURIComponent(content)}`,
          )
        ).offers
          .map((o) => o.offer)
          .sort()
      assert.equal(first.sample?.release, 'icpn:00012345678905')
      const listed = await offersOf('icpn:00012345678905')
      assert.deepEqual(listed, before.sample)
      for (const written of ['icpn:012345678905', 'icpn:0012345678905', '012345678905', 'UPC:012345678905']) {
        assert.deepEqual(await offersOf(written), listed, written)
      }
    } finally {
      await first.stop()
    }
    assert.ok(existsSync(kept), 'a --dir devnet is kept after it stops')

    const second = await startDevnet({ dir: kept })
    try {
      const after = await snapshot(second)
      assert.deepEqual(after, before)
      // The wallet was topped up once, not at every start.
      const balance = await new ControlClient(second.daemons.get('listener')!.api).request<{
        balances: Array<{ currency: string; available: string }>
      }>('GET', '/v1/player/balance')
      assert.deepEqual(
        balance.balances.map((b) => [b.currency, b.available]),
        [['EUR', '2000']],
      )
    } finally {
      await second.stop()
    }
  })

  it('refuses a directory that holds something else, and removes its temporary directory when stopped', async () => {
    const foreign = join(dir, 'foreign')
    await startDevnet({ dir: foreign, sample: false }).then((d) => d.stop())
    await rm(join(foreign, 'network.json'))
    await writeFile(join(dir, 'marker'), 'x')
    await assert.rejects(startDevnet({ dir: foreign, sample: false }), (err: Error) => {
      assert.ok(isError(err, DevnetDirError), `${err.name}: ${err.message}`)
      assert.match(err.message, /has no network\.json but already holds .*genesis\.key/)
      return true
    })
    assert.ok(!existsSync(join(foreign, 'network.json')), 'nothing was written')

    const temporary = await startDevnet({ sample: false })
    assert.equal(temporary.temporary, true)
    assert.ok(existsSync(temporary.dir))
    await temporary.stop()
    assert.ok(!existsSync(temporary.dir), 'the temporary devnet directory is removed')
  })
})
