import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseErn } from '../../../roles/production/ddex/index.ts'
import { planFromErn, resolveAudioPath } from '../../../roles/production/ern-plan.ts'
import type { ImportIssue } from '../../../roles/production/errors.ts'
import type { DealPlan } from '../../../roles/production/plan.ts'
import { fixturePath } from '../../fixtures.ts'

const read = (name: string) => readFileSync(fixturePath('ddex', name), 'utf8')
const plan = (
  name: string,
  options: { tiers?: Record<string, Array<{ currency: string; amount: string }>>; known?: string[] } = {},
) =>
  planFromErn(parseErn(read(name)), {
    audioDir: '/srv/delivery',
    synthesizeMissing: true,
    isKnown: (key) => options.known?.includes(key) ?? false,
    ...(options.tiers != null ? { priceTiers: options.tiers } : {}),
  })
const ms = (date: string) => Date.parse(`${date}T00:00:00Z`)
/** Territory codes of each `<Deal>` in document order, read from the XML text itself. */
function dealTerritories(xml: string): string[][] {
  return [...xml.matchAll(/<Deal>([\s\S]*?)<\/Deal>/g)].map((m) =>
    [...m[1]!.matchAll(/<TerritoryCode[^>]*>([^<]+)<\/TerritoryCode>/g)].map((t) => t[1]!.trim()),
  )
}

describe('production: ERN deals become contract terms', () => {
  describe('ern43-album-audio.xml (21 track releases, subscription/ad-supported and priced-by-tier deals in JP)', () => {
    const isrcs = Array.from({ length: 21 }, (_, i) => i)

    it('maps each deal and commercial model to one contract, with models, use types, territory and window', () => {
      const p = plan('ern43-album-audio.xml', { tiers: { AAAA: [{ currency: 'JPY', amount: '150' }] } })
      assert.equal(p.issues.length, 0)
      const release = p.releases[0]!
      assert.equal(release.icpn, '00094631432057')
      assert.deepEqual(release.keys, ['icpn:00094631432057'])
      const summary = release.deals.map((d) => [
        d.localId,
        d.commercialModel,
        d.useTypes,
        d.territories,
        d.wholeRelease,
        d.content.length,
      ])
      assert.deepEqual(summary, [
        [
          'deal-1-subscription',
          'subscription',
          ['ConditionalDownload', 'OnDemandStream', 'NonInteractiveStream'],
          ['JP'],
          false,
          21,
        ],
        [
          'deal-1-ad-supported',
          'ad-supported',
          ['ConditionalDownload', 'OnDemandStream', 'NonInteractiveStream'],
          ['JP'],
          false,
          21,
        ],
        ['deal-2-pay-as-you-go', 'pay-as-you-go', ['PermanentDownload', 'ConditionalDownload'], ['JP'], false, 21],
        ['deal-3-pay-as-you-go', 'pay-as-you-go', ['PermanentDownload', 'ConditionalDownload'], ['JP'], true, 0],
      ])
      for (const deal of release.deals) {
        assert.equal(deal.validFrom, ms('2004-04-01'))
        assert.equal(deal.validUntil, null)
        assert.deepEqual(deal.splits, [{ party: 'PADPIDA2013042401U', key: null, bps: 10_000 }])
      }
      // Track releases name their recordings' ISRCs.
      assert.equal(release.deals[0]!.content[0], 'isrc:JPTO09404900')
      assert.equal(new Set(release.deals[0]!.content).size, isrcs.length)
      // The price tier AAAA becomes the configured wholesale price, per unit (downloads).
      assert.deepEqual(release.deals[2]!.wholesale, [{ currency: 'JPY', amount: 150n, per: 'unit' }])
      assert.deepEqual(release.deals[0]!.wholesale, [])
    })

    it('leaves out a pay-as-you-go deal with no price, with a warning naming it', () => {
      const p = plan('ern43-album-audio.xml')
      assert.deepEqual(
        p.releases[0]!.deals.map((d) => d.localId),
        ['deal-1-subscription', 'deal-1-ad-supported'],
      )
      const warned = p.warnings.filter((w) => /without a wholesale price/.test(w.message)).map((w) => w.path)
      assert.deepEqual(warned, ['/DealList/Deal[2]', '/DealList/Deal[3]'])
      assert.ok(p.warnings.some((w) => w.path === '/DealList/Deal[2]/PriceInformation[1]' && w.value === 'AAAA'))
    })

    it('names every track’s file under the audio directory, with the clip details', () => {
      const track = plan('ern43-album-audio.xml').releases[0]!.tracks[0]!
      assert.equal(track.isrc, 'JPTO09404900')
      assert.equal(track.audio.path, '/srv/delivery/0094631432057_01_001.wav')
      assert.equal(track.statedDurationMs, 148_000)
      assert.deepEqual(track.preview, { startMs: 45_000, durationMs: null })
    })
  })

  describe('ern43-single-many-territories.xml (747 deals, one territory each)', () => {
    const xml = read('ern43-single-many-territories.xml')
    const p = plan('ern43-single-many-territories.xml')
    const deals = p.releases[0]!.deals
    const byModel = (model: DealPlan['commercialModel']) => deals.filter((d) => d.commercialModel === model)

    it('makes one contract per deal it can sell: ad-supported and subscription in every territory', () => {
      assert.equal(deals.length, 498)
      assert.equal(byModel('ad-supported').length, 249)
      assert.equal(byModel('subscription').length, 249)
      assert.equal(byModel('pay-as-you-go').length, 0, 'the pay-as-you-go deals carry no price')
      for (const d of byModel('ad-supported')) assert.deepEqual(d.useTypes, ['NonInteractiveStream', 'OnDemandStream'])
      for (const d of byModel('subscription')) {
        assert.deepEqual(d.useTypes, ['ConditionalDownload', 'NonInteractiveStream', 'OnDemandStream'])
      }
      for (const d of deals) {
        assert.equal(d.wholeRelease, true)
        assert.equal(d.validFrom, ms('2017-04-25'))
      }
    })

    it('keeps each deal’s territory exactly as the message gives it', () => {
      const fromXml = dealTerritories(xml)
      assert.equal(fromXml.length, 747)
      for (const d of deals) {
        const n = Number(/^deal-(\d+)-/.exec(d.localId)![1]) - 1
        assert.deepEqual(d.territories, fromXml[n])
      }
      assert.equal(new Set(byModel('ad-supported').map((d) => d.territories[0])).size, 249)
    })
  })

  describe('ern43-classical.xml', () => {
    it('a grid-identified album of 12 recordings whose only deal has no price: no contract, one warning', () => {
      const p = plan('ern43-classical.xml')
      const release = p.releases[0]!
      assert.equal(release.grid, 'A10302B0003989564F')
      assert.equal(release.icpn, null)
      assert.equal(release.tracks.length, 12)
      assert.deepEqual(release.deals, [])
      assert.equal(p.warnings.filter((w) => w.path === '/DealList/Deal[1]').length, 1)
      assert.deepEqual(release.tracks[0]!.preview, { startMs: 0, durationMs: 60_000 })
      assert.equal(release.tracks[0]!.audio.path, '/srv/delivery/resources/1.flac')
    })
  })

  describe('ern382 choreography (a 40-character GRid: a warning)', () => {
    it('new release: the track stands alone (no valid ICPN or GRid) under a free Worldwide deal', () => {
      const p = plan('ern382-choreography-1-new-release.xml')
      const release = p.releases[0]!
      assert.equal(release.action, 'publish')
      assert.equal(release.reason, 'the release was not delivered before')
      assert.equal(release.grid, null)
      assert.equal(release.icpn, null)
      assert.deepEqual(release.keys, ['grid:A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R8S9T0'])
      const [deal] = release.deals
      assert.equal(release.deals.length, 1)
      assert.equal(deal!.commercialModel, 'free')
      assert.deepEqual(deal!.useTypes, ['OnDemandStream', 'PermanentDownload'])
      assert.deepEqual(deal!.territories, ['Worldwide'])
      assert.equal(deal!.validFrom, ms('2023-09-02'))
      assert.deepEqual(deal!.wholesale, [])
      assert.ok(p.warnings.some((w) => w.message.startsWith('ERN warning (grid):')))
    })

    it('the same message for a release delivered before is an update; the purge is a takedown', () => {
      const known = ['grid:A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R8S9T0']
      const update = plan('ern382-choreography-2-update.xml', { known })
      assert.equal(update.releases[0]!.action, 'publish')
      assert.equal(update.releases[0]!.reason, 'the release was delivered before')
      const takedown = plan('ern382-choreography-3-takedown.xml', { known })
      assert.equal(takedown.releases[0]!.action, 'takedown')
      assert.deepEqual(takedown.releases[0]!.keys, known)
    })
  })

  it('refuses file URIs that leave the audio directory or are remote', () => {
    const issues: ImportIssue[] = []
    assert.equal(resolveAudioPath('../../etc/passwd', '/srv/delivery', 'File', issues), null)
    assert.equal(resolveAudioPath('https://example.com/a.flac', '/srv/delivery', 'File', issues), null)
    assert.equal(
      resolveAudioPath('/resources/a.flac', '/srv/delivery', 'File', issues),
      '/srv/delivery/resources/a.flac',
    )
    assert.equal(
      resolveAudioPath('file:///resources/b.flac', '/srv/delivery', 'File', issues),
      '/srv/delivery/resources/b.flac',
    )
    assert.deepEqual(
      issues.map((i) => i.message),
      ['points outside the audio directory /srv/delivery', 'only local files are read (no remote URIs)'],
    )
  })
})
