import assert from 'node:assert/strict'
import { canonicalIcpn } from '../../../protocols/identifiers/content-id.ts'
import { isDpid } from '../../../protocols/identifiers/dpid.ts'
import { signPurchaseOrder } from '../../../protocols/purchase/order.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import { assignedPartyId } from '../../../protocols/register/party-id.ts'
import { checkDsr } from '../../../roles/clearinghouse/dsr/read.ts'
import type { ClearingEngine } from '../../../roles/clearinghouse/engine.ts'
import {
  distributorParticipant,
  retailerParticipant,
  rightsholderParticipant,
  walletParticipant,
} from '../../../roles/clearinghouse/participants.ts'
import { decimalUnits, type ParsedDsr, parseDsr } from '../../helpers/dsr-parser.ts'
import { rawCid, sampleManifestBody } from '../../helpers/records.ts'
import { type Buyer, ISRC, ISRC_2, Market } from './market.ts'

/** The label writes its EAN-13; content ids and reports carry its GTIN-14 (decision 0006). */
const ICPN = '0724384960650'
const GTIN = canonicalIcpn(ICPN)
const HOUR = 3_600_000

/**
 * DSR reports of a small market driven through the clearinghouse engine: a label's album (two recordings) sold as a
 * download per track and as a per-play stream pass for the album, in two territories; plays of both. Each report is
 * read back with the tests' own DSR parser (written from the standard, not from the writer) and its figures are
 * compared with what the market did, sale by sale and play by play, and with the ledger to the cent.
 */
describe('clearinghouse DSR reports (Basic Audio Profile)', () => {
  let m: Market
  let engine: ClearingEngine
  let downloadOffer: SignedRecord<'consort/offer'>
  let streamOffer: SignedRecord<'consort/offer'>
  const sales: Array<{ purchaseId: string; territory: string; price: bigint; download: boolean }> = []
  let streamPlays = 0
  let downloadPlays = 0

  before(async () => {
    m = await Market.create()
    ;({ engine } = await m.engine())
    const download = m.contract({ contractId: 'album-download', unit: 70n })
    const stream = m.contract({ contractId: 'album-stream', unit: null, play: 2n })
    await engine.learnContract(download)
    await engine.learnContract(stream)
    // What the label published, as the catalog topic carries it.
    const tracks = [
      { isrc: ISRC, title: 'First Light', artists: ['The Lanterns', 'Mira Vale'], durationMs: 201_500 },
      { isrc: ISRC_2, title: 'Second | Wind \\ Two\tThree', artists: ['The Lanterns'], durationMs: 95_000 },
    ]
    const manifests = tracks.map((t) =>
      signRecord(
        'consort/manifest',
        sampleManifestBody(m.network.name, m.clock.now(), {
          isrc: t.isrc,
          title: t.title,
          artists: t.artists,
          durationMs: t.durationMs,
          label: 'Lantern Records',
          release: { icpn: ICPN, grid: null, title: 'Harbour Lights' },
          segments: [rawCid(new TextEncoder().encode(t.isrc))],
          byteSize: 256 * 1024,
        }),
        m.distributor.signer,
      ),
    )
    const release = signRecord(
      'consort/release',
      {
        network: m.network.name,
        created: m.clock.now(),
        seq: 0,
        icpn: ICPN,
        grid: null,
        title: 'Harbour Lights',
        artists: ['The Lanterns'],
        type: 'Album',
        label: 'Lantern Records',
        genre: 'Folk',
        releaseDate: '2026-10-30',
        tracks: manifests.map((mf) => ({ isrc: mf.body.isrc, manifest: mf.id })),
        artwork: null,
      } as never,
      m.distributor.signer,
    )
    for (const r of [...manifests, release]) await engine.learnCatalog(r as never)

    downloadOffer = offer(download, [`isrc:${ISRC}`], 'PermanentDownload', 129n)
    streamOffer = offer(stream, [`icpn:${GTIN}`], 'OnDemandStream', 99n)
    // Each buyer's territory is the one its registrar attests (orders must name it).
    const buyers: Buyer[] = []
    for (const territory of ['FR', 'FR', 'DE']) {
      const b = await m.buyer(1, territory)
      await engine.account(m.fundRequest(b, 10_00n))
      buyers.push(b)
    }
    // Two downloads in France, one in Germany; two stream passes (France, Germany).
    const licences = []
    for (const [b, territory] of [
      [buyers[0]!, 'FR'],
      [buyers[1]!, 'FR'],
      [buyers[2]!, 'DE'],
    ] as const) {
      licences.push(await buy(b, download, downloadOffer, territory, 'PermanentDownload'))
      sales.push({ purchaseId: licences.at(-1)!.purchaseId, territory, price: 129n, download: true })
    }
    const passes = []
    for (const [b, territory] of [
      [buyers[0]!, 'FR'],
      [buyers[2]!, 'DE'],
    ] as const) {
      passes.push(await buy(b, stream, streamOffer, territory, 'OnDemandStream'))
      sales.push({ purchaseId: passes.at(-1)!.purchaseId, territory, price: 99n, download: false })
    }
    // Plays: 3 streams of track 1 and 2 of track 2 on the French pass, 1 on the German one; 2 plays of a download.
    m.clock.advance(6 * HOUR)
    const at = (h: number) => m.clock.now() - h * HOUR
    const report = async (b: Buyer, events: ReturnType<Market['play']>[]) => {
      const r = m.usage(b.devices[0]!, b.account, events)
      const ack = await engine.report(r.usage, r.device)
      assert.equal(ack.status, 'settled', JSON.stringify(ack))
    }
    await report(buyers[0]!, [
      m.play(passes[0]!.licence, at(5)),
      m.play(passes[0]!.licence, at(4.9)),
      m.play(passes[0]!.licence, at(4.8)),
      m.play(passes[0]!.licence, at(4.7), 180, { isrc: ISRC_2 }),
      m.play(passes[0]!.licence, at(4.6), 180, { isrc: ISRC_2 }),
      m.play(licences[0]!.licence, at(4.5)),
    ])
    await report(buyers[2]!, [m.play(passes[1]!.licence, at(4)), m.play(licences[2]!.licence, at(3.9))])
    streamPlays = 6
    downloadPlays = 2
  })

  after(async () => {
    await engine?.close()
  })

  function offer(
    contract: SignedRecord<'consort/contract'>,
    content: string[],
    useType: 'PermanentDownload' | 'OnDemandStream',
    price: bigint,
  ): SignedRecord<'consort/offer'> {
    return signRecord(
      'consort/offer',
      {
        network: m.network.name,
        created: m.clock.now() - 1000,
        offerId: m.id('offer'),
        seq: 1,
        content,
        contract: contract.id,
        price: { amount: price, currency: 'EUR' },
        useType,
        rules: {},
        territories: ['Worldwide'],
        excludedTerritories: [],
        validFrom: m.clock.now() - 86_400_000,
        validUntil: null,
        promotion: null,
      },
      m.retailer.signer,
    )
  }

  /** Authorise and capture a purchase in `territory`, with a licence of the offer's use type and content. */
  async function buy(
    b: Buyer,
    contract: SignedRecord<'consort/contract'>,
    o: SignedRecord<'consort/offer'>,
    territory: string,
    useType: 'PermanentDownload' | 'OnDemandStream',
  ) {
    const certification = m.certification(o, contract)
    const base = m.order(b, o, certification)
    const order = signPurchaseOrder(
      { ...base.order, territory: territory as typeof base.order.territory },
      b.account.signer,
    )
    const { authorisation } = await engine.authorise(m.authoriseBody(order, o, certification))
    const receipt = m.receipt(order, authorisation)
    // Money before keys: the capture, then the registrar's licence (it reaches the clearinghouse with a report).
    await engine.capture({ purchaseId: order.order.purchaseId, receipt: receipt.bytes })
    const licence = signRecord(
      'consort/licence',
      {
        network: m.network.name,
        created: m.clock.now(),
        licenceId: m.id('licence'),
        purchaseId: receipt.body.purchaseId,
        receipt: receipt.id,
        offer: o.id,
        contract: contract.id,
        content: o.body.content,
        useType,
        rules: {},
        account: receipt.body.account,
        device: receipt.body.device,
        notAfter: null,
        keys: [
          { isrc: ISRC, keyId: new Uint8Array(16).fill(1), sealedKey: new Uint8Array(64).fill(2) },
          { isrc: ISRC_2, keyId: new Uint8Array(16).fill(3), sealedKey: new Uint8Array(64).fill(4) },
        ],
      },
      m.net.registrarSigner,
    )
    await engine.records.keep(licence)
    return { purchaseId: order.order.purchaseId, licence }
  }

  /** The report of `participant`, parsed by the tests' own parser: no errors allowed. */
  async function report(participant: string): Promise<{ parsed: ParsedDsr; text: string; fileName: string }> {
    const r = await engine.dsr.report('2026-11', participant)
    const parsed = parseDsr(r.text, r.fileName)
    assert.deepEqual(parsed.errors, [], r.text)
    assert.deepEqual(checkDsr(r.text).problems, [])
    assert.deepEqual(r.warnings, [])
    return { parsed, text: r.text, fileName: r.fileName }
  }

  const cells = (p: ParsedDsr, type: string) => p.records.filter((r) => r.type === type)
  const one = (r: { cells: Record<string, string[]> }, name: string) => r.cells[name]?.[0] ?? ''
  const sum = (values: string[]) => values.reduce((s, v) => s + BigInt(v), 0n)

  it("reports the retailer's sales once each and its streams once per play, with the sales contexts as they were", async () => {
    const { parsed } = await report(retailerParticipant(m.retailer.signer.publicKey))
    const summaries = cells(parsed, 'SY01.03')
    const contexts = summaries.map((s) => [one(s, 'CommercialModelType'), one(s, 'UseType'), one(s, 'Territory')])
    assert.deepEqual(contexts.map((c) => c.join(' ')).sort(), [
      'PayAsYouGoModel OnDemandStream DE',
      'PayAsYouGoModel OnDemandStream FR',
      'PayAsYouGoModel PermanentDownload DE',
      'PayAsYouGoModel PermanentDownload FR',
    ])
    // Units: one per sale (SU01.03), one per play of a streamed licence (SU02.03); plays of downloads left out.
    assert.equal(sum(cells(parsed, 'SU01.03').map((r) => one(r, 'Usages'))), 3n)
    assert.equal(sum(cells(parsed, 'SU02.03').map((r) => one(r, 'NumberOfStreams'))), BigInt(streamPlays))
    assert.equal(downloadPlays, 2)
    const byTerritory = (territory: string, use: string) =>
      one(summaries.find((s) => one(s, 'Territory') === territory && one(s, 'UseType') === use)!, 'TotalUsages')
    assert.equal(byTerritory('FR', 'PermanentDownload'), '2')
    assert.equal(byTerritory('DE', 'PermanentDownload'), '1')
    assert.equal(byTerritory('FR', 'OnDemandStream'), '5')
    assert.equal(byTerritory('DE', 'OnDemandStream'), '1')
    // Money: what end users paid, per context and in all, equals the ledger's captured sales to the cent.
    const revenue = summaries.reduce((s, r) => s + decimalUnits(one(r, 'NetRevenue'), 2), 0n)
    assert.equal(revenue, 3n * 129n + 2n * 99n)
    assert.equal(revenue, await capturedSales(sales.map((s) => s.purchaseId)))
    for (const su of cells(parsed, 'SU01.03')) {
      assert.equal(one(su, 'PriceEndUserPaidExcSalesTax'), '1.29')
      assert.equal(one(su, 'Returns'), '0')
    }
    // No fee, wholesale or royalty split appears as a sale: every SU01.03 is a consumer sale at the offer's price.
    assert.ok(cells(parsed, 'SU01.03').every((r) => one(r, 'IsRoyaltyBearing') === 'true'))
  })

  it('names the recordings and releases as the catalog described them, with ISRC, ICPN, artists and durations', async () => {
    const { parsed } = await report(retailerParticipant(m.retailer.signer.publicKey))
    const [release] = cells(parsed, 'RE01.03')
    assert.equal(cells(parsed, 'RE01.03').length, 1, 'one block: the album')
    assert.equal(one(release!, 'ICPN'), GTIN)
    assert.equal(one(release!, 'Title'), 'Harbour Lights')
    assert.equal(one(release!, 'Label'), 'Lantern Records')
    assert.equal(one(release!, 'ReleaseDate'), '2026-10-30')
    const resources = cells(parsed, 'AS01.03')
    const first = resources.find((r) => one(r, 'ISRC') === ISRC)!
    assert.equal(one(first, 'Title'), 'First Light')
    assert.equal(one(first, 'DisplayArtistName'), 'The Lanterns & Mira Vale')
    assert.deepEqual(first.cells.DisplayArtist, ['The Lanterns', 'Mira Vale'])
    assert.equal(one(first, 'Duration'), 'PT3M21.5S')
    // A |, a \ and a TAB in a title are escaped in the file and read back as they were.
    assert.equal(one(resources.find((r) => one(r, 'ISRC') === ISRC_2)!, 'Title'), 'Second | Wind \\ Two\tThree')
    // The album's stream passes are sales of the release in their summaries' revenue; the plays are per recording.
    assert.ok(cells(parsed, 'SU02.03').every((r) => one(r, 'TransactedResource') !== ''))
  })

  it('names the parties by their DPID-style party ids, and follows the file naming convention', async () => {
    const { parsed, fileName } = await report(retailerParticipant(m.retailer.signer.publicKey))
    const head = parsed.records[0]!
    const sender = assignedPartyId(m.clearinghouse.signer.publicKey)
    assert.ok(isDpid(sender))
    assert.equal(one(head, 'SenderPartyId'), sender)
    assert.equal(one(head, 'RecipientPartyId'), m.retailerCert.body.partyId)
    assert.equal(one(head, 'Profile'), 'BasicAudioProfile')
    assert.ok(cells(parsed, 'SY01.03').every((s) => one(s, 'DistributionChannelDPID') === m.retailerCert.body.partyId))
    assert.equal(parsed.fileName?.sender, sender)
    assert.equal(parsed.fileName?.period, '2026-11')
    assert.equal(parsed.fileName?.territory, 'Worldwide', 'several territories: the agreed value')
    assert.match(fileName, /^DSR_PADPIDA\w{11}_PADPIDA\w{11}_testnet_2026-11_Worldwide_\d{8}T\d{6}\.tsv$/)
  })

  it('reports to the distributor and to each rights holder what concerns them, and to nobody else', async () => {
    for (const participant of [
      distributorParticipant(m.distributor.signer.publicKey),
      rightsholderParticipant('label:acme'),
    ]) {
      const { parsed } = await report(participant)
      const revenue = cells(parsed, 'SY01.03').reduce((s, r) => s + decimalUnits(one(r, 'NetRevenue'), 2), 0n)
      const statementSales = await salesOnStatement(participant)
      assert.equal(revenue, await capturedSales(statementSales), participant)
      assert.equal(sum(cells(parsed, 'SU02.03').map((r) => one(r, 'NumberOfStreams'))), BigInt(streamPlays))
    }
    await assert.rejects(
      engine.dsr.report('2026-11', walletParticipant(m.retailer.signer.publicKey)),
      (err: Error) => err.name === 'DsrNotApplicableError',
    )
  })

  it('builds the same bytes again from the same books, and refuses a file that was altered', async () => {
    const participant = retailerParticipant(m.retailer.signer.publicKey)
    const a = await engine.dsr.report('2026-11', participant)
    const b = await engine.dsr.report('2026-11', participant)
    assert.equal(a.text.replace(/\t20\d\d-\d\d-\d\dT[^\t]*Z\t/, ''), b.text.replace(/\t20\d\d-\d\d-\d\dT[^\t]*Z\t/, ''))
    // One more stream in a usage record: its summary's total no longer adds up.
    const lines = a.text.split('\n')
    const at = lines.findIndex((l) => l.startsWith('SU02.03\t'))
    const cells = lines[at]!.split('\t')
    cells[7] = String(Number(cells[7]) + 1)
    lines[at] = cells.join('\t')
    const tampered = lines.join('\n')
    assert.ok(
      checkDsr(tampered).problems.some((p) => p.includes('TotalUsages')),
      checkDsr(tampered).problems.join('; '),
    )
    // A record dropped: the footer's counts give it away.
    const cut = `${a.text.split('\n').slice(0, -3).concat(a.text.split('\n').slice(-2)).join('\n')}`
    assert.ok(
      parseDsr(cut).errors.some((e) => e.startsWith('FOOT')),
      parseDsr(cut).errors.join('; '),
    )
    assert.ok(!checkDsr(cut).ok)
  })

  /** The consumer payments the ledger captured for these purchases (holding → retailer, code `sale`). */
  async function capturedSales(purchaseIds: readonly string[]): Promise<bigint> {
    const wanted = new Set(purchaseIds)
    let total = 0n
    for (let after = 0; ; ) {
      const page = await engine.ledger.transfers({ after, limit: 100 })
      for (const t of page.transfers) {
        if (t.code === 'sale' && t.reference !== undefined && wanted.has(t.reference)) total += t.amount
      }
      if (page.next === null) break
      after = page.next
    }
    return total
  }

  async function salesOnStatement(participant: string): Promise<string[]> {
    const ids = new Set<string>()
    for (const s of await engine.statements.build('2026-11', participant)) {
      for (const p of s.parts) {
        for (const l of p.record.body.lines) {
          if ((l.kind === 'sale' || l.kind === 'split') && !l.ref.startsWith('plays:')) ids.add(l.ref)
        }
      }
    }
    return [...ids]
  }
})
