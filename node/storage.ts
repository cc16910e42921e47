import type { AbortOptions } from '@libp2p/interface'
import { MemoryBlockstore } from 'blockstore-core'
import { LevelBlockstore } from 'blockstore-level'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore, Key } from 'interface-datastore'
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import type { RoleDb } from '../roles/role.ts'
import { dataDirPaths, secureDataDir } from './data-dir.ts'

/** One sublevel with string keys and byte values (what every part of the node keeps its state in). */
function sublevelOf(db: Level<string, Uint8Array> | MemoryLevel<string, Uint8Array>, name: string): RoleDb {
  // The root's own type parameters do not reach a sublevel's user: RoleDb is the sublevel without them.
  return (db as Level<string, Uint8Array>).sublevel(name, { valueEncoding: 'view' }) as unknown as RoleDb
}

/**
 * A memory datastore that keeps its own copy of every value, as a datastore on disk does. libp2p's peer store writes a
 * freshly encoded record at every change, a small slice of Node's shared Buffer pool (64 KiB slabs since Node 24.18);
 * kept as given, each record kept its whole slab alive: at the end of a 65-node market's seeding, 93 of the 189 MB of
 * ArrayBuffers in the process (decision 0813).
 */
export class OwnBytesMemoryDatastore extends MemoryDatastore {
  override put(key: Key, value: Uint8Array, options?: AbortOptions): Key {
    super.put(key, value.slice(), options)
    return key
  }
}

/** The node's stores: LevelDB on disk, or memory for tests and simulations. */
export interface NodeStorage {
  /** Role state: one sublevel per role. */
  db: Level<string, Uint8Array>
  /**
   * A sublevel of `db` by name, with string keys and byte values: `role-<name>` for a role's store, `node`,
   * `revocations`, `sync` for the node's own state.
   */
  sublevel(name: string): RoleDb
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
      sublevel: (name) => sublevelOf(db, name),
      blockstore: new MemoryBlockstore(),
      datastore: new OwnBytesMemoryDatastore(),
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
    sublevel: (name) => sublevelOf(db, name),
    blockstore,
    datastore,
    close: async () => {
      await Promise.allSettled([blockstore.close(), datastore.close()])
      await db.close()
    },
  }
}
