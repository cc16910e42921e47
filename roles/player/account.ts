import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { KeystoreNotFoundError } from '../../keys/errors.ts'
import {
  type LoadNodeKeysOptions,
  loadNodeKeys,
  loadOrCreateNodeKeys,
  type NodeKeys,
  type SaveNodeKeysOptions,
  saveNodeKeys,
} from '../../keys/keystore.ts'
import type { Random } from '../../keys/random.ts'
import { isError } from '../../protocols/errors.ts'
import {
  ACCOUNT_EXPORT_TYPE,
  ACCOUNT_EXPORT_VERSION,
  MAX_ACCOUNT_EXPORT_BYTES,
  MAX_EXPORTED_PURCHASES,
} from './constants.ts'
import { AccountExistsError, AccountKeyError } from './errors.ts'

/**
 * The consumer account key. It lives beside the node key, in the node's keystore format (`keys/README.md`):
 * `<data dir>/keys/account.key`, mode 0600. The account key signs purchase orders and device registrations and
 * reads the wallet; the node key is the device. One account may hold several devices (the network's device
 * limit): `exportAccount` writes the account key, passphrase-protected, with the ids of its purchases, and
 * `importAccount` puts it on another device, which then registers itself and asks for its own licences.
 */

/** Where the account key of a data dir lives. */
export function accountKeyPath(dataDir: string): string {
  return path.join(dataDir, 'keys', 'account.key')
}

/** The account key of a data dir, created on first use (unencrypted, mode 0600, like the node key by default). */
export async function loadOrCreateAccountKeys(
  dataDir: string,
  options: { passphrase?: string; random?: Random } = {},
): Promise<NodeKeys> {
  return await loadOrCreateNodeKeys(accountKeyPath(dataDir), {
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
    ...(options.random !== undefined ? { random: options.random } : {}),
  })
}

/** The account key of a data dir, or null when it has none yet. */
export async function loadAccountKeys(dataDir: string, options: LoadNodeKeysOptions = {}): Promise<NodeKeys | null> {
  try {
    return await loadNodeKeys(accountKeyPath(dataDir), options)
  } catch (err) {
    if (isError(err, KeystoreNotFoundError)) return null
    throw err
  }
}

const exportSchema = z
  .object({
    type: z.literal(ACCOUNT_EXPORT_TYPE),
    version: z.literal(ACCOUNT_EXPORT_VERSION),
    /** The account key as an encrypted keystore file (`keys/README.md`). */
    keystore: z.record(z.string(), z.unknown()),
    /** Purchases made with this account, so that another device can ask for its own licences. */
    purchases: z.array(z.string().min(1).max(128)).max(MAX_EXPORTED_PURCHASES),
  })
  .strict()

/** Runs `fn` with a private temporary directory that is removed afterwards. */
async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'consort-account-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export interface ExportAccountOptions {
  passphrase: string
  purchases: readonly string[]
  scrypt?: SaveNodeKeysOptions['scrypt']
  random?: Random
}

/**
 * Write `keys` to `file` as an account export: the keystore encrypted with `passphrase` (scrypt + AES-256-GCM)
 * and the purchase ids, mode 0600. Refuses to overwrite an existing file.
 */
export async function exportAccount(file: string, keys: NodeKeys, options: ExportAccountOptions): Promise<void> {
  if (options.passphrase.length === 0) throw new AccountKeyError('an account export needs a non-empty passphrase')
  const keystore = await withTempDir(async (dir) => {
    const tmp = path.join(dir, 'account.key')
    await saveNodeKeys(tmp, keys, {
      passphrase: options.passphrase,
      ...(options.scrypt !== undefined ? { scrypt: options.scrypt } : {}),
      ...(options.random !== undefined ? { random: options.random } : {}),
    })
    return JSON.parse(await readFile(tmp, 'utf8')) as Record<string, unknown>
  })
  const purchases = [...new Set(options.purchases)].slice(0, MAX_EXPORTED_PURCHASES)
  const bundle = { type: ACCOUNT_EXPORT_TYPE, version: ACCOUNT_EXPORT_VERSION, keystore, purchases }
  try {
    await writeFile(file, `${JSON.stringify(bundle, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AccountKeyError(`${file} already exists`)
    throw err
  }
  await chmod(file, 0o600)
}

/** Read an account export: the account key (decrypted with `passphrase`) and its purchase ids. */
export async function readAccountExport(
  file: string,
  passphrase: string,
): Promise<{ keys: NodeKeys; purchases: string[] }> {
  let size: number
  try {
    size = (await stat(file)).size
  } catch (err) {
    throw new AccountKeyError(`cannot read ${file}: ${(err as Error).message}`)
  }
  if (size > MAX_ACCOUNT_EXPORT_BYTES) {
    throw new AccountKeyError(`${file} is ${size} bytes: not an account export (at most ${MAX_ACCOUNT_EXPORT_BYTES})`)
  }
  let json: unknown
  try {
    json = JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    throw new AccountKeyError(`${file} is not an account export: ${(err as Error).message}`)
  }
  const parsed = exportSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new AccountKeyError(`${file}: ${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}`)
  }
  const keys = await withTempDir(async (dir) => {
    const tmp = path.join(dir, 'account.key')
    await writeFile(tmp, JSON.stringify(parsed.data.keystore), { mode: 0o600 })
    return await loadNodeKeys(tmp, { passphrase })
  })
  return { keys, purchases: parsed.data.purchases }
}

/**
 * Put the account of an export on this data dir. Refuses when the data dir already has a different account key
 * (unless `replace`): its licences are bound to that account. Importing the same account again is harmless.
 */
export async function importAccount(
  dataDir: string,
  file: string,
  passphrase: string,
  options: { replace?: boolean } = {},
): Promise<{ keys: NodeKeys; purchases: string[]; replaced: boolean }> {
  const { keys, purchases } = await readAccountExport(file, passphrase)
  const existing = await loadAccountKeys(dataDir)
  const same = existing !== null && Buffer.compare(existing.signer.publicKey, keys.signer.publicKey) === 0
  if (existing !== null && !same && options.replace !== true) {
    throw new AccountExistsError(
      `${accountKeyPath(dataDir)} holds another account; import with --replace to switch this device to the new one`,
    )
  }
  if (!same) await saveNodeKeys(accountKeyPath(dataDir), keys)
  return { keys, purchases, replaced: existing !== null && !same }
}
