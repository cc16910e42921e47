import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import fc from 'fast-check'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import { TopicMemory } from '../../../protocols/topics/knowledge.ts'
import { encodeGossipMessage } from '../../../protocols/topics/message.ts'
import { offersTopic } from '../../../protocols/topics/offers.ts'
import { Topic } from '../../../protocols/topics/topic.ts'
import { CertificateTrust } from '../../../protocols/trust/trust.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { sampleRecordCid } from '../../helpers/record-samples.ts'

const DAY = 24 * 3600_000
const FROM = peerIdFromString('12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq')

/**
 * The offers topic's check over generated certifications: whatever the certifier, the validity, the offer it names
 * and its revocation, a certification passes only when it is from a listed reference service, for exactly that
 * offer record, unexpired and unrevoked — forged ones are rejected, expired and revoked ones ignored, none accepted.
 */
describe('offers topic check: forged, expired or revoked certifications never pass', () => {
  const clock = new FakeClock()
  let net: TestNetwork
  let reference: NodeKeys
  let stranger: NodeKeys
  let retailer: NodeKeys
  let trust: CertificateTrust
  let retailerCert: SignedRecord<'consort/cert'>

  before(async () => {
    reference = await createNodeKeys()
    stranger = await createNodeKeys()
    retailer = await createNodeKeys()
    net = await createTestNetwork(clock, { references: [reference] })
    trust = new CertificateTrust(net.record.body, clock)
    retailerCert = net.certify(retailer, ['retailer'])
  })

  let counter = 0
  function offer(): SignedRecord<'consort/offer'> {
    const now = clock.now()
    return signRecord(
      'consort/offer',
      {
        network: net.name,
        created: now,
        offerId: `offer-${++counter}`,
        seq: 0,
        content: ['isrc:USRC17607839'],
        contract: sampleRecordCid('contract'),
        price: { amount: 99n, currency: 'EUR' },
        useType: 'PermanentDownload',
        rules: {},
        territories: ['DE'],
        excludedTerritories: [],
        validFrom: now,
        validUntil: now + 30 * DAY,
        promotion: null,
      },
      retailer.signer,
    )
  }

  it('accepts exactly the certifications that are genuine, for that offer, unexpired and unrevoked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          byReference: fc.boolean(),
          sameOffer: fc.boolean(),
          sameOfferId: fc.boolean(),
          lifetime: fc.integer({ min: -2 * DAY, max: 2 * DAY }).filter((n) => n !== 0),
          revoked: fc.boolean(),
          attached: fc.boolean(),
        }),
        async (c) => {
          const topic = new Topic(offersTopic, { network: net.name, clock, trust, memory: new TopicMemory() })
          const target = offer()
          const other = offer()
          const now = clock.now()
          const created = c.lifetime > 0 ? now : now + c.lifetime - 1
          const certification = signRecord(
            'consort/certification',
            {
              network: net.name,
              created,
              offer: c.sameOffer ? target.id : other.id,
              offerId: c.sameOfferId ? target.body.offerId : other.body.offerId,
              contract: sampleRecordCid('contract'),
              contractId: 'contract-1',
              contractSeq: 0,
              validUntil: now + c.lifetime,
            },
            (c.byReference ? reference : stranger).signer,
          )
          if (c.revoked) trust.revoke([certification.id])
          const data = encodeGossipMessage([
            target.bytes,
            ...(c.attached ? [certification.bytes] : []),
            retailerCert.bytes,
          ])
          const { verdict } = await topic.judge(data, FROM)
          const genuine = c.attached && c.byReference && c.sameOffer && c.sameOfferId && c.lifetime > 0 && !c.revoked
          assert.equal(verdict.result === 'accept', genuine, JSON.stringify({ ...c, verdict }))
          const forged = !c.attached || !c.byReference || !c.sameOffer || !c.sameOfferId
          if (forged) assert.equal(verdict.result, 'reject', JSON.stringify({ ...c, verdict }))
          // Expired or revoked is a matter of when and of what a node saw: never held against the sender.
          else if (!genuine) assert.equal(verdict.result, 'ignore', JSON.stringify({ ...c, verdict }))
        },
      ),
      { numRuns: 200 },
    )
  })
})
