import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { isError } from '../../../protocols/errors.ts'
import { MalformedRecordError, RecordError, signRecord } from '../../../protocols/records/index.ts'
import {
  decodeGossipMessage,
  encodeGossipMessage,
  type GossipDelivery,
  MAX_ATTACHMENTS,
  parseTopicString,
  type Refusal,
  TOPIC_NAMES,
  topicString,
} from '../../../protocols/topics/index.ts'
import { untilUnfollowed } from '../../helpers/gossip.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll, waitForTopicPeers } from '../../helpers/nodes.ts'
import { sampleBodies } from '../../helpers/record-samples.ts'
import { sampleManifestBody } from '../../helpers/records.ts'
import { nextEvent, waitUntil } from '../../helpers/wait.ts'

describe('protocols/topics: names and message codec', () => {
  it('topic strings round-trip for every topic', () => {
    for (const topic of TOPIC_NAMES) {
      assert.equal(topicString('my-net', topic), `/consort/my-net/${topic}/2`)
      assert.deepEqual(parseTopicString(topicString('my-net', topic)), { network: 'my-net', topic })
    }
  })

  it('parses nothing else as a topic', () => {
    for (const value of [
      '/consort/my-net/unknown/2',
      '/consort/My-Net/catalog/2',
      '/consort//catalog/2',
      '/other/my-net/catalog/2',
      '/consort/my-net/catalog/2/extra',
      'consort/my-net/catalog/2',
      '/consort/-net/catalog/2',
      // wire version 1 (gossipsub-signed messages, decision 0016) and versions this node does not speak
      '/consort/my-net/catalog',
      '/consort/my-net/catalog/1',
      '/consort/my-net/catalog/3',
    ]) {
      assert.equal(parseTopicString(value), null, value)
    }
  })

  it('round-trips a lead record and its attachments', () => {
    const records = [new Uint8Array([1]), new Uint8Array([2, 3]), new Uint8Array(0)]
    assert.deepEqual(decodeGossipMessage(encodeGossipMessage(records)), records)
  })

  it('refuses malformed messages naming the field', () => {
    const cases: Array<[Uint8Array, string]> = [
      [new Uint8Array([0xff]), 'message'],
      [dagCbor.encode([1]), 'message'],
      [dagCbor.encode({ v: 1 }), 'message'],
      [dagCbor.encode({ v: 1, records: [new Uint8Array(1)], extra: 1 }), 'message'],
      [dagCbor.encode({ v: 2, records: [new Uint8Array(1)] }), 'message.v'],
      [dagCbor.encode({ v: 1, records: [] }), 'message.records'],
      [
        dagCbor.encode({ v: 1, records: Array.from({ length: MAX_ATTACHMENTS + 2 }, () => new Uint8Array(1)) }),
        'message.records',
      ],
      [dagCbor.encode({ v: 1, records: 'x' }), 'message.records'],
      [dagCbor.encode({ v: 1, records: [new Uint8Array(1), 'x'] }), 'message.records.1'],
    ]
    for (const [bytes, field] of cases) {
      assert.throws(
        () => decodeGossipMessage(bytes),
        (err: Error) => isError(err, MalformedRecordError) && err.field === field,
        `expected a refusal naming ${field}`,
      )
    }
  })
})

describe('protocols/topics: the TopicBus between two nodes', function () {
  this.timeout(30_000)
  const clock = new FakeClock()
  let network: TestNetwork
  let publisher: ConsortNode
  let receiver: ConsortNode
  const delivered: GossipDelivery[] = []
  const refusals: Refusal[] = []
  let unsubscribers: Array<() => void> = []

  before(async () => {
    network = await createTestNetwork(clock)
    publisher = await startMemoryNode({ network, clock, certRoles: ['production'] })
    receiver = await startMemoryNode({ network, clock })
    await publisher.libp2p.dial(receiver.libp2p.getMultiaddrs()[0]!)
    receiver.topics.addEventListener('refused', (event) => refusals.push((event as CustomEvent<Refusal>).detail))
  })

  after(async () => {
    await stopAll([publisher, receiver].filter((n) => n != null))
  })

  afterEach(() => {
    for (const unsubscribe of unsubscribers) unsubscribe()
    unsubscribers = []
    delivered.length = 0
    refusals.length = 0
  })

  /** Subscribe the receiver to the catalog and wait until the publisher knows it. */
  async function follow(lookups?: Parameters<ConsortNode['topics']['subscribe']>[1]['lookups']): Promise<void> {
    unsubscribers.push(
      receiver.topics.subscribe('catalog', {
        ...(lookups != null ? { lookups } : {}),
        onMessage: (d) => void delivered.push(d),
      }),
    )
    await waitForTopicPeers([publisher], topicString(network.name, 'catalog'))
  }

  /** Each a new version of the publisher's track: one record per sequence number, as the catalog topic requires. */
  let version = 0
  function manifest(title: string, signer = publisher.keys.signer) {
    return signRecord(
      'consort/manifest',
      sampleManifestBody(network.name, clock.now(), { title, seq: ++version }),
      signer,
    )
  }

  function publishRaw(records: Uint8Array[]): Promise<unknown> {
    const pubsub = (publisher.libp2p.services as { pubsub: { publish(t: string, d: Uint8Array): Promise<unknown> } })
      .pubsub
    return pubsub.publish(topicString(network.name, 'catalog'), encodeGossipMessage(records))
  }

  it('delivers a valid record with its attachments, decoded and verified', async () => {
    await follow()
    const record = manifest('Delivered')
    const recipients = await publisher.topics.publish('catalog', record, publisher.credentials.attachments())
    assert.equal(recipients, 1)
    await waitUntil(() => delivered.length === 1, { message: 'the manifest arrives' })
    const [delivery] = delivered
    assert.ok(delivery!.record.id.equals(record.id))
    assert.equal(delivery!.topic, 'catalog')
    assert.equal(delivery!.attachments.length, 1)
    assert.equal(delivery!.attachments[0]!.type, 'consort/cert')
    assert.equal(delivery!.from.toString(), publisher.peerId.toString())
  })

  it("consults a subscriber's store: a stale or withdrawn record is ignored and reported, not delivered", async () => {
    const hex = (key: Uint8Array) => Buffer.from(key).toString('hex')
    let withdrawn: ReturnType<typeof manifest> | undefined
    await follow({
      // This subscriber's store holds version 5 of every record titled 'Stale' and a takedown of 'Withdrawn'.
      latest: (record) =>
        (record.body as { title?: string }).title === 'Stale' ? { seq: 5, id: 'a-newer-record' } : undefined,
      revokers: (id) => (withdrawn != null && id.equals(withdrawn.id) ? [hex(publisher.keys.signer.publicKey)] : []),
    })
    const attachments = publisher.credentials.attachments()
    await publisher.topics.publish('catalog', manifest('Stale'), attachments)
    const stale = await nextEvent<Refusal>(receiver.topics, 'refused', (r) => r.code === 'ERR_STALE_SEQUENCE')
    assert.equal(stale.result, 'ignore')
    withdrawn = manifest('Withdrawn')
    await publisher.topics.publish('catalog', withdrawn, attachments)
    const taken = await nextEvent<Refusal>(receiver.topics, 'refused', (r) => r.code === 'ERR_WITHDRAWN')
    assert.equal(taken.result, 'ignore')
    // A revocation naming a record this node cannot place: the failing lookup ignores it, blaming no one.
    const broken = manifest('Broken')
    const revocation = signRecord(
      'consort/revocation',
      { network: network.name, created: clock.now(), targets: [{ kind: 'manifest', id: broken.id }], reason: 'x' },
      publisher.keys.signer,
    )
    unsubscribers.push(
      receiver.topics.subscribe('revocations', {
        lookups: {
          signerOf: () => {
            throw new Error('the store itself failed')
          },
        },
        onMessage: () => {},
      }),
    )
    await waitForTopicPeers([publisher], topicString(network.name, 'revocations'))
    await publisher.topics.publish('revocations', revocation, attachments)
    const failed = await nextEvent<Refusal>(receiver.topics, 'refused', (r) => r.code === 'ERR_CHECK_FAILED')
    assert.equal(failed.result, 'ignore')
    const good = manifest('Fine')
    await publisher.topics.publish('catalog', good, attachments)
    await waitUntil(() => delivered.length > 0, { message: 'the accepted manifest arrives' })
    assert.deepEqual(
      delivered.map((d) => (d.record.body as { title: string }).title),
      ['Fine'],
    )
    assert.ok((receiver.topics.refusals.get('ERR_WITHDRAWN') ?? 0) >= 1)
  })

  it('stops delivering after the last subscriber leaves', async () => {
    const own: GossipDelivery[] = []
    const unsubscribe = receiver.topics.subscribe('catalog', { onMessage: (d) => void own.push(d) })
    await waitForTopicPeers([publisher], topicString(network.name, 'catalog'))
    unsubscribe()
    await untilUnfollowed(publisher, topicString(network.name, 'catalog'))
    const recipients = await publisher.topics.publish(
      'catalog',
      manifest('Nobody listens'),
      publisher.credentials.attachments(),
    )
    assert.equal(recipients, 0)
    assert.equal(own.length, 0)
  })

  // Rejections last: each one lowers the publisher's gossipsub score at the receiver.
  it('refuses to publish a record type that does not belong on the topic', async () => {
    const offer = signRecord(
      'consort/offer',
      sampleBodies(network.name, clock.now())['consort/offer'],
      publisher.keys.signer,
    )
    await assert.rejects(publisher.topics.publish('catalog', offer), RecordError)
  })

  it('rejects a lead record that does not belong on the topic', async () => {
    await follow()
    const offer = signRecord(
      'consort/offer',
      sampleBodies(network.name, clock.now())['consort/offer'],
      publisher.keys.signer,
    )
    await publishRaw([offer.bytes, ...publisher.credentials.attachments().map((a) => a.bytes)])
    const refusal = await nextEvent<Refusal>(receiver.topics, 'refused')
    assert.equal(refusal.result, 'reject')
    assert.equal(refusal.code, 'ERR_RECORD')
    assert.match(refusal.reason, /consort\/offer does not belong on topic catalog/)
    assert.equal(delivered.length, 0)
  })

  it('rejects an attachment of a type that may not be attached', async () => {
    await follow()
    const extra = manifest('Attached manifest')
    await publishRaw([manifest('With a bad attachment').bytes, extra.bytes])
    const refusal = await nextEvent<Refusal>(receiver.topics, 'refused')
    assert.equal(refusal.result, 'reject')
    assert.match(refusal.reason, /message\.records\.1/)
    assert.equal(delivered.length, 0)
  })

  it('rejects data that is not a gossip message', async () => {
    await follow()
    const pubsub = (publisher.libp2p.services as { pubsub: { publish(t: string, d: Uint8Array): Promise<unknown> } })
      .pubsub
    await pubsub.publish(topicString(network.name, 'catalog'), new Uint8Array([0xff, 0xfe]))
    const refusal = await nextEvent<Refusal>(receiver.topics, 'refused')
    assert.equal(refusal.code, 'ERR_MALFORMED_RECORD')
    assert.equal(delivered.length, 0)
  })
})

describe('protocols/topics: stopping the TopicBus', function () {
  this.timeout(60_000)
  const clock = new FakeClock()
  let network: TestNetwork
  let publisher: ConsortNode
  let receiver: ConsortNode

  before(async () => {
    network = await createTestNetwork(clock)
    publisher = await startMemoryNode({ network, clock })
    receiver = await startMemoryNode({ network, clock })
    await publisher.libp2p.dial(receiver.libp2p.getMultiaddrs()[0]!)
  })

  after(async () => {
    await stopAll([publisher, receiver].filter((n) => n != null))
  })

  // A bug once: closing a topic forgot its subscribers first, so stop() thought it followed nothing and left the
  // router subscribed, its peers still sending what the closed topic could only ignore.
  it('leaves every topic it followed at the router, validator and subscription both', async () => {
    const wire = topicString(network.name, 'catalog')
    receiver.topics.subscribe('catalog', { onMessage: () => {} })
    await waitForTopicPeers([publisher], wire)
    const router = (
      receiver.libp2p.services as { pubsub: { getTopics(): string[]; topicValidators: Map<string, unknown> } }
    ).pubsub
    assert.ok(router.getTopics().includes(wire))
    receiver.topics.stop()
    assert.deepEqual(receiver.topics.subscribedTopics(), [])
    assert.ok(!router.getTopics().includes(wire), 'the router no longer follows the topic')
    assert.ok(!router.topicValidators.has(wire), 'the closed topic no longer validates')
    await untilUnfollowed(publisher, wire)
  })
})
