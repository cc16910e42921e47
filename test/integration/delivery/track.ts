import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { encryptSegment, generateContentKey, generateKeyId } from '../../../keys/segments.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import type { Clock } from '../../../protocols/clock.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { TestNetwork } from '../../helpers/network.ts'
import { rawCid, sampleManifestBody } from '../../helpers/records.ts'

/** A track as production would package it: random audio, sealed segment by segment, and a signed manifest. */
export interface TestTrack {
  plaintext: Uint8Array
  contentKey: Uint8Array
  keyId: Uint8Array
  segments: Uint8Array[]
  cids: CID[]
  manifest: SignedRecord<'consort/manifest'>
  producer: NodeKeys
}

let isrcCounter = 0

/** Build a track of `segmentCount` segments of `segmentSize` plaintext bytes (the last one shorter). */
export async function buildTrack(
  network: TestNetwork,
  clock: Clock,
  options: { segmentCount: number; segmentSize?: number; producer?: NodeKeys },
): Promise<TestTrack> {
  const segmentSize = options.segmentSize ?? 16 * 1024
  const byteSize = segmentSize * options.segmentCount - Math.floor(segmentSize / 3)
  const plaintext = new Uint8Array(randomBytes(byteSize))
  const contentKey = generateContentKey()
  const keyId = generateKeyId()
  const segments: Uint8Array[] = []
  for (let i = 0; i < options.segmentCount; i++) {
    segments.push(encryptSegment(contentKey, keyId, i, plaintext.subarray(i * segmentSize, (i + 1) * segmentSize)))
  }
  const cids = segments.map((s) => rawCid(s))
  const producer = options.producer ?? (await createNodeKeys())
  isrcCounter++
  const manifest = signRecord(
    'consort/manifest',
    sampleManifestBody(network.name, clock.now(), {
      isrc: `USRC1760${String(7000 + isrcCounter).padStart(4, '0')}`,
      segmentSize,
      byteSize,
      segments: cids,
      keyId,
    }),
    producer.signer,
  )
  return { plaintext, contentKey, keyId, segments, cids, manifest, producer }
}

/** Store a track's blocks (segments and manifest) in a node's blockstore, as a producer or seeder holds them. */
export async function storeTrack(
  node: ConsortNode,
  track: TestTrack,
  only?: (index: number) => boolean,
): Promise<void> {
  await node.records.put(track.manifest)
  for (let i = 0; i < track.segments.length; i++) {
    if (only != null && !only(i)) continue
    await node.helia.blockstore.put(track.cids[i]!, track.segments[i]!)
  }
}

/** Everything an async iterable yields, in order. */
export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of source) items.push(item)
  return items
}
