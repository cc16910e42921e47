import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { loadFileConfig, parseFileConfig } from '../../../node/config.ts'
import { dataDirPaths } from '../../../node/data-dir.ts'
import { ConfigError } from '../../../node/errors.ts'
import { initDataDir } from '../../../node/init.ts'
import { isError } from '../../../protocols/errors.ts'
import { runConsort } from '../../helpers/cli.ts'

describe('role options are checked when the configuration is made or read', function () {
  this.timeout(60_000)
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), `consort-role-options-${process.pid}-`))
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('init refuses a bad role option by its field and writes no configuration', async () => {
    await assert.rejects(
      initDataDir(dir, { roles: ['retailer'], roleOptions: { retailer: { storefront: { port: 70_000 } } } }),
      (err: Error) => {
        assert.ok(isError(err, ConfigError))
        assert.equal(err.field, 'config.roleOptions.retailer.storefront.port')
        assert.match(err.message, /expected a port number/)
        return true
      },
    )
    assert.equal(existsSync(dataDirPaths(dir).config), false)
    assert.equal(existsSync(dataDirPaths(dir).keys), false, 'no keys made for a configuration refused')
    await assert.rejects(
      initDataDir(dir, { roleOptions: { delivery: { seedConcurrency: 0 } } }),
      (err: Error) => isError(err, ConfigError) && err.field === 'config.roleOptions.delivery.seedConcurrency',
    )
    await assert.rejects(
      initDataDir(dir, { roleOptions: { catalog: { catchUpp: true } } }),
      (err: Error) => isError(err, ConfigError) && err.field === 'config.roleOptions.catalog.catchUpp',
    )
  })

  it('accepts good role options, and a daemon reading a hand-edited file gets the same refusal, naming the file', async () => {
    const config = parseFileConfig({
      version: 1,
      roleOptions: { retailer: { storefront: { port: 8080, name: 'Shop' } }, catalog: { catchUp: false } },
    })
    assert.deepEqual(config.roleOptions.catalog, { catchUp: false })
    const file = path.join(dir, 'config.json')
    await writeFile(file, JSON.stringify({ version: 1, roleOptions: { reference: { recheckPage: 'many' } } }))
    assert.throws(
      () => loadFileConfig(file),
      (err: Error) => {
        assert.ok(isError(err, ConfigError))
        assert.equal(err.field, `${file}.roleOptions.reference.recheckPage`)
        return true
      },
    )
  })

  it('consort init fails on a storefront URL the retailer would refuse at start, naming the field', async () => {
    // The CLI's own check takes any URL; the storefront refuses whitespace in it. Before, init wrote the config and
    // the daemon failed at start.
    const result = await runConsort(['init', '--data-dir', dir, '--storefront-url', 'https://shop.example/a b'])
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /roleOptions\.retailer\.storefront\.publicUrl/)
    assert.equal(existsSync(dataDirPaths(dir).config), false)
  })
})
