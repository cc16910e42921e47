import assert from 'node:assert/strict'
import { Key } from 'interface-datastore'
import { openStorage } from '../../../node/storage.ts'

describe('node: memory storage', () => {
  it('keeps its own copy of a datastore value, not the larger buffer the value was cut from', async () => {
    const storage = await openStorage(null)
    try {
      // What libp2p's peer store hands over: a small record cut from a large shared buffer (Node's Buffer pool).
      const slab = new Uint8Array(64 * 1024).fill(7)
      const record = slab.subarray(100, 300)
      await storage.datastore.put(new Key('/peers/a'), record)
      slab.fill(9)
      const stored = await storage.datastore.get(new Key('/peers/a'))
      assert.equal(stored.byteLength, 200)
      assert.equal(stored.buffer.byteLength, 200, 'the stored value keeps only its own bytes alive')
      assert.deepEqual(stored, new Uint8Array(200).fill(7), 'and what was put, not what the buffer became')
      const batch = storage.datastore.batch()
      batch.put(new Key('/peers/b'), slab.subarray(0, 10))
      await batch.commit()
      assert.equal((await storage.datastore.get(new Key('/peers/b'))).buffer.byteLength, 10)
    } finally {
      await storage.close()
    }
  })
})
