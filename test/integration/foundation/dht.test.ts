import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { latestRecordKey, selectLatestRecord, validateLatestRecord } from '../../../protocols/dht.ts'
import { RecordError, type SignedRecord, signRecord } from '../../../protocols/records/index.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { connectMesh, startMemoryNode, stopAll } from '../../helpers/nodes.ts'
import { sampleBodies } from '../../helpers/record-samples.ts'
import { waitUntil } from '../../helpers/wait.ts'

const NODES = 20

/** The slice of the kad-dht service these tests use. */
interface Dht {
  put(key: Uint8Array, value: Uint8Array, options?: { signal?: AbortSignal }): AsyncIterable<DhtEvent>
  get(key: Uint8Array, options?: { signal?: AbortSignal }): AsyncIterable<DhtEvent>
  routingTable: { size: number }
}
interface DhtEvent {
  name: string
  messageType?: string
  value?: Uint8Array
  from?: { toString(): string }
}

/** The peers that stored a PUT_VALUE, by peer id (refusals come back as QUERY_ERROR events). */
const storers = (events: DhtEvent[]) =>
  new Set(events.filter((e) => e.name === 'PEER_RESPONSE' && e.messageType === 'PUT_VALUE').map((e) => String(e.from)))

const stored = (events: DhtEvent[]) => storers(events).size

const dhtOf = (node: ConsortNode) => (node.libp2p.services as unknown as { dht: Dht }).dht

async function put(node: ConsortNode, key: Uint8Array, value: Uint8Array): Promise<DhtEvent[]> {
  const events: DhtEvent[] = []
  for await (const event of dhtOf(node).put(key, value, { signal: AbortSignal.timeout(30_000) })) events.push(event)
  return events
}

/** The value the DHT settles on for a key (after its selector) as plain bytes (the datastore may give a Buffer), or undefined. */
async function get(node: ConsortNode, key: Uint8Array): Promise<Uint8Array | undefined> {
  let value: Uint8Array | undefined
  try {
    for await (const event of dhtOf(node).get(key, { signal: AbortSignal.timeout(30_000) })) {
      if (event.name === 'VALUE' && event.value != null) value = new Uint8Array(event.value)
    }
  } catch (err) {
    if ((err as Error).name !== 'NotFoundError') throw err
  }
  return value
}

function seqOf(value: Uint8Array | undefined): number | undefined {
  return value == null ? undefined : (dagCbor.decode(value) as { body: { seq: number } }).body.seq
}

describe('foundation: DHT put/get across 20 in-process nodes', function () {
  this.timeout(90_000)
  const clock = new FakeClock()
  let network: TestNetwork
  let retailer: NodeKeys
  const nodes: ConsortNode[] = []

  function offer(seq: number, offerId = 'offer-dht-1'): SignedRecord<'consort/offer'> {
    const body = sampleBodies(network.name, clock.now())['consort/offer']
    return signRecord('consort/offer', { ...body, offerId, seq }, retailer.signer)
  }

  before(async () => {
    network = await createTestNetwork(clock, { name: 'dhtnet' })
    retailer = await createNodeKeys()
    for (let i = 0; i < NODES; i++) nodes.push(await startMemoryNode({ network, clock }))
    await connectMesh(nodes)
    await waitUntil(() => nodes.every((n) => dhtOf(n).routingTable.size >= 3), {
      message: 'every routing table holds a few peers',
    })
  })

  after(async () => {
    await stopAll(nodes)
  })

  it('a record put on one node is found from another', async () => {
    const key = latestRecordKey(retailer.signer.publicKey, 'consort/offer', 'offer-dht-1')
    const v1 = offer(1)
    const events = await put(nodes[0]!, key, v1.bytes)
    assert.ok(stored(events) >= 1, 'some peers stored it')
    const found = await get(nodes[13]!, key)
    assert.ok(found != null, 'another node finds the record')
    assert.deepEqual(found, v1.bytes)
  })

  it('a higher sequence number supersedes, and the selector prefers it over an older copy', async () => {
    const key = latestRecordKey(retailer.signer.publicKey, 'consort/offer', 'offer-dht-1')
    const v2 = offer(2)
    await put(nodes[5]!, key, v2.bytes)
    assert.equal(seqOf(await get(nodes[15]!, key)), 2)
    // The selector on its own: the highest seq wins wherever it sits among the values.
    const v1 = offer(1)
    const v3 = offer(3)
    assert.equal(selectLatestRecord(key, [v1.bytes, v3.bytes, v2.bytes]), 1)
    assert.equal(selectLatestRecord(key, [v3.bytes, v1.bytes]), 0)
    assert.equal(selectLatestRecord(key, [new Uint8Array([0xff]), v1.bytes]), 1, 'garbage never wins')
  })

  it('a value that does not match its key is refused by the peers', async () => {
    const key = latestRecordKey(retailer.signer.publicKey, 'consort/offer', 'offer-dht-2')
    // Another offer id under this key, or another signer: each is refused by every peer asked to store it.
    const impostor = await createNodeKeys()
    const wrongId = offer(1, 'offer-dht-3').bytes
    const wrongSigner = signRecord(
      'consort/offer',
      { ...sampleBodies(network.name, clock.now())['consort/offer'], offerId: 'offer-dht-2' },
      impostor.signer,
    ).bytes
    for (const [from, value] of [
      [1, wrongId],
      [2, wrongSigner],
    ] as const) {
      const events = await put(nodes[from]!, key, value)
      assert.equal(stored(events), 0, 'no peer stored it')
      assert.ok(
        events.some((e) => e.name === 'QUERY_ERROR'),
        'peers answered with an error',
      )
    }
    // The putter keeps its own copy (kad-dht stores locally without validating), but no one else serves it.
    for (const reader of [11, 17]) assert.equal(await get(nodes[reader]!, key), undefined)
    assert.throws(
      () => validateLatestRecord(key, wrongId, () => ({ network: network.name, now: clock.now() })),
      RecordError,
    )
  })

  it('an older version replayed by another node does not roll the key back (regression: stored whatever was valid)', async () => {
    const key = latestRecordKey(retailer.signer.publicKey, 'consort/offer', 'offer-dht-4')
    const v2 = offer(2, 'offer-dht-4')
    const v1 = offer(1, 'offer-dht-4')
    // On a loaded machine a PUT may not reach every peer in time, so a peer that never got seq 2 may rightly take
    // seq 1: the invariant is that no peer that holds seq 2 stores seq 1 (regression: one did).
    const holdersOfV2 = storers(await put(nodes[3]!, key, v2.bytes))
    assert.ok(holdersOfV2.size >= 1, 'some peers stored seq 2')
    const replay = await put(nodes[9]!, key, v1.bytes)
    const rolledBack = [...storers(replay)].filter((peer) => holdersOfV2.has(peer))
    assert.deepEqual(rolledBack, [], 'no peer holding seq 2 stored seq 1')
    for (const reader of [3, 12, 18]) assert.equal(seqOf(await get(nodes[reader]!, key)), 2)
    assert.throws(
      () => validateLatestRecord(key, v1.bytes, () => ({ network: network.name, now: clock.now() }), v2.bytes),
      RecordError,
    )
    // The same bytes again (a re-announce) and a newer version still pass.
    validateLatestRecord(key, v2.bytes, () => ({ network: network.name, now: clock.now() }), v2.bytes)
    validateLatestRecord(
      key,
      offer(3, 'offer-dht-4').bytes,
      () => ({ network: network.name, now: clock.now() }),
      v2.bytes,
    )
  })
})
