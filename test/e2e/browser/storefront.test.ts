import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { systemRandom } from '../../../keys/random.ts'
import { encryptSegment, generateContentKey, generateKeyId } from '../../../keys/segments.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { tryCanonicalContentId } from '../../../protocols/identifiers/index.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { BlockStore } from '../../../protocols/records/store.ts'
import { decodeShareLink } from '../../../protocols/share/index.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import {
  type OfferSource,
  PreviewClips,
  ProtocolCatalog,
  RetailerShelf,
  Storefront,
  shareDesk,
} from '../../../roles/retailer/web/index.ts'
import { fixturePath } from '../../fixtures.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { connectMesh, startMemoryNode, stopAll, waitForTopicPeers } from '../../helpers/nodes.ts'
import { rawCid } from '../../helpers/records.ts'
import { waitUntil } from '../../helpers/wait.ts'

/**
 * The storefront over HTTP, without a browser: a producer publishes a release whose track has a preview clip (the
 * FLAC fixture, encrypted in 16 KiB segments); a catalog node indexes it; a storefront on that node renders the
 * pages from the catalog protocol, decrypts the preview fetched from the producer (bitswap) and serves it
 * with byte ranges. Offers come from a fixed source (the retailer's own desk in production).
 */

const clock = systemClock
const SEGMENT = 16 * 1024
const ISRC = 'GBAYE2600101'
const UPC = '5099749534728'
const BOXED_UPC = '0724384960650'
/** A PNG's signature and header chunk: what the storefront recognises a cover image by. */
const COVER = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0,
  0, 0,
])

interface Packaged {
  manifest: SignedRecord<'consort/manifest'>
  preview: Uint8Array
}

async function packageTrack(net: TestNetwork, producer: ConsortNode, keys: NodeKeys, title: string): Promise<Packaged> {
  const audio = new Uint8Array(await readFile(fixturePath('audio', 'sample-84k.flac')))
  const store = async (key: Uint8Array, id: Uint8Array, bytes: Uint8Array) => {
    const cids = []
    for (let i = 0; i * SEGMENT < bytes.length; i++) {
      const block = encryptSegment(key, id, i, bytes.subarray(i * SEGMENT, (i + 1) * SEGMENT))
      const cid = rawCid(block)
      await producer.helia.blockstore.put(cid, block)
      cids.push(cid)
    }
    return cids
  }
  const contentKey = generateContentKey()
  const keyId = generateKeyId()
  const segments = await store(contentKey, keyId, audio)
  const previewKey = generateContentKey()
  const previewKeyId = generateKeyId()
  const preview = audio.subarray(0, 40 * 1024)
  const previewSegments = await store(previewKey, previewKeyId, preview)
  const manifest = signRecord(
    'consort/manifest',
    {
      network: net.name,
      created: clock.now(),
      seq: 0,
      isrc: ISRC,
      title,
      version: null,
      artists: ['The Lanterns'],
      release: { icpn: UPC, grid: null, title: 'Night Trains' },
      genre: 'Jazz',
      label: 'Harbour Records',
      year: 2026,
      durationMs: 187_000,
      codec: 'flac',
      mime: 'audio/flac',
      byteSize: audio.length,
      segmentSize: SEGMENT,
      segments,
      keyId,
      preview: {
        startMs: 0,
        durationMs: 30_000,
        codec: 'flac',
        mime: 'audio/flac',
        byteSize: preview.length,
        keyId: previewKeyId,
        key: previewKey,
        segments: previewSegments,
      },
    },
    keys.signer,
  )
  return { manifest, preview }
}

function offerView(offer: string, content: string, overrides: Record<string, unknown> = {}) {
  return {
    offerId: `o-${offer.slice(-6)}`,
    onSale: true,
    offer,
    content: [content],
    price: { amount: 99n, currency: 'EUR' },
    priceText: '0.99 EUR',
    useType: 'PermanentDownload',
    rules: { devices: 3, burn: 2 },
    territories: ['Worldwide'],
    excludedTerritories: [],
    validFrom: 0,
    validUntil: null,
    promotion: null,
    certifiedUntil: null,
    ...overrides,
  }
}

describe('storefront over HTTP: catalog pages, offers in plain words, decrypted previews with ranges', function () {
  this.timeout(60_000)
  let net: TestNetwork
  const nodes: ConsortNode[] = []
  let storefront: Storefront
  let base: string
  let track: Packaged
  let release: SignedRecord<'consort/release'>
  const releaseOffer = rawCid(new TextEncoder().encode('release-offer')).toString()

  before(async () => {
    net = await createTestNetwork(clock)
    const producerKeys = await createNodeKeys()
    const producer = await startMemoryNode({ network: net, clock, keys: producerKeys, certRoles: ['production'] })
    // The store's node: a catalog replica, certified as a retailer so that the shares it signs verify.
    const storeKeys = await createNodeKeys()
    const catalogNode = await startMemoryNode({
      network: net,
      clock,
      keys: storeKeys,
      roles: ['catalog'],
      certRoles: ['catalog', 'retailer'],
    })
    nodes.push(producer, catalogNode)
    await connectMesh(nodes, 1)
    await waitForTopicPeers([producer], topicString(net.name, 'catalog'))
    track = await packageTrack(net, producer, producerKeys, 'Platform <Nine> & "Co"')
    release = signRecord(
      'consort/release',
      {
        network: net.name,
        created: clock.now(),
        seq: 0,
        icpn: UPC,
        grid: null,
        title: 'Night Trains',
        artists: ['The Lanterns'],
        type: 'Album',
        label: 'Harbour Records',
        genre: 'Jazz',
        releaseDate: '2026-10-02',
        tracks: [{ isrc: ISRC, manifest: track.manifest.id }],
        artwork: null,
      },
      producerKeys.signer,
    )
    await producer.helia.blockstore.put(rawCid(COVER), COVER)
    const boxed = signRecord(
      'consort/release',
      { ...release.body, icpn: BOXED_UPC, title: 'Night Trains (Deluxe)', artwork: rawCid(COVER) },
      producerKeys.signer,
    )
    for (const record of [track.manifest, release, boxed]) {
      await producer.topics.publish('catalog', record, producer.credentials.attachments())
    }
    const catalog = catalogNode.role('catalog')
    await waitUntil(() => catalog.size === 3, { message: 'the catalog indexed the releases and their track' })

    const offers: OfferSource = {
      list: async (after) =>
        after != null
          ? []
          : [
              offerView(releaseOffer, `icpn:${UPC}`),
              offerView(rawCid(new TextEncoder().encode('track-offer')).toString(), `isrc:${ISRC}`, {
                price: { amount: 1n, currency: 'EUR' },
                priceText: '0.01 EUR',
                useType: 'OnDemandStream',
                rules: { plays: 1 },
              }),
              offerView(rawCid(new TextEncoder().encode('withdrawn')).toString(), `isrc:${ISRC}`, { onSale: false }),
            ],
    }
    const blockstore = catalogNode.helia.blockstore as unknown as BlockStore
    storefront = new Storefront(
      {
        libp2p: catalogNode.libp2p,
        blockstore,
        network: catalogNode.network,
        clock,
        catalog: new ProtocolCatalog({ libp2p: catalogNode.libp2p, network: catalogNode.network, clock }),
        shelf: new RetailerShelf(offers, clock, () => ({})),
        previews: new PreviewClips({ blockstore }),
        shares: shareDesk({
          signer: storeKeys.signer,
          network: catalogNode.network,
          clock,
          random: systemRandom,
          trust: catalogNode.trust,
        }),
        defaultName: () => 'Harbour Music',
      },
      {},
    )
    await storefront.start()
    base = storefront.url!
  })

  after(async () => {
    await storefront?.stop()
    await stopAll(nodes)
  })

  async function page(path: string): Promise<{ status: number; body: string; headers: Headers }> {
    const response = await fetch(`${base}${path}`)
    return { status: response.status, body: await response.text(), headers: response.headers }
  }

  it('serves on loopback with a content security policy that allows nothing from elsewhere', async () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/)
    const home = await page('/')
    assert.equal(home.status, 200)
    const csp = home.headers.get('content-security-policy') ?? ''
    assert.match(csp, /default-src 'self'/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.doesNotMatch(home.body, /https?:\/\/(?!127\.0\.0\.1)/, 'no external URL on the page')
    assert.match(home.body, /<main id="main"/)
    assert.match(home.body, /Night Trains/)
  })

  it('searches with facets and escapes what the catalog says', async () => {
    const result = await page('/search?q=platform')
    assert.equal(result.status, 200)
    assert.match(result.body, /Platform &lt;Nine&gt; &amp; &quot;Co&quot;/)
    assert.doesNotMatch(result.body, /<Nine>/)
    assert.match(result.body, /href="\/track\/isrc%3AGBAYE2600101"/)
    const faceted = await page('/search?q=lanterns&genre=Jazz&kind=release')
    assert.match(faceted.body, /1–2 of 2/)
    assert.match(faceted.body, /aria-current="true"[^>]*>Jazz|>Jazz <span class="count">/)
    const none = await page('/search?q=zzzzzzzz')
    assert.match(none.body, /Nothing found/)
    const bad = await page('/search?year=abc')
    assert.equal(bad.status, 400)
    assert.match(bad.body, /year/)
  })

  it('renders a release with its tracks, durations, preview buttons and the offers in plain words', async () => {
    const result = await page(`/release/${encodeURIComponent(`icpn:${UPC}`)}`)
    assert.equal(result.status, 200)
    assert.match(result.body, /<h1>Night Trains<\/h1>/)
    assert.match(result.body, /3:07/)
    assert.match(result.body, /Buy for 0\.99 EUR/)
    assert.match(result.body, /play on up to 3 devices/)
    assert.match(result.body, /burn twice/)
    assert.match(result.body, /Download to keep/)
    assert.match(result.body, /Buy for 0\.01 EUR/)
    assert.match(result.body, /Stream on demand/)
    assert.match(result.body, /class="preview"/)
    assert.match(result.body, /role="img" aria-label="No cover art for Night Trains"/)
    assert.equal((result.body.match(/class="buy button"/g) ?? []).length, 2, 'the withdrawn offer is not shown')
    assert.match(result.body, new RegExp(`data-offer="${releaseOffer}"`))
  })

  it('puts a share link signed by the store on track and release pages; its page shows the share, the preview and the offers', async () => {
    for (const path of [
      `/track/${encodeURIComponent(`isrc:${ISRC}`)}`,
      `/release/${encodeURIComponent(`icpn:${UPC}`)}`,
    ]) {
      const result = await page(path)
      assert.equal(result.status, 200)
      const link = result.body.match(/id="share-link"[^>]* value="([^"]+)"/)?.[1]
      assert.ok(link?.startsWith(`${base}/share/`), `${path} has a share link: ${link}`)
      const shared = await fetch(link!)
      const body = await shared.text()
      assert.equal(shared.status, 200, body)
      assert.match(body, /Shared by this store/)
      assert.match(body, /class="open-share button"/)
      assert.match(body, /class="buy button"[^>]* data-share="/, 'its Buy links carry the share to the player')
      assert.doesNotMatch(body, /does not vouch/)
    }
    // The track page's share names the track, its release and the store's cheapest offer of it.
    const trackPage = await page(`/track/${encodeURIComponent(`isrc:${ISRC}`)}`)
    const text = trackPage.body.match(/\/share\/([A-Za-z0-9_-]+)/)![1]!
    const share = decodeShareLink(text, { network: net.name, now: clock.now() })
    assert.equal(share.body.referrer.kind, 'retailer')
    assert.equal(share.body.content.track, `isrc:${ISRC}`)
    assert.equal(share.body.content.release, tryCanonicalContentId(`icpn:${UPC}`))
    const trackOffer = rawCid(new TextEncoder().encode('track-offer')).toString()
    assert.equal(share.body.offer, `o-${trackOffer.slice(-6)}`, 'the cheapest offer of the track on sale here')
  })

  it('refuses a share link that was altered, cut or expired, saying which', async () => {
    const trackPage = await page(`/track/${encodeURIComponent(`isrc:${ISRC}`)}`)
    const text = trackPage.body.match(/\/share\/([A-Za-z0-9_-]+)/)![1]!
    const bytes = Buffer.from(text, 'base64url')
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 1 // a bit of the signature
    const altered = await page(`/share/${bytes.toString('base64url')}`)
    assert.equal(altered.status, 400)
    assert.match(altered.body, /signature does not verify/)
    const cut = await page(`/share/${text.slice(0, 60)}`)
    assert.equal(cut.status, 400)
    assert.match(cut.body, /not a valid share|base64url/)
    const junk = await page('/share/not*base64')
    assert.equal(junk.status, 400)
  })

  it('shows cover art from the release’s artwork block, with alt text', async () => {
    const result = await page(`/release/${encodeURIComponent(`icpn:${BOXED_UPC}`)}`)
    assert.equal(result.status, 200)
    assert.match(
      result.body,
      /<img class="cover" src="\/release\/icpn%3A00724384960650\/cover"[^>]* alt="Cover of Night Trains \(Deluxe\) by The Lanterns">/,
    )
    const cover = await fetch(`${base}/release/${encodeURIComponent(`icpn:${BOXED_UPC}`)}/cover`)
    assert.equal(cover.status, 200)
    assert.equal(cover.headers.get('content-type'), 'image/png')
    assert.deepEqual(new Uint8Array(await cover.arrayBuffer()), COVER)
    const none = await fetch(`${base}/release/${encodeURIComponent(`icpn:${UPC}`)}/cover`)
    assert.equal(none.status, 404)
  })

  it('answers unknown releases and bad ids with clear error pages', async () => {
    const missing = await page(`/release/${encodeURIComponent('icpn:05012345678900')}`)
    assert.equal(missing.status, 404)
    assert.match(missing.body, /no release icpn:05012345678900 in the catalog/)
    const bad = await page('/release/nonsense')
    assert.equal(bad.status, 400)
    assert.match(bad.body, /“nonsense” is not a UPC\/EAN, ISRC or GRid with a valid check digit/)
    // A mistyped UPC (its check digit is wrong) reads as such, not as a protocol error.
    const typo = await page(`/release/${encodeURIComponent('icpn:012345678906')}`)
    assert.equal(typo.status, 400)
    assert.match(typo.body, /“icpn:012345678906” is not a UPC\/EAN, ISRC or GRid with a valid check digit/)
    assert.doesNotMatch(typo.body, /\/consort\/|ERR_/)
    const nowhere = await page('/nowhere')
    assert.equal(nowhere.status, 404)
  })

  it('decrypts the preview from the swarm and serves it whole and by byte ranges', async () => {
    const whole = await fetch(`${base}/preview/${encodeURIComponent(`isrc:${ISRC}`)}`)
    assert.equal(whole.status, 200)
    assert.equal(whole.headers.get('content-type'), 'audio/flac')
    assert.equal(whole.headers.get('accept-ranges'), 'bytes')
    assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), track.preview)
    const part = await fetch(`${base}/preview/${encodeURIComponent(`isrc:${ISRC}`)}`, {
      headers: { range: 'bytes=20000-20999' },
    })
    assert.equal(part.status, 206)
    assert.equal(part.headers.get('content-range'), `bytes 20000-20999/${track.preview.length}`)
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), track.preview.subarray(20000, 21000))
    const outside = await fetch(`${base}/preview/${encodeURIComponent(`isrc:${ISRC}`)}`, {
      headers: { range: `bytes=${track.preview.length}-` },
    })
    assert.equal(outside.status, 416)
    assert.equal(outside.headers.get('content-range'), `bytes */${track.preview.length}`)
  })

  it('serves its own static files and nothing else from /static', async () => {
    const css = await fetch(`${base}/static/store.css`)
    assert.equal(css.status, 200)
    assert.match(css.headers.get('content-type') ?? '', /text\/css/)
    const other = await fetch(`${base}/static/..%2f..%2fpackage.json`)
    assert.equal(other.status, 404)
    // Object.prototype's names are no files either: 404, and nothing of the install path (issue 11, finding 7).
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const response = await fetch(`${base}/static/${name}`)
      assert.equal(response.status, 404, name)
      assert.doesNotMatch(await response.text(), /\/work\/|node_modules|roles\/retailer|ENOENT/, name)
    }
  })

  it('lets a link set the visitor’s player only to one on this machine (no open redirect from ?player=)', async () => {
    const script = await (await fetch(`${base}/static/store.js`)).text()
    // The page's script is what decides; run its `?player=` handling against a stubbed browser.
    const run = (search: string) => {
      const stored = new Map<string, string>()
      const sandbox = {
        location: { search, pathname: '/', hash: '', href: `http://store.example/${search}` },
        localStorage: {
          getItem: (k: string) => stored.get(k) ?? null,
          setItem: (k: string, v: string) => stored.set(k, v),
          removeItem: (k: string) => stored.delete(k),
        },
        history: { replaceState: () => {} },
        document: { querySelectorAll: () => [], getElementById: () => null, addEventListener: () => {} },
        URL,
        URLSearchParams,
      }
      new Function(...Object.keys(sandbox), script)(...Object.values(sandbox))
      return stored.get('consort.player') ?? null
    }
    assert.equal(run('?player=https%3A%2F%2Fevil.example%2F'), null, 'another site is ignored')
    assert.equal(run('?player=http%3A%2F%2F10.0.0.5%3A4000'), null, 'another machine is ignored')
    assert.equal(run('?player=http%3A%2F%2F127.0.0.1%3A45123%2Fui%2F'), 'http://127.0.0.1:45123')
    assert.equal(run('?player=http%3A%2F%2Flocalhost%3A45123'), 'http://localhost:45123')
  })
})
