import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { type Daemon, startDaemon } from '../../../node/daemon.ts'
import { initDataDir } from '../../../node/init.ts'
import { consortJson, runConsort } from '../../helpers/cli.ts'
import { Market } from '../../unit/clearinghouse/market.ts'

const DEVICES = 4
const REPORTS_PER_DEVICE = 40
/** Reports acknowledged before the backup starts (the rest arrive while it runs and after). */
const ACKED_BEFORE_BACKUP = 30

describe('online backup and restore', function () {
  this.timeout(300_000)
  let dir: string
  let daemon: Daemon | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `consort-backup-${process.pid}-`))
  })

  after(async () => {
    await daemon?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('backs up a clearinghouse while it ingests reports; the restore passes audit with every acknowledged report', async () => {
    const m = await Market.create({ start: Date.now() - 2 * 86_400_000, seed: 'backup' })
    const source = join(dir, 'clearinghouse')
    await initDataDir(source, {
      network: m.net.record,
      keys: m.clearinghouse,
      roles: ['clearinghouse'],
      roleOptions: { clearinghouse: { verifyWorkers: 0 } },
    })
    daemon = await startDaemon(source, { clock: m.clock, metrics: false })
    const engine = daemon.node.role('clearinghouse').engine
    const contract = m.contract({ unit: null, play: 100n })
    await engine.learnContract(contract)
    const offer = m.offer(contract, { price: 0n })
    const reports: Array<{ usage: Uint8Array; device: Uint8Array; id: string }> = []
    const bought = []
    for (let d = 0; d < DEVICES; d++) {
      const buyer = await m.buyer()
      bought.push({ buyer, licence: (await m.purchase(engine, buyer, contract, offer)).licence })
    }
    // Plays start after the licences were issued (one before is never paid), and have all ended by now.
    const t0 = m.clock.now() + 3_600_000
    m.clock.set(t0 + REPORTS_PER_DEVICE * 240_000)
    for (const { buyer, licence } of bought) {
      for (let r = 0; r < REPORTS_PER_DEVICE; r++) {
        const report = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, t0 + r * 240_000, 180)])
        reports.push({ usage: report.usage, device: report.device, id: report.record.id.toString() })
      }
    }
    // A block in the blockstore, to see `--blocks` carry it.
    const block = new TextEncoder().encode('a block the node holds')
    const blockCid = CID.createV1(0x55, await sha256.digest(block))
    await daemon.node.stores.blockstore.put(blockCid, block)

    // Ingest every report, device by device in its chain order, devices side by side; take the backup meanwhile.
    const acked: string[] = []
    const ingest = Promise.all(
      Array.from({ length: DEVICES }, async (_, d) => {
        for (const r of reports.slice(d * REPORTS_PER_DEVICE, (d + 1) * REPORTS_PER_DEVICE)) {
          const ack = await engine.report(r.usage, r.device)
          assert.equal(ack.status, 'settled')
          acked.push(r.id)
        }
      }),
    )
    while (acked.length < ACKED_BEFORE_BACKUP) await new Promise((resolve) => setImmediate(resolve))
    const ackedBefore = [...acked]
    const file = join(dir, 'clearinghouse.backup')
    const backup = await consortJson<{ entries: number; version: number; blocks: boolean }>([
      'backup',
      '--out',
      file,
      '--blocks',
      '--data-dir',
      source,
    ])
    const ackedAfterBackup = acked.length
    await ingest
    assert.equal(backup.version, 1)
    assert.equal(backup.blocks, true)
    assert.ok(ackedAfterBackup > ackedBefore.length, 'reports were still being acknowledged while the backup ran')
    await daemon.stop()
    daemon = undefined

    // Restore into a fresh directory, audit it offline, and find every report acknowledged before the backup.
    const target = join(dir, 'restored')
    const restored = await consortJson<{ dbEntries: number; blocks: number; files: string[] }>([
      'restore',
      file,
      '--data-dir',
      target,
    ])
    assert.deepEqual(restored.files.sort(), ['config.json', 'keys/node.key', 'network.json'])
    assert.equal(restored.blocks, 1)
    const audit = await consortJson<{ ok: boolean; counts: { reports: number } }>(['audit', '--data-dir', target])
    assert.equal(audit.ok, true)
    assert.ok(audit.counts.reports >= ackedBefore.length, `${audit.counts.reports} reports restored`)
    assert.ok(audit.counts.reports <= reports.length)
    const db = new Level<string, Uint8Array>(join(target, 'db'), { valueEncoding: 'view' })
    try {
      const state = db
        .sublevel('role-clearinghouse', { valueEncoding: 'view' })
        .sublevel('state', { valueEncoding: 'view' })
      for (const id of ackedBefore) assert.ok((await state.get(`r/${id}`)) !== undefined, `report ${id} is restored`)
    } finally {
      await db.close()
    }
    // The restored node starts as the same node, with its block.
    daemon = await startDaemon(target, { clock: m.clock, metrics: false })
    assert.equal(
      daemon.node.peerId.toString(),
      (await import('@libp2p/peer-id')).peerIdFromPrivateKey(m.clearinghouse.privateKey).toString(),
    )
    assert.ok(await daemon.node.stores.blockstore.has(blockCid))
    await daemon.stop()
    daemon = undefined

    // A damaged or foreign file is refused with what is wrong, and nothing is written.
    const bytes = await readFile(file)
    // One byte flipped, wherever it lands, is refused as corrupt: in the first entry's kind, key length or key, in
    // the middle of the file, in the trailer's count or in the checksum. (A byte flipped at random once landed in
    // a length field and was refused as "truncated" alone, which named the wrong cause.)
    const firstEntry = bytes.indexOf(0x0a) + 1
    const flips: Array<[string, number]> = [
      ['kind', firstEntry],
      ['key length', firstEntry + 2],
      ['key', firstEntry + 5],
      ['middle', bytes.length >> 1],
      ['trailer count', bytes.length - 32 - 8],
      ['checksum', bytes.length - 1],
    ]
    const flipped = (at: number): Uint8Array => {
      const copy = Buffer.from(bytes)
      copy[at] = copy[at]! ^ 0xff
      return copy
    }
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ...flips.map(([where, at]): [string, Uint8Array, RegExp] => [`flipped ${where}`, flipped(at), /corrupt/]),
      ['truncated', bytes.subarray(0, bytes.length - 100), /truncated/],
      [
        'future',
        Buffer.from(bytes.toString('latin1').replace('"version":1', '"version":9'), 'latin1'),
        /version 9 is not supported/,
      ],
      ['foreign', Buffer.from('{"hello":"world"}\n'), /not a Consort backup/],
    ]
    for (const [name, content, message] of cases) {
      const bad = join(dir, `${name.replaceAll(' ', '-')}.backup`)
      await writeFile(bad, content)
      const into = join(dir, `restored-${name.replaceAll(' ', '-')}`)
      const result = await runConsort(['restore', bad, '--data-dir', into])
      assert.equal(result.code, 1, `${name}: ${result.stderr}`)
      assert.match(result.stderr, message, name)
      assert.equal(existsSync(into), false, `${name}: nothing restored`)
    }
    // A restore never lands on a directory in use.
    const used = join(dir, 'used')
    await mkdir(used)
    await writeFile(join(used, 'something'), 'x')
    const refused = await runConsort(['restore', file, '--data-dir', used])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /not empty/)
  })
})
