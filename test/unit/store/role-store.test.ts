import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { MemoryLevel } from 'memory-level'
import { z } from 'zod'
import { isError } from '../../../protocols/errors.ts'
import type { RoleDb } from '../../../roles/role.ts'
import {
  codecs,
  defineLayout,
  RoleStore,
  repository,
  StoreLayoutError,
  StoreLayoutVersionError,
  StoreUsageError,
  StoreValueError,
} from '../../../roles/store.ts'

const context = { storedDecodeOptions: () => ({ network: 'storenet', now: Number.MAX_SAFE_INTEGER }) }

const item = z.strictObject({ name: z.string().min(1), count: z.number().int().nonnegative() })

const LAYOUT = defineLayout({
  role: 'catalog',
  version: 2,
  versionKey: 'meta/version',
  unversioned: 2,
  repositories: {
    items: repository('item/', codecs.cbor(item)),
    names: repository('name/', codecs.text),
    marks: repository('mark/', codecs.marker),
    counter: repository('meta/counter', codecs.decimal),
  },
  sublevels: ['ledger'],
  retired: [{ prefix: 'old/', note: 'items before version 2' }],
})

async function roleDb(): Promise<{ root: MemoryLevel<string, Uint8Array>; db: RoleDb }> {
  const root = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  await root.open()
  return { root, db: root.sublevel('role-catalog', { valueEncoding: 'view' }) as unknown as RoleDb }
}

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const value of iterable) out.push(value)
  return out
}

describe('the role store (roles/store.ts)', () => {
  describe('a layout', () => {
    it('refuses key spaces where one contains another, naming both', () => {
      assert.throws(
        () =>
          defineLayout({
            role: 'retailer',
            version: 1,
            versionKey: 'meta!version',
            repositories: { offers: repository('of!', codecs.bytes), offerIds: repository('of!id!', codecs.text) },
          }),
        (err: Error) =>
          isError(err, StoreLayoutError) &&
          /role retailer: repository offers \(of!\) and repository offerIds \(of!id!\) overlap/.test(err.message),
      )
      assert.throws(
        () =>
          defineLayout({
            role: 'delivery',
            version: 1,
            versionKey: 'seed/version',
            repositories: { seeds: repository('seed/', codecs.bytes) },
          }),
        /the version key \(seed\/version\) and repository seeds \(seed\/\) overlap/,
      )
      assert.throws(
        () =>
          defineLayout({
            role: 'delivery',
            version: 1,
            versionKey: 'v',
            repositories: { sneaky: repository('!roots!x', codecs.bytes) },
            sublevels: ['roots'],
          }),
        /repository sneaky \(!roots!x\) and sublevel roots \(!roots!\) overlap/,
      )
    })

    it('lets the version key lie in a declared sublevel whose part keeps its rows there', () => {
      const layout = defineLayout({
        role: 'clearinghouse',
        version: 1,
        versionKey: '!state!m/version',
        repositories: {},
        sublevels: ['state', 'ledger'],
      })
      assert.equal(layout.versionKey, '!state!m/version')
      assert.throws(
        () =>
          defineLayout({
            role: 'clearinghouse',
            version: 1,
            versionKey: '!state!m/version',
            repositories: { rows: repository('!state!r/', codecs.bytes) },
            sublevels: ['state'],
          }),
        /repository rows \(!state!r\/\) and sublevel state \(!state!\) overlap/,
      )
    })

    it('refuses a repository on a retired prefix, naming the prefix and what it held', () => {
      assert.throws(
        () =>
          defineLayout({
            role: 'catalog',
            version: 3,
            versionKey: 'meta/version',
            repositories: { items: repository('old/items/', codecs.bytes) },
            retired: [{ prefix: 'old/', note: 'items before version 2' }],
          }),
        (err: Error) =>
          isError(err, StoreLayoutError) &&
          /reuses the retired prefix old\/ \(items before version 2\)/.test(err.message),
      )
    })
  })

  describe('the layout version, checked at open', () => {
    it('is written on a fresh store, accepted again, and refused when another, naming role, found and expected', async () => {
      const { root, db } = await roleDb()
      await new RoleStore(db, LAYOUT, context).open()
      assert.equal(dagCbor.decode((await db.get('meta/version'))!), 2)
      await new RoleStore(db, LAYOUT, context).open()
      await db.put('meta/version', dagCbor.encode(3))
      await assert.rejects(new RoleStore(db, LAYOUT, context).open(), (err: Error) => {
        assert.ok(isError(err, StoreLayoutVersionError))
        assert.equal(err.role, 'catalog')
        assert.equal(err.found, 3)
        assert.equal(err.expected, 2)
        assert.match(err.message, /role catalog: the store has layout version 3, this code reads version 2/)
        return true
      })
      await root.close()
    })

    it('reads and writes the version in the codec the layout names (the player keeps decimal text)', async () => {
      const { root, db } = await roleDb()
      const decimal = defineLayout({
        ...LAYOUT,
        role: 'player',
        versionKey: 'meta!version',
        versionCodec: codecs.decimal,
      })
      await new RoleStore(db, decimal, context).open()
      assert.equal(new TextDecoder().decode(await db.get('meta!version')), '2')
      await db.put('meta!version', new TextEncoder().encode('1'))
      await assert.rejects(new RoleStore(db, decimal, context).open(), (err: Error) => {
        assert.ok(isError(err, StoreLayoutVersionError))
        assert.equal(err.found, 1)
        return true
      })
      await db.put('meta!version', new TextEncoder().encode('one'))
      await assert.rejects(
        new RoleStore(db, decimal, context).open(),
        (err: Error) =>
          isError(err, StoreValueError) && /key "meta!version": not a decimal text version/.test(err.message),
      )
      await root.close()
    })

    it('takes a store with data and no version as `unversioned`, and refuses it when that is not the current one', async () => {
      const { root, db } = await roleDb()
      await db.put('item/a', dagCbor.encode({ name: 'a', count: 1 }))
      await new RoleStore(db, LAYOUT, context).open()
      assert.equal(dagCbor.decode((await db.get('meta/version'))!), 2, 'recorded from now on')

      const { root: other, db: older } = await roleDb()
      await older.put('item/a', dagCbor.encode({ name: 'a', count: 1 }))
      const strict = defineLayout({ ...LAYOUT, unversioned: 1 })
      await assert.rejects(
        new RoleStore(older, strict, context).open(),
        /layout version 1 \(unversioned\), this code reads version 2/,
      )
      assert.equal(await older.get('meta/version'), undefined, 'a refused store is left as it was')
      await Promise.all([root.close(), other.close()])
    })
  })

  describe('migrations', () => {
    // Layout 1 kept items as text under old/; layout 2 keeps them as DAG-CBOR under item/, and retires old/.
    const migrate = (fail = false) =>
      defineLayout({
        role: 'catalog',
        version: 2,
        versionKey: 'meta/version',
        repositories: { items: repository('item/', codecs.cbor(item)) },
        retired: [{ prefix: 'old/', note: 'items as text, layout 1' }],
        migrations: [
          {
            from: 1,
            note: 'items from text under old/ to DAG-CBOR under item/',
            async migrate(step) {
              for await (const [key, bytes] of step.raw('old/')) {
                step.batch.put(step.repositories.items, key.slice('old/'.length), {
                  name: new TextDecoder().decode(bytes),
                  count: 0,
                })
                step.batch.dropKey(key)
              }
              if (fail) throw new Error('the disk is full')
            },
          },
        ],
      })

    async function layoutOne() {
      const { root, db } = await roleDb()
      await db.put('meta/version', dagCbor.encode(1))
      await db.put('old/apple', new TextEncoder().encode('Apple'))
      await db.put('old/pear', new TextEncoder().encode('Pear'))
      return { root, db }
    }

    it('takes an older store to the current layout, its changes and its new version in one batch', async () => {
      const { root, db } = await layoutOne()
      const store = new RoleStore(db, migrate(), context)
      await store.open()
      assert.deepEqual(await all(store.repositories.items.entries()), [
        ['apple', { name: 'Apple', count: 0 }],
        ['pear', { name: 'Pear', count: 0 }],
      ])
      assert.equal(await db.get('old/apple'), undefined, 'the retired prefix is empty')
      assert.equal(dagCbor.decode((await db.get('meta/version'))!), 2)
      await new RoleStore(db, migrate(), context).open()
      await root.close()
    })

    it('leaves the store as it was when a step fails, and refuses a version no migration leads from', async () => {
      const { root, db } = await layoutOne()
      await assert.rejects(new RoleStore(db, migrate(true), context).open(), /the disk is full/)
      assert.equal(dagCbor.decode((await db.get('meta/version'))!), 1)
      assert.equal(new TextDecoder().decode(await db.get('old/apple')), 'Apple')
      assert.equal(await db.get('item/apple'), undefined)
      const three = defineLayout({ ...migrate(), version: 3, migrations: [] })
      await assert.rejects(new RoleStore(db, three, context).open(), (err: Error) => {
        assert.ok(isError(err, StoreLayoutVersionError))
        assert.equal(err.found, 1)
        assert.equal(err.expected, 3)
        return true
      })
      assert.throws(
        () =>
          defineLayout({
            ...migrate(),
            migrations: [...(migrate().migrations ?? []), ...(migrate().migrations ?? [])],
          }),
        /migrations from 1, 1: each from a version below 2, once/,
      )
      await root.close()
    })
  })

  describe('repositories', () => {
    let root: MemoryLevel<string, Uint8Array>
    let db: RoleDb
    let store: RoleStore<(typeof LAYOUT)['repositories'], 'ledger'>

    beforeEach(async () => {
      ;({ root, db } = await roleDb())
      store = new RoleStore(db, LAYOUT, context)
      await store.open()
    })

    afterEach(() => root.close())

    it('keep each value under its prefix, in the encoding the layout names', async () => {
      const { items, names, marks, counter } = store.repositories
      await items.put('a', { name: 'first', count: 1 })
      await names.put('a', 'first')
      await marks.put('a', true)
      await counter.put('', 7)
      assert.deepEqual(dagCbor.decode((await db.get('item/a'))!), { name: 'first', count: 1 })
      assert.equal(new TextDecoder().decode(await db.get('name/a')), 'first')
      assert.equal((await db.get('mark/a'))!.length, 0)
      assert.equal(new TextDecoder().decode(await db.get('meta/counter')), '7')
      assert.deepEqual(await items.get('a'), { name: 'first', count: 1 })
      assert.equal(await counter.get(''), 7)
      assert.equal(await marks.has('a'), true)
      assert.equal(await marks.has('b'), false)
      assert.deepEqual(await names.getMany(['a', 'b']), ['first', undefined])
      await marks.del('a')
      assert.equal(await marks.has('a'), false)
    })

    it('refuse a value their codec does not accept before writing, naming role, repository and key', async () => {
      await assert.rejects(store.repositories.items.put('x', { name: '', count: 1 }), (err: Error) => {
        assert.ok(isError(err, StoreValueError))
        assert.equal(err.repository, 'items')
        assert.equal(err.key, 'x')
        assert.match(err.message, /role catalog, repository items, key "x": refused before writing \(name: /)
        return true
      })
      await assert.rejects(store.repositories.counter.put('', -1), /repository counter, key "": refused before writing/)
      assert.equal(await db.get('item/x'), undefined)
    })

    it('report a bad value on disk by role, repository and key, on get and on a walk, or skip it when asked', async () => {
      await db.put('item/good', dagCbor.encode({ name: 'good', count: 1 }))
      await db.put('item/wrong', dagCbor.encode({ name: 'wrong', count: -1 }))
      await db.put('item/torn', new Uint8Array([0xa2, 0x61]))
      await assert.rejects(store.repositories.items.get('wrong'), (err: Error) => {
        assert.ok(isError(err, StoreValueError))
        assert.match(err.message, /role catalog, repository items, key "wrong": not a valid dag-cbor value \(count: /)
        return true
      })
      await assert.rejects(
        store.repositories.items.get('torn'),
        /repository items, key "torn": not a valid dag-cbor value/,
      )
      // Handing bytes on to a peer that checks them: as stored, undecoded.
      assert.deepEqual([...((await store.repositories.items.getBytes('torn')) ?? [])], [0xa2, 0x61])
      await assert.rejects(all(store.repositories.items.entries()), /key "torn"/)
      const bad: string[] = []
      const good = await all(store.repositories.items.entries({ onBadValue: (err) => bad.push(err.key) }))
      assert.deepEqual(good, [['good', { name: 'good', count: 1 }]])
      assert.deepEqual(bad.sort(), ['torn', 'wrong'])
      await db.put('mark/x', new Uint8Array([1]))
      await assert.rejects(
        store.repositories.marks.get('x'),
        /repository marks, key "x": not a valid empty marker value/,
      )
      await db.put('meta/counter', new TextEncoder().encode('12abc'))
      await assert.rejects(store.repositories.counter.get(''), /repository counter/)
    })

    it('walk their own keys only, relative to the prefix, with bounds, limit and order', async () => {
      for (const key of ['a', 'b', 'c', 'd']) await store.repositories.names.put(key, key.toUpperCase())
      // Neighbours that a sloppy range would reach: a prefix one character longer, and the next prefix.
      await db.put('name', new TextEncoder().encode('not mine'))
      await db.put('name0', new TextEncoder().encode('not mine'))
      await store.repositories.marks.put('a', true)
      const { names } = store.repositories
      assert.deepEqual(await all(names.keys()), ['a', 'b', 'c', 'd'])
      assert.deepEqual(await all(names.keys({ gt: 'a', lt: 'd' })), ['b', 'c'])
      assert.deepEqual(await all(names.keys({ gte: 'b', lte: 'c' })), ['b', 'c'])
      assert.deepEqual(await all(names.values({ reverse: true, limit: 2 })), ['D', 'C'])
      assert.deepEqual(await all(names.entries({ gt: 'c' })), [['d', 'D']])
      assert.equal(await names.count(), 4)
      assert.equal(await names.count(3), 3)
    })

    it('write a batch across repositories at once, or nothing when one value is refused', async () => {
      const { items, names, marks } = store.repositories
      await marks.put('old', true)
      await store
        .batch()
        .put(items, 'a', { name: 'a', count: 1 })
        .put(names, 'a', 'a')
        .del(marks, 'old')
        .write({ sync: true })
      assert.deepEqual(await items.get('a'), { name: 'a', count: 1 })
      assert.equal(await names.get('a'), 'a')
      assert.equal(await marks.has('old'), false)

      const batch = store.batch().put(names, 'b', 'b')
      assert.throws(() => batch.put(items, 'b', { name: 'b', count: 0.5 }), StoreValueError)
      assert.equal(batch.size, 1)
      // The caller gives up on a batch it could not build: nothing of it was written.
      assert.equal(await names.get('b'), undefined)
    })

    it('refuse a batch of another role store, and a sublevel the layout does not name', async () => {
      const { root: otherRoot, db: otherDb } = await roleDb()
      const other = new RoleStore(otherDb, LAYOUT, context)
      assert.throws(() => store.batch().put(other.repositories.names, 'x', 'x'), StoreUsageError)
      assert.throws(() => store.sublevel('roots' as 'ledger'), /no sublevel roots in its layout/)
      const ledger = store.sublevel('ledger')
      await ledger.put('k', new Uint8Array([1]))
      assert.deepEqual([...((await db.get('!ledger!k')) ?? [])], [1])
      await otherRoot.close()
    })
  })
})
