import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import { del, putBytes, type StateLevel, StateStore } from '../../../roles/clearinghouse/store.ts'

describe('clearinghouse state store', () => {
  for (const kind of ['memory', 'LevelDB'] as const) {
    it(`writes through the root the keys its sublevel reads (${kind}, nested sublevels)`, async () => {
      const dir = kind === 'LevelDB' ? await mkdtemp(join(tmpdir(), `consort-state-store-${process.pid}-`)) : ''
      const root = (
        kind === 'LevelDB'
          ? new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
          : new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
      ) as Level<string, Uint8Array>
      await root.open()
      try {
        const role = root.sublevel<string, Uint8Array>('role-clearinghouse', { valueEncoding: 'view' })
        const state = role.sublevel('state', { valueEncoding: 'view' }) as unknown as StateLevel
        const other = role.sublevel<string, Uint8Array>('ledger', { valueEncoding: 'view' })
        const store = new StateStore(state, kind === 'LevelDB')
        await other.put('d/1', Uint8Array.of(9))
        await store.write([
          putBytes('d/1', Uint8Array.of(1)),
          putBytes('d/2', Uint8Array.of(2)),
          putBytes('e/x', Uint8Array.of(3)),
        ])
        await store.write([del('d/2')], { sync: true })
        assert.deepEqual([...((await store.raw('d/1')) ?? [])], [1])
        assert.equal(await store.raw('d/2'), undefined)
        const listed: string[] = []
        for await (const [key] of store.entries('d/')) listed.push(key)
        assert.deepEqual(listed, ['d/1'])
        assert.deepEqual([...((await state.get('e/x', { valueEncoding: 'view' } as never)) as Uint8Array)], [3])
        assert.deepEqual([...((await other.get('d/1')) ?? [])], [9], 'a sibling sublevel is untouched')
        const all: string[] = []
        for await (const key of root.keys()) all.push(key)
        assert.deepEqual(all.sort(), [
          '!role-clearinghouse!!ledger!d/1',
          '!role-clearinghouse!!state!d/1',
          '!role-clearinghouse!!state!e/x',
        ])
      } finally {
        await root.close()
        if (dir !== '') await rm(dir, { recursive: true, force: true })
      }
    })
  }
})
