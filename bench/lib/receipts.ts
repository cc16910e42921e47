import { randomBytes } from 'node:crypto'
import { setTimeout } from 'node:timers'
import * as dagCbor from '@ipld/dag-cbor'
import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import { type ConsortNode, createConsortNode } from '../../node/consort-node.ts'
import { systemClock } from '../../protocols/clock.ts'
import { verifyDeliveryAck } from '../../protocols/delivery/ack.ts'
import { DeliveryAcks } from '../../protocols/delivery/acks.ts'
import {
  buildDeliveryReceipt,
  collectAcks,
  DeliveryRecorder,
  type FetchDeliveries,
} from '../../protocols/delivery/recorder.ts'
import { decodeRecordAs, recordId } from '../../protocols/records/envelope.ts'
import type { RoleName } from '../../protocols/records/types/common.ts'
import { SegmentsService } from '../../protocols/segments/service.ts'
import { createTestNetwork } from '../../test/helpers/network.ts'
import { stopAll } from '../../test/helpers/nodes.ts'
import { rawCid } from '../../test/helpers/records.ts'
import { result } from './result.ts'
import { median, significant } from './stats.ts'
import type { BenchOptions, BenchResult } from './types.ts'

const MIB = 1024 * 1024
const SEGMENT_BYTES = 256 * 1024 + 16
const SEEDERS = 4
/** An album's worth of tracks fetched one after the other, then acknowledged together. */
const TRACKS = 4

/** A node on TCP loopback (the daemons' transport), certified for `roles`. */
async function startTcpNode(
  net: Awaited<ReturnType<typeof createTestNetwork>>,
  keys: NodeKeys,
  roles: RoleName[],
): Promise<ConsortNode> {
  const node = await createConsortNode({
    dataDir: null,
    network: net.record,
    keys,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    transports: { tcp: true, memory: false },
    roles: [],
    roleOptions: {},
    clock: systemClock,
    targetConnections: 0,
  })
  await node.start()
  if (roles.length > 0) await node.credentials.setCert(net.certify(keys, roles))
  return node
}

function cpuMs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/**
 * Issue 19: what paid delivery adds to a fetch. Four seeders and a fetcher in one process on TCP loopback (the
 * daemons' transport; one process, so that every side's CPU is this process's): each round fetches an album of four tracks (16 MiB each, 4 MiB with
 * `--quick`) from all four seeders — the baseline, the fetches' CPU with both ends — then does everything the
 * receipts cost, as the player does at a usage flush: the seeders' tally of what they served (counted in the fetch,
 * since it runs on every block served), one acknowledgement request per seeder for the whole album (claims,
 * signatures, the player's checks), a device-signed receipt per track, and the clearinghouse's checks of every
 * receipt and acknowledgement. Figures per fetched GB; the target: receipts ≤ 2 % of the fetch's CPU.
 */
export async function measureReceipts(options: BenchOptions): Promise<BenchResult[]> {
  const trackBytes = options.quick ? 4 * MIB : 16 * MIB
  const segments = Math.ceil(trackBytes / (SEGMENT_BYTES - 16))
  const net = await createTestNetwork(systemClock, { name: 'bench-receipts' })
  const nodes = []
  const fetchMs: number[] = []
  const receiptMs: number[] = []
  try {
    const fetcherKeys = await createNodeKeys()
    const fetcherNode = await startTcpNode(net, fetcherKeys, [])
    nodes.push(fetcherNode)
    const services: Array<{ service: SegmentsService; acks: DeliveryAcks }> = []
    const blocks = Array.from({ length: segments * TRACKS }, () => randomBytes(SEGMENT_BYTES))
    const allCids = blocks.map((b) => rawCid(b))
    const tracks = Array.from({ length: TRACKS }, (_, t) => allCids.slice(t * segments, (t + 1) * segments))
    for (let s = 0; s < SEEDERS; s++) {
      const node = await startTcpNode(net, await createNodeKeys(), ['delivery'])
      nodes.push(node)
      for (let i = 0; i < blocks.length; i++) await node.helia.blockstore.put(allCids[i]!, blocks[i]!)
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
    const manifests = tracks.map((_, t) => recordId(dagCbor.encode({ bench: 'manifest', t })))
    const licence = recordId(dagCbor.encode({ bench: 'licence' }))
    for (let round = 0; round < options.rounds + 1; round++) {
      for (const cid of allCids) await fetcherNode.helia.blockstore.delete(cid)
      const started = cpuMs()
      const fetches: FetchDeliveries[] = []
      let bytesFetched = 0
      for (const [t, cids] of tracks.entries()) {
        const recorder = new DeliveryRecorder(cids)
        const fetch = fetcher.fetch(cids, {
          providers: nodes.slice(1).map((n) => n.peerId),
          onProgress: recorder.onProgress,
        })
        bytesFetched += (await fetch.done).bytesFetched
        fetches.push({ fetch: `bench-${round}-${t}`, manifest: manifests[t]!, deliveries: recorder.deliveries() })
      }
      // The fetches' sessions close after `done` (streams end, buffers are collected): that tail is the fetch's own,
      // not the receipts', so it is let run out before the receipts are timed.
      await new Promise((resolve) => setTimeout(resolve, 300))
      const fetched = cpuMs() - started
      const r0 = cpuMs()
      // As the player does at a usage flush: every peer asked once for the whole album.
      const collected = await collectAcks({
        libp2p: fetcherNode.libp2p,
        network: fetcherNode.network,
        device: fetcherKeys.signer.publicKey,
        fetches,
      })
      const r1 = cpuMs()
      const receipts = fetches.map((f) =>
        buildDeliveryReceipt({
          network: fetcherNode.network,
          device: fetcherKeys.signer,
          account: fetcherKeys.signer.publicKey,
          fetch: f.fetch,
          licence,
          manifest: f.manifest,
          peers: collected.peers.get(f.fetch) ?? [],
          clock: systemClock,
        }),
      )
      const r2 = cpuMs()
      // The clearinghouse's share: each receipt's envelope and signature, then every acknowledgement.
      let acknowledged = 0
      for (const receipt of receipts) {
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
          acknowledged += p.bytes
        }
      }
      const receipted = cpuMs() - r0
      const peers = new Set(fetches.flatMap((f) => f.deliveries.map((d) => d.peer))).size
      options.log(
        `receipts round ${round}: ${TRACKS} tracks, ${bytesFetched / MIB} MiB from ${peers} peers, ` +
          `${fetched.toFixed(0)} ms CPU; receipts ${receipted.toFixed(2)} ms CPU (acknowledgements ${(r1 - r0).toFixed(2)}, ` +
          `signing ${(r2 - r1).toFixed(2)}, checking ${(cpuMs() - r2).toFixed(2)}); acknowledged ${acknowledged / MIB} MiB`,
      )
      if (acknowledged !== bytesFetched) throw new Error('not every fetched byte was acknowledged')
      if (round === 0) continue // warm-up
      const perGB = 1e9 / bytesFetched
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
