import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { loadNodeKeys } from '../../../keys/keystore.ts'
import { createConsortNode } from '../../../node/consort-node.ts'
import { ControlClient } from '../../../node/control-client.ts'
import { type Daemon, startDaemon } from '../../../node/daemon.ts'
import { dataDirPaths } from '../../../node/data-dir.ts'
import { DataDirLockedError } from '../../../node/errors.ts'
import { initDataDir } from '../../../node/init.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { isError } from '../../../protocols/errors.ts'
import { signRecord } from '../../../protocols/records/index.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { sampleManifestBody } from '../../helpers/records.ts'

describe('foundation: the data directory across restarts', function () {
  this.timeout(60_000)
  const clock = new FakeClock()
  let dir: string
  let network: TestNetwork
  const running: Daemon[] = []

  async function start(): Promise<Daemon> {
    const daemon = await startDaemon(dir, { clock })
    running.push(daemon)
    return daemon
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'consort-data-dir-'))
    network = await createTestNetwork(clock, { name: 'restartnet' })
    await initDataDir(dir, { network: network.record, listen: ['/ip4/127.0.0.1/tcp/0'] })
  })

  afterEach(async () => {
    for (const daemon of running.splice(0)) await daemon.stop()
  })

  after(async () => {
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('a restarted daemon keeps its peer id, its certificate and its record blocks', async () => {
    const first = await start()
    const peerId = first.node.peerId.toString()
    const cert = network.certify(first.node.keys, ['production'])
    await first.node.credentials.setCert(cert)
    const manifest = signRecord(
      'consort/manifest',
      sampleManifestBody(network.name, clock.now(), { title: 'Kept across restarts' }),
      first.node.keys.signer,
    )
    await first.node.records.put(manifest)
    await first.stop()
    assert.equal(existsSync(dataDirPaths(dir).lock), false, 'LOCK is released')
    assert.equal(existsSync(dataDirPaths(dir).api), false, 'api.json is removed')

    const second = await start()
    assert.equal(second.node.peerId.toString(), peerId)
    assert.ok(second.node.credentials.cert()?.id.equals(cert.id), 'the certificate was kept')
    assert.equal(second.node.trust.hasRole(second.node.keys.signer.publicKey, 'production'), true)
    const stored = await second.node.records.get(manifest.id, { offline: true })
    assert.ok(Buffer.from(stored.bytes).equals(manifest.bytes), 'the same bytes come back')
    assert.ok(stored.id.equals(manifest.id))
    // And through the control API, as the CLI would ask for it.
    const api = ControlClient.forDataDir(dir)
    const viaApi = await api.request<{ id: string; type: string; body: { title: string } }>(
      'GET',
      `/v1/records/${manifest.id}?offline=true`,
    )
    assert.equal(viaApi.id, manifest.id.toString())
    assert.equal(viaApi.type, 'consort/manifest')
    assert.equal(viaApi.body.title, 'Kept across restarts')
  })

  it('refuses a second node on a data dir in use, naming the pid that holds it', async () => {
    const daemon = await start()
    assert.equal(readFileSync(dataDirPaths(dir).lock, 'utf8').trim(), String(process.pid))
    const keys = await loadNodeKeys(dataDirPaths(dir).keys)
    await assert.rejects(
      createConsortNode({
        dataDir: dir,
        network: network.record,
        keys,
        clock,
        transports: { tcp: false, memory: true },
      }),
      (err: Error) =>
        isError(err, DataDirLockedError) &&
        err.code === 'ERR_DATA_DIR_LOCKED' &&
        err.message.includes(`pid ${process.pid}`) &&
        err.message.includes(dir),
    )
    await assert.rejects(startDaemon(dir, { clock }), DataDirLockedError)
    // The refusal left the running node alone.
    assert.equal(daemon.node.status, 'started')
    assert.ok(existsSync(dataDirPaths(dir).lock))
  })

  it('takes over a lock left by a process that no longer exists', async () => {
    // The pid of a process that has exited: what a crash or kill -9 leaves behind.
    const gone = spawnSync(process.execPath, ['-e', '']).pid
    assert.ok(gone != null && gone > 0)
    await writeFile(dataDirPaths(dir).lock, `${gone}\n`)
    const daemon = await start()
    assert.equal(daemon.node.status, 'started')
    assert.equal(readFileSync(dataDirPaths(dir).lock, 'utf8').trim(), String(process.pid))
  })
})
