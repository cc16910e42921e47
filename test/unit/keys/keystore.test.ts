import assert from 'node:assert/strict'
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {
  createNodeKeys,
  ed25519Verify,
  loadNodeKeys,
  loadOrCreateNodeKeys,
  type NodeKeys,
  open,
  SeededRandom,
  saveNodeKeys,
  seal,
} from '../../../keys/index.ts'

/** Small scrypt cost so the suite stays fast; the defaults are exercised once. */
const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 }
const isPosix = process.platform !== 'win32'

function assertSameKeys(actual: NodeKeys, expected: NodeKeys): void {
  assert.deepEqual(actual.privateKey.raw, expected.privateKey.raw)
  assert.equal(actual.privateKey.publicKey.toString(), expected.privateKey.publicKey.toString())
  assert.deepEqual(actual.signer.publicKey, expected.signer.publicKey)
  assert.deepEqual(actual.sealing, expected.sealing)
}

/** The keystore file as these tests look at it (the module itself validates it strictly). */
interface KeystoreJson {
  type: string
  version: number
  peerId: string
  identity: { algorithm: string; publicKey: string }
  sealing: { algorithm: string; publicKey: string }
  secret: {
    encryption: string
    identitySeed?: string
    sealingPrivateKey?: string
    scrypt?: { N: number; r: number; p: number; salt: string }
    nonce?: string
    ciphertext?: string
  }
}

async function readJson(file: string): Promise<KeystoreJson> {
  return JSON.parse(await readFile(file, 'utf8'))
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(file, JSON.stringify(value), { mode: 0o600 })
}

describe('keys/keystore', () => {
  let dir: string
  let file: string
  let keys: NodeKeys

  before(async () => {
    keys = await createNodeKeys(new SeededRandom('keystore'))
  })

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'consort-keys-'))
    file = path.join(dir, 'node', 'keys.json')
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  describe('createNodeKeys', () => {
    it('gives identical keys from the same seed, different keys from another seed', async () => {
      assertSameKeys(await createNodeKeys(new SeededRandom('keystore')), keys)
      const other = await createNodeKeys(new SeededRandom('other'))
      assert.notDeepEqual(other.privateKey.raw, keys.privateKey.raw)
      assert.notDeepEqual(other.sealing.privateKey, keys.sealing.privateKey)
    })

    it('makes working keys: the signer signs for the libp2p identity, the sealing pair opens what is sealed to it', async () => {
      assert.equal(keys.privateKey.type, 'Ed25519')
      assert.deepEqual(keys.signer.publicKey, keys.privateKey.publicKey.raw)
      const message = new TextEncoder().encode('record')
      assert.equal(ed25519Verify(keys.privateKey.publicKey.raw, message, keys.signer.sign(message)), true)
      assert.deepEqual(open(keys.sealing, seal(keys.sealing.publicKey, message, 'test'), 'test'), message)
    })
  })

  describe('without a passphrase', () => {
    it('saves and loads the same keys; file 0600, new directory 0700, no temporary file left', async () => {
      await saveNodeKeys(file, keys)
      assertSameKeys(await loadNodeKeys(file), keys)
      if (isPosix) {
        assert.equal((await stat(file)).mode & 0o777, 0o600)
        assert.equal((await stat(path.dirname(file))).mode & 0o777, 0o700)
      }
      assert.deepEqual(await readdir(path.dirname(file)), ['keys.json'])
      const json = await readJson(file)
      assert.equal(json.type, 'consort/keystore')
      assert.equal(json.version, 1)
      assert.equal(json.peerId, keys.privateKey.publicKey.toString())
      assert.equal(json.secret.encryption, 'none')
    })

    it('replaces an existing file, or refuses to when exclusive', async () => {
      const other = await createNodeKeys(new SeededRandom('replacement'))
      await saveNodeKeys(file, keys)
      await saveNodeKeys(file, other)
      assertSameKeys(await loadNodeKeys(file), other)
      await assert.rejects(saveNodeKeys(file, keys, { exclusive: true }), { name: 'KeystoreExistsError' })
      assertSameKeys(await loadNodeKeys(file), other)
      assert.deepEqual(await readdir(path.dirname(file)), ['keys.json'])
    })

    it('refuses a passphrase for a file that is not encrypted', async () => {
      await saveNodeKeys(file, keys)
      await assert.rejects(loadNodeKeys(file, { passphrase: 'secret' }), { name: 'KeystoreNotEncryptedError' })
    })
  })

  describe('with a passphrase', () => {
    it('saves and loads the same keys, and the secrets are not in the file', async () => {
      await saveNodeKeys(file, keys, { passphrase: 'correct horse', scrypt: FAST_SCRYPT })
      assertSameKeys(await loadNodeKeys(file, { passphrase: 'correct horse' }), keys)
      const text = await readFile(file, 'utf8')
      const seedBase64 = Buffer.from(keys.privateKey.raw.subarray(0, 32)).toString('base64')
      assert.equal(text.includes(seedBase64), false)
      assert.equal(text.includes(Buffer.from(keys.sealing.privateKey).toString('base64')), false)
      const json = await readJson(file)
      assert.equal(json.secret.encryption, 'scrypt/aes-256-gcm')
      const { salt: _, ...params } = json.secret.scrypt ?? { salt: '' }
      assert.deepEqual(params, FAST_SCRYPT)
    })

    it('uses N = 2^15, r = 8, p = 1 by default (and it runs within the memory limit)', async () => {
      await saveNodeKeys(file, keys, { passphrase: 'default cost' })
      const json = await readJson(file)
      const { salt: _, ...params } = json.secret.scrypt ?? { salt: '' }
      assert.deepEqual(params, { N: 32768, r: 8, p: 1 })
      assertSameKeys(await loadNodeKeys(file, { passphrase: 'default cost' }), keys)
    })

    it('normalises the passphrase to NFC', async () => {
      await saveNodeKeys(file, keys, { passphrase: 'caf\u00e9', scrypt: FAST_SCRYPT })
      assertSameKeys(await loadNodeKeys(file, { passphrase: 'cafe\u0301' }), keys)
    })

    it('refuses a wrong passphrase, a missing one and an empty one', async () => {
      await saveNodeKeys(file, keys, { passphrase: 'correct horse', scrypt: FAST_SCRYPT })
      await assert.rejects(loadNodeKeys(file, { passphrase: 'wrong horse' }), {
        name: 'WrongPassphraseError',
        message: new RegExp(file.replaceAll('\\', '\\\\')),
      })
      await assert.rejects(loadNodeKeys(file), { name: 'PassphraseRequiredError' })
      await assert.rejects(loadNodeKeys(file, { passphrase: '' }), { name: 'InvalidKeystoreOptionsError' })
      await assert.rejects(saveNodeKeys(file, keys, { passphrase: '' }), { name: 'InvalidKeystoreOptionsError' })
    })

    it('binds the public part: swapping in another node public key is refused', async () => {
      const other = await createNodeKeys(new SeededRandom('other'))
      await saveNodeKeys(file, keys, { passphrase: 'pw', scrypt: FAST_SCRYPT })
      const json = await readJson(file)
      json.sealing.publicKey = Buffer.from(other.sealing.publicKey).toString('base64')
      await writeJson(file, json)
      await assert.rejects(loadNodeKeys(file, { passphrase: 'pw' }), { name: 'WrongPassphraseError' })
    })

    it('refuses scrypt parameters out of bounds, in options and in a file (without running scrypt)', async () => {
      await assert.rejects(saveNodeKeys(file, keys, { passphrase: 'pw', scrypt: { N: 1000 } }), {
        name: 'InvalidKeystoreOptionsError',
        message: /N = 1000 is not a power of two/,
      })
      await saveNodeKeys(file, keys, { passphrase: 'pw', scrypt: FAST_SCRYPT })
      const json = await readJson(file)
      assert.ok(json.secret.scrypt !== undefined)
      json.secret.scrypt.N = 2 ** 30
      await writeJson(file, json)
      await assert.rejects(loadNodeKeys(file, { passphrase: 'pw' }), {
        name: 'KeystoreCorruptError',
        message: /secret\.scrypt: N = 1073741824, r = 8 need \d+ bytes, more than the limit/,
      })
    })
  })

  describe('refusing bad files', () => {
    it('reports a missing file', async () => {
      await assert.rejects(loadNodeKeys(file), { name: 'KeystoreNotFoundError', message: /no keystore file at/ })
    })

    it('refuses a file readable by group or others', async function () {
      if (!isPosix) this.skip()
      await saveNodeKeys(file, keys)
      await chmod(file, 0o640)
      await assert.rejects(loadNodeKeys(file), { name: 'KeystorePermissionsError', message: /mode 640/ })
      await chmod(file, 0o604)
      await assert.rejects(loadNodeKeys(file), { name: 'KeystorePermissionsError', message: /mode 604/ })
    })

    const corruptions: Array<{ what: string; change: (json: KeystoreJson) => unknown; message: RegExp }> = [
      { what: 'not JSON', change: () => '{"type": "consort/keystore",', message: /not valid JSON/ },
      {
        what: 'another version',
        change: (j) => ({ ...j, version: 2 }),
        message: /version 2 is not supported: this build reads version 1/,
      },
      { what: 'another type', change: (j) => ({ ...j, type: 'x' }), message: /type: / },
      {
        what: 'a missing field',
        change: ({ peerId: _, ...rest }) => rest,
        message: /peerId: /,
      },
      { what: 'an extra field', change: (j) => ({ ...j, comment: 'hi' }), message: /comment|Unrecognized key/ },
      {
        what: 'an unknown encryption',
        change: (j) => ({ ...j, secret: { ...j.secret, encryption: 'rot13' } }),
        message: /secret\.encryption: /,
      },
      {
        what: 'a short seed',
        change: (j) => ({ ...j, secret: { ...j.secret, identitySeed: Buffer.alloc(31).toString('base64') } }),
        message: /secret\.identitySeed is 31 bytes, expected 32/,
      },
      {
        what: 'non-base64 bytes',
        change: (j) => ({ ...j, identity: { ...j.identity, publicKey: 'not base64!' } }),
        message: /identity\.publicKey: must be base64/,
      },
      {
        what: 'an identity public key from another node',
        change: (j) => ({ ...j, identity: { ...j.identity, publicKey: j.sealing.publicKey } }),
        message: /identity\.publicKey does not match the identity seed/,
      },
      {
        what: 'a sealing public key from another node',
        change: (j) => ({ ...j, sealing: { ...j.sealing, publicKey: j.identity.publicKey } }),
        message: /sealing\.publicKey does not match the sealing private key/,
      },
      {
        what: 'a wrong peer id',
        change: (j) => ({ ...j, peerId: '12D3KooWA' }),
        message: /peerId "12D3KooWA" does not match identity\.publicKey/,
      },
    ]
    for (const { what, change, message } of corruptions) {
      it(`refuses ${what} with KeystoreCorruptError naming what is wrong`, async () => {
        await saveNodeKeys(file, keys)
        const changed = change(await readJson(file))
        await writeFile(file, typeof changed === 'string' ? changed : JSON.stringify(changed), { mode: 0o600 })
        await assert.rejects(loadNodeKeys(file), (err: Error) => {
          assert.equal(err.name, 'KeystoreCorruptError')
          assert.match(err.message, message)
          assert.ok(err.message.includes(file))
          return true
        })
      })
    }

    it('refuses an oversized file before reading it', async () => {
      const big = path.join(dir, 'big.json')
      await writeFile(big, ' '.repeat(100_000), { mode: 0o600 })
      await assert.rejects(loadNodeKeys(big), {
        name: 'KeystoreCorruptError',
        message: /more than 65536/,
      })
    })
  })

  describe('loadOrCreateNodeKeys', () => {
    it('creates keys from its Random the first time and loads the same keys afterwards', async () => {
      const created = await loadOrCreateNodeKeys(file, { random: new SeededRandom('keystore') })
      assertSameKeys(created, keys)
      assertSameKeys(await loadOrCreateNodeKeys(file, { random: new SeededRandom('ignored') }), keys)
      if (isPosix) assert.equal((await stat(file)).mode & 0o777, 0o600)
    })

    it('creates an encrypted file when given a passphrase', async () => {
      const created = await loadOrCreateNodeKeys(file, { passphrase: 'pw', scrypt: FAST_SCRYPT })
      assert.equal((await readJson(file)).secret.encryption, 'scrypt/aes-256-gcm')
      assertSameKeys(await loadOrCreateNodeKeys(file, { passphrase: 'pw' }), created)
      await assert.rejects(loadOrCreateNodeKeys(file, { passphrase: 'nope' }), { name: 'WrongPassphraseError' })
    })

    it('gives every racing creator the same keys', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => loadOrCreateNodeKeys(file, { random: new SeededRandom(`racer ${i}`) })),
      )
      const onDisk = await loadNodeKeys(file)
      for (const result of results) assertSameKeys(result, onDisk)
      assert.deepEqual(await readdir(path.dirname(file)), ['keys.json'])
    })

    it('does not replace a file it cannot read', async () => {
      await saveNodeKeys(file, keys, { passphrase: 'pw', scrypt: FAST_SCRYPT })
      const before = await readFile(file, 'utf8')
      await assert.rejects(loadOrCreateNodeKeys(file), { name: 'PassphraseRequiredError' })
      assert.equal(await readFile(file, 'utf8'), before)
    })
  })
})
