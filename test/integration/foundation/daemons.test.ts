import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { toString as bytesToString } from 'uint8arrays/to-string'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { dataDirPaths } from '../../../node/data-dir.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { signRecord } from '../../../protocols/records/index.ts'
import { ConsortProcess, consortJson, runConsort } from '../../helpers/cli.ts'
import { flipBit, indexOfBytes, sampleBodies } from '../../helpers/record-samples.ts'
import { waitUntil } from '../../helpers/wait.ts'

const NETWORK = 'foundation'

interface DaemonInfo {
  peerId: string
  addresses: string[]
  dataDir: string
  api: string
}

/** A TCP port on loopback that was free a moment ago (the OS picks it; the daemon takes it right after). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address != null ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

interface PeerInfo {
  peerId: string
  addresses: string[]
}

describe('foundation: daemons as separate processes on TCP loopback', function () {
  this.timeout(180_000)
  let dir: string
  let networkFile: string
  let dirA: string
  let dirB: string
  let cacheEnv: Record<string, string>
  const processes: ConsortProcess[] = []
  let a: ConsortProcess
  let b: ConsortProcess
  let infoA: DaemonInfo
  let infoB: DaemonInfo

  function daemon(dataDir: string): ConsortProcess {
    const process = new ConsortProcess(['daemon', '--data-dir', dataDir, '--json'], { env: cacheEnv })
    processes.push(process)
    return process
  }

  async function peersOf(dataDir: string): Promise<PeerInfo[]> {
    return consortJson<PeerInfo[]>(['peers', '--data-dir', dataDir], { env: cacheEnv })
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'consort-daemons-'))
    // Node's compile cache, kept in the test's own directory, makes each later CLI start cheaper.
    cacheEnv = { NODE_COMPILE_CACHE: path.join(dir, 'compile-cache') }
    networkFile = path.join(dir, 'network.json')
    dirA = path.join(dir, 'a')
    dirB = path.join(dir, 'b')
    // Node A is the network's registration manager: it is initialised first (keys and config, no network yet) and
    // prints its public identity; `network create` builds the network record from that file alone (A's private key
    // never leaves its data dir) and takes A's announced address as the network's bootstrap address. B is initialised
    // with the network only: it finds A through the record.
    const port = await freeLoopbackPort()
    const listenA = `/ip4/127.0.0.1/tcp/${port}`
    const initA = await consortJson<{ peerId: string; network: string | null }>(
      ['init', '--data-dir', dirA, '--listen', listenA, '--announce', listenA],
      { env: cacheEnv },
    )
    assert.equal(initA.network, null)
    const identity = await runConsort(['id', '--data-dir', dirA, '--json'], { env: cacheEnv })
    assert.equal(identity.code, 0, identity.stderr)
    const identityFile = path.join(dir, 'registrar-a.json')
    await writeFile(identityFile, identity.stdout)
    const created = await consortJson<{ network: string; file: string }>(
      [
        'network',
        'create',
        '--name',
        NETWORK,
        '--out',
        networkFile,
        '--registrar',
        identityFile,
        '--bootstrap-from',
        identityFile,
      ],
      { env: cacheEnv },
    )
    assert.equal(created.network, NETWORK)
    const bootstrap = `${listenA}/p2p/${initA.peerId}`
    const record = JSON.parse(await readFile(networkFile, 'utf8'))
    assert.deepEqual(record.summary.bootstrap, [bootstrap])
    assert.deepEqual(
      record.summary.registrars.map((r: { name: string }) => r.name),
      ['registrar-a'],
    )
    await Promise.all([
      consortJson(['network', 'join', networkFile, '--data-dir', dirA], { env: cacheEnv }),
      consortJson(['init', '--data-dir', dirB, '--network', networkFile, '--listen', '/ip4/127.0.0.1/tcp/0'], {
        env: cacheEnv,
      }),
    ])
    // B starts once A listens: @libp2p/bootstrap dials its list once, a second after start, and never retries.
    a = daemon(dirA)
    infoA = await a.ready<DaemonInfo>()
    b = daemon(dirB)
    infoB = await b.ready<DaemonInfo>()
    assert.equal(infoA.peerId, initA.peerId, 'the daemon runs with the identity init made')
    assert.ok(
      infoA.addresses.some((address) => address.startsWith(listenA)),
      infoA.addresses.join(' '),
    )
  })

  after(async () => {
    for (const process of processes) await process.kill()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('each daemon lists the other among its peers (B found A through bootstrap)', async () => {
    let seenByA: PeerInfo[] = []
    let seenByB: PeerInfo[] = []
    await waitUntil(
      async () => {
        ;[seenByA, seenByB] = await Promise.all([peersOf(dirA), peersOf(dirB)])
        return seenByA.some((p) => p.peerId === infoB.peerId) && seenByB.some((p) => p.peerId === infoA.peerId)
      },
      { intervalMs: 250, message: 'A and B list each other' },
    )
    const aAtB = seenByB.find((p) => p.peerId === infoA.peerId)!
    assert.ok(aAtB.addresses.some((address) => address.startsWith('/ip4/127.0.0.1/tcp/')))
  })

  it('refuses a second daemon on the same data dir, naming the running one; `consort id` answers for the first', async () => {
    const [second, id] = await Promise.all([
      runConsort(['daemon', '--data-dir', dirA], { env: cacheEnv }),
      consortJson<{ peerId: string; network: string }>(['id', '--data-dir', dirA], { env: cacheEnv }),
    ])
    assert.equal(id.peerId, infoA.peerId)
    assert.equal(id.network, NETWORK)
    assert.equal(second.code, 1, second.stderr)
    assert.match(second.stderr, new RegExp(`in use by another Consort daemon \\(pid ${a.pid}\\)`))
    assert.equal(second.stdout, '')
    assert.ok(a.running, 'the first daemon still runs')
  })

  it('inspects a record file: valid, then tampered', async () => {
    const signer = await createNodeKeys()
    const offer = signRecord('consort/offer', sampleBodies(NETWORK, systemClock.now())['consort/offer'], signer.signer)
    const valid = path.join(dir, 'offer.cbor')
    const tampered = path.join(dir, 'offer-tampered.b64')
    await writeFile(valid, offer.bytes)
    const at = indexOfBytes(offer.bytes, offer.sig)
    await writeFile(tampered, bytesToString(flipBit(offer.bytes, at * 8 + 3), 'base64'))
    const [good, bad] = await Promise.all([
      runConsort(['record', 'inspect', valid, '--network', networkFile, '--json'], { env: cacheEnv }),
      runConsort(['record', 'inspect', tampered, '--network', networkFile, '--json'], { env: cacheEnv }),
    ])
    assert.equal(good.code, 0, good.stderr)
    const goodJson = JSON.parse(good.stdout)
    assert.equal(goodJson.valid, true)
    assert.equal(goodJson.id, offer.id.toString())
    assert.equal(goodJson.type, 'consort/offer')
    assert.equal(goodJson.body.price.amount, '99', 'money is shown as a decimal string')
    assert.equal(bad.code, 1)
    const badJson = JSON.parse(bad.stdout)
    assert.equal(badJson.valid, false)
    assert.equal(badJson.error.code, 'ERR_BAD_SIGNATURE')
    assert.equal(badJson.error.field, 'sig')
  })

  it('SIGTERM stops both daemons cleanly: exit 0, LOCK and api.json removed', async () => {
    for (const dataDir of [dirA, dirB]) {
      assert.ok(existsSync(dataDirPaths(dataDir).lock))
      assert.ok(existsSync(dataDirPaths(dataDir).api))
    }
    const [exitA, exitB] = await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')])
    assert.deepEqual(exitA, { code: 0, signal: null }, a.stderr)
    assert.deepEqual(exitB, { code: 0, signal: null }, b.stderr)
    for (const dataDir of [dirA, dirB]) {
      assert.equal(existsSync(dataDirPaths(dataDir).lock), false, `${dataDir}/LOCK is removed`)
      assert.equal(existsSync(dataDirPaths(dataDir).api), false, `${dataDir}/api.json is removed`)
    }
  })

  it('a restarted daemon comes back with the same peer id', async () => {
    const again = daemon(dirA)
    const info = await again.ready<DaemonInfo>()
    assert.equal(info.peerId, infoA.peerId)
    assert.deepEqual(await again.stop('SIGINT'), { code: 0, signal: null })
  })
})
