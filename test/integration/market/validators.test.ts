import assert from 'node:assert/strict'
import { createNodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { Refusal } from '../../../protocols/topics/bus.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { flipBit, indexOfBytes } from '../../helpers/record-samples.ts'
import { nextEvent, waitUntil } from '../../helpers/wait.ts'
import { connectToPublisher, createMarket, DAY, HOUR, type Market, TRACK_A } from './market.ts'

/**
 * The offers topic's validator on every node that follows offers: a forged, mismatched, missing or expired
 * certification never passes (reject), a stale sequence number or a revoked offer goes no further (ignore).
 */
describe('market: the offers topic validator', () => {
  let market: Market
  let contract: SignedRecord<'consort/contract'>

  before(async () => {
    market = await createMarket({ retailers: 1, observers: 3 })
    // A node that rejects a message does not forward it: connect every observer to the publisher itself, so that
    // each one sees (and judges) every message first-hand.
    const publisher = market.retailers[0]!.node
    await connectToPublisher(
      publisher,
      market.observers.map((o) => o.node),
      topicString(market.net.name, 'offers'),
    )
    contract = await market.publishContract()
  })

  after(async () => {
    await market?.stop()
  })

  const shop = () => market.retailers[0]!

  /**
   * A node that relays the messages under test. gossipsub counts every rejected message against its sender (the
   * penalty grows with the square of the count, and past −300 a peer is ignored altogether), so each test that
   * sends rejected messages sends them — at most two — from a relay of its own, connected to every observer.
   */
  async function relay(): Promise<ConsortNode> {
    const node = await startMemoryNode({ network: market.net, clock: market.clock })
    market.nodes.push(node)
    // It follows the topic, as a node that relays it would.
    node.topics.subscribe('offers', { onMessage: () => {} })
    await connectToPublisher(
      node,
      market.observers.map((o) => o.node),
      topicString(market.net.name, 'offers'),
    )
    return node
  }

  /**
   * Publish a message (from the retailer unless `from`) and wait until every observer refused it with `code`. Only
   * refusals of copies that came from `from` count: on a loaded machine a copy of an earlier test's message may
   * still be arriving from its own relay.
   */
  async function refusedEverywhere(
    offer: SignedRecord<'consort/offer'>,
    attachments: SignedRecord[],
    code: string,
    result: 'reject' | 'ignore',
    from: ConsortNode = shop().node,
  ): Promise<void> {
    const before = market.observers.map((o) => o.accepted.get(offer.id.toString()))
    const refusals = market.observers.map((o) =>
      nextEvent<Refusal>(
        o.node.topics,
        'refused',
        (r) => r.topic === 'offers' && r.code === code && r.from.equals(from.peerId),
      ),
    )
    await from.topics.publish('offers', offer, attachments)
    for (const refusal of await Promise.all(refusals)) assert.equal(refusal.result, result)
    // Nothing new was delivered: the offer is unknown, or still known with what came before.
    market.observers.forEach((o, i) => {
      assert.equal(o.accepted.get(offer.id.toString()), before[i])
    })
  }

  async function certifiedOffer(offerId: string, overrides: Record<string, unknown> = {}) {
    const view = await shop().role.offers.create({
      offerId,
      content: [TRACK_A],
      contract: contract.id.toString(),
      price: { amount: 99n, currency: 'EUR' },
      useType: 'PermanentDownload',
      territories: ['DE'],
      ...overrides,
    })
    assert.equal(view.status, 'certified', JSON.stringify(view.failures))
    const records = await shop().role.offers.records(offerId)
    return { view, offer: records.offer, certification: records.certification! }
  }

  it('accepts a certified offer on every node', async () => {
    const { offer } = await certifiedOffer('good')
    await waitUntil(() => market.observers.every((o) => o.accepted.has(offer.id.toString())))
  })

  it('rejects an offer without a certification, or with one for another offer', async () => {
    const cert = shop().node.credentials.cert()!
    const { certification } = await certifiedOffer('other')
    const bare = signRecord(
      'consort/offer',
      { ...(await shop().role.offers.records('good')).offer.body, offerId: 'bare', created: market.clock.now() },
      shop().keys.signer,
    )
    const from = await relay()
    await refusedEverywhere(bare, [cert], 'ERR_NO_CERTIFICATION', 'reject', from)
    const borrowed = signRecord(
      'consort/offer',
      { ...bare.body, offerId: 'borrowed', created: market.clock.now() + 1 },
      shop().keys.signer,
    )
    await refusedEverywhere(borrowed, [certification, cert], 'ERR_NO_CERTIFICATION', 'reject', from)
  })

  it('rejects a certification forged by a key the network record does not list', async () => {
    const cert = shop().node.credentials.cert()!
    const forger = await createNodeKeys()
    const offer = signRecord(
      'consort/offer',
      { ...(await shop().role.offers.records('good')).offer.body, offerId: 'forged', created: market.clock.now() },
      shop().keys.signer,
    )
    const forged = signRecord(
      'consort/certification',
      {
        network: market.net.name,
        created: market.clock.now(),
        offer: offer.id,
        offerId: offer.body.offerId,
        contract: contract.id,
        contractId: contract.body.contractId,
        contractSeq: 0,
        validUntil: market.clock.now() + DAY,
      },
      forger.signer,
    )
    const from = await relay()
    await refusedEverywhere(offer, [forged, cert], 'ERR_UNTRUSTED_CERTIFIER', 'reject', from)
    // The retailer signing its own certification is no better.
    const selfMade = signRecord('consort/certification', forged.body, shop().keys.signer)
    await refusedEverywhere(offer, [selfMade, cert], 'ERR_UNTRUSTED_CERTIFIER', 'reject', from)
  })

  it('rejects a real certification whose bytes were altered', async () => {
    const cert = shop().node.credentials.cert()!
    const { offer, certification } = await certifiedOffer('tampered')
    // Move validUntil a little: the reference service's signature no longer covers the body.
    const at = indexOfBytes(certification.bytes, new TextEncoder().encode('validUntil'))
    assert.ok(at > 0)
    const altered = { ...certification, bytes: flipBit(certification.bytes, (at + 'validUntil'.length + 8) * 8) }
    const from = await relay()
    const refusals = market.observers.map((o) =>
      nextEvent<Refusal>(
        o.node.topics,
        'refused',
        (r) => r.topic === 'offers' && r.result === 'reject' && r.from.equals(from.peerId),
      ),
    )
    await from.topics.publish('offers', offer, [altered, cert])
    for (const { code, reason } of await Promise.all(refusals))
      assert.ok(
        ['ERR_BAD_SIGNATURE', 'ERR_NON_CANONICAL_RECORD', 'ERR_RECORD_SCHEMA', 'ERR_MALFORMED_RECORD'].includes(code),
        `${code}: ${reason}`,
      )
  })

  it('ignores a stale version (a lower seq than one already seen)', async () => {
    const cert = shop().node.credentials.cert()!
    const first = await certifiedOffer('versions', { price: { amount: 99n, currency: 'EUR' } })
    await waitUntil(() => market.observers.every((o) => o.accepted.has(first.offer.id.toString())))
    const updated = await shop().role.offers.update('versions', { price: { amount: 89n, currency: 'EUR' } })
    assert.equal(updated.status, 'certified')
    await waitUntil(() => market.observers.every((o) => o.accepted.has(updated.offer)))
    // Version 0 again, still with its unexpired certification, in a message not seen before (gossipsub drops a
    // message it has seen without validating it again): stale.
    await refusedEverywhere(first.offer, [first.certification], 'ERR_STALE_SEQUENCE', 'ignore')
    void cert
  })

  it('ignores an offer after its retailer withdrew it', async () => {
    const cert = shop().node.credentials.cert()!
    const { offer, certification } = await certifiedOffer('withdrawn')
    await waitUntil(() => market.observers.every((o) => o.accepted.has(offer.id.toString())))
    await shop().role.offers.withdraw('withdrawn', 'sold out')
    await waitUntil(() => market.observers.every((o) => o.isRevoked(offer)))
    // A later renewal of the same offer record (a new certification, so a new message) goes no further.
    const renewed = signRecord(
      'consort/certification',
      { ...certification.body, created: market.clock.now() + 1 },
      market.net.references[0]!.signer,
    )
    await refusedEverywhere(offer, [renewed, cert], 'ERR_OFFER_REVOKED', 'ignore')
  })

  it('ignores an expired certification (a peer may have forwarded it just before it expired)', async () => {
    const cert = shop().node.credentials.cert()!
    const { offer, certification } = await certifiedOffer('expiring', { validUntil: market.clock.now() + 60 * DAY })
    const ttl = market.net.record.body.policy.certificationTtlMs
    market.clock.advance(ttl + HOUR)
    assert.ok(certification.body.validUntil < market.clock.now())
    // The same offer and certification, in a message not seen before (the retailer's certificate left out).
    await refusedEverywhere(offer, [certification], 'ERR_CERTIFICATION_EXPIRED', 'ignore', await relay())
    void cert
  })
})
