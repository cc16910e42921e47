import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { MemoryLevel } from 'memory-level'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { signRecord } from '../../../protocols/records/envelope.ts'
import { pullRequest } from '../../../protocols/sync/codec.ts'
import { decodeEntry, encodeEntry, messageHash, type SyncDb, SyncLog } from '../../../protocols/sync/log.ts'
import { encodeGossipMessage } from '../../../protocols/topics/message.ts'
import type { TopicName } from '../../../protocols/topics/names.ts'
import { sampleBodies } from '../../helpers/record-samples.ts'

describe('sync log', () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 1))
  let db: MemoryLevel<string, Uint8Array>
  let signer: Awaited<ReturnType<typeof createNodeKeys>>['signer']

  beforeEach(async () => {
    db = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
    await db.open()
    signer ??= (await createNodeKeys()).signer
  })

  afterEach(async () => {
    await db.close()
  })

  const open = async (maxEntries?: number) => {
    const log = new SyncLog({
      db: db.sublevel('sync', { valueEncoding: 'view' }) as unknown as SyncDb,
      clock,
      ...(maxEntries != null ? { maxEntries } : {}),
    })
    await log.open()
    return log
  }

  const message = (topic: TopicName, n: number) => {
    const body = { ...sampleBodies('testnet', clock.now() + n)['consort/revocation'], reason: `r${n}` }
    const record = signRecord('consort/revocation', body, signer)
    return { topic, data: encodeGossipMessage([record.bytes]), record, via: 'gossip' as const }
  }

  it('keeps each message once, in order, and pages by topic from a cursor', async () => {
    const log = await open()
    assert.equal(await log.append(message('revocations', 1)), 1)
    assert.equal(await log.append(message('revocations', 1)), null, 'the same bytes are not kept twice')
    assert.equal(await log.append(message('offers', 2)), 2)
    assert.equal(await log.append(message('revocations', 3)), 3)
    assert.equal(await log.append(message('usage', 4)), null, 'usage is not a catch-up topic')
    const page = await log.page(['revocations'], 0, 10)
    assert.deepEqual(
      page.entries.map((e) => e.seq),
      [1, 3],
    )
    assert.equal(page.next, 3)
    assert.equal(page.more, false)
    const small = await log.page(['revocations', 'offers'], 0, 2)
    assert.deepEqual(
      small.entries.map((e) => e.seq),
      [1, 2],
    )
    assert.equal(small.more, true)
    assert.deepEqual(
      (await log.page(['revocations', 'offers'], small.next, 2)).entries.map((e) => e.seq),
      [3],
    )
  })

  it('survives a reopen with its epoch and positions; drops the oldest beyond its bound', async () => {
    const log = await open(3)
    for (let i = 1; i <= 5; i++) await log.append(message('revocations', i))
    assert.equal(log.size, 3)
    const page = await log.page(['revocations'], 0, 10)
    assert.deepEqual(
      page.entries.map((e) => e.seq),
      [3, 4, 5],
    )
    assert.equal(await log.has(message('revocations', 1).data), false, 'a dropped message is forgotten')
    await log.setCursor('peer-a', { epoch: log.epoch, after: 7 })
    const again = await open(3)
    assert.equal(again.epoch, log.epoch)
    assert.equal(again.last, 5)
    assert.equal(await again.append(message('revocations', 6)), 6)
    assert.deepEqual(await again.cursor('peer-a'), { epoch: log.epoch, after: 7 })
  })

  it('reads the entries older logs wrote (DAG-CBOR) beside its own, and names a damaged one', async () => {
    const db2 = db.sublevel('sync', { valueEncoding: 'view' }) as unknown as SyncDb
    const old = message('revocations', 1)
    // An entry exactly as the log wrote it before its own format (the one kept in data dirs made until then).
    await db2.put(
      'm!000000000000001',
      dagCbor.encode({
        topic: old.topic,
        data: old.data,
        id: old.record.id.toString(),
        type: old.record.type,
        at: 1234,
        via: 'gossip',
      }),
    )
    await db2.put(`h!${messageHash(old.data)}`, new TextEncoder().encode('1'))
    const log = await open()
    assert.equal(await log.append(old), null, 'an old entry still counts as kept')
    const fresh = message('offers', 2)
    assert.equal(await log.append(fresh), 2)
    const entries = (await log.page(['revocations', 'offers'], 0, 10)).entries
    assert.deepEqual(
      entries.map((e) => [
        e.seq,
        e.topic,
        e.id,
        e.type,
        e.via,
        Buffer.from(e.data).equals(Buffer.from(e === entries[0] ? old.data : fresh.data)),
      ]),
      [
        [1, 'revocations', old.record.id.toString(), 'consort/revocation', 'gossip', true],
        [2, 'offers', fresh.record.id.toString(), 'consort/revocation', 'gossip', true],
      ],
    )
    assert.equal(entries[0]!.at, 1234)
    assert.equal(entries[1]!.at, clock.now())
    // Every field survives its own encoding, whatever the topic and the way in.
    for (const topic of ['catalog', 'contracts', 'offers', 'revocations'] as const) {
      for (const via of ['gossip', 'sync', 'local'] as const) {
        const entry = { topic, via, data: fresh.data, id: 'bafy-id', type: 'consort/offer', at: 1_796_000_000_123 }
        assert.deepEqual(decodeEntry('m!000000000000009', encodeEntry(entry)), { seq: 9, ...entry })
      }
    }
    const damaged = encodeEntry({ topic: 'offers', via: 'local', data: fresh.data, id: 'x', type: 't', at: 1 })
    damaged[1] = 200
    assert.throws(() => decodeEntry('m!000000000000003', damaged), { name: 'SyncLogCorruptError' })
    assert.throws(() => decodeEntry('m!000000000000003', damaged.subarray(0, 5)), { name: 'SyncLogCorruptError' })
  })

  it('checks pull requests strictly', () => {
    const ok = { topics: ['offers'], epoch: null, after: 0, limit: 10 }
    assert.ok(pullRequest.safeParse(ok).success)
    for (const bad of [
      { ...ok, topics: ['usage'] },
      { ...ok, topics: [] },
      { ...ok, limit: 100_000 },
      { ...ok, epoch: 'nothex' },
      { ...ok, after: -1 },
      { ...ok, extra: 1 },
    ])
      assert.equal(pullRequest.safeParse(bad).success, false, JSON.stringify(bad))
  })
})
