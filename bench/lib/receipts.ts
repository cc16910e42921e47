import { randomBytes } from 'node:crypto'
import { setTimeout } from 'node:timers'
import * as dagCbor from '@ipld/dag-cbor'
import { createNodeKeys } from '../../keys/keystore.ts'
import { systemClock } from '../../protocols/clock.ts'
import { verifyDeliveryAck } from '../../protocols/delivery/ack.ts'
import { DeliveryAcks } from '../../protocols/delivery/acks.ts'
import { buildDeliveryReceipt, collectAcks, DeliveryRecorder } from '../../protocols/delivery/recorder.ts'
import { decodeRecordAs, recordId } from '../../protocols/records/envelope.ts'
import { SegmentsService } from '../../protocols/segments/service.ts'
import { createTestNetwork } from '../../test/helpers/network.ts'
import { startMemoryNode, stopAll } from '../../test/helpers/nodes.ts'
import { rawCid } from '../../test/helpers/records.ts'
import { result } from './result.ts'
import { median, significant } from './stats.ts'
import type { BenchOptions, BenchResult } from './types.ts'

const MIB = 1024 * 1024
const SEGMENT_BYTES = 256 * 1024 + 16
const SEEDERS = 4

function cpuMs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/**
 * Issue 19: what paid delivery adds to a fetch. Four seeders and a fetcher in one process on the memory transport
 * (so that every side's CPU is this process's): each round fetches a track (64 MiB, 16 MiB with `--quick`) from all
 * four — the baseline, the fetch's CPU with both ends — then does everything a receipt costs: the seeders' tally of
 * what they served (counted in the fetch, since it runs on every block served), the four acknowledgements asked and
 * signed (claims, signatures, the player's checks), the device's receipt signed, and the clearinghouse's checks of
 * the receipt and every acknowledgement. Figures per fetched GB; the target: receipts ≤ 2 % of the fetch's CPU.
 */
export async function measureReceipts(options: BenchOptions): Promise<BenchResult[]> {
  const trackBytes = options.quick ? 16 * MIB : 64 * MIB
  const segments = Math.ceil(trackBytes / (SEGMENT_BYTES - 16))
  const net = await createTestNetwork(systemClock, { name: 'bench-receipts' })
  const nodes = []
  const fetchMs: number[] = []
  const receiptMs: number[] = []
  try {
    const fetcherKeys = await createNodeKeys()
    const fetcherNode = await startMemoryNode({ network: net, clock: systemClock, keys: fetcherKeys, certRoles: [] })
    nodes.push(fetcherNode)
    const services: Array<{ service: SegmentsService; acks: DeliveryAcks }> = []
    const blocks = Array.from({ length: segments }, () => randomBytes(SEGMENT_BYTES))
    const cids = blocks.map((b) => rawCid(b))
    for (let s = 0; s < SEEDERS; s++) {
      const node = await startMemoryNode({ network: net, clock: systemClock, certRoles: ['delivery'] })
      nodes.push(node)
      for (let i = 0; i < segments; i++) await node.helia.blockstore.put(cids[i]!, blocks[i]!)
      const service = new SegmentsService(
        { libp2p: node.libp2p, blockstore: node.helia.blockstore as never, network: node.network, clock: systemClock },
        { serve: true, reprovide: false },
      )
      await service.start()
      const acks = new DeliveryAcks({
        libp2p: node.libp2p,
        network: node.network,
        signer: node.keys.signer,
        credentials: node.credentials,
        clock: systemClock,
        server: service.server,
      })
      await acks.start()
      services.push({ service, acks })
      await fetcherNode.libp2p.dial(node.libp2p.getMultiaddrs()[0]!)
    }
    const fetcher = new SegmentsService(
      {
        libp2p: fetcherNode.libp2p,
        blockstore: fetcherNode.helia.blockstore as never,
        network: fetcherNode.network,
        clock: systemClock,
      },
      { serve: false, reprovide: false },
    )
    await fetcher.start()
    // Stand-ins for the records a receipt names (their content does not change what is signed or checked).
    const manifest = recordId(dagCbor.encode({ bench: 'manifest' }))
    const licence = recordId(dagCbor.encode({ bench: 'licence' }))
    for (let round = 0; round < options.rounds + 1; round++) {
      for (const cid of cids) await fetcherNode.helia.blockstore.delete(cid)
      const recorder = new DeliveryRecorder(cids)
      const started = cpuMs()
      const fetch = fetcher.fetch(cids, {
        providers: nodes.slice(1).map((n) => n.peerId),
        onProgress: recorder.onProgress,
      })
      const summary = await fetch.done
      // The fetch's sessions close after `done` (streams end, buffers are collected): that tail is the fetch's own,
      // not the receipt's, so it is let run out before the receipt is timed.
      await new Promise((resolve) => setTimeout(resolve, 300))
      const fetched = cpuMs() - started
      const r0 = cpuMs()
      const fetchId = `bench-${round}`
      const collected = await collectAcks({
        libp2p: fetcherNode.libp2p,
        network: fetcherNode.network,
        device: fetcherKeys.signer.publicKey,
        fetch: fetchId,
        manifest: manifest,
        deliveries: recorder.deliveries(),
      })
      const r1 = cpuMs()
      const receipt = buildDeliveryReceipt({
        network: fetcherNode.network,
        device: fetcherKeys.signer,
        account: fetcherKeys.signer.publicKey,
        fetch: fetchId,
        licence: licence,
        manifest: manifest,
        peers: collected.peers,
        clock: systemClock,
      })
      const r2 = cpuMs()
      // The clearinghouse's share: the receipt's envelope and signature, then every acknowledgement.
      const checked = decodeRecordAs('consort/delivery', receipt.bytes, {
        network: fetcherNode.network.name,
        now: systemClock.now(),
        caps: fetcherNode.network.caps,
      })
      for (const p of checked.body.peers) {
        const ok = verifyDeliveryAck(
          {
            network: checked.body.network,
            fetch: checked.body.fetch,
            device: checked.body.device,
            manifest: checked.body.manifest,
            peer: p.peer,
            blocks: p.blocks,
            bytes: p.bytes,
          },
          p.ack,
        )
        if (!ok) throw new Error('an acknowledgement does not verify')
      }
      const receipted = cpuMs() - r0
      const acknowledged = collected.peers.reduce((s, p) => s + p.bytes, 0)
      options.log(
        `receipts round ${round}: fetch ${summary.bytesFetched / MIB} MiB from ${collected.peers.length} peers, ` +
          `${fetched.toFixed(0)} ms CPU; receipt ${receipted.toFixed(2)} ms CPU (acknowledgements ${(r1 - r0).toFixed(2)}, ` +
          `signing ${(r2 - r1).toFixed(2)}, checking ${(cpuMs() - r2 - 0).toFixed(2)}); acknowledged ${acknowledged / MIB} MiB`,
      )
      if (acknowledged !== summary.bytesFetched) throw new Error('not every fetched byte was acknowledged')
      if (round === 0) continue // warm-up
      const perGB = 1e9 / summary.bytesFetched
      fetchMs.push(fetched * perGB)
      receiptMs.push(receipted * perGB)
    }
    await fetcher.stop()
    for (const s of services) {
      await s.acks.stop()
      await s.service.stop()
    }
  } finally {
    await stopAll(nodes)
  }
  const fetchPerGB = median(fetchMs)
  const receiptPerGB = median(receiptMs)
  return [
    result({ metric: 'fetch_cpu_ms_per_gb', value: significant(fetchPerGB), unit: 'ms' }),
    result({
      metric: 'receipt_cpu_ms_per_gb',
      value: significant(receiptPerGB),
      unit: 'ms',
      baseline: { name: 'fetch_cpu_ms_per_gb', value: significant(fetchPerGB) },
      target: { op: '<=', value: 0.02, of: 'ratio' },
    }),
  ]
}
