import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { dataDirPaths } from '../../../node/data-dir.ts'
import { initDataDir } from '../../../node/init.ts'
import { openStorage } from '../../../node/storage.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { createTestNetwork } from '../../helpers/network.ts'

/**
 * Issue 11, lower finding: a data dir that already existed kept its mode, so 0755 left `db/` (a player's licence
 * store, a registrar's escrowed keys), `blocks/` and `datastore/` readable by every local user. `init` and every
 * start make them private to their owner.
 */
describe('node: the data dir is private to its owner (issue 11)', () => {
  let base: string

  beforeEach(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'consort-modes-'))
  })

  afterEach(async () => {
    await rm(base, { recursive: true, force: true })
  })

  /** A data dir made by someone else's hand: every directory 0755. */
  async function openDir(): Promise<string> {
    const dir = path.join(base, 'node')
    const paths = dataDirPaths(dir)
    for (const d of [paths.root, paths.db, paths.blocks, paths.datastore, path.dirname(paths.keys)]) {
      await mkdir(d, { recursive: true })
      await chmod(d, 0o755)
    }
    return dir
  }

  const modes = async (dir: string) => {
    const paths = dataDirPaths(dir)
    const out: Record<string, string> = {}
    for (const [name, d] of Object.entries({
      root: paths.root,
      db: paths.db,
      blocks: paths.blocks,
      datastore: paths.datastore,
      keys: path.dirname(paths.keys),
    })) {
      out[name] = ((await stat(d)).mode & 0o777).toString(8)
    }
    return out
  }

  const PRIVATE = { root: '700', db: '700', blocks: '700', datastore: '700', keys: '700' }

  it('tightens an existing 0755 data dir at init', async () => {
    const dir = await openDir()
    const network = await createTestNetwork(new FakeClock())
    await initDataDir(dir, { network: network.record })
    assert.deepEqual(await modes(dir), PRIVATE)
  })

  it('tightens it again at every start (a directory loosened after init)', async () => {
    const dir = await openDir()
    const storage = await openStorage(dir)
    await storage.close()
    assert.deepEqual(await modes(dir), PRIVATE)
  })
})
