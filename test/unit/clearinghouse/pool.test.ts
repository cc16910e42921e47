import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { toHex } from '../../../keys/hex.ts'
import { createNodeKeys } from '../../../keys/keystore.ts'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import { decodeRecord, recordId } from '../../../protocols/records/envelope.ts'
import type { ClearingEngine } from '../../../roles/clearinghouse/engine.ts'
import { packBatch, unpackBatch } from '../../../roles/clearinghouse/usage/batch.ts'
import { cidText, reportIdOf } from '../../../roles/clearinghouse/usage/verify.ts'
import { Market } from './market.ts'

const HOUR = 3_600_000

describe('clearinghouse verification workers', () => {
  let engine: ClearingEngine | undefined

  afterEach(async () => {
    await engine?.close()
    engine = undefined
  })

  it("writes a report's id as recordId's text, and a decoded record's id on demand is the same", async () => {
    const m = await Market.create()
    for (const size of [0, 1, 35, 700, 5000]) {
      const bytes = new Uint8Array(size).map((_, i) => (i * 7) % 256)
      assert.equal(reportIdOf(bytes), recordId(bytes).toString())
    }
    // Digests of every kind (the text is written by hand, 5 bits at a time), and CIDs of other codecs and versions.
    for (let i = 0; i < 500; i++) {
      const bytes = randomBytes(i % 97)
      assert.equal(reportIdOf(bytes), recordId(bytes).toString())
      const id = recordId(bytes)
      assert.equal(cidText(id), id.toString())
      const raw = CID.createV1(0x55, id.multihash)
      assert.equal(cidText(raw), raw.toString())
      const v0 = CID.createV0(id.multihash as Parameters<typeof CID.createV0>[0])
      assert.equal(cidText(v0), v0.toString())
    }
    const buyer = await m.buyer()
    const { usage } = m.usage(buyer.devices[0]!, buyer.account, [])
    const record = decodeRecord(usage, { network: m.network.name, now: m.clock.now(), caps: m.network.caps })
    assert.equal(record.id.toString(), reportIdOf(usage))
    assert.equal(record.id, record.id, 'worked out once')
    assert.equal({ ...record }.id.toString(), reportIdOf(usage), 'a copy carries it')
  })

  it('packs a batch into one buffer, each registration once, and gives back views of the same bytes', () => {
    const big = new Uint8Array(1000).map((_, i) => i % 251)
    const deviceA = big.subarray(10, 40)
    const deviceB = Uint8Array.of(9, 9, 9)
    const items = [
      { usage: big.subarray(100, 180), device: deviceA },
      { usage: Uint8Array.of(1, 2), device: deviceB },
      { usage: big.subarray(500, 700), device: deviceA },
    ]
    const packed = packBatch(items)
    assert.equal(packed.bytes.length, 30 + 3 + 80 + 2 + 200, 'each registration once')
    const back = unpackBatch(packed)
    assert.equal(back.length, 3)
    for (const [i, item] of items.entries()) {
      assert.deepEqual(back[i]!.usage, item.usage)
      assert.deepEqual(back[i]!.device, item.device)
    }
    assert.equal(back[0]!.device, back[2]!.device, 'one registration, one view')
    assert.deepEqual(
      back.map((b) => b.registration),
      [0, 1, 0],
      'each report names its registration by index',
    )
  })

  it('verifies reports of several devices on two workers, refuses a forged one, settles the rest once, in order', async () => {
    const m = await Market.create()
    ;({ engine } = await m.engine({ verifyWorkers: 2 }))
    const contract = m.contract({ unit: null, play: 5n })
    await engine.learnContract(contract)
    const offer = m.offer(contract, { price: 0n })
    const buyers = [await m.buyer(), await m.buyer(), await m.buyer()]
    const licences: Array<SignedRecord<'consort/licence'>> = []
    for (const buyer of buyers) licences.push((await m.purchase(engine, buyer, contract, offer)).licence)
    m.clock.advance(12 * HOUR)
    const t = m.clock.now() - 10 * HOUR
    const reports = buyers.flatMap((buyer, b) =>
      Array.from({ length: 40 }, (_, i) =>
        m.usage(buyer.devices[0]!, buyer.account, [m.play(licences[b]!, t + i * 600_000, 30)]),
      ),
    )
    const imposter = await createNodeKeys(m.random)
    const device = buyers[0]!.devices[0]!
    const forged = m.usage(device, buyers[0]!.account, [m.play(licences[0]!, t, 30)], {
      chain: false,
      signer: imposter,
    })
    const outcomes = await Promise.allSettled([
      ...reports.map((r) => engine!.report(r.usage, r.device)),
      engine.report(forged.usage, forged.device),
    ])
    assert.equal(engine.verifier.workers, 2)
    const refused = outcomes.filter((o) => o.status === 'rejected')
    assert.equal(refused.length, 1)
    assert.equal((refused[0] as PromiseRejectedResult).reason.code, 'ERR_REPORT_INVALID')
    await engine.flush()
    assert.equal(engine.ingest.stats.reports, 120)
    assert.equal(engine.ingest.stats.playsSettled, 120)
    // Answers come back in the order the reports went in: the second device's reports, split over two batches on
    // two workers, reach the ingest in chain order even when the later batch is done first (none held as a gap).
    assert.equal(engine.ingest.stats.held, 0)
    // Each device's chain is its own (its registration, device and account came back once per batch, by index).
    for (const buyer of buyers) {
      const state = await engine.ingest.usageState(toHex(buyer.devices[0]!.keys.signer.publicKey), 10)
      assert.equal(state.lastReport?.seq, 39)
    }
    const again = await Promise.all(reports.slice(0, 5).map((r) => engine!.report(r.usage, r.device)))
    assert.ok(again.every((a) => a.status === 'duplicate'))
    assert.ok(engine.verifier.workerCpu > 0, 'the workers did the verifying')
  })
})
