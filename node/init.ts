import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { loadOrCreateNodeKeys, type NodeKeys, saveNodeKeys } from '../keys/keystore.ts'
import type { SignedRecord } from '../protocols/records/envelope.ts'
import type { RoleName } from '../protocols/records/types/common.ts'
import { type FileConfig, parseFileConfig } from './config.ts'
import { dataDirPaths, secureDataDir, writeFileAtomic } from './data-dir.ts'
import { DataDirExistsError } from './errors.ts'
import { writeNetworkFile } from './network-file.ts'

export interface InitOptions {
  /** The network to join; without one, only keys and config are made (join later with `consort network join`). */
  network?: SignedRecord<'consort/network'>
  listen?: string[]
  /** Addresses other hosts should dial (see `config.announce`). */
  announce?: string[]
  nat?: FileConfig['nat']
  bootstrap?: string[]
  roles?: RoleName[]
  roleOptions?: FileConfig['roleOptions']
  apiPort?: number
  /** Use these keys instead of making new ones (the devnet makes them first to write the network record). */
  keys?: NodeKeys
  passphrase?: string
  /** Overwrite an existing config.json (keys are always kept). */
  force?: boolean
}

/**
 * Make a data directory ready for a daemon: keys (kept if present), the network record, and a config file.
 * Running it again on an initialised directory is refused unless `force`, and never replaces the keys.
 */
export async function initDataDir(dir: string, options: InitOptions): Promise<{ keys: NodeKeys; config: FileConfig }> {
  const paths = dataDirPaths(dir)
  if (existsSync(paths.config) && options.force !== true) {
    throw new DataDirExistsError(
      `${dir} is already initialised (config.json exists); use --force to rewrite its config`,
    )
  }
  // Checked before anything is written: a refused setting (a role option too) leaves the directory as it was.
  const config = parseFileConfig({
    version: 1,
    ...(options.listen != null ? { listen: options.listen } : {}),
    ...(options.announce != null ? { announce: options.announce } : {}),
    ...(options.nat != null ? { nat: options.nat } : {}),
    ...(options.bootstrap != null ? { bootstrap: options.bootstrap } : {}),
    ...(options.roles != null ? { roles: options.roles } : {}),
    ...(options.roleOptions != null ? { roleOptions: options.roleOptions } : {}),
    ...(options.apiPort != null ? { api: { port: options.apiPort } } : {}),
  })
  await secureDataDir(dir)
  let keys: NodeKeys
  if (options.keys != null && !existsSync(paths.keys)) {
    await mkdir(dataDirPaths(dir).root, { recursive: true })
    await saveNodeKeys(paths.keys, options.keys, options.passphrase != null ? { passphrase: options.passphrase } : {})
    keys = options.keys
  } else {
    keys = await loadOrCreateNodeKeys(paths.keys, options.passphrase != null ? { passphrase: options.passphrase } : {})
  }
  if (options.network != null) writeNetworkFile(paths.network, options.network)
  writeFileAtomic(paths.config, `${JSON.stringify(config, null, 2)}\n`)
  return { keys, config }
}
