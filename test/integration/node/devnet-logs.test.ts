import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadNodeKeys } from '../../../keys/keystore.ts'
import { open } from '../../../keys/seal.ts'
import { ControlClient } from '../../../node/control-client.ts'
import type { DevnetNodeInfo } from '../../../node/devnet.ts'
import type { SampleMarket } from '../../../node/devnet-market.ts'
import { LICENCE_SEAL_CONTEXT } from '../../../protocols/licence/index.ts'
import { ConsortProcess, consortJson } from '../../helpers/cli.ts'
import { sampleValue, scrape } from '../../helpers/prometheus.ts'

/** Every way a secret could reach a log line: hex, base64 (both alphabets, with and without padding), decimal bytes. */
function encodings(secret: Uint8Array): string[] {
  const b = Buffer.from(secret)
  return [
    b.toString('hex'),
    b.toString('base64'),
    b.toString('base64').replace(/=+$/, ''),
    b.toString('base64url'),
    [...b].join(', '),
    [...b].join(','),
  ]
}

function bytesOf(value: unknown): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'hex')
  return Buffer.from((value as { base64: string }).base64, 'base64')
}

describe('devnet logs', function () {
  this.timeout(300_000)
  let dir: string
  let devnet: ConsortProcess | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `consort-logs-${process.pid}-`))
  })

  after(async () => {
    if (devnet?.running) await devnet.stop().catch(() => devnet?.child.kill('SIGKILL'))
    await rm(dir, { recursive: true, force: true })
  })

  it('are JSON lines with component and ids, never a content key, a control token or an account key; each node serves its metrics', async () => {
    devnet = new ConsortProcess(['devnet', '--json', '--dir', join(dir, 'net')], {
      // Every Consort component at every level, libp2p's and Helia's errors.
      env: { DEBUG: 'consort:*,libp2p:*:error,helia:*:error', CONSORT_LOG_FORMAT: 'json' },
    })
    const ready = await devnet.ready<{ nodes: DevnetNodeInfo[]; sample: SampleMarket }>(180_000)
    const node = (name: string) => ready.nodes.find((n) => n.name === name)!
    const listener = ['--data-dir', node('listener').dataDir]
    const offer = ready.sample.offers.find((o) => o.status === 'certified' && o.useType === 'PermanentDownload')!
    await consortJson(['offers', ready.sample.release, ...listener])
    const bought = await consortJson<{ purchaseId: string; licence: string }>([
      'buy',
      offer.offer,
      '--yes',
      ...listener,
    ])
    await consortJson(['play', ready.sample.track, '--out', join(dir, 'sample.flac'), ...listener])
    await consortJson(['usage', '--flush', ...listener])

    // The secrets this run handled: every node's control token, the listener's account keys, the content key.
    const secrets = new Map<string, Uint8Array | string>()
    for (const n of ready.nodes) {
      const api = JSON.parse(await readFile(join(n.dataDir, 'api.json'), 'utf8')) as { token: string }
      secrets.set(`${n.name} control token`, api.token)
    }
    const account = JSON.parse(await readFile(join(node('listener').dataDir, 'keys', 'account.key'), 'utf8'))
    secrets.set('account key', Buffer.from(account.secret.identitySeed, 'base64'))
    secrets.set('account sealing key', Buffer.from(account.secret.sealingPrivateKey, 'base64'))
    const device = await loadNodeKeys(join(node('listener').dataDir, 'keys', 'node.key'))
    secrets.set('device key', device.privateKey.raw.subarray(0, 32))
    const client = ControlClient.forDataDir(node('listener').dataDir)
    const licence = await client.request<{ body: { keys: Array<{ sealedKey: unknown }> } }>(
      'GET',
      `/v1/records/${bought.licence}`,
    )
    for (const [i, entry] of licence.body.keys.entries()) {
      secrets.set(`content key ${i}`, open(device.sealing, bytesOf(entry.sealedKey), LICENCE_SEAL_CONTEXT))
    }

    // Each node's metrics endpoint shows its part of what just happened.
    const retailerMetrics = await scrape(node('retailer').metrics!)
    assert.ok(sampleValue(retailerMetrics, 'consort_purchases_total', { outcome: 'licensed' }) >= 1)
    const listenerMetrics = await scrape(node('listener').metrics!)
    assert.ok(sampleValue(listenerMetrics, 'consort_segment_fetches_total', { outcome: 'done' }) >= 1)
    assert.ok(sampleValue(listenerMetrics, 'consort_segment_fetch_bytes_total') > 0)
    const houseMetrics = await scrape(node('clearinghouse').metrics!)
    assert.ok(sampleValue(houseMetrics, 'consort_ledger_transfers_total') > 0)

    const exit = await devnet.stop('SIGINT')
    assert.equal(exit.code, 0, devnet.stderr.slice(-2000))

    const lines = devnet.stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('SIGINT'))
    assert.ok(lines.length > 100, `${lines.length} log lines`)
    const records = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>
      } catch {
        throw new Error(`not a JSON log line: ${line.slice(0, 200)}`)
      }
    })
    for (const r of records) {
      assert.equal(typeof r.component, 'string')
      assert.equal(typeof r.msg, 'string')
      assert.equal(typeof r.level, 'number')
    }
    assert.ok(
      records.some((r) => r.purchaseId === bought.purchaseId),
      'a line about the purchase carries its id as a field',
    )
    assert.ok(records.some((r) => typeof r.peer === 'string' && String(r.peer).startsWith('12D3Koo')))
    assert.ok(records.some((r) => typeof r.cid === 'string'))

    const text = devnet.stderr + devnet.stdout
    for (const [what, secret] of secrets) {
      const forms = typeof secret === 'string' ? [secret] : encodings(secret)
      for (const form of forms) assert.ok(!text.includes(form), `the ${what} appears in the logs (${form})`)
    }
  })
})
