import assert from 'node:assert/strict'
import { NodeMetrics } from '../../../node/metrics.ts'
import { MetricsServer } from '../../../node/metrics-server.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL } from '../../../protocols/clearing/index.ts'
import { METRICS } from '../../../protocols/metrics.ts'
import { peerIdOfKey } from '../../../protocols/peers.ts'
import { signRecord } from '../../../protocols/records/envelope.ts'
import { type RpcRemoteError, rpcCall } from '../../../protocols/rpc/index.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import { startMemoryNode, stopAll, waitForTopicPeers } from '../../helpers/nodes.ts'
import { sampleValue, scrape } from '../../helpers/prometheus.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { Market } from '../../unit/clearinghouse/market.ts'

/** What a metric name may end in: its unit (`_total` for a count), or `_info` for a constant-1 info metric. */
const UNIT_SUFFIX = /_(total|bytes|seconds|items|info)$/

describe('metrics endpoint', function () {
  this.timeout(180_000)

  it('serves libp2p, process and Consort metrics of a working clearinghouse in the Prometheus text format', async () => {
    const m = await Market.create({ start: Date.now() })
    const metrics = new NodeMetrics()
    const ch = await startMemoryNode({
      network: m.net,
      clock: m.clock,
      keys: m.clearinghouse,
      roles: ['clearinghouse'],
      certRoles: [],
      roleOptions: { clearinghouse: { sync: false, verifyWorkers: 0 } },
      metrics,
    })
    const server = new MetricsServer(metrics, { host: '127.0.0.1', port: 0 })
    const url = await server.start()
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
    const stranger = await startMemoryNode({ network: m.net, clock: m.clock, certRoles: [] })
    const nodes = [ch, retailer, label, stranger]
    try {
      for (const n of [retailer, label, stranger]) await n.libp2p.dial(ch.libp2p.getMultiaddrs()[0]!)
      const engine = ch.role('clearinghouse').engine
      const call = (op: string, body: unknown) =>
        rpcCall(
          retailer.libp2p,
          peerIdOfKey(m.clearinghouse.signer.publicKey),
          m.network.protocol(CLEARING_PROTOCOL),
          op,
          body,
        )

      // Gossip: the label's contract is accepted; the same contract from a node nobody certified is refused.
      const contract = m.contract({ unit: 70n, play: 2n })
      const contracts = topicString(m.network.name, 'contracts')
      await waitForTopicPeers([label, stranger], contracts)
      await label.topics.publish('contracts', contract, label.credentials.attachments())
      await waitUntil(async () => (await engine.records.contractInForce('contract-1')) !== undefined, {
        message: 'the clearinghouse learnt the contract',
      })
      const forged = signRecord('consort/contract', m.contract({ contractId: 'contract-2' }).body, stranger.keys.signer)
      await stranger.topics.publish('contracts', forged)
      await waitUntil(() => [...ch.topics.refusals.values()].some((n) => n > 0), {
        message: 'the clearinghouse refused the stranger contract',
      })

      // Money and usage: a sale, a settled report, its replay, and a report with a broken device record.
      const buyer = await m.buyer()
      await call(CLEARING_OPS.fund, m.fundRequest(buyer, 1000n))
      const offer = m.offer(contract)
      const certification = m.certification(offer, contract)
      const order = m.order(buyer, offer, certification)
      const { authorisation } = (await call(CLEARING_OPS.authorise, m.authoriseBody(order, offer, certification))) as {
        authorisation: string
      }
      const receipt = m.receipt(order, authorisation)
      await call(CLEARING_OPS.capture, { purchaseId: order.order.purchaseId, receipt: receipt.bytes })
      const licence = m.licence(receipt, contract)
      // Played half an hour later (a play before its licence was issued is never paid).
      m.clock.advance(30 * 60_000)
      const report = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, m.clock.now() - 600_000)])
      const first = (await call(CLEARING_OPS.report, {
        usage: report.usage,
        device: report.device,
        licences: [licence.bytes],
      })) as { status: string }
      assert.equal(first.status, 'settled')
      await call(CLEARING_OPS.report, { usage: report.usage, device: report.device })
      const next = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, m.clock.now() - 300_000)])
      await assert.rejects(
        call(CLEARING_OPS.report, { usage: next.usage, device: new Uint8Array([1, 2]) }),
        (err: RpcRemoteError) => err.code === 'ERR_REPORT_INVALID',
      )

      const families = await scrape(url)

      // Consort's own metrics, as the node counted them.
      assert.ok(sampleValue(families, 'consort_gossip_messages_total', { topic: 'contracts', verdict: 'accept' }) >= 1)
      const refused = families
        .get('consort_gossip_messages_total')!
        .metrics.filter((s) => s.labels?.verdict === 'reject')
      assert.ok(refused.length > 0, 'a rejected gossip message is counted')
      for (const sample of refused) assert.match(sample.labels?.code ?? '', /^ERR_[A-Z_]+$/)
      assert.equal(sampleValue(families, 'consort_usage_reports_total', { status: 'settled' }), 1)
      assert.equal(sampleValue(families, 'consort_usage_reports_total', { status: 'duplicate' }), 1)
      assert.equal(sampleValue(families, 'consort_usage_reports_total', { status: 'refused' }), 1)
      const transfers = sampleValue(families, 'consort_ledger_transfers_total')
      assert.ok(transfers > 0)
      assert.equal(transfers, engine.ledger.transferCount)
      assert.equal(families.get('consort_ledger_transfers_total')?.type, 'COUNTER')
      assert.equal(sampleValue(families, 'consort_queue_depth_items', { queue: 'clearinghouse-reports' }), 0)
      assert.equal(
        sampleValue(families, 'consort_node_info', { peer_id: ch.peerId.toString(), roles: 'clearinghouse' }),
        1,
      )

      // libp2p's own metrics and the process's, event-loop delay among them.
      const libp2pNames = [...families.keys()].filter((name) => name.startsWith('libp2p_'))
      assert.ok(libp2pNames.length >= 5, `libp2p metrics: ${libp2pNames.join(', ')}`)
      assert.ok(sampleValue(families, 'libp2p_data_transfer_bytes_total') > 0)
      assert.ok(families.has('nodejs_eventloop_lag_p99_seconds'))
      assert.ok(families.has('process_cpu_user_seconds_total'))

      // Every Consort metric is declared once and named with its unit.
      for (const name of Object.keys(METRICS)) {
        assert.match(name, UNIT_SUFFIX)
        assert.ok(families.has(name), `${name} is exposed`)
      }

      // Only /metrics is served, and only to GET.
      assert.equal((await fetch(url.replace('/metrics', '/'))).status, 404)
      assert.equal((await fetch(url, { method: 'POST' })).status, 405)
    } finally {
      await server.stop()
      await stopAll(nodes)
    }
  })

  it('keeps two nodes of one process apart: each endpoint shows its own counts', async () => {
    const m = await Market.create({ start: Date.now() })
    const [a, b] = [new NodeMetrics(), new NodeMetrics()]
    const first = await startMemoryNode({ network: m.net, clock: m.clock, keys: m.distributor, metrics: a })
    const second = await startMemoryNode({ network: m.net, clock: m.clock, metrics: b })
    const servers = [new MetricsServer(a, { port: 0 }), new MetricsServer(b, { port: 0 })]
    try {
      const [urlA, urlB] = [await servers[0]!.start(), await servers[1]!.start()]
      const [famA, famB] = [await scrape(urlA), await scrape(urlB)]
      assert.equal(sampleValue(famA, 'consort_node_info', { peer_id: first.peerId.toString() }), 1)
      assert.equal(sampleValue(famA, 'consort_node_info', { peer_id: second.peerId.toString() }), 0)
      assert.equal(sampleValue(famB, 'consort_node_info', { peer_id: second.peerId.toString() }), 1)
    } finally {
      for (const s of servers) await s.stop()
      await stopAll([first, second])
    }
  })
})
