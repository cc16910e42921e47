import assert from 'node:assert/strict'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { SeededRandom } from '../../../keys/random.ts'
import { open, SealOpener, SealSession } from '../../../keys/seal.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { networkContext } from '../../../protocols/network.ts'
import { decodeRecordAs } from '../../../protocols/records/envelope.ts'
import { decodeUsageEvents, type UsageEvent, usageSealContext } from '../../../protocols/usage/index.ts'
import { BadPlayerRequestError, RangeNotSatisfiableError } from '../../../roles/player/errors.ts'
import { buildReport, eventsBudget, takeForReport } from '../../../roles/player/reports.ts'
import { addInterval, cutAfterNew, parseRange } from '../../../roles/player/streams.ts'
import { createTestNetwork } from '../../helpers/network.ts'

function event(i: number): UsageEvent {
  return {
    eventId: `e-test-${i}`,
    kind: 'play',
    isrc: 'GBAYE0601001',
    purchaseId: 'p-1',
    licence: null,
    offer: null,
    contract: null,
    startedAt: 1000 + i,
    seconds: 30,
  }
}

describe('player: usage reports', () => {
  let clearinghouses: NodeKeys[]
  let device: NodeKeys
  let clock: FakeClock

  before(async () => {
    const random = new SeededRandom('player-reports')
    clearinghouses = [await createNodeKeys(random), await createNodeKeys(random)]
    device = await createNodeKeys(random)
    clock = new FakeClock()
  })

  it('seals the events to every clearinghouse, bound to the device and sequence number, and signs the report', async () => {
    const net = await createTestNetwork(clock, { clearinghouses })
    const network = networkContext(net.record)
    const events = [event(1), event(2)]
    const report = buildReport({
      network,
      device: device.signer,
      account: new Uint8Array(32).fill(7),
      seq: 3,
      prev: net.record.id,
      events,
      now: clock.now(),
      random: new SeededRandom('r'),
    })
    const decoded = decodeRecordAs('consort/usage', report.bytes, { network: net.name, now: clock.now() })
    assert.equal(decoded.body.seq, 3)
    assert.ok(decoded.body.prev?.equals(net.record.id))
    assert.deepEqual(decoded.signer, device.signer.publicKey)
    assert.equal(decoded.body.sealed.length, 2)
    for (const [i, box] of decoded.body.sealed.entries()) {
      assert.deepEqual(box.recipient, clearinghouses[i]!.signer.publicKey)
      const plain = open(clearinghouses[i]!.sealing, box.box, usageSealContext(net.name, device.signer.publicKey, 3))
      assert.deepEqual(decodeUsageEvents(plain), events)
      // a box cannot be moved into another report (another sequence number)
      assert.throws(() =>
        open(clearinghouses[i]!.sealing, box.box, usageSealContext(net.name, device.signer.publicKey, 4)),
      )
    }
    // nobody else opens it
    assert.throws(() =>
      open(device.sealing, decoded.body.sealed[0]!.box, usageSealContext(net.name, device.signer.publicKey, 3)),
    )
  })

  it('seals each clearinghouse its box in the version it opens (decision 0518), one session for both', async () => {
    const net = await createTestNetwork(clock, { clearinghouses })
    const network = networkContext(net.record)
    const onlyV1 = clearinghouses[0]!.signer.publicKey
    const report = buildReport({
      network,
      device: device.signer,
      account: new Uint8Array(32).fill(7),
      seq: 0,
      prev: null,
      events: [event(1)],
      now: clock.now(),
      random: new SeededRandom('r-versions'),
      session: new SealSession({ random: new SeededRandom('r-versions-session'), now: () => clock.now() }),
      sealVersion: (c) => (Buffer.from(c.key).equals(onlyV1) ? 1 : 2),
    })
    const decoded = decodeRecordAs('consort/usage', report.bytes, { network: net.name, now: clock.now() })
    assert.deepEqual(
      decoded.body.sealed.map((s) => s.box[0]),
      [1, 2],
    )
    const context = usageSealContext(net.name, device.signer.publicKey, 0)
    const old = new SealOpener(clearinghouses[0]!.sealing, { versions: [1] })
    assert.deepEqual(decodeUsageEvents(old.open(decoded.body.sealed[0]!.box, context)), [event(1)])
    assert.deepEqual(decodeUsageEvents(open(clearinghouses[1]!.sealing, decoded.body.sealed[1]!.box, context)), [
      event(1),
    ])
  })

  it('splits a long outbox into reports that fit the record cap', async () => {
    const net = await createTestNetwork(clock, { clearinghouses })
    const network = networkContext(net.record)
    const budget = eventsBudget(network)
    assert.ok(budget > 10_000 && budget <= 200 * 1024)
    const many = Array.from({ length: 5000 }, (_, i) => event(i))
    const first = takeForReport(many, budget)
    assert.ok(first.length > 0 && first.length < many.length)
    const report = buildReport({
      network,
      device: device.signer,
      account: new Uint8Array(32),
      seq: 0,
      prev: null,
      events: first,
      now: clock.now(),
      random: new SeededRandom('r2'),
    })
    assert.ok(report.bytes.length <= network.caps.largeRecordBytes)
  })
})

describe('player: byte ranges of web playback', () => {
  it('parses one range against the size', () => {
    assert.deepEqual(parseRange('bytes=0-99', 1000), { start: 0, end: 99 })
    assert.deepEqual(parseRange('bytes=900-', 1000), { start: 900, end: 999 })
    assert.deepEqual(parseRange('bytes=-100', 1000), { start: 900, end: 999 })
    assert.deepEqual(parseRange('bytes=0-5000', 1000), { start: 0, end: 999 })
    assert.equal(parseRange(undefined, 1000), null)
    assert.throws(() => parseRange('bytes=1000-', 1000), RangeNotSatisfiableError)
    assert.throws(() => parseRange('bytes=0-1,5-9', 1000), BadPlayerRequestError)
  })

  it('counts only the audio not served before', () => {
    let list: Array<[number, number]> = []
    const a = addInterval(list, 0, 10_000)
    assert.equal(a.added, 10_000)
    list = a.list
    const b = addInterval(list, 5_000, 15_000)
    assert.equal(b.added, 5_000)
    assert.deepEqual(b.list, [[0, 15_000]])
    const c = addInterval(b.list, 30_000, 40_000)
    assert.equal(c.added, 10_000)
    assert.deepEqual(c.list, [
      [0, 15_000],
      [30_000, 40_000],
    ])
    // seeking back over what was heard costs nothing
    assert.equal(addInterval(c.list, 2_000, 8_000).added, 0)
  })

  it('cuts a range where the new audio would pass what the licence allows', () => {
    const heard: Array<[number, number]> = [[10_000, 20_000]]
    assert.equal(cutAfterNew(heard, 0, 30_000, 5_000), 5_000)
    assert.equal(cutAfterNew(heard, 0, 30_000, 12_000), 22_000)
    assert.equal(cutAfterNew(heard, 12_000, 18_000, 0), 18_000)
    assert.equal(cutAfterNew([], 0, 30_000, 60_000), 30_000)
  })
})
