import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseBuffer } from 'music-metadata'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import { synthesizeWav } from '../../../roles/production/audio/index.ts'
import { type ErnValidationError, parseErn } from '../../../roles/production/ddex/index.ts'
import { readSegments } from '../../../roles/production/packaging/index.ts'
import { toneFor } from '../../../roles/production/validate.ts'
import { fixturePath } from '../../fixtures.ts'
import { arrivals, countBlocks, type Market, startMarket } from './market.ts'

const ern = (name: string) => fixturePath('ddex', name)
const NO_AUDIO = '/nonexistent/audio'
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

describe('production: every visible DDEX fixture publishes (audio synthesized where absent)', function () {
  this.timeout(120_000)
  let market: Market

  before(async () => {
    market = await startMarket()
  })
  after(async () => {
    await market?.stop()
  })

  it('ern43-album-audio.xml: 21 manifests, a release, 4 contracts, every key escrowed and opening its track', async () => {
    const { node, role } = await market.startProducer({
      init: { priceTiers: { AAAA: [{ currency: 'JPY', amount: '150' }] } },
    })
    const result = await role.publishErn({
      ern: ern('ern43-album-audio.xml'),
      audioDir: NO_AUDIO,
      synthesizeMissing: true,
    })
    const [release] = result.releases
    assert.equal(release!.action, 'new')
    assert.equal(release!.key, 'icpn:00094631432057')
    assert.equal(release!.tracks.length, 21)
    assert.deepEqual(
      release!.contracts.map((c) => c.contractId),
      ['deal-1-subscription', 'deal-1-ad-supported', 'deal-2-pay-as-you-go', 'deal-3-pay-as-you-go'].map(
        (d) => `icpn:00094631432057/${d}`,
      ),
    )
    assert.deepEqual(result.escrow, { delivered: 1, pending: 0, deposits: 1 })

    const mine = (d: { record: SignedRecord }) => Buffer.compare(d.record.signer, node.keys.signer.publicKey) === 0
    const catalog = await arrivals(market, 'catalog', mine, 22)
    const releaseRecord = catalog.find((d) => d.record.type === 'consort/release')!
      .record as SignedRecord<'consort/release'>
    assert.equal(releaseRecord.body.icpn, '00094631432057')
    assert.equal(releaseRecord.body.title, 'Yume no Hajmari')
    assert.equal(releaseRecord.body.tracks.length, 21)
    assert.deepEqual(
      releaseRecord.body.tracks.map((t) => t.manifest.toString()),
      release!.tracks.map((t) => t.manifest.toString()),
    )
    const contracts = (await arrivals(market, 'contracts', mine, 4)).map(
      (d) => d.record as SignedRecord<'consort/contract'>,
    )
    const payg = contracts.find((c) => c.body.contractId.endsWith('deal-3-pay-as-you-go'))!
    assert.deepEqual(payg.body.content, ['icpn:00094631432057'])
    assert.deepEqual(payg.body.wholesale, [{ currency: 'JPY', amount: 150n, per: 'unit' }])
    assert.deepEqual(payg.body.territories, ['JP'])
    assert.equal(payg.body.retailer, null)
    assert.deepEqual(payg.body.splits, [{ party: 'PADPIDA2013042401U', key: null, bps: 10_000 }])
    const subscription = contracts.find((c) => c.body.commercialModel === 'subscription')!
    assert.equal(subscription.body.content.length, 21)
    assert.deepEqual(subscription.body.useTypes, ['ConditionalDownload', 'OnDemandStream', 'NonInteractiveStream'])

    // The registrar got one escrow per track, sealed to it: each opens to the key that decrypts that track.
    const deposit = market.registrars[0]!.deposits.find((d) => d.release?.id.equals(releaseRecord.id))!
    assert.equal(deposit.escrows.length, 21)
    const first = deposit.manifests.find((m) => m.body.isrc === 'JPTO09404900')!
    assert.equal(first.body.codec, 'wav')
    assert.equal(first.body.durationMs, 148_000)
    assert.deepEqual(
      first.body.preview && [first.body.preview.startMs, first.body.preview.durationMs],
      [45_000, 30_000],
    )
    const key = deposit.keys.get(hex(first.body.keyId))!
    const audio = await readSegments(node.helia.blockstore, first.body.segments, key, first.body.keyId)
    assert.deepEqual(audio, synthesizeWav(148_000, { frequencyHz: toneFor(0) }))
  })

  it('ern43-classical.xml: 12 manifests under a GRid release, no contract (its deal has no price)', async () => {
    const { role } = await market.startProducer()
    const result = await role.publishErn({
      ern: ern('ern43-classical.xml'),
      audioDir: NO_AUDIO,
      synthesizeMissing: true,
    })
    const [release] = result.releases
    assert.equal(release!.action, 'new')
    assert.equal(release!.key, 'grid:A10302B0003989564F')
    assert.equal(release!.tracks.length, 12)
    assert.equal(release!.contracts.length, 0)
    assert.ok(
      result.warnings.some((w) => w.path === '/DealList/Deal[1]' && /without a wholesale price/.test(w.message)),
    )
    for (const track of release!.tracks)
      assert.deepEqual(track.preview && [track.preview.startMs, track.preview.durationMs], [0, 60_000])
  })

  it('ern43-single-many-territories.xml: one manifest, 498 contracts (one per sellable deal)', async () => {
    const { node, role } = await market.startProducer()
    const result = await role.publishErn({
      ern: ern('ern43-single-many-territories.xml'),
      audioDir: NO_AUDIO,
      synthesizeMissing: true,
    })
    const [release] = result.releases
    assert.equal(release!.tracks.length, 1)
    assert.equal(release!.tracks[0]!.isrc, 'GBAYC1700598')
    assert.equal(release!.contracts.length, 498)
    const mine = (d: { record: SignedRecord }) => Buffer.compare(d.record.signer, node.keys.signer.publicKey) === 0
    const contracts = (await arrivals(market, 'contracts', mine, 498)).map(
      (d) => d.record as SignedRecord<'consort/contract'>,
    )
    const adSupported = contracts.filter((c) => c.body.commercialModel === 'ad-supported')
    assert.equal(adSupported.length, 249)
    assert.equal(new Set(adSupported.map((c) => c.body.territories.join())).size, 249)
    assert.ok(adSupported.every((c) => c.body.content[0] === 'grid:A10302B0003989564F'))
  })

  it('ern382 choreography: a release without a valid GRid publishes its track alone, the GRid warning recorded', async () => {
    const { role } = await market.startProducer()
    await assert.rejects(
      role.publishErn({
        ern: ern('ern382-choreography-1-new-release.xml'),
        audioDir: NO_AUDIO,
        synthesizeMissing: true,
        strict: true,
      }),
      (err: Error & { issues?: Array<{ path: string; message: string }> }) =>
        err.name === 'ImportRefusedError' &&
        err.issues?.length === 1 &&
        err.issues[0]!.path.endsWith('/ReleaseId/GRid') &&
        err.issues[0]!.message.startsWith('warning: not a GRid'),
    )
    const result = await role.publishErn({
      ern: ern('ern382-choreography-1-new-release.xml'),
      audioDir: NO_AUDIO,
      synthesizeMissing: true,
    })
    const [release] = result.releases
    assert.equal(release!.action, 'new')
    assert.equal(release!.release, null)
    assert.deepEqual(
      release!.contracts.map((c) => c.contractId),
      ['grid:A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R8S9T0/deal-1-free'],
    )
    const grid = (w: { path: string; message: string }) =>
      w.path.endsWith('/ReleaseId/GRid') && w.message.startsWith('ERN warning (grid)')
    assert.ok(result.warnings.some(grid), 'the result reports the accepted warning')
    const state = await role.release(release!.key)
    assert.ok(state.warnings?.some(grid), 'and the release state keeps it')
  })

  it('ern38-instance.xml is refused field by field, and nothing is written', async () => {
    const { node, role } = await market.startProducer()
    const blocks = await countBlocks(node)
    const entries = await role.state.countEntries()
    let expected: ErnValidationError | undefined
    try {
      parseErn(readFileSync(ern('ern38-instance.xml'), 'utf8'))
    } catch (err) {
      expected = err as ErnValidationError
    }
    assert.ok(expected != null && expected.issues.length >= 8)
    assert.ok(
      expected.issues.every((i) => i.severity === 'error'),
      'the warnings are not what refuses it',
    )
    await assert.rejects(
      role.publishErn({ ern: ern('ern38-instance.xml'), audioDir: NO_AUDIO, synthesizeMissing: true }),
      (err: Error & { issues?: Array<{ path: string; value: string; message: string }> }) => {
        assert.equal(err.name, 'ImportRefusedError')
        assert.deepEqual(
          err.issues,
          expected!.issues.map((i) => ({ path: i.path, value: i.value, message: `error: ${i.message}` })),
        )
        assert.ok(err.issues!.some((i) => i.path.endsWith('/SoundRecordingId/ISRC') && i.value === 'dFJ'))
        return true
      },
    )
    assert.equal(await countBlocks(node), blocks, 'blockstore unchanged')
    assert.equal(await role.state.countEntries(), entries, 'state unchanged')
    assert.equal(entries, 0)
  })

  it('the real FLAC fixture as a single: byte-identical through escrow, preview playable with the published key only', async () => {
    const { node, role } = await market.startProducer({ init: { segmentSize: 16 * 1024 } })
    const file = fixturePath('audio', 'sample-84k.flac')
    const result = await role.publishDescription({
      release: {
        consortRelease: 1,
        upc: '012345678905',
        title: 'Eighty-Four K',
        artists: ['Fixture Band'],
        tracks: [{ isrc: 'USRC17607839', title: 'One Second', file }],
        deals: [
          {
            commercialModel: 'pay-as-you-go',
            useTypes: ['PermanentDownload'],
            wholesale: [{ currency: 'EUR', amount: '0.99' }],
          },
        ],
      },
    })
    const track = result.releases[0]!.tracks[0]!
    const manifest = await node.records.getAs('consort/manifest', track.manifest)
    assert.equal(manifest.body.codec, 'flac')
    assert.equal(manifest.body.mime, 'audio/flac')
    assert.equal(manifest.body.durationMs, 1000)
    assert.equal(manifest.body.segments.length, 6)
    const deposit = market.registrars[0]!.deposits.find((d) => d.manifests.some((m) => m.id.equals(manifest.id)))!
    const key = deposit.keys.get(hex(manifest.body.keyId))!
    const plain = await readSegments(node.helia.blockstore, manifest.body.segments, key, manifest.body.keyId)
    assert.equal(Buffer.compare(Buffer.from(plain), readFileSync(file)), 0, 'byte-identical to the file')

    const preview = manifest.body.preview!
    assert.equal(preview.codec, 'flac')
    assert.ok(preview.durationMs <= 550, 'a default preview is at most half of a short recording')
    const clip = await readSegments(node.helia.blockstore, preview.segments, preview.key, preview.keyId)
    const format = (await parseBuffer(clip, { mimeType: preview.mime }, { duration: true })).format
    assert.equal(format.codec, 'FLAC')
    assert.ok(Math.abs(format.duration! * 1000 - preview.durationMs) < 2)
    await assert.rejects(readSegments(node.helia.blockstore, preview.segments, key, preview.keyId), {
      name: 'SegmentReadError',
    })
    await assert.rejects(
      readSegments(node.helia.blockstore, manifest.body.segments, preview.key, manifest.body.keyId),
      {
        name: 'SegmentReadError',
      },
    )
    // Pinned: the manifest and every segment it lists.
    for (const cid of [manifest.id, ...manifest.body.segments, ...preview.segments]) {
      assert.ok(await node.helia.pins.isPinned(cid), `${cid} pinned`)
    }
  })
})
