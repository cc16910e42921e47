import assert from 'node:assert/strict'
import { MemoryLevel } from 'memory-level'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { signRecord } from '../../../protocols/records/envelope.ts'
import { pullRequest } from '../../../protocols/sync/codec.ts'
import { type SyncDb, SyncLog } from '../../../protocols/sync/log.ts'
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
