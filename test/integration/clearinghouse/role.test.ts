import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as dagCbor from '@ipld/dag-cbor'
import { Level } from 'level'
import { loadNodeKeys } from '../../../keys/keystore.ts'
import { type Daemon, startDaemon } from '../../../node/daemon.ts'
import { initDataDir } from '../../../node/init.ts'
import { signAccountRequest } from '../../../protocols/clearing/account.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL } from '../../../protocols/clearing/index.ts'
import { peerIdOfKey } from '../../../protocols/peers.ts'
import { type RpcRemoteError, rpcCall } from '../../../protocols/rpc/index.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import { auditStopped } from '../../../roles/clearinghouse/audit.ts'
import {
  accountIdOf,
  retailerParticipant,
  rightsholderParticipant,
  walletParticipant,
} from '../../../roles/clearinghouse/participants.ts'
import { periodOf } from '../../../roles/clearinghouse/state.ts'
import { parseDsr } from '../../helpers/dsr-parser.ts'
import { startMemoryNode, stopAll, waitForTopicPeers } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { type Buyer, Market } from '../../unit/clearinghouse/market.ts'

const run = promisify(execFile)
const CONSORT = new URL('../../../bin/consort.ts', import.meta.url).pathname

async function consort(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CONSORT, ...args], { timeout: 120_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

describe('clearinghouse role', function () {
  this.timeout(300_000)

  it('serves purchases, usage reports and account requests over /clearing/1, and learns contracts from the topic', async () => {
    const m = await Market.create({ start: Date.now() })
    const ch = await startMemoryNode({
      network: m.net,
      clock: m.clock,
      keys: m.clearinghouse,
      roles: ['clearinghouse'],
      certRoles: [],
      roleOptions: { clearinghouse: { sync: false, verifyWorkers: 0 } },
    })
    const retailer = await startMemoryNode({
      network: m.net,
      clock: m.clock,
      keys: m.retailer,
      certRoles: ['retailer'],
    })
    const label = await startMemoryNode({
      network: m.net,
      clock: m.clock,
      keys: m.distributor,
      certRoles: ['production'],
    })
    const nodes = [ch, retailer, label]
    try {
      await retailer.libp2p.dial(ch.libp2p.getMultiaddrs()[0]!)
      await label.libp2p.dial(ch.libp2p.getMultiaddrs()[0]!)
      const role = ch.role('clearinghouse')
      const engine = role.engine
      const protocol = m.network.protocol(CLEARING_PROTOCOL)
      const to = peerIdOfKey(m.clearinghouse.signer.publicKey)
      const call = (from: typeof retailer, op: string, body: unknown) => rpcCall(from.libp2p, to, protocol, op, body)

      // The label publishes its contract; the clearinghouse learns it from the topic.
      const contract = m.contract({ unit: 70n, play: 2n })
      await waitForTopicPeers([label], topicString(m.network.name, 'contracts'))
      await label.topics.publish('contracts', contract, label.credentials.attachments())
      await waitUntil(async () => (await engine.records.contractInForce('contract-1')) !== undefined, {
        message: 'the clearinghouse learnt the contract',
      })

      const buyer = await m.buyer()
      const funded = (await call(retailer, CLEARING_OPS.fund, m.fundRequest(buyer, 1000n))) as {
        balance: { available: bigint }
      }
      assert.equal(BigInt(funded.balance.available), 1000n)
      const offer = m.offer(contract)
      const certification = m.certification(offer, contract)
      const order = m.order(buyer, offer, certification)
      const { authorisation } = (await call(
        retailer,
        CLEARING_OPS.authorise,
        m.authoriseBody(order, offer, certification),
      )) as {
        authorisation: string
      }
      // Only the retailer or the buyer may void it.
      await assert.rejects(
        call(label, CLEARING_OPS.void, { purchaseId: order.order.purchaseId, reason: 'x', order: null }),
        (err: RpcRemoteError) => {
          assert.equal(err.code, 'ERR_UNAUTHORISED')
          return true
        },
      )
      const receipt = m.receipt(order, authorisation)
      const captured = (await call(retailer, CLEARING_OPS.capture, {
        purchaseId: order.order.purchaseId,
        receipt: receipt.bytes,
      })) as { captured: boolean; payment: Uint8Array }
      assert.equal(captured.captured, true)
      assert.ok(captured.payment.length > 0, 'the signed payment proof')
      const licence = m.licence(receipt, contract)
      // The listener plays it half an hour later (a play before its licence was issued is never paid).
      m.clock.advance(30 * 60_000)
      const report = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, m.clock.now() - 600_000)])
      // The device sends its licence with the report: the clearinghouse bounds the play by it at once.
      const ack = (await call(retailer, CLEARING_OPS.report, {
        usage: report.usage,
        device: report.device,
        licences: [licence.bytes],
      })) as { status: string }
      assert.equal(ack.status, 'settled')
      const again = (await call(retailer, CLEARING_OPS.report, { usage: report.usage, device: report.device })) as {
        status: string
      }
      assert.equal(again.status, 'duplicate')
      const next = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, m.clock.now() - 300_000)])
      await assert.rejects(
        call(retailer, CLEARING_OPS.report, { usage: next.usage, device: new Uint8Array([1, 2]) }),
        (err: RpcRemoteError) => err.code === 'ERR_REPORT_INVALID',
      )
      const balance = (await call(retailer, CLEARING_OPS.balance, m.accountRequest(buyer, 'balance'))) as {
        balances: Array<{ available: bigint }>
      }
      assert.equal(BigInt(balance.balances[0]!.available), 1000n - 129n)
      const statements = (await call(
        retailer,
        CLEARING_OPS.statement,
        m.accountRequest(buyer, 'statement', periodOf(m.clock.now())),
      )) as {
        statements: Uint8Array[]
      }
      assert.equal(statements.statements.length, 1)
      // An account request sent as another op is refused.
      await assert.rejects(call(retailer, CLEARING_OPS.fund, m.accountRequest(buyer, 'balance')))
      // The operator's control routes.
      const audit = (await role.controlRoutes
        .find((r) => r.path === '/audit')!
        .handler({
          params: {},
          query: {},
          body: null,
          signal: new AbortController().signal,
        })) as { ok: boolean }
      assert.equal(audit.ok, true)
    } finally {
      await stopAll(nodes)
    }
  })

  describe('commands', () => {
    let dir: string
    let daemon: Daemon | undefined

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'consort-clearing-cli-'))
    })

    after(async () => {
      await daemon?.stop()
      await rm(dir, { recursive: true, force: true })
    })

    it('fund, balance, ledger transfers, statement (JSON, CSV, DSR, verify of each) and audit, online and offline', async () => {
      const m = await Market.create({ start: Date.now() - 60_000 })
      const chDir = join(dir, 'clearinghouse')
      const playerDir = join(dir, 'player')
      await initDataDir(chDir, {
        network: m.net.record,
        keys: m.clearinghouse,
        roles: ['clearinghouse'],
        listen: ['/ip4/127.0.0.1/tcp/0'],
        roleOptions: { clearinghouse: { verifyWorkers: 0 } },
      })
      await initDataDir(playerDir, { network: m.net.record, listen: ['/ip4/127.0.0.1/tcp/0'] })
      daemon = await startDaemon(chDir)
      const role = daemon.node.role('clearinghouse')
      const address = daemon.node.addresses().find((a) => a.includes('/tcp/'))!

      const fund = await consort([
        'account',
        'fund',
        '25.00',
        'EUR',
        '--data-dir',
        playerDir,
        '--clearinghouse',
        address,
        '--json',
      ])
      assert.equal(fund.code, 0, fund.stderr)
      assert.equal(JSON.parse(fund.stdout).balance.available, '2500')
      // Commands that do not depend on each other run side by side (each one loads the whole CLI).
      const [declined, balance] = await Promise.all([
        consort([
          'account',
          'fund',
          '1',
          'EUR',
          '--token',
          'decline',
          '--data-dir',
          playerDir,
          '--clearinghouse',
          address,
        ]),
        consort(['account', 'balance', '--data-dir', playerDir, '--clearinghouse', address]),
      ])
      assert.equal(declined.code, 1)
      assert.match(declined.stderr, /ERR_PAYMENT_DECLINED/)
      assert.equal(balance.code, 0, balance.stderr)
      assert.match(balance.stdout, /EUR\s+25\.00\s+0\.00\s+25\.00/)

      // The account the command created buys and plays.
      const account = await loadNodeKeys(join(playerDir, 'keys', 'account.key'))
      const buyer: Buyer = { account, devices: [], territory: 'FR' }
      await m.addDevice(buyer)
      const engine = role.engine
      const contract = m.contract({ unit: 70n, play: 2n })
      await engine.learnContract(contract)
      const { licence, purchaseId } = await m.purchase(engine, buyer, contract, m.offer(contract))
      const report = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, m.clock.now() - 30_000, 20)])
      assert.equal((await engine.report(report.usage, report.device)).status, 'settled')
      // A signed request works against the daemon's engine too (not only through the command).
      const own = signAccountRequest(m.accountRequest(buyer, 'balance').request, account.signer)
      assert.ok(((await engine.account(own)) as { balances: unknown[] }).balances.length === 1)

      const period = periodOf(Date.now())
      const file = join(dir, 'statement.json')
      const label = rightsholderParticipant('label:acme')
      const retailer = retailerParticipant(m.retailer.signer.publicKey)
      const csvFile = join(dir, 'statement.csv')
      const dsrDir = join(dir, 'dsr')
      await mkdir(dsrDir)
      const [transfers, statement, proof, csv, dsr] = await Promise.all([
        consort(['ledger', 'transfers', '--data-dir', chDir, '--json']),
        consort(['statement', '--participant', 'label:acme', '--period', period, '--data-dir', chDir, '--out', file]),
        consort([
          'statement',
          'proof',
          '--participant',
          label,
          '--period',
          period,
          '--ref',
          purchaseId,
          '--data-dir',
          chDir,
          '--json',
        ]),
        consort([
          'statement',
          '--participant',
          retailer,
          '--period',
          period,
          '--csv',
          '--data-dir',
          chDir,
          '--out',
          csvFile,
        ]),
        consort([
          'statement',
          '--participant',
          retailer,
          '--period',
          period,
          '--dsr',
          '--data-dir',
          chDir,
          '--out',
          dsrDir,
        ]),
      ])
      assert.equal(transfers.code, 0, transfers.stderr)
      assert.ok(JSON.parse(transfers.stdout).transfers.some((t: { code: string }) => t.code === 'wholesale'))
      assert.equal(statement.code, 0, statement.stderr)
      const saved = JSON.parse(await readFile(file, 'utf8'))
      assert.equal(saved.statements[0].participant, label)
      assert.equal(proof.code, 0, proof.stderr)
      await writeFile(join(dir, 'proof.json'), proof.stdout)
      assert.equal(csv.code, 0, csv.stderr)
      const csvText = await readFile(csvFile, 'utf8')
      assert.match(csvText, /^row,participant,period,currency,part,index,kind,/)
      assert.ok(csvText.includes(purchaseId))
      // The accounting export with one amount changed: that row no longer matches its signed line.
      await writeFile(
        join(dir, 'altered.csv'),
        csvText.replace(/,-?0\.70,(-?70),/, (_all, minor: string) => `,0.71,${minor},`),
      )
      assert.equal(dsr.code, 0, dsr.stderr)
      const [dsrFile] = await readdir(dsrDir)
      assert.match(dsrFile ?? '', /^DSR_PADPIDA\w{11}_PADPIDA\w{11}_[^_]+_\d{4}-\d{2}_FR_\d{8}T\d{6}\.tsv$/)
      assert.equal(parseDsr(await readFile(join(dsrDir, dsrFile!), 'utf8'), dsrFile).errors.length, 0)
      // A statement whose signed bytes were altered fails verification.
      const altered = structuredClone(saved)
      const record = Buffer.from(altered.statements[0].parts[0].record, 'base64')
      record[record.length - 40]! ^= 1
      altered.statements[0].parts[0].record = record.toString('base64')
      await writeFile(join(dir, 'altered.json'), JSON.stringify(altered))
      const [verify, bad, proved, online, verifyCsv, badCsv, verifyDsr] = await Promise.all([
        consort(['statement', 'verify', file, '--data-dir', chDir]),
        consort(['statement', 'verify', join(dir, 'altered.json'), '--data-dir', chDir]),
        consort(['statement', 'verify', join(dir, 'proof.json'), '--data-dir', chDir, '--json']),
        consort(['audit', '--data-dir', chDir]),
        consort(['statement', 'verify', csvFile, '--data-dir', chDir]),
        consort(['statement', 'verify', join(dir, 'altered.csv'), '--data-dir', chDir]),
        consort(['statement', 'verify', join(dsrDir, (await readdir(dsrDir))[0]!), '--data-dir', chDir]),
      ])
      assert.equal(verifyCsv.code, 0, verifyCsv.stdout + verifyCsv.stderr)
      assert.match(verifyCsv.stdout, /^OK {2}accounting export: 1 signed part\(s\), \d+ line\(s\), every line proved/m)
      assert.equal(badCsv.code, 1, badCsv.stdout)
      assert.match(badCsv.stdout, /differs from line \d+ of the signed part/)
      assert.equal(verifyDsr.code, 0, verifyDsr.stdout + verifyDsr.stderr)
      assert.match(verifyDsr.stdout, /^OK {2}DSR \(Basic Audio Profile\)/m)
      assert.equal(verify.code, 0, verify.stdout + verify.stderr)
      assert.match(verify.stdout, /^OK /m)
      assert.equal(bad.code, 1)
      assert.match(bad.stdout, /^BAD /m)
      assert.equal(JSON.parse(proved.stdout).statements[0].lineProved, true)

      assert.equal(online.code, 0, online.stdout + online.stderr)
      assert.match(online.stdout, /audit passed/)
      await daemon.stop()
      daemon = undefined
      // Stopped, the data dir is audited in place (the same audit, read-only).
      const clean = new Level<string, Uint8Array>(join(chDir, 'db'), { valueEncoding: 'view' })
      await clean.open()
      assert.equal(
        (await auditStopped(clean.sublevel('role-clearinghouse', { valueEncoding: 'view' }) as never, m.clock)).ok,
        true,
      )
      await clean.close()

      // Someone edits the wallet's balance row by hand: the audit says so, and fails.
      const db = new Level<string, Uint8Array>(join(chDir, 'db'), { valueEncoding: 'view' })
      await db.open()
      const ledger = db
        .sublevel<string, Uint8Array>('role-clearinghouse', { valueEncoding: 'view' })
        .sublevel<string, Uint8Array>('ledger', { valueEncoding: 'view' })
      const key = `b/${accountIdOf(walletParticipant(account.signer.publicKey), 'EUR')}`
      const row = dagCbor.decode((await ledger.get(key)) as Uint8Array) as Record<string, unknown>
      row.creditsPosted = BigInt(row.creditsPosted as number) + 1_000_000n
      await ledger.put(key, dagCbor.encode(row))
      await db.close()
      const corrupted = await consort(['audit', '--data-dir', chDir])
      assert.equal(corrupted.code, 1)
      assert.match(corrupted.stdout, /audit FAILED/)
      assert.match(corrupted.stdout, /balance_mismatch/)
      assert.match(corrupted.stdout, /lines_mismatch/)
    })
  })
})
