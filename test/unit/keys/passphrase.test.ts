import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WrongPassphraseError } from '../../../keys/errors.ts'
import { changeKeystorePassphrase, createNodeKeys, loadNodeKeys, saveNodeKeys } from '../../../keys/keystore.ts'
import { runConsort } from '../../helpers/cli.ts'

const FAST = { N: 2 ** 10, r: 8, p: 1 }

describe('keystore passphrase change', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), `consort-passphrase-${process.pid}-`))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('sets, changes and removes a passphrase, keeping the same keys', async () => {
    const file = join(dir, 'keys', 'node.key')
    const keys = await createNodeKeys()
    await saveNodeKeys(file, keys)
    await changeKeystorePassphrase(file, { newPassphrase: 'first', scrypt: FAST })
    await assert.rejects(loadNodeKeys(file), { name: 'PassphraseRequiredError' })
    await changeKeystorePassphrase(file, { passphrase: 'first', newPassphrase: 'second', scrypt: FAST })
    await assert.rejects(loadNodeKeys(file, { passphrase: 'first' }), WrongPassphraseError)
    const loaded = await loadNodeKeys(file, { passphrase: 'second' })
    assert.deepEqual(loaded.privateKey.raw, keys.privateKey.raw)
    assert.deepEqual(loaded.sealing.privateKey, keys.sealing.privateKey)
    await changeKeystorePassphrase(file, { passphrase: 'second' })
    assert.deepEqual((await loadNodeKeys(file)).privateKey.raw, keys.privateKey.raw)
  })

  it('changes nothing when the passphrase given is wrong', async () => {
    const file = join(dir, 'node.key')
    await saveNodeKeys(file, await createNodeKeys(), { passphrase: 'right', scrypt: FAST })
    const before = await readFile(file)
    await assert.rejects(
      changeKeystorePassphrase(file, { passphrase: 'wrong', newPassphrase: 'new', scrypt: FAST }),
      WrongPassphraseError,
    )
    assert.deepEqual(await readFile(file), before)
  })

  it('consort keys passphrase re-encrypts the node keystore of a data dir, and refuses a wrong or missing passphrase', async () => {
    const dataDir = join(dir, 'node')
    const keys = await createNodeKeys()
    await saveNodeKeys(join(dataDir, 'keys', 'node.key'), keys)
    const newFile = join(dir, 'new-passphrase')
    await writeFile(newFile, 'correct horse battery staple\n')
    const set = await runConsort([
      'keys',
      'passphrase',
      '--new-passphrase-file',
      newFile,
      '--data-dir',
      dataDir,
      '--json',
    ])
    assert.equal(set.code, 0, set.stderr)
    assert.equal(JSON.parse(set.stdout).encrypted, true)
    const loaded = await loadNodeKeys(join(dataDir, 'keys', 'node.key'), { passphrase: 'correct horse battery staple' })
    assert.deepEqual(loaded.privateKey.raw, keys.privateKey.raw)

    const wrongFile = join(dir, 'wrong')
    await writeFile(wrongFile, 'not it\n')
    const wrong = await runConsort([
      'keys',
      'passphrase',
      '--passphrase-file',
      wrongFile,
      '--remove',
      '--data-dir',
      dataDir,
    ])
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /passphrase/i)
    const both = await runConsort([
      'keys',
      'passphrase',
      '--remove',
      '--new-passphrase-file',
      newFile,
      '--data-dir',
      dataDir,
    ])
    assert.equal(both.code, 2)

    const removed = await runConsort([
      'keys',
      'passphrase',
      '--passphrase-file',
      newFile,
      '--remove',
      '--data-dir',
      dataDir,
    ])
    assert.equal(removed.code, 0, removed.stderr)
    assert.deepEqual((await loadNodeKeys(join(dataDir, 'keys', 'node.key'))).privateKey.raw, keys.privateKey.raw)
  })
})
