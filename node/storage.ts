import { MemoryBlockstore } from 'blockstore-core'
import { LevelBlockstore } from 'blockstore-level'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import { dataDirPaths, secureDataDir } from './data-dir.ts'

/** The node's stores: LevelDB on disk, or memory for tests and simulations. */
export interface NodeStorage {
  /** Role state: one sublevel per role. */
  db: Level<string, Uint8Array>
  blockstore: Blockstore
  datastore: Datastore
  close(): Promise<void>
}

export async function openStorage(dataDir: string | null): Promise<NodeStorage> {
  if (dataDir == null) {
    const db = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
    await db.open()
    return {
      // memory-level implements the same abstract-level interface as the on-disk Level
      db: db as unknown as Level<string, Uint8Array>,
      blockstore: new MemoryBlockstore(),
      datastore: new MemoryDatastore(),
      close: () => db.close(),
    }
  }
  const paths = dataDirPaths(dataDir)
  await secureDataDir(dataDir)
  const db = new Level<string, Uint8Array>(paths.db, { valueEncoding: 'view' })
  await db.open()
  const blockstore = new LevelBlockstore(paths.blocks)
  const datastore = new LevelDatastore(paths.datastore)
  try {
    await blockstore.open()
    await datastore.open()
  } catch (err) {
    await db.close()
    throw err
  }
  return {
    db,
    blockstore,
    datastore,
    close: async () => {
      await Promise.allSettled([blockstore.close(), datastore.close()])
      await db.close()
    },
  }
}
