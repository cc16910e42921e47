import assert from 'node:assert/strict'
import { createNodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { recordId, type SignedRecord, signRecord } from '../../../protocols/records/index.ts'
import { encodeGossipMessage, type Refusal, topicString } from '../../../protocols/topics/index.ts'
import { untilMesh } from '../../helpers/gossip.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { connectMesh, startMemoryNode, stopAll, waitForTopicPeers } from '../../helpers/nodes.ts'
import { flipBit, indexOfBytes, signRawEnvelope } from '../../helpers/record-samples.ts'
import { rawCid, sampleManifestBody } from '../../helpers/records.ts'
import { waitUntil } from '../../helpers/wait.ts'

const NODES = 20
/** Small caps, so that an oversized record is cheap to make: a manifest listing 150 segments exceeds them. */
const CAPS = { recordBytes: 2048, largeRecordBytes: 4096, messageBytes: 64 * 1024 }

interface Seen {
  node: number
  refusal: Refusal
}

describe('foundation: gossip across 20 in-process nodes', function () {
  this.timeout(60_000)
  const clock = new FakeClock()
  let network: TestNetwork
  const nodes: ConsortNode[] = []
  /** Record ids each node's subscriber received, by node index. */
  const received: Array<Set<string>> = []
  const refusals: Seen[] = []
  /** Each bad message has its own publisher: which code its copies must be refused with. */
  const badPublishers = new Map<string, string>()
  const catalog = () => topicString(network.name, 'catalog')

  before(async () => {
    network = await createTestNetwork(clock, { name: 'gossipnet', caps: CAPS })
    for (let i = 0; i < NODES; i++) {
      // Nodes 0 and 1 are labels (node 1 loses its certificate in the revocation test); the others hold none.
      nodes.push(await startMemoryNode({ network, clock, certRoles: i <= 1 ? ['production'] : [] }))
    }
    await connectMesh(nodes)
    for (const [index, node] of nodes.entries()) {
      const ids = new Set<string>()
      received.push(ids)
      node.topics.subscribe('catalog', { onMessage: (delivery) => void ids.add(delivery.record.id.toString()) })
      node.topics.addEventListener('refused', (event) =>
        refusals.push({ node: index, refusal: (event as CustomEvent<Refusal>).detail }),
      )
    }
    await waitForTopicPeers(nodes, catalog(), 2)
    await waitForTopicPeers(nodes, topicString(network.name, 'revocations'), 2)
    // Until meshes form, a message reaches only the publisher's direct peers and whatever gossip catches up.
    await untilMesh(nodes, catalog(), 2)
    await untilMesh(nodes, topicString(network.name, 'revocations'), 2)
  })

  after(async () => {
    await stopAll(nodes)
  })

  const label = () => nodes[0]!

  /** Each a new version of the signer's track: one record per sequence number, as the catalog topic requires. */
  let version = 0
  function manifest(
    title: string,
    overrides: Parameters<typeof sampleManifestBody>[2] = {},
    signer = label().keys.signer,
  ) {
    return signRecord(
      'consort/manifest',
      sampleManifestBody(network.name, clock.now(), { title, seq: ++version, ...overrides }),
      signer,
    )
  }

  /** Wait until every one of `indexes` received the record. */
  async function reachesAll(id: string, indexes: number[]): Promise<void> {
    await waitUntil(() => indexes.every((i) => received[i]!.has(id)), {
      message: `record ${id} reaches nodes ${indexes.join(', ')}`,
    })
  }

  function others(of: number): number[] {
    return nodes.map((_, i) => i).filter((i) => i !== of)
  }

  /** Publish record bytes as they are, bypassing TopicBus.publish and its type check; returns who it was sent to. */
  async function publishRaw(from: number, records: Uint8Array[]): Promise<number[]> {
    const pubsub = (
      nodes[from]!.libp2p.services as {
        pubsub: { publish(t: string, d: Uint8Array): Promise<{ recipients: Array<{ toString(): string }> }> }
      }
    ).pubsub
    const { recipients } = await pubsub.publish(catalog(), encodeGossipMessage(records))
    const ids = recipients.map((peer) => peer.toString())
    return nodes.map((_, i) => i).filter((i) => ids.includes(nodes[i]!.peerId.toString()))
  }

  /**
   * Publish a bad message from one node and check that every peer it was sent to refused it with `code` at its
   * validator, that no node further away saw it, and that no subscriber anywhere received it.
   */
  async function assertRefused(from: number, records: Uint8Array[], code: string): Promise<void> {
    const leadId = recordId(records[0]!).toString()
    const before = refusals.length
    const publisherId = nodes[from]!.peerId.toString()
    assert.equal(badPublishers.has(publisherId), false, 'one bad message per publisher')
    badPublishers.set(publisherId, code)
    const recipients = await publishRaw(from, records)
    assert.ok(recipients.length >= 1, `node ${from} sent the message to nobody`)
    const mine = () => refusals.slice(before).filter((r) => r.refusal.from.toString() === publisherId)
    await waitUntil(() => recipients.every((i) => mine().some((r) => r.node === i)), {
      message: `every recipient of node ${from}'s message (${recipients.join(', ')}) refuses it with ${code}`,
    })
    for (const { node, refusal } of mine()) {
      assert.equal(refusal.code, code, `node ${node}: ${refusal.reason}`)
      assert.equal(refusal.result, 'reject')
      assert.equal(refusal.topic, 'catalog')
    }
    // Refused at the first validator and never forwarded: every refusal since (of this message, or a late copy of an
    // earlier one that its publisher still offers through gossip) is of a copy that came straight from its own
    // publisher — `from` is the peer that handed the copy over, not the record's author.
    for (const r of refusals.slice(before)) {
      const sender = r.refusal.from.toString()
      assert.equal(r.refusal.code, badPublishers.get(sender), `node ${r.node} refused a copy from ${sender}`)
    }
    for (const [i, ids] of received.entries()) assert.equal(ids.has(leadId), false, `node ${i} received it`)
    for (const i of recipients) assert.ok((nodes[i]!.topics.refusals.get(code) ?? 0) >= 1)
  }

  it('delivers a manifest from a certified label to all 19 other nodes', async () => {
    const record = manifest('Everyone hears this')
    await label().topics.publish('catalog', record, label().credentials.attachments())
    await reachesAll(record.id.toString(), others(0))
    assert.equal(received[0]!.has(record.id.toString()), false, 'a node does not deliver its own message to itself')
  })

  describe('bad records are refused at the first validator and reach no subscriber', () => {
    // Each bad message comes from a different relay: a node that sends several is soon graylisted by gossipsub.
    it('one flipped bit (ERR_BAD_SIGNATURE)', async () => {
      const record = manifest('Flipped')
      const at = indexOfBytes(record.bytes, record.sig)
      const tampered = flipBit(record.bytes, at * 8 + 13)
      await assertRefused(
        2,
        [
          tampered,
          ...label()
            .credentials.attachments()
            .map((a) => a.bytes),
        ],
        'ERR_BAD_SIGNATURE',
      )
    })

    it('a signer without a certificate (ERR_NO_CERTIFICATE)', async () => {
      const stranger = await createNodeKeys()
      await assertRefused(3, [manifest('No cert', {}, stranger.signer).bytes], 'ERR_NO_CERTIFICATE')
    })

    it('a signer whose certificate lacks the role (ERR_WRONG_ROLE)', async () => {
      const retailer = await createNodeKeys()
      const cert = network.certify(retailer, ['retailer'])
      await assertRefused(
        4,
        [manifest('Retailer, not a label', {}, retailer.signer).bytes, cert.bytes],
        'ERR_WRONG_ROLE',
      )
    })

    it('a record of another network (ERR_WRONG_NETWORK)', async () => {
      const foreign = signRecord(
        'consort/manifest',
        sampleManifestBody('othernet', clock.now(), { title: 'Elsewhere' }),
        label().keys.signer,
      )
      await assertRefused(
        5,
        [
          foreign.bytes,
          ...label()
            .credentials.attachments()
            .map((a) => a.bytes),
        ],
        'ERR_WRONG_NETWORK',
      )
    })

    it('an unknown record type, properly signed (ERR_UNKNOWN_RECORD_TYPE)', async () => {
      const body = sampleManifestBody(network.name, clock.now(), { title: 'Unknown type' })
      const bytes = signRawEnvelope({ type: 'consort/bogus', body }, label().keys.signer)
      await assertRefused(
        6,
        [
          bytes,
          ...label()
            .credentials.attachments()
            .map((a) => a.bytes),
        ],
        'ERR_UNKNOWN_RECORD_TYPE',
      )
    })

    it('an oversized record (ERR_RECORD_TOO_LARGE)', async () => {
      const segments = Array.from({ length: 150 }, (_, i) => rawCid(new TextEncoder().encode(`big ${i}`)))
      // Signed under the default caps; this network's caps are smaller.
      const big = manifest('Oversized', { segments, byteSize: segments.length * 256 * 1024 })
      assert.ok(big.bytes.length > CAPS.largeRecordBytes)
      await assertRefused(
        7,
        [
          big.bytes,
          ...label()
            .credentials.attachments()
            .map((a) => a.bytes),
        ],
        'ERR_RECORD_TOO_LARGE',
      )
    })

    it('a far-future timestamp (ERR_FUTURE_TIMESTAMP)', async () => {
      const future = signRecord(
        'consort/manifest',
        sampleManifestBody(network.name, clock.now() + network.record.body.caps.clockSkewMs + 60_000, {
          title: 'From the future',
        }),
        label().keys.signer,
      )
      await assertRefused(
        8,
        [
          future.bytes,
          ...label()
            .credentials.attachments()
            .map((a) => a.bytes),
        ],
        'ERR_FUTURE_TIMESTAMP',
      )
    })

    it('good records still flow afterwards', async () => {
      const record = manifest('Still fine')
      await label().topics.publish('catalog', record, label().credentials.attachments())
      await reachesAll(record.id.toString(), others(0))
    })
  })

  describe('revocation', () => {
    it("a registrar's revocation of a certificate propagates, after which its holder's records are refused", async () => {
      const holder = nodes[1]!
      const cert = holder.credentials.cert()!
      const before = manifest('Before the revocation', {}, holder.keys.signer)
      await holder.topics.publish('catalog', before, holder.credentials.attachments())
      await reachesAll(before.id.toString(), others(1))

      const revocation: SignedRecord<'consort/revocation'> = signRecord(
        'consort/revocation',
        {
          network: network.name,
          created: clock.now(),
          targets: [{ kind: 'cert', id: cert.id }],
          reason: 'the label left the network',
        },
        network.registrarSigner,
      )
      // Any node may relay it; here the holder itself does (a relay never applies what it publishes).
      await holder.topics.publish('revocations', revocation)
      await waitUntil(() => others(1).every((i) => nodes[i]!.trust.isRevoked(cert.id)), {
        message: 'every other node applies the revocation',
      })

      const after = manifest('After the revocation', {}, holder.keys.signer)
      const records = [after.bytes, ...holder.credentials.attachments().map((a) => a.bytes)]
      await assertRefused(1, records, 'ERR_REVOKED')
    })
  })

  describe('in the end', () => {
    it('every refusal anywhere was of a copy sent by its own bad publisher, with the code of that message', () => {
      assert.ok(refusals.length >= badPublishers.size)
      for (const { node, refusal } of refusals) {
        const code = badPublishers.get(refusal.from.toString())
        assert.equal(refusal.code, code, `node ${node} refused a copy from ${refusal.from} with ${refusal.code}`)
      }
    })
  })
})
