import assert from 'node:assert/strict'
import fc from 'fast-check'
import { MemoryLevel } from 'memory-level'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { SeededRandom } from '../../../keys/random.ts'
import { isError } from '../../../protocols/errors.ts'
import { StoreTamperedError } from '../../../roles/player/errors.ts'
import { entryKey, TamperEvidentLog } from '../../../roles/player/log.ts'
import { PLAYER_LAYOUT } from '../../../roles/player/store.ts'
import type { RoleDb } from '../../../roles/role.ts'
import { RoleStore, storeContext } from '../../../roles/store.ts'

/** The player's store over `db` (the log's entries and head; the test edits `db` behind its back). */
const storeOf = (db: RoleDb) => new RoleStore(db, PLAYER_LAYOUT, storeContext({ name: 'lognet' }))

function newDb(): { root: MemoryLevel<string, Uint8Array>; db: RoleDb } {
  const root = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  const db = root.sublevel('role-player', { valueEncoding: 'view' }) as unknown as RoleDb
  return { root, db }
}

async function filled(keys: NodeKeys, count: number): Promise<{ db: RoleDb; log: TamperEvidentLog }> {
  const { db } = newDb()
  const log = new TamperEvidentLog({ store: storeOf(db), signer: keys.signer })
  await log.open()
  for (let i = 0; i < count; i++) await log.append([{ kind: 'use', data: { n: i, what: `entry ${i}` } }], 1000 + i)
  return { db, log }
}

async function refusal(log: TamperEvidentLog): Promise<StoreTamperedError> {
  try {
    await log.open()
  } catch (err) {
    assert.ok(isError(err, StoreTamperedError), `expected StoreTamperedError, got ${(err as Error).name}`)
    return err
  }
  assert.fail('the altered store was accepted')
}

describe('player: the tamper-evident log', () => {
  let keys: NodeKeys
  before(async () => {
    keys = await createNodeKeys(new SeededRandom('player-log'))
  })

  it('stores entries in a hash chain and reads them back after a restart', async () => {
    const { db } = await filled(keys, 5)
    const reopened = new TamperEvidentLog({ store: storeOf(db), signer: keys.signer })
    const entries = await reopened.open()
    assert.equal(entries.length, 5)
    assert.deepEqual(
      entries.map((e) => e.seq),
      [0, 1, 2, 3, 4],
    )
    assert.equal(entries[0]!.prev, null)
    for (let i = 1; i < entries.length; i++) assert.deepEqual(entries[i]!.prev, entries[i - 1]!.hash)
    assert.deepEqual(entries[3]!.data, { n: 3, what: 'entry 3' })
    assert.equal(entries[3]!.at, 1003)
    assert.equal(reopened.nextSeq, 5)
  })

  it('detects any changed byte of any entry (property)', async () => {
    const { db } = await filled(keys, 4)
    const originals: Uint8Array[] = []
    for (let seq = 0; seq < 4; seq++) originals.push((await db.get(entryKey(seq)))!)
    await fc.assert(
      fc.asyncProperty(fc.nat(3), fc.nat(10_000), fc.integer({ min: 1, max: 255 }), async (seq, at, xor) => {
        const original = originals[seq]!
        const altered = Uint8Array.from(original)
        const index = at % altered.length
        altered[index]! ^= xor
        await db.put(entryKey(seq), altered)
        try {
          await refusal(new TamperEvidentLog({ store: storeOf(db), signer: keys.signer }))
        } finally {
          await db.put(entryKey(seq), original)
        }
      }),
      { numRuns: 200 },
    )
    // and the untouched store still opens
    assert.equal((await new TamperEvidentLog({ store: storeOf(db), signer: keys.signer }).open()).length, 4)
  })

  it('detects a deleted entry: first, middle or last', async () => {
    for (const seq of [0, 2, 4]) {
      const { db } = await filled(keys, 5)
      await db.del(entryKey(seq))
      const err = await refusal(new TamperEvidentLog({ store: storeOf(db), signer: keys.signer }))
      assert.match(err.message, /missing|head|precedes|first/)
    }
  })

  it('detects reordered entries and a deleted head', async () => {
    const { db } = await filled(keys, 4)
    const one = (await db.get(entryKey(1)))!
    const two = (await db.get(entryKey(2)))!
    await db.put(entryKey(1), two)
    await db.put(entryKey(2), one)
    await refusal(new TamperEvidentLog({ store: storeOf(db), signer: keys.signer }))
    await db.put(entryKey(1), one)
    await db.put(entryKey(2), two)
    await db.del('meta!head')
    const err = await refusal(new TamperEvidentLog({ store: storeOf(db), signer: keys.signer }))
    assert.match(err.message, /head is missing/)
  })

  it('refuses entries signed by another key', async () => {
    const { db } = await filled(keys, 2)
    const other = await createNodeKeys(new SeededRandom('someone-else'))
    await refusal(new TamperEvidentLog({ store: storeOf(db), signer: other.signer }))
  })

  it('refuses an entry appended by rewriting the head with another key (forgery)', async () => {
    const { db, log } = await filled(keys, 2)
    const other = await createNodeKeys(new SeededRandom('forger'))
    const { db: scratch } = newDb()
    const forger = new TamperEvidentLog({ store: storeOf(scratch), signer: other.signer })
    await forger.open()
    await forger.append(
      [
        { kind: 'use', data: 1 },
        { kind: 'use', data: 2 },
        { kind: 'use', data: 3 },
      ],
      1,
    )
    await db.put(entryKey(2), (await scratch.get(entryKey(2)))!)
    await db.put('meta!head', (await scratch.get('meta!head'))!)
    await refusal(new TamperEvidentLog({ store: storeOf(db), signer: keys.signer }))
    assert.equal(log.size, 2)
  })

  it('verifyUnchanged notices an edit made while the log is open', async () => {
    const { db, log } = await filled(keys, 3)
    await log.verifyUnchanged()
    const bytes = Uint8Array.from((await db.get(entryKey(1)))!)
    bytes[bytes.length - 1]! ^= 1
    await db.put(entryKey(1), bytes)
    await assert.rejects(log.verifyUnchanged(), StoreTamperedError)
  })

  it('verifyUnchanged notices a deleted or an added entry', async () => {
    const { db, log } = await filled(keys, 3)
    const last = (await db.get(entryKey(2)))!
    await db.del(entryKey(2))
    await assert.rejects(log.verifyUnchanged(), /missing/)
    await db.put(entryKey(2), last)
    await log.verifyUnchanged()
    await db.put(entryKey(3), last)
    await assert.rejects(log.verifyUnchanged(), StoreTamperedError)
  })

  it('compacts into a snapshot; deleting the snapshot is detected', async () => {
    const { db, log } = await filled(keys, 6)
    const snapshot = await log.compact({ kind: 'snapshot', data: { state: 'all of it' } }, 2000)
    assert.equal(snapshot.seq, 6)
    assert.equal(log.base, 6)
    await log.append([{ kind: 'use', data: { after: true } }], 2001)
    const reopened = new TamperEvidentLog({ store: storeOf(db), signer: keys.signer })
    const entries = await reopened.open()
    assert.deepEqual(
      entries.map((e) => [e.seq, e.kind]),
      [
        [6, 'snapshot'],
        [7, 'use'],
      ],
    )
    await db.del(entryKey(6))
    await refusal(new TamperEvidentLog({ store: storeOf(db), signer: keys.signer }))
  })

  it('salvages every entry that still carries the device signature', async () => {
    const { db, log } = await filled(keys, 5)
    const bytes = Uint8Array.from((await db.get(entryKey(2)))!)
    bytes[bytes.length - 3]! ^= 0x40
    await db.put(entryKey(2), bytes)
    await db.del(entryKey(3))
    const { entries, unreadable } = await log.salvage()
    assert.equal(unreadable, 1)
    assert.deepEqual(
      entries.map((e) => [e.seq, e.chained]),
      [
        [0, true],
        [1, true],
        [4, false],
      ],
    )
  })

  it('reset starts a fresh chain that verifies', async () => {
    const { db, log } = await filled(keys, 3)
    await db.del(entryKey(1))
    await log.reset(
      [
        { kind: 'genesis', data: 'again' },
        { kind: 'snapshot', data: { x: 1 } },
      ],
      3000,
    )
    const entries = await new TamperEvidentLog({ store: storeOf(db), signer: keys.signer }).open()
    assert.deepEqual(
      entries.map((e) => e.kind),
      ['genesis', 'snapshot'],
    )
  })
})
