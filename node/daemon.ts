import { existsSync, unlinkSync } from 'node:fs'
import { logger } from '@libp2p/logger'
import { loadNodeKeys } from '../keys/keystore.ts'
import { type Clock, systemClock } from '../protocols/clock.ts'
import type { RoleName } from '../protocols/records/types/common.ts'
import { loadFileConfig } from './config.ts'
import { type ConsortNode, createConsortNode } from './consort-node.ts'
import { ControlApi, type ControlApiInfo } from './control-api.ts'
import { dataDirPaths } from './data-dir.ts'
import { DataDirNotInitialisedError } from './errors.ts'
import { readNetworkFile } from './network-file.ts'

const log = logger('consort:daemon')

export interface DaemonOverrides {
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  roles?: RoleName[]
  passphrase?: string
  clock?: Clock
}

export interface Daemon {
  node: ConsortNode
  api: ControlApiInfo
  stop(): Promise<void>
}

/** Start the node of an initialised data directory and its control API. */
export async function startDaemon(dataDir: string, overrides: DaemonOverrides = {}): Promise<Daemon> {
  const paths = dataDirPaths(dataDir)
  if (!existsSync(paths.config)) {
    throw new DataDirNotInitialisedError(
      `${dataDir} is not initialised (run: consort init --data-dir ${dataDir} --network FILE)`,
    )
  }
  const clock = overrides.clock ?? systemClock
  const config = loadFileConfig(paths.config)
  const network = readNetworkFile(paths.network, clock.now())
  const keys = await loadNodeKeys(paths.keys, overrides.passphrase != null ? { passphrase: overrides.passphrase } : {})
  const node = await createConsortNode({
    dataDir,
    network,
    keys,
    listen: overrides.listen ?? config.listen,
    announce: overrides.announce ?? config.announce,
    bootstrap: [...config.bootstrap, ...(overrides.bootstrap ?? [])],
    roles: overrides.roles ?? config.roles,
    roleOptions: config.roleOptions,
    dhtClientMode: config.dht.clientMode,
    clock,
  })
  const api = new ControlApi(node, { port: config.api.port })
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await api.stop().catch((err) => log.error('control API failed to stop: %e', err))
    await node.stop()
    try {
      unlinkSync(paths.api)
    } catch {
      // not written, or already removed
    }
  }
  try {
    await node.start()
    const info = await api.start()
    return { node, api: info, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
