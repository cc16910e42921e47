import assert from 'node:assert/strict'
import { latestRecordKey } from '../../../protocols/dht.ts'
import { decodeRecordAs, type SignedRecord } from '../../../protocols/records/envelope.ts'
import type { GossipDelivery } from '../../../protocols/topics/bus.ts'
import { fixturePath } from '../../fixtures.ts'
import { arrivals, countBlocks, type Market, startMarket } from './market.ts'

const ern = (name: string) => fixturePath('ddex', name)
const NO_AUDIO = '/nonexistent/audio'
const ISRC = 'USRC12345678'
const signedBy = (key: Uint8Array) => (d: GossipDelivery) => Buffer.compare(d.record.signer, key) === 0

async function dhtGet(market: Market, key: Uint8Array): Promise<Uint8Array | undefined> {
  type Event = { name: string; value?: Uint8Array }
  const dht = (
    market.observer.libp2p.services as { dht: { get(k: Uint8Array, o: { signal: AbortSignal }): AsyncIterable<Event> } }
  ).dht
  let value: Uint8Array | undefined
  for await (const event of dht.get(key, { signal: AbortSignal.timeout(10_000) })) {
    if (event.name === 'VALUE' && event.value != null) value = event.value
  }
  return value
}

describe('production: new → update → takedown', function () {
  this.timeout(120_000)
  let market: Market

  before(async () => {
    market = await startMarket()
  })
  after(async () => {
    await market?.stop()
  })

  it('the ERN 3.8.2 choreography: a superseding manifest, an unchanged re-send, then revocations', async () => {
    const { node, role } = await market.startProducer()
    const mine = signedBy(node.keys.signer.publicKey)
    const options = { audioDir: NO_AUDIO, synthesizeMissing: true }

    const first = await role.publishErn({ ern: ern('ern382-choreography-1-new-release.xml'), ...options })
    const v0 = first.releases[0]!.tracks[0]!
    assert.equal(first.releases[0]!.action, 'new')
    assert.equal(v0.seq, 0)
    const [contract] = first.releases[0]!.contracts
    await arrivals(market, 'catalog', (d) => mine(d) && d.record.id.equals(v0.manifest), 1)

    const second = await role.publishErn({ ern: ern('ern382-choreography-2-update.xml'), ...options })
    const update = second.releases[0]!
    const v1 = update.tracks[0]!
    assert.equal(update.action, 'update')
    assert.equal(v1.seq, 1)
    assert.equal(v1.changed, true)
    assert.equal(v1.audioReused, true, 'the audio did not change: same segments, same content key')
    assert.deepEqual(v1.keyId, v0.keyId)
    assert.deepEqual(
      update.contracts.map((c) => [c.contractId, c.record.toString(), c.seq, c.changed]),
      [[contract!.contractId, contract!.record.toString(), 0, false]],
      'the deal did not change: the contract stays',
    )
    const [delivery] = await arrivals(market, 'catalog', (d) => mine(d) && d.record.id.equals(v1.manifest), 1)
    const manifest = delivery!.record as SignedRecord<'consort/manifest'>
    assert.equal(manifest.body.title, 'Updated Example Song')
    assert.equal(manifest.body.seq, 1)
    const old = await node.records.getAs('consort/manifest', v0.manifest)
    assert.deepEqual(manifest.body.segments, old.body.segments)
    // The DHT holds the latest version under the manifest's latest-record key.
    const latest = await dhtGet(market, latestRecordKey(node.keys.signer.publicKey, 'consort/manifest', `isrc:${ISRC}`))
    assert.ok(latest != null, 'found in the DHT')
    assert.equal(
      decodeRecordAs('consort/manifest', latest, { network: market.name, now: market.clock.now() }).body.seq,
      1,
    )
    // The new manifest version is escrowed again (its escrow names the new manifest).
    const deposits = market.registrars[0]!.deposits.filter((d) => d.manifests.some((m) => m.body.isrc === ISRC))
    assert.deepEqual(
      deposits.flatMap((d) => d.escrows.map((e) => e.body.manifest.toString())),
      [v0.manifest.toString(), v1.manifest.toString()],
    )

    // Sending the same update again changes nothing: no block, no state, no message.
    const blocks = await countBlocks(node)
    const entries = await role.state.countEntries()
    const catalogBefore = market.received.catalog.filter(mine).length
    const again = await role.publishErn({ ern: ern('ern382-choreography-2-update.xml'), ...options })
    assert.equal(again.releases[0]!.action, 'unchanged')
    assert.ok(again.releases[0]!.tracks[0]!.manifest.equals(v1.manifest))
    assert.equal(await countBlocks(node), blocks)
    assert.equal(await role.state.countEntries(), entries)
    assert.equal(again.announced.gossiped, 0)
    assert.equal(market.received.catalog.filter(mine).length, catalogBefore)

    const third = await role.publishErn({ ern: ern('ern382-choreography-3-takedown.xml'), ...options })
    const takedown = third.releases[0]!
    assert.equal(takedown.action, 'takedown')
    assert.equal(takedown.reason, 'PurgeReleaseMessage')
    const [revocation] = await arrivals(market, 'revocations', mine, 1)
    const targets = (revocation!.record as SignedRecord<'consort/revocation'>).body.targets
    assert.deepEqual(
      targets.map((t) => [t.kind, t.id.toString()]),
      [
        ['contract', contract!.record.toString()],
        ['manifest', v0.manifest.toString()],
        ['manifest', v1.manifest.toString()],
      ],
    )
    const purgedAgain = await role.publishErn({ ern: ern('ern382-choreography-3-takedown.xml'), ...options })
    assert.equal(purgedAgain.releases[0]!.action, 'unchanged')
    assert.equal(purgedAgain.releases[0]!.revocations.length, 0)
  })

  it('a release with its own record: an update supersedes the release and drops a deal, a takedown revokes all three kinds', async () => {
    const { node, role } = await market.startProducer()
    const mine = signedBy(node.keys.signer.publicKey)
    const description = (title: string, deals: number) => ({
      consortRelease: 1,
      upc: '036000291452',
      title,
      artists: ['The Testers'],
      tracks: [
        { isrc: 'GBXYZ2600001', title: 'One', durationSeconds: 40 },
        { isrc: 'GBXYZ2600002', title: 'Two', durationSeconds: 50, preview: { startSeconds: 10, durationSeconds: 15 } },
      ],
      deals: [
        {
          id: 'download',
          commercialModel: 'pay-as-you-go',
          useTypes: ['PermanentDownload'],
          territories: ['DE', 'FR'],
          wholesale: [{ currency: 'EUR', amount: '0.70' }],
        },
        { id: 'stream', commercialModel: 'subscription', useTypes: ['OnDemandStream'], excludedTerritories: ['US'] },
      ].slice(0, deals),
    })
    const first = await role.publishDescription({ release: description('Testing', 2), synthesizeMissing: true })
    const r0 = first.releases[0]!
    assert.equal(r0.key, 'icpn:00036000291452')
    assert.equal(r0.seq, 0)
    assert.equal(r0.tracks[1]!.preview!.startMs, 10_000)
    assert.equal(r0.tracks[1]!.preview!.durationMs, 15_000)
    const [download, stream] = r0.contracts
    const contracts = (await arrivals(market, 'contracts', mine, 2)).map(
      (d) => d.record as SignedRecord<'consort/contract'>,
    )
    const sold = contracts.find((c) => c.body.contractId === 'icpn:00036000291452/download')!
    assert.deepEqual(sold.body.content, ['icpn:00036000291452'])
    assert.deepEqual(sold.body.territories, ['DE', 'FR'])
    assert.deepEqual(sold.body.wholesale, [{ currency: 'EUR', amount: 70n, per: 'unit' }])
    assert.deepEqual(sold.body.splits, [{ party: 'label', key: node.keys.signer.publicKey, bps: 10_000 }])

    const second = await role.publishDescription({
      release: description('Testing, Revised', 1),
      synthesizeMissing: true,
    })
    const r1 = second.releases[0]!
    assert.equal(r1.action, 'update')
    assert.equal(r1.seq, 1)
    // The manifests name the release's title: new versions, over the same segments and keys.
    assert.ok(r1.tracks.every((t) => t.changed && t.seq === 1 && t.audioReused))
    assert.deepEqual(
      r1.contracts.map((c) => [c.contractId, c.record.toString(), c.changed]),
      [[download!.contractId, download!.record.toString(), false]],
    )
    assert.deepEqual(
      r1.revoked.map((t) => [t.kind, t.id.toString()]),
      [['contract', stream!.record.toString()]],
      'the dropped deal is revoked',
    )
    const releases = (await arrivals(market, 'catalog', (d) => mine(d) && d.record.type === 'consort/release', 2)).map(
      (d) => d.record as SignedRecord<'consort/release'>,
    )
    assert.deepEqual(
      releases.map((r) => [r.body.seq, r.body.title]),
      [
        [0, 'Testing'],
        [1, 'Testing, Revised'],
      ],
    )
    await arrivals(market, 'revocations', mine, 1)

    const gone = await role.takedown('icpn:00036000291452')
    assert.equal(gone.releases[0]!.action, 'takedown')
    const revocations = await arrivals(market, 'revocations', mine, 2)
    const kinds = (revocations[1]!.record as SignedRecord<'consort/revocation'>).body.targets.map((t) => t.kind)
    assert.deepEqual(kinds, ['contract', 'release', 'release', 'manifest', 'manifest', 'manifest', 'manifest'])
    assert.equal((await role.release('icpn:00036000291452')).status, 'withdrawn')
    assert.equal((await role.contract('icpn:00036000291452/download')).state.status, 'revoked')

    // Delivered again after the takedown: back on sale with new versions.
    const back = await role.publishDescription({ release: description('Testing, Revised', 1), synthesizeMissing: true })
    assert.equal(back.releases[0]!.action, 'update')
    assert.equal(back.releases[0]!.seq, 2)
    assert.ok(back.releases[0]!.tracks.every((t) => t.changed && t.seq === 2 && t.audioReused))
    assert.equal(back.releases[0]!.contracts[0]!.seq, 1)
  })
})
