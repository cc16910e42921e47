import { existsSync, unlinkSync } from 'node:fs'
import { logger } from '@libp2p/logger'
import { loadNodeKeys } from '../keys/keystore.ts'
import { type Clock, systemClock } from '../protocols/clock.ts'
import { networkContext } from '../protocols/network.ts'
import type { RoleName } from '../protocols/records/types/common.ts'
import { loadFileConfig } from './config.ts'
import { type ConsortNode, createConsortNode } from './consort-node.ts'
import { ControlApi, type ControlApiInfo } from './control-api.ts'
import { DataDirLock, dataDirPaths } from './data-dir.ts'
import { DataDirNotInitialisedError } from './errors.ts'
import { adoptRotatedCert, switchToRotatedKey } from './key-rotation.ts'
import { NodeMetrics } from './metrics.ts'
import { MetricsServer } from './metrics-server.ts'
import { readNetworkFile } from './network-file.ts'

const log = logger('consort:daemon')

export interface DaemonOverrides {
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  roles?: RoleName[]
  passphrase?: string
  clock?: Clock
  /** Serve Prometheus metrics here (replaces `metrics` in config.json), or `false` for none. */
  metrics?: { host: string; port: number } | false
}

export interface Daemon {
  node: ConsortNode
  api: ControlApiInfo
  /** The Prometheus endpoint's URL, or null when metrics are off. */
  metrics: string | null
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
  const metricsAt =
    overrides.metrics !== undefined
      ? overrides.metrics
      : config.metrics.enabled
        ? { host: config.metrics.host, port: config.metrics.port }
        : false
  const metrics = metricsAt === false ? undefined : new NodeMetrics()
  // A key rotation finished at the registrar switches keystores now, with the data dir locked (not under a daemon).
  const rotationLock = await DataDirLock.acquire(dataDir)
  let rotated: Awaited<ReturnType<typeof switchToRotatedKey>>
  try {
    const context = networkContext(network)
    rotated = await switchToRotatedKey(dataDir, { network: context.name, now: clock.now(), caps: context.caps })
  } finally {
    rotationLock.release()
  }
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
    nat: config.nat,
    connectionMonitor: { pingIntervalMs: config.connectionMonitor.pingIntervalMs },
    clock,
    ...(metrics != null ? { metrics } : {}),
  })
  const api = new ControlApi(node, { port: config.api.port })
  const metricsServer = metrics != null && metricsAt !== false ? new MetricsServer(metrics, metricsAt) : undefined
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await api.stop().catch((err) => log.error('control API failed to stop: %e', err))
    await metricsServer?.stop().catch((err) => log.error('metrics endpoint failed to stop: %e', err))
    await node.stop()
    try {
      unlinkSync(paths.api)
    } catch {
      // not written, or already removed
    }
  }
  try {
    await node.start()
    if (rotated != null) await adoptRotatedCert(node, rotated)
    const info = await api.start()
    const metricsUrl = (await metricsServer?.start()) ?? null
    return { node, api: info, metrics: metricsUrl, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
