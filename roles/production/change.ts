import type { GraphWalkerFactory, Helia } from '@helia/interface'
import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import type { BlockView } from 'multiformats/block/interface'
import { CID } from 'multiformats/cid'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { RecordStore } from '../../protocols/records/store.ts'
import { collectBlock } from '../../protocols/records/store.ts'
import { type AnnounceCounts, type Announcer, noAnnouncements } from './announce.ts'
import type { DeliveryCounts, EscrowOutbox } from './escrow.ts'
import type { StateBatch } from './state.ts'

const log = logger('consort:production:change')

/**
 * Everything one operation changes, applied in an order that keeps the node consistent through a crash: the new
 * blocks first (harmless while nothing points to them), then the state in one atomic batch (the commit point,
 * which also queues the escrow deposits), then pins, announcements and deliveries, which are repeated or resumed
 * if they do not finish.
 */
export class Change {
  readonly batch: StateBatch
  readonly blocks: SignedRecord[] = []
  readonly catalog: SignedRecord[] = []
  readonly contracts: SignedRecord[] = []
  readonly revocations: SignedRecord[] = []
  readonly latest: SignedRecord[] = []
  /** Records to pin with the blocks they link to (a manifest: its segments and preview segments). */
  readonly pinDeep: CID[] = []
  /** Records to pin alone (a release links to manifests pinned on their own). */
  readonly pinFlat: CID[] = []
  readonly unpin: CID[] = []
  readonly deposits: string[] = []

  constructor(batch: StateBatch) {
    this.batch = batch
  }

  get empty(): boolean {
    return this.batch.size === 0 && this.blocks.length === 0
  }
}

export interface ApplyResult {
  announced: AnnounceCounts
  escrow: DeliveryCounts & { deposits: number }
}

/**
 * Walks records and the blocks they link to. The node's Helia is assembled light, without a DAG-CBOR codec for its
 * own walker, so pins of records walk with this one: a DAG-CBOR block's links are followed, raw blocks are leaves.
 */
export const recordWalker: GraphWalkerFactory = ({ blockstore }) => ({
  async *walk(root, options = {}) {
    const maxDepth = options.depth ?? Number.POSITIVE_INFINITY
    const stack: Array<{ cid: CID; depth: number; path: CID[] }> = [{ cid: root, depth: 0, path: [root] }]
    const seen = new Set<string>()
    for (let node = stack.pop(); node != null; node = stack.pop()) {
      const key = node.cid.toString()
      if (seen.has(key)) continue
      seen.add(key)
      const bytes = await collectBlock(blockstore.get(node.cid, options))
      const value = node.cid.code === dagCbor.code ? dagCbor.decode(bytes) : bytes
      yield {
        block: { cid: node.cid, bytes, value } as unknown as BlockView<never>,
        depth: node.depth,
        path: node.path,
      }
      if (node.cid.code !== dagCbor.code || node.depth >= maxDepth) continue
      for (const link of linksOf(value)) stack.push({ cid: link, depth: node.depth + 1, path: [...node.path, link] })
    }
  },
})

function linksOf(value: unknown, out: CID[] = []): CID[] {
  const cid = CID.asCID(value)
  if (cid != null) out.push(cid)
  else if (Array.isArray(value)) for (const item of value) linksOf(item, out)
  else if (value != null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const item of Object.values(value)) linksOf(item, out)
  }
  return out
}

async function drain(iterable: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of iterable) {
    // walk the whole DAG
  }
}

export async function applyChange(
  change: Change,
  parts: { helia: Helia; records: RecordStore; announcer: Announcer; escrow: EscrowOutbox },
  signal?: AbortSignal,
): Promise<ApplyResult> {
  for (const record of change.blocks) await parts.records.put(record, { signal })
  await change.batch.write()
  for (const [cid, depth] of [
    ...change.pinDeep.map((c) => [c, Number.POSITIVE_INFINITY] as const),
    ...change.pinFlat.map((c) => [c, 0] as const),
  ]) {
    try {
      await drain(parts.helia.pins.add(cid, { depth, walker: recordWalker, signal }))
    } catch (err) {
      if ((err as Error).name !== 'AlreadyPinnedError') log.error('pinning %c failed: %e', cid, err)
    }
  }
  for (const cid of change.unpin) {
    try {
      await drain(parts.helia.pins.rm(cid, { walker: recordWalker, signal }))
    } catch (err) {
      log('unpinning %c: %e', cid, err)
    }
  }
  const announced = noAnnouncements()
  await parts.announcer.gossip('revocations', change.revocations, announced)
  await parts.announcer.gossip('catalog', change.catalog, announced)
  await parts.announcer.gossip('contracts', change.contracts, announced)
  await parts.announcer.putLatest(change.latest, announced, signal)
  const escrow =
    change.deposits.length === 0
      ? { delivered: 0, pending: (await parts.escrow.pending()).length }
      : await parts.escrow.flush()
  return { announced, escrow: { ...escrow, deposits: change.deposits.length } }
}
