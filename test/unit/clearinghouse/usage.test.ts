import assert from 'node:assert/strict'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { seal } from '../../../keys/seal.ts'
import { signUsageStateRequest } from '../../../protocols/clearing/usage-state.ts'
import { signRecord } from '../../../protocols/records/envelope.ts'
import { wireCodeOf } from '../../../protocols/rpc/errors.ts'
import { HELD_RETRY_INTERVAL_MS } from '../../../roles/clearinghouse/constants.ts'
import type { ClearingEngine } from '../../../roles/clearinghouse/engine.ts'
import {
  accountIdOf,
  distributorParticipant,
  retailerParticipant,
  rightsholderParticipant,
} from '../../../roles/clearinghouse/participants.ts'
import type { StateLevel } from '../../../roles/clearinghouse/store.ts'
import { inChainOrder } from '../../../roles/clearinghouse/usage/ingest.ts'
import { type Buyer, ISRC_2, Market } from './market.ts'

const HOUR = 3_600_000

async function posted(engine: ClearingEngine, participant: string, currency = 'EUR'): Promise<bigint> {
  const id = accountIdOf(participant, currency)
  if ((await engine.ledger.getAccount(id)) === undefined) return 0n
  const b = await engine.ledger.balance(id)
  return b.creditsPosted - b.debitsPosted
}

/** Rejects with the error the clearinghouse would answer a peer with `code` (its wire code). */
async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: Error) => {
    assert.equal(wireCodeOf(err), code, err.message)
    return true
  })
}

describe('clearinghouse usage ingestion', () => {
  let m: Market
  let engine: ClearingEngine
  /** The engine's state, for a restart on it. */
  let level: StateLevel
  let buyer: Buyer
  let licence: Awaited<ReturnType<Market['purchase']>>['licence']
  let receipt: Awaited<ReturnType<Market['purchase']>>['receipt']
  let contract: ReturnType<Market['contract']>
  /** What the retailer owes per paid play: the rate (5) and no fee (3% of 5 rounds to 0). */
  const RATE = 5n

  async function setup(
    policy: { deviceLimit?: number } = {},
    devices = 1,
    options: { rules?: Record<string, number>; init?: Parameters<Market['engine']>[0] } = {},
  ) {
    m = await Market.create({ policy })
    ;({ engine, db: level } = await m.engine(options.init))
    buyer = await m.buyer(devices)
    await engine.account(m.fundRequest(buyer, 1000n))
    contract = m.contract({ unit: null, play: RATE })
    await engine.learnContract(contract)
    ;({ licence, receipt } = await m.purchase(engine, buyer, contract, m.offer(contract, { price: 0n }), {
      rules: options.rules ?? {},
    }))
    m.clock.advance(12 * HOUR)
  }

  /** `count` plays of `seconds` each, spread evenly over the `hours` before now, none overlapping. */
  function spread(count: number, hours: number, seconds = 25) {
    const start = m.clock.now() - hours * HOUR
    const step = Math.floor((hours * HOUR) / count)
    return Array.from({ length: count }, (_, i) => m.play(licence, start + i * step, seconds))
  }

  const retailerOwes = () => posted(engine, retailerParticipant(m.retailer.signer.publicKey))
  const labelHas = () => posted(engine, rightsholderParticipant('label:acme'))

  afterEach(async () => {
    await engine.close()
  })

  it('settles a licensed play at the contract rate, once, whatever the replays', async () => {
    await setup()
    const device = buyer.devices[0]!
    const report = m.usage(device, buyer.account, [m.play(licence, m.clock.now() - HOUR)])
    const ack = await engine.report(report.usage, report.device)
    assert.equal(ack.status, 'settled')
    assert.equal(ack.reportId, report.record.id.toString())
    assert.deepEqual(await engine.report(report.usage, report.device), { reportId: ack.reportId, status: 'duplicate' })
    assert.equal(await retailerOwes(), -RATE)
    assert.equal(await posted(engine, distributorParticipant(m.distributor.signer.publicKey)), 0n)
    assert.equal(await labelHas(), 4n)
    assert.equal(await posted(engine, rightsholderParticipant('artist:jane')), 1n)
    // A fresh engine on the same state (a restart) still knows the report.
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('refuses forged reports and stores nothing of them', async () => {
    await setup()
    const device = buyer.devices[0]!
    const play = () => [m.play(licence, m.clock.now() - HOUR)]
    // Signed by another key than the device it names.
    const imposter = await createNodeKeys(m.random)
    const forged = m.usage(device, buyer.account, play(), { chain: false, signer: imposter })
    await rejects(engine.report(forged.usage, forged.device), 'ERR_REPORT_INVALID')
    // A device registration that no registrar signed.
    const fake = signRecord('consort/device', device.registration.body, imposter.signer)
    const ok = m.usage(device, buyer.account, play(), { chain: false })
    await rejects(engine.report(ok.usage, fake.bytes), 'ERR_REPORT_INVALID')
    // A report for another account than the device is registered to.
    const other = await m.buyer()
    const wrongAccount = m.usage(device, other.account, play(), { chain: false })
    await rejects(engine.report(wrongAccount.usage, wrongAccount.device), 'ERR_REPORT_INVALID')
    // Sealed to someone else.
    const stranger = await createNodeKeys(m.random)
    const misdirected = signRecord(
      'consort/usage',
      {
        ...ok.record.body,
        sealed: [
          { recipient: stranger.signer.publicKey, box: seal(stranger.sealing.publicKey, new Uint8Array(8), 'x') },
        ],
      },
      device.keys.signer,
    )
    await rejects(engine.report(misdirected.bytes, ok.device), 'ERR_REPORT_INVALID')
    // Addressed to this clearinghouse, but the box was made for another report (seq) and does not open.
    const moved = signRecord('consort/usage', { ...ok.record.body, seq: 5, prev: ok.record.id }, device.keys.signer)
    await rejects(engine.report(moved.bytes, ok.device), 'ERR_REPORT_INVALID')
    // Garbage.
    await rejects(engine.report(new Uint8Array([1, 2, 3]), ok.device), 'ERR_REPORT_INVALID')
    assert.equal(engine.ingest.stats.reports, 0)
    assert.equal(await retailerOwes(), 0n)
    // The genuine report still goes through (its chain starts at 0).
    assert.equal((await engine.report(ok.usage, ok.device)).status, 'settled')
  })

  it('holds a report after a gap until the gap is filled, and flags a fork without paying it', async () => {
    await setup()
    const device = buyer.devices[0]!
    const t = m.clock.now() - 5 * HOUR
    const r0 = m.usage(device, buyer.account, [m.play(licence, t)])
    const r1 = m.usage(device, buyer.account, [m.play(licence, t + HOUR)])
    const r2 = m.usage(device, buyer.account, [m.play(licence, t + 2 * HOUR)])
    assert.equal((await engine.report(r0.usage, r0.device)).status, 'settled')
    assert.equal((await engine.report(r2.usage, r2.device)).status, 'held')
    assert.equal(await retailerOwes(), -RATE)
    assert.equal((await engine.report(r1.usage, r1.device)).status, 'settled')
    assert.equal(await retailerOwes(), -3n * RATE)
    // A second report 1, another content: a fork. Stored, flagged, never paid.
    const fork = m.usage(device, buyer.account, [m.play(licence, t + 3 * HOUR)], {
      seq: 1,
      prev: r0.record.id,
      chain: false,
    })
    assert.equal((await engine.report(fork.usage, fork.device)).status, 'held')
    assert.equal(engine.ingest.stats.forks, 1)
    // A report that claims the wrong predecessor at the next seq is a fork too.
    const wrongPrev = m.usage(device, buyer.account, [m.play(licence, t + 3 * HOUR)], {
      seq: 3,
      prev: r0.record.id,
      chain: false,
    })
    assert.equal((await engine.report(wrongPrev.usage, wrongPrev.device)).status, 'held')
    assert.equal(await retailerOwes(), -3n * RATE)
    const r3 = m.usage(device, buyer.account, [m.play(licence, t + 4 * HOUR)])
    assert.equal((await engine.report(r3.usage, r3.device)).status, 'settled')
    assert.equal(await retailerOwes(), -4n * RATE)
  })

  it('answers replays after restarts `duplicate` (settled, held and forked reports) and pays nothing twice', async () => {
    // The ingest reads a report's row only where its device's chain state leaves it possibly stored: these replays
    // come to engines whose caches are empty, so the chain state read from disk decides.
    await setup()
    const device = buyer.devices[0]!
    const t = m.clock.now() - 6 * HOUR
    const chain = [0, 1, 2, 3].map((i) => m.usage(device, buyer.account, [m.play(licence, t + i * HOUR)]))
    const [r0, r1, r2, r3] = chain as [(typeof chain)[0], (typeof chain)[0], (typeof chain)[0], (typeof chain)[0]]
    const fork = m.usage(device, buyer.account, [m.play(licence, t + 5 * HOUR)], { seq: 0, prev: null, chain: false })
    // A fork at the head: the next seq, another predecessor (stored at the chain's next seq, ahead of nothing).
    const headFork = m.usage(device, buyer.account, [m.play(licence, t + 5 * HOUR + 60_000)], {
      seq: 1,
      prev: fork.record.id,
      chain: false,
    })
    const restart = async () => {
      await engine.close()
      ;({ engine } = await m.engine({}, level))
    }
    assert.equal((await engine.report(r0.usage, r0.device)).status, 'settled')
    assert.equal((await engine.report(r2.usage, r2.device)).status, 'held', 'a gap: seq 1 is missing')
    assert.equal((await engine.report(fork.usage, fork.device)).status, 'held', 'a fork of seq 0')
    await restart()
    for (const r of [r0, r2, fork]) assert.equal((await engine.report(r.usage, r.device)).status, 'duplicate')
    // The gap still open, a fork at the head is stored; once the gap closes (below) it lies behind the chain.
    assert.equal((await engine.report(headFork.usage, headFork.device)).status, 'held')
    assert.equal(engine.ingest.stats.forks, 1)
    assert.equal(await retailerOwes(), -RATE)
    assert.equal((await engine.report(r1.usage, r1.device)).status, 'settled', 'fills the gap: 1 and 2 settle')
    assert.equal(await retailerOwes(), -3n * RATE)
    await restart()
    for (const r of [r2, r1, r0, fork, headFork]) {
      assert.equal((await engine.report(r.usage, r.device)).status, 'duplicate')
    }
    // A fork at the head of a chain without gaps, replayed after a restart.
    const atHead = m.usage(device, buyer.account, [m.play(licence, t + 5 * HOUR + 120_000)], {
      seq: 3,
      prev: r1.record.id,
      chain: false,
    })
    assert.equal((await engine.report(atHead.usage, atHead.device)).status, 'held')
    assert.equal(engine.ingest.stats.forks, 1)
    await restart()
    assert.equal((await engine.report(atHead.usage, atHead.device)).status, 'duplicate')
    assert.equal(engine.ingest.stats.forks, 0, 'not stored again')
    assert.equal((await engine.report(r3.usage, r3.device)).status, 'settled')
    assert.equal((await engine.report(r3.usage, r3.device)).status, 'duplicate')
    await restart()
    // All at once, in one group.
    const acks = await Promise.all([r3, r0, fork, r2, headFork, atHead].map((r) => engine.report(r.usage, r.device)))
    assert.deepEqual(
      acks.map((a) => a.status),
      ['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate'],
    )
    assert.equal(await retailerOwes(), -4n * RATE)
    assert.equal(engine.ingest.stats.forks, 0, 'the fork was not stored again')
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('refuses a report too far ahead of its chain (the player keeps it)', async () => {
    await setup()
    const device = buyer.devices[0]!
    const far = m.usage(device, buyer.account, [m.play(licence, m.clock.now() - HOUR)], { seq: 5000, prev: licence.id })
    await rejects(engine.report(far.usage, far.device), 'ERR_REPORT_INVALID')
  })

  it('never pays an event twice, even in another report', async () => {
    await setup()
    const device = buyer.devices[0]!
    const play = m.play(licence, m.clock.now() - 2 * HOUR)
    const r0 = m.usage(device, buyer.account, [play])
    const r1 = m.usage(device, buyer.account, [play, m.play(licence, m.clock.now() - HOUR)])
    await engine.report(r0.usage, r0.device)
    await engine.report(r1.usage, r1.device)
    assert.equal(await retailerOwes(), -2n * RATE)
    assert.equal(engine.ingest.stats.duplicateEvents, 1)
  })

  it('holds plays faster than real time for review and never pays them', async () => {
    await setup()
    const device = buyer.devices[0]!
    const t = m.clock.now() - 2 * HOUR
    // Two three-minute plays one minute apart on one device; and a play that ends after the report was made.
    const r0 = m.usage(device, buyer.account, [
      m.play(licence, t, 180),
      m.play(licence, t + 60_000, 180),
      m.play(licence, m.clock.now() - 60_000, 180),
    ])
    assert.equal((await engine.report(r0.usage, r0.device)).status, 'held')
    assert.equal(await retailerOwes(), -RATE)
    const held = await engine.ingest.listHeld('suspicious', 10)
    assert.deepEqual(
      held.map((h) => h.row.reason),
      ['faster-than-real-time', 'faster-than-real-time'],
    )
  })

  it('holds more plays per hour than a person can listen to', async () => {
    await setup()
    const device = buyer.devices[0]!
    const hour = Math.floor((m.clock.now() - 3 * HOUR) / HOUR) * HOUR
    const plays = Array.from({ length: 130 }, (_, i) => m.play(licence, hour + i * 27_000, 25))
    const r = m.usage(device, buyer.account, plays)
    assert.equal((await engine.report(r.usage, r.device)).status, 'held')
    assert.equal(await retailerOwes(), -120n * RATE)
    const held = await engine.ingest.listHeld('suspicious', 100)
    assert.equal(held.length, 10)
    assert.ok(held.every((h) => h.row.reason === 'too-many-plays'))
  })

  it('holds plays on more devices at once than the account may have', async () => {
    await setup({ deviceLimit: 1 }, 2)
    const contract = m.contract({ unit: null, play: RATE })
    const second = buyer.devices[1]!
    const licence2 = m.licence(
      m.receipt(m.order(buyer, m.offer(contract), m.certification(m.offer(contract), contract)), 'a'),
      contract,
      second.keys.signer.publicKey,
    )
    await engine.records.keep(licence2)
    await engine.records.keep(m.offer(contract))
    const t = m.clock.now() - 2 * HOUR
    const a = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, t, 600)])
    assert.equal((await engine.report(a.usage, a.device)).status, 'settled')
    const b = m.usage(second, buyer.account, [m.play(licence2, t + 60_000, 300)])
    assert.equal((await engine.report(b.usage, b.device)).status, 'held')
    const [held] = await engine.ingest.listHeld('suspicious', 10)
    assert.equal(held?.row.reason, 'too-many-devices')
    assert.equal(await retailerOwes(), -RATE)
  })

  it('never pays a play without a licence that covers it', async () => {
    await setup()
    const device = buyer.devices[0]!
    const t = m.clock.now() - 5 * HOUR
    const r = m.usage(device, buyer.account, [
      m.play(licence, t, 60, { purchaseId: null, licence: null }),
      m.play(licence, t + HOUR, 60, { purchaseId: 'someone-elses' }),
      m.play(licence, t + 2 * HOUR, 60, { isrc: 'FRZ039800212' }),
      m.play(licence, t + 3 * HOUR, 60, { kind: 'preview' }),
    ])
    assert.equal((await engine.report(r.usage, r.device)).status, 'held')
    assert.equal(await retailerOwes(), 0n)
    const reasons = (await engine.ingest.listHeld('suspicious', 10)).map((h) => h.row.reason).sort()
    assert.deepEqual(reasons, ['licence-mismatch', 'licence-mismatch', 'unlicensed'])
    // A licence covering both tracks pays for the second one too.
    const ok = m.usage(device, buyer.account, [m.play(licence, t + 4 * HOUR, 60, { isrc: ISRC_2 })])
    assert.equal((await engine.report(ok.usage, ok.device)).status, 'settled')
    assert.equal(await retailerOwes(), -RATE)
  })

  it('holds plays whose licence is unknown and settles them once it is known', async () => {
    await setup()
    const contract = m.contract({ unit: null, play: RATE })
    const offer = m.offer(contract)
    const unknown = m.licence(m.receipt(m.order(buyer, offer, m.certification(offer, contract)), 'a'), contract)
    m.clock.advance(2 * HOUR)
    const device = buyer.devices[0]!
    const r = m.usage(device, buyer.account, [m.play(unknown, m.clock.now() - HOUR)])
    assert.equal((await engine.report(r.usage, r.device)).status, 'held')
    assert.equal((await engine.ingest.listHeld('missing', 10)).length, 1)
    await engine.tick()
    assert.equal(await retailerOwes(), 0n)
    await engine.records.keep(unknown)
    await engine.records.keep(offer)
    await engine.learnContract(contract)
    m.clock.advance(HELD_RETRY_INTERVAL_MS)
    await engine.tick()
    assert.equal((await engine.ingest.listHeld('missing', 10)).length, 0)
    assert.equal(await retailerOwes(), -RATE)
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('checks the signature of a licence that comes with every report once, and never keeps an altered one', async () => {
    await setup()
    const contract = m.contract({ unit: null, play: RATE })
    const offer = m.offer(contract)
    await engine.records.keep(offer)
    await engine.learnContract(contract)
    const attached = m.licence(m.receipt(m.order(buyer, offer, m.certification(offer, contract)), 'b'), contract)
    m.clock.advance(2 * HOUR)
    const device = buyer.devices[0]!
    // An altered copy (one byte of its signature) comes first: refused, not remembered, not kept.
    const altered = new Uint8Array(attached.bytes)
    altered[altered.length - 1]! ^= 1
    const t = m.clock.now() - HOUR
    const reports = Array.from({ length: 4 }, (_, i) =>
      m.usage(device, buyer.account, [m.play(attached, t + i * 600_000)]),
    )
    const first = await engine.reportRequest({
      usage: reports[0]!.usage,
      device: reports[0]!.device,
      licences: [altered],
    })
    assert.equal(first.status, 'held', 'the play waits for a licence it can trust')
    assert.equal(await engine.records.get('consort/licence', attached.id.toString()), undefined)
    assert.equal(engine.attachedLicences.hits, 0)
    // The genuine licence with each of the next reports: verified once, then known by its bytes.
    for (const r of reports.slice(1)) {
      const ack = await engine.reportRequest({ usage: r.usage, device: r.device, licences: [attached.bytes] })
      assert.equal(ack.status, 'settled')
    }
    assert.equal(engine.attachedLicences.hits, 2, 'the second and third copies were not verified again')
    assert.ok(await engine.records.get('consort/licence', attached.id.toString()))
    // The altered copy again, after the genuine one was remembered: still refused (another hash, checked in full).
    const again = m.usage(device, buyer.account, [m.play(attached, t + 5 * 600_000)])
    await engine.reportRequest({ usage: again.usage, device: again.device, licences: [altered] })
    assert.equal(engine.attachedLicences.hits, 2)
  })

  it('refuses a malformed report request naming its field, and stores nothing of it', async () => {
    await setup()
    const r = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, m.clock.now() - HOUR)])
    const refusals: Array<[unknown, RegExp]> = [
      [null, /^request: /],
      [[r.usage, r.device], /^request: /],
      [{ usage: r.usage }, /^request\.device: /],
      [{ usage: new Uint8Array(0), device: r.device }, /^request\.usage: /],
      [{ usage: r.usage, device: 'bytes' }, /^request\.device: /],
      [{ usage: r.usage, device: r.device, extra: 1 }, /^request: unexpected field\(s\) extra/],
      [{ usage: r.usage, device: r.device, licences: r.usage }, /^request\.licences: /],
      [{ usage: r.usage, device: r.device, licences: [new Uint8Array(0)] }, /^request\.licences\.0: /],
      [{ usage: r.usage, device: r.device, licences: Array(65).fill(r.usage) }, /^request\.licences: /],
    ]
    for (const [body, message] of refusals) {
      await assert.rejects(engine.reportRequest(body), (err: Error) => {
        assert.equal(err.name, 'MessageSchemaError')
        assert.match(err.message, message)
        return true
      })
    }
    assert.equal(engine.ingest.stats.reports, 0)
    // The same report, well formed (with and without an explicit `licences: undefined`), is taken.
    assert.equal(
      (await engine.reportRequest({ usage: r.usage, device: r.device, licences: undefined })).status,
      'settled',
    )
    assert.equal((await engine.reportRequest({ usage: r.usage, device: r.device })).status, 'duplicate')
  })

  it('lets a reviewer approve or reject a held play', async () => {
    await setup()
    const device = buyer.devices[0]!
    const t = m.clock.now() - 2 * HOUR
    const r = m.usage(device, buyer.account, [
      m.play(licence, t, 180),
      m.play(licence, t + 60_000, 180),
      m.play(licence, t + 90_000, 30),
    ])
    await engine.report(r.usage, r.device)
    const held = await engine.ingest.listHeld('suspicious', 10)
    assert.equal(held.length, 2)
    assert.equal(await engine.ingest.review(held[0]!.row.device, held[0]!.row.event.eventId, 'approve'), 'settled')
    assert.equal(await engine.ingest.review(held[1]!.row.device, held[1]!.row.event.eventId, 'reject'), 'rejected')
    assert.equal(await retailerOwes(), -2n * RATE)
    await rejects(engine.ingest.review(held[1]!.row.device, held[1]!.row.event.eventId, 'approve'), 'ERR_NOT_FOUND')
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('refuses a report from a device whose registration was revoked', async () => {
    await setup()
    const device = buyer.devices[0]!
    const r = m.usage(device, buyer.account, [m.play(licence, m.clock.now() - HOUR)])
    const { trust } = await m.engine()
    trust.revoke([device.registration.id])
    const { engine: other } = await m.engine({}, undefined, trust)
    await rejects(other.report(r.usage, r.device), 'ERR_REPORT_INVALID')
    await other.close()
  })

  it('keeps settled events in plays lines, one line per track per period', async () => {
    await setup()
    const device = buyer.devices[0]!
    const t = m.clock.now() - 6 * HOUR
    for (let i = 0; i < 3; i++) {
      const r = m.usage(device, buyer.account, [
        m.play(licence, t + i * HOUR),
        m.play(licence, t + i * HOUR + 600_000, 60, { isrc: ISRC_2 }),
      ])
      await engine.report(r.usage, r.device)
    }
    const [statement] = await engine.statements.build('2026-11', retailerParticipant(m.retailer.signer.publicKey))
    const plays = statement!.parts[0]!.record.body.lines.filter((l) => l.kind === 'play')
    assert.deepEqual(
      plays.map((l) => [l.content, l.units, l.amount]),
      [
        [`isrc:${ISRC_2}`, 3, -3n * RATE],
        ['isrc:USRC17607839', 3, -3n * RATE],
      ],
    )
  })

  it('tells a device what it acknowledged of its usage (usage-state), to the device only', async () => {
    await setup()
    const device = buyer.devices[0]!
    const t = m.clock.now() - 5 * HOUR
    const r0 = m.usage(device, buyer.account, [m.play(licence, t, 100), m.play(licence, t + HOUR, 50)])
    const r1 = m.usage(device, buyer.account, [
      m.play(licence, t + 2 * HOUR, 20),
      { ...m.play(licence, t + 3 * HOUR, 0), kind: 'export' },
    ])
    await engine.report(r0.usage, r0.device)
    await engine.report(r1.usage, r1.device)
    const fields = {
      network: m.network.name,
      device: device.keys.signer.publicKey,
      requestId: 'state-1',
      created: m.clock.now(),
    }
    const state = await engine.usageState(signUsageStateRequest(fields, device.keys.signer, device.registration.bytes))
    assert.deepEqual(state, {
      lastReport: { seq: 1, id: r1.record.id.toString() },
      licences: [
        { purchaseId: licence.body.purchaseId, plays: 3, playSeconds: 170, exports: 1, burns: 0, firstPlayAt: t },
      ],
    })
    const other = await createNodeKeys(m.random)
    await rejects(
      engine.usageState(signUsageStateRequest(fields, other.signer, device.registration.bytes)),
      'ERR_REPORT_INVALID',
    )
  })

  it('settles equally whether reports come one by one or all at once', async () => {
    await setup()
    const device = buyer.devices[0]!
    const t = m.clock.now() - 10 * HOUR
    const reports = Array.from({ length: 20 }, (_, i) =>
      m.usage(device, buyer.account, [m.play(licence, t + i * 1_200_000)]),
    )
    // Out of order: every report but the first arrives before its predecessor. Those that reach a group together are
    // settled in chain order; one that came in an earlier group than its predecessor is held, then settled.
    const acks = await Promise.all([...reports].reverse().map((r) => engine.report(r.usage, r.device)))
    assert.ok(acks.every((a) => a.status === 'settled' || a.status === 'held'))
    assert.equal(engine.ingest.stats.forks, 0)
    assert.equal(await retailerOwes(), -20n * RATE)
    assert.equal(await labelHas(), 20n * 4n)
  })

  it("settles a device's reports that reach one group out of order without holding them", async () => {
    await setup()
    const device = buyer.devices[0]!
    const t = m.clock.now() - 10 * HOUR
    const reports = Array.from({ length: 5 }, (_, i) =>
      m.usage(device, buyer.account, [m.play(licence, t + i * 1_200_000)]),
    )
    // The first starts a group of its own; 2, 1, 4, 3 arrive together (as reports verified side by side do).
    const acks = await Promise.all([0, 2, 1, 4, 3].map((i) => engine.report(reports[i]!.usage, reports[i]!.device)))
    assert.deepEqual(
      acks.map((a) => a.status),
      ['settled', 'settled', 'settled', 'settled', 'settled'],
    )
    assert.equal(engine.ingest.stats.held, 0)
    assert.equal(await retailerOwes(), -5n * RATE)
  })

  describe('plays are bounded by their licence (issue 11, finding 2)', () => {
    it('pays a 10-play licence for 10 plays, whatever one signed report claims (600 back-dated plays)', async () => {
      await setup({}, 1, { rules: { plays: 10 } })
      const device = buyer.devices[0]!
      // 600 correctly signed plays spread over the last ten hours: 60 an hour, under any per-hour limit.
      const r = m.usage(device, buyer.account, spread(600, 10))
      const ack = await engine.report(r.usage, r.device)
      assert.equal(ack.status, 'held')
      assert.equal(await retailerOwes(), -10n * RATE, 'only the licence’s 10 plays are paid')
      // The acknowledgement says which plays are not paid, and why.
      assert.equal(ack.unpaid?.length, 256)
      assert.ok(ack.unpaid?.some((u) => u.reason === 'beyond-licence'))
      const held = await engine.ingest.listHeld('suspicious', 1000)
      assert.equal(held.length, 590)
      // A reviewer cannot pay a play beyond the licence either.
      const beyond = held.find((h) => h.row.reason === 'beyond-licence')!
      assert.equal(await engine.ingest.review(beyond.row.device, beyond.row.event.eventId, 'approve'), 'held')
      assert.equal(await retailerOwes(), -10n * RATE)
      const audit = await engine.audit()
      assert.deepEqual([...audit.ledger, ...audit.clearing], [])
    })

    it('keeps the rate limit on the clearinghouse’s clock: back-dating plays over past hours gains nothing', async () => {
      await setup()
      const device = buyer.devices[0]!
      const first = m.usage(device, buyer.account, spread(600, 10))
      assert.equal((await engine.report(first.usage, first.device)).status, 'held')
      assert.equal(await retailerOwes(), -120n * RATE, 'an hour’s worth of plays arrived at once')
      // Ten minutes later on the clearinghouse's clock: 20 more plays fit, whatever hours they claim.
      m.clock.advance(10 * 60_000)
      const next = m.usage(device, buyer.account, spread(60, 0.15, 5))
      await engine.report(next.usage, next.device)
      assert.equal(await retailerOwes(), -140n * RATE)
      const reasons = new Set((await engine.ingest.listHeld('suspicious', 1000)).map((h) => h.row.reason))
      assert.deepEqual([...reasons], ['too-many-plays'])
    })

    it('pays no play that starts before its licence was issued, nor after its rental or play time ran out', async () => {
      await setup({}, 1, { rules: { rentalSeconds: 3600, playSeconds: 200 } })
      const device = buyer.devices[0]!
      const issued = licence.body.created
      const t = m.clock.now() - 6 * HOUR
      const r = m.usage(device, buyer.account, [
        m.play(licence, issued - 2 * HOUR, 60), // before the licence
        m.play(licence, t, 90), // the rental opens
        m.play(licence, t + 10 * 60_000, 90), // 180 s played
        m.play(licence, t + 20 * 60_000, 60), // would pass playSeconds (240 > 200)
        m.play(licence, t + 2 * HOUR, 10), // after the rental ended
      ])
      await engine.report(r.usage, r.device)
      assert.equal(await retailerOwes(), -2n * RATE)
      const reasons = (await engine.ingest.listHeld('suspicious', 10)).map((h) => h.row.reason).sort()
      assert.deepEqual(reasons, ['before-licence', 'beyond-licence', 'beyond-licence'])
    })

    it('bounds the plays of one purchase over every device of the account', async () => {
      await setup({}, 2, { rules: { plays: 3 } })
      const [a, b] = buyer.devices
      // The same purchase licensed to the account's second device (a reissue).
      const second = m.licence(receipt, contract, b!.keys.signer.publicKey, {
        rules: { plays: 3 },
      })
      await engine.records.keep(second)
      const t = m.clock.now()
      m.clock.advance(5 * HOUR)
      const ra = m.usage(a!, buyer.account, [m.play(licence, t, 60), m.play(licence, t + HOUR, 60)])
      const rb = m.usage(b!, buyer.account, [m.play(second, t + 2 * HOUR, 60), m.play(second, t + 3 * HOUR, 60)])
      await engine.report(ra.usage, ra.device)
      await engine.report(rb.usage, rb.device)
      assert.equal(await retailerOwes(), -3n * RATE, 'three plays for the purchase, whichever device played them')
    })

    it('holds plays that would take a retailer paying per play below its credit limit', async () => {
      await setup({}, 1, { init: { creditLimits: { EUR: '12' } } })
      const device = buyer.devices[0]!
      const r = m.usage(device, buyer.account, spread(4, 4, 60))
      const ack = await engine.report(r.usage, r.device)
      assert.equal(await retailerOwes(), -10n, 'two plays of 5: a third would owe 15, past the limit of 12')
      assert.deepEqual(
        ack.unpaid?.map((u) => u.reason),
        ['credit-limit', 'credit-limit'],
      )
    })
  })

  it('a play of zero seconds is not a play: not counted, not paid, not on a statement (issue 11, finding 6)', async () => {
    await setup({}, 1, { rules: { plays: 2 } })
    const device = buyer.devices[0]!
    const t = m.clock.now() - 3 * HOUR
    const r = m.usage(device, buyer.account, [
      m.play(licence, t, 0),
      m.play(licence, t + HOUR, 60),
      m.play(licence, t + 2 * HOUR, 60),
    ])
    const ack = await engine.report(r.usage, r.device)
    assert.equal(ack.status, 'settled', 'nothing is held: the empty play is simply not a play')
    assert.deepEqual(
      ack.unpaid?.map((u) => u.reason),
      ['not-heard'],
    )
    assert.equal(await retailerOwes(), -2n * RATE, 'both real plays are within the 2-play licence')
    const [statement] = await engine.statements.build('2026-11', retailerParticipant(m.retailer.signer.publicKey))
    const units = statement?.parts.flatMap((p) => p.record.body.lines.filter((l) => l.kind === 'play'))
    assert.equal(
      units?.reduce((n, l) => n + l.units, 0),
      2,
    )
  })
})

describe('clearinghouse usage ingestion: chain order within a group', () => {
  const item = (device: string, seq: number, tag = '') => ({ report: { device, seq }, tag })

  it("puts each device's reports in sequence order in the places its reports came in, others untouched", () => {
    const arrived = [item('a', 2), item('b', 5), item('a', 0), item('c', 1), item('a', 1), item('b', 4)]
    const ordered = inChainOrder(arrived).map((i) => `${i.report.device}${i.report.seq}`)
    assert.deepEqual(ordered, ['a0', 'b4', 'a1', 'c1', 'a2', 'b5'])
  })

  it('keeps reports with the same seq (a fork) in their order of arrival, and an ordered group as it is', () => {
    const arrived = [item('a', 3, 'first'), item('a', 1), item('a', 3, 'second')]
    assert.deepEqual(
      inChainOrder(arrived).map((i) => `${i.report.seq}${i.tag}`),
      ['1', '3first', '3second'],
    )
    const ordered = [item('a', 0), item('b', 0), item('a', 1)]
    assert.equal(inChainOrder(ordered), ordered)
  })
})
