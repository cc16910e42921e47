import assert from 'node:assert/strict'
import { decodeRecordAs } from '../../../protocols/records/envelope.ts'
import {
  ACCOUNTING_COLUMNS,
  checkAccountingCsv,
  parseCsv,
  toAccountingCsv,
} from '../../../roles/clearinghouse/accounting.ts'
import type { ClearingEngine } from '../../../roles/clearinghouse/engine.ts'
import {
  accountIdOf,
  distributorParticipant,
  retailerParticipant,
  rightsholderParticipant,
  walletParticipant,
} from '../../../roles/clearinghouse/participants.ts'
import { checkLineProof, checkStatement, Statements } from '../../../roles/clearinghouse/statements.ts'
import { ISRC_2, Market } from './market.ts'

const HOUR = 3_600_000

describe('clearinghouse statements', () => {
  let m: Market
  let engine: ClearingEngine

  afterEach(async () => {
    await engine.close()
  })

  it('builds signed statements whose totals and Merkle roots anyone can check, with a proof per line', async () => {
    m = await Market.create()
    ;({ engine } = await m.engine())
    const buyer = await m.buyer()
    await engine.account(m.fundRequest(buyer, 1000n))
    const contract = m.contract({ unit: 70n, play: 2n })
    await engine.learnContract(contract)
    const { licence, purchaseId } = await m.purchase(engine, buyer, contract, m.offer(contract, { price: 129n }))
    m.clock.advance(6 * HOUR)
    const r = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, m.clock.now() - 5 * HOUR)])
    await engine.report(r.usage, r.device)

    const [label] = await engine.statements.build('2026-11', rightsholderParticipant('label:acme'))
    assert.ok(label !== undefined)
    assert.equal(label.final, false)
    assert.equal(label.parts.length, 1)
    const part = label.parts[0]!
    const check = checkStatement(part.record.bytes, {
      network: m.network.name,
      now: m.clock.now(),
      clearinghouses: [m.clearinghouse.signer.publicKey],
    })
    assert.deepEqual(check.problems, [])
    assert.equal(part.record.body.totals.net, 49n + 1n)
    const proof = engine.statements.proofOf(label, (l) => l.ref === purchaseId)
    assert.ok(proof !== undefined)
    assert.equal(proof.line.amount, 49n)
    assert.ok(checkLineProof(part.record, proof))
    assert.ok(!checkLineProof(part.record, { ...proof, line: { ...proof.line, amount: 4900n } }))
    // A statement checked against the wrong clearinghouse, or altered, fails.
    assert.ok(
      !checkStatement(part.record.bytes, {
        network: m.network.name,
        now: m.clock.now(),
        clearinghouses: [m.retailer.signer.publicKey],
      }).ok,
    )
    const altered = new Uint8Array(part.record.bytes)
    altered[altered.length - 70]! ^= 1
    assert.ok(!checkStatement(altered, { network: m.network.name, now: m.clock.now() }).ok)

    // Every participant's statement adds up to its balance.
    const participants = [
      walletParticipant(buyer.account.signer.publicKey),
      retailerParticipant(m.retailer.signer.publicKey),
      distributorParticipant(m.distributor.signer.publicKey),
      rightsholderParticipant('label:acme'),
      rightsholderParticipant('artist:jane'),
    ]
    for (const p of participants) {
      const [s] = await engine.statements.build('2026-11', p)
      const b = await engine.ledger.balance(accountIdOf(p, 'EUR'))
      assert.equal(s?.totals.net, b.creditsPosted - b.debitsPosted, p)
    }

    // The buyer reads its own statements with a request signed by its account key.
    const answer = (await engine.account(m.accountRequest(buyer, 'statement', '2026-11'))) as {
      statements: Uint8Array[]
    }
    assert.equal(answer.statements.length, 1)
    const own = decodeRecordAs('consort/statement', answer.statements[0]!, {
      network: m.network.name,
      now: m.clock.now(),
    })
    assert.equal(own.body.participant, walletParticipant(buyer.account.signer.publicKey))
  })

  it('cuts a long statement into parts that fit the record cap, each with its own root', async () => {
    m = await Market.create()
    ;({ engine } = await m.engine())
    const statements = new Statements(engine.store, m.network, m.clock, m.clearinghouse.signer)
    const lines = Array.from({ length: 2100 }, (_, i) => ({
      kind: 'play' as const,
      ref: `plays:2026-11:isrc:US${String(i).padStart(10, '0')}`,
      content: `isrc:USRC1${String(i).padStart(7, '0')}`,
      units: i,
      amount: BigInt(i - 2000),
      counterparty: retailerParticipant(m.retailer.signer.publicKey),
      at: m.clock.now(),
    }))
    const s = statements.assemble('2026-11', rightsholderParticipant('label:acme'), 'EUR', lines, m.clock.now(), true)
    assert.ok(s.parts.length >= 2)
    assert.equal(
      s.parts.reduce((n, p) => n + p.record.body.lines.length, 0),
      2100,
    )
    for (const [i, p] of s.parts.entries()) {
      assert.equal(p.record.body.part, i)
      assert.equal(p.record.body.parts, s.parts.length)
      assert.ok(p.record.bytes.length <= m.network.caps.largeRecordBytes)
      assert.ok(checkStatement(p.record.bytes, { network: m.network.name, now: m.clock.now() }).ok)
    }
    const net = s.parts.reduce((n, p) => n + p.record.body.totals.net, 0n)
    assert.equal(net, s.totals.net)
    // Built twice from the same lines and time: the same records, byte for byte.
    const again = statements.assemble(
      '2026-11',
      rightsholderParticipant('label:acme'),
      'EUR',
      lines,
      m.clock.now(),
      true,
    )
    assert.deepEqual(
      again.parts.map((p) => p.record.id.toString()),
      s.parts.map((p) => p.record.id.toString()),
    )
  })

  it('pays subscription plays pro rata when the period closes, and makes its statements final', async () => {
    m = await Market.create({ start: Date.UTC(2026, 10, 20) })
    ;({ engine } = await m.engine())
    const buyer = await m.buyer()
    await engine.account(m.fundRequest(buyer, 5000n))
    const a = m.contract({ model: 'subscription', unit: null, revenueShareBps: 6000, contractId: 'sub-a' })
    const b = m.contract({
      model: 'subscription',
      unit: null,
      revenueShareBps: 5000,
      contractId: 'sub-b',
      splits: [{ party: 'label:other', bps: 10_000 }],
    })
    await engine.learnContract(a)
    await engine.learnContract(b)
    // A subscription sold for 1000 under each contract: the retailer's revenue for the period is 2000.
    const subA = await m.purchase(engine, buyer, a, m.offer(a, { price: 1000n, useType: 'OnDemandStream' }))
    const subB = await m.purchase(engine, buyer, b, m.offer(b, { price: 1000n, useType: 'OnDemandStream' }))
    m.clock.advance(24 * HOUR)
    const device = buyer.devices[0]!
    const t = m.clock.now() - 20 * HOUR
    const events = [
      ...Array.from({ length: 3 }, (_, i) => m.play(subA.licence, t + i * HOUR)),
      m.play(subA.licence, t + 4 * HOUR, 180, { isrc: ISRC_2 }),
      m.play(subB.licence, t + 6 * HOUR),
    ]
    const r = m.usage(device, buyer.account, events)
    assert.equal((await engine.report(r.usage, r.device)).status, 'settled')
    const retailer = retailerParticipant(m.retailer.signer.publicKey)
    const before = await engine.ledger.balance(accountIdOf(retailer, 'EUR'))
    // Nothing paid for the plays yet: the period is open.
    m.clock.set(Date.UTC(2026, 11, 1, 0, 5))
    await engine.tick()
    const after = await engine.ledger.balance(accountIdOf(retailer, 'EUR'))
    // Pool: 2000 revenue, 5 plays; contract a: 2000 × 60% × 4/5 = 960; contract b: 2000 × 50% × 1/5 = 200.
    assert.equal(before.creditsPosted - before.debitsPosted - (after.creditsPosted - after.debitsPosted), 1160n)
    const dist = await engine.ledger.balance(accountIdOf(distributorParticipant(m.distributor.signer.publicKey), 'EUR'))
    assert.equal(dist.creditsPosted - dist.debitsPosted, 0n)
    const label = await engine.ledger.balance(accountIdOf(rightsholderParticipant('label:acme'), 'EUR'))
    assert.equal(label.creditsPosted, 672n)
    const other = await engine.ledger.balance(accountIdOf(rightsholderParticipant('label:other'), 'EUR'))
    assert.equal(other.creditsPosted, 200n)
    const [statement] = await engine.statements.build('2026-11', rightsholderParticipant('label:acme'))
    assert.equal(statement?.final, true)
    const plays = statement!.parts[0]!.record.body.lines.filter((l) => l.ref.startsWith('plays:'))
    // Per track: 960 × 3/4 = 720 for the first, 240 for the second, each split 70/30.
    assert.deepEqual(
      plays.map((l) => [l.kind, l.content, l.units, l.amount]).sort(),
      [
        ['play', `isrc:${ISRC_2}`, 1, 0n],
        ['play', 'isrc:USRC17607839', 3, 0n],
        ['split', `isrc:${ISRC_2}`, 0, 168n],
        ['split', 'isrc:USRC17607839', 0, 504n],
      ].sort(),
    )
    // Closed: building it again gives the same signed records.
    m.clock.advance(HOUR)
    const [again] = await engine.statements.build('2026-11', rightsholderParticipant('label:acme'))
    assert.equal(again?.parts[0]?.record.id.toString(), statement?.parts[0]?.record.id.toString())
    await engine.tick()
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('exports the accounting CSV: every line with its audit path and each signed part, all checkable', async () => {
    m = await Market.create()
    ;({ engine } = await m.engine())
    const buyer = await m.buyer()
    await engine.account(m.fundRequest(buyer, 1000n))
    const contract = m.contract({ unit: 70n })
    await engine.learnContract(contract)
    const { purchaseId } = await m.purchase(engine, buyer, contract, m.offer(contract, { price: 129n }))
    const statements = await engine.statements.build('2026-11', retailerParticipant(m.retailer.signer.publicKey))
    const csv = toAccountingCsv(statements)
    const check = (text: string) =>
      checkAccountingCsv(text, (bytes) =>
        checkStatement(bytes, {
          network: m.network.name,
          now: m.clock.now(),
          clearinghouses: [m.clearinghouse.signer.publicKey],
        }),
      )
    const rows = parseCsv(csv)
    assert.deepEqual(rows[0], [...ACCOUNTING_COLUMNS])
    const sale = rows.find((r) => r[0] === 'line' && r[7] === purchaseId && r[11] === '1.29')
    assert.ok(sale, csv)
    assert.equal(sale[6], 'sale')
    assert.equal(sale[10], '1', 'one unit: the sale')
    // The fee and the wholesale are lines of the accounting export (not sales of a DSR).
    assert.ok(rows.some((r) => r[0] === 'line' && r[6] === 'fee'))
    assert.deepEqual(check(csv), { ok: true, problems: [], parts: 1, lines: rows.length - 2 })
    // An amount changed in one row, a line dropped, a signature broken: each is found.
    const changed = csv.replace(',1.29,129,', ',1.39,139,')
    assert.match(check(changed).problems.join(), /row \d+: the row differs from line \d+ of the signed part/)
    const record = rows.find((r) => r[0] === 'part')![17]!
    const bytes = Buffer.from(record, 'base64')
    bytes[bytes.length - 3]! ^= 1
    assert.ok(!check(csv.replace(record, bytes.toString('base64'))).ok)
    assert.match(check('DSP,SalesDate\r\n').problems.join(), /not the accounting export/)
  })
})
