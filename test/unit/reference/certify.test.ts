import assert from 'node:assert/strict'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { peerIdOfKey } from '../../../protocols/peers.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { BodyInput } from '../../../protocols/records/registry.ts'
import {
  type CertificationClause,
  type CertifyResponse,
  certifyResponse,
  REFERENCE_OPS,
  REFERENCE_PROTOCOL,
} from '../../../protocols/reference/index.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import { waitForTopicPeers } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'
import {
  createMarket,
  DAY,
  HOUR,
  type Market,
  OTHER_RELEASE,
  offerBody,
  RELEASE,
  TRACK_A,
  TRACK_B,
  TRACK_C,
} from '../../integration/market/market.ts'

/**
 * Each certification clause, passing and failing on its own, through a real reference service over
 * `/reference/1` from a real retailer node.
 */
describe('reference service: certification clauses', () => {
  let market: Market
  let retailer: NodeKeys
  let contract: SignedRecord<'consort/contract'>

  before(async () => {
    market = await createMarket({ retailers: 1 })
    retailer = market.retailers[0]!.keys
    contract = await market.publishContract()
  })

  after(async () => {
    await market?.stop()
  })

  async function certify(
    body: BodyInput<'consort/offer'>,
    signer: NodeKeys = retailer,
    attachments: SignedRecord[] = [market.retailers[0]!.node.credentials.cert()!],
  ): Promise<{ offer: SignedRecord<'consort/offer'>; answer: CertifyResponse }> {
    const offer = signRecord('consort/offer', body, signer.signer)
    const raw = await rpcCall(
      market.retailers[0]!.node.libp2p,
      peerIdOfKey(market.net.references[0]!.signer.publicKey),
      market.reference.network.protocol(REFERENCE_PROTOCOL),
      REFERENCE_OPS.certify,
      { offer: offer.bytes, attachments: attachments.map((a) => a.bytes) },
    )
    return { offer, answer: certifyResponse.parse(raw) }
  }

  function failedClauses(answer: CertifyResponse): CertificationClause[] {
    return answer.status === 'refused' ? answer.failures.map((f) => f.clause) : []
  }

  async function refusedOnly(clause: CertificationClause, body: BodyInput<'consort/offer'>, signer?: NodeKeys) {
    const { answer } = await certify(body, signer)
    assert.equal(answer.status, 'refused', `expected a refusal for ${clause}`)
    assert.deepEqual(failedClauses(answer), [clause], JSON.stringify(answer))
    return answer
  }

  async function certified(body: BodyInput<'consort/offer'>) {
    const { offer, answer } = await certify(body)
    assert.equal(answer.status, 'certified', JSON.stringify(answer))
    return { offer, answer }
  }

  it('certifies a conforming offer for exactly that offer, against the contract in force, time-limited', async () => {
    const { offer, answer } = await certified(offerBody(market, contract))
    assert.equal(answer.status, 'certified')
    const certification = decodeRecordAs('consort/certification', answer.certification, {
      network: market.net.name,
      now: market.clock.now(),
    })
    assert.ok(certification.body.offer.equals(offer.id))
    assert.equal(certification.body.offerId, offer.body.offerId)
    assert.ok(certification.body.contract.equals(contract.id))
    assert.equal(certification.body.contractSeq, 0)
    assert.equal(certification.body.validUntil, market.clock.now() + market.net.record.body.policy.certificationTtlMs)
    assert.ok(market.net.references[0]!.signer.publicKey.every((b, i) => b === certification.signer[i]))
  })

  it('answers a retry with the same certification', async () => {
    const body = offerBody(market, contract)
    const first = await certified(body)
    const again = await certified(body)
    assert.deepEqual(
      first.answer.status === 'certified' && first.answer.certification,
      again.answer.status === 'certified' && again.answer.certification,
    )
  })

  it('retailer-certificate: refuses a signer without a retailer certificate', async () => {
    const stranger = await createNodeKeys()
    const { answer } = await certify(offerBody(market, contract), stranger, [])
    assert.deepEqual(failedClauses(answer), ['retailer-certificate'])
    const player = await createNodeKeys()
    const playerCert = market.net.certify(player, ['player'])
    const second = await certify(offerBody(market, contract), player, [playerCert])
    assert.deepEqual(failedClauses(second.answer), ['retailer-certificate'])
    assert.match(second.answer.status === 'refused' ? second.answer.failures[0]!.message : '', /retailer/)
  })

  it('contract-exists: refuses an offer naming a contract the service does not know', async () => {
    const unknown = signRecord(
      'consort/contract',
      market.contractBody({ contractId: 'never-published' }),
      market.label.keys.signer,
    )
    await refusedOnly('contract-exists', offerBody(market, unknown))
  })

  it('contract-current: refuses under a contract not yet in force, certifies once it is', async () => {
    const now = market.clock.now()
    const future = await market.publishContract({ validFrom: now + 2 * HOUR, validUntil: now + 60 * DAY })
    const body = offerBody(market, future, { validFrom: now + 2 * HOUR, validUntil: now + 10 * DAY })
    await refusedOnly('contract-current', body)
    market.clock.advance(3 * HOUR)
    await certified({ ...body, created: market.clock.now() })
  })

  it('contract-party: refuses a retailer the contract does not name; any retailer when it names none', async () => {
    const other = await createNodeKeys()
    const exclusive = await market.publishContract({ retailer: other.signer.publicKey })
    await refusedOnly('contract-party', offerBody(market, exclusive))
    const mine = await market.publishContract({ retailer: retailer.signer.publicKey })
    await certified(offerBody(market, mine))
  })

  it('content: refuses content the contract does not cover', async () => {
    await refusedOnly('content', offerBody(market, contract, { content: [TRACK_C] }))
    await refusedOnly('content', offerBody(market, contract, { content: [TRACK_A, TRACK_C] }))
    await certified(offerBody(market, contract, { content: [TRACK_A, TRACK_B] }))
  })

  it('content: a release offer is covered by a contract naming the release, or naming each of its tracks', async () => {
    await certified(offerBody(market, contract, { content: [RELEASE] }))
    await refusedOnly('content', offerBody(market, contract, { content: [OTHER_RELEASE] }))
    const release = signRecord(
      'consort/release',
      {
        network: market.net.name,
        created: market.clock.now(),
        seq: 0,
        icpn: OTHER_RELEASE.slice(5),
        grid: null,
        title: 'Two Tracks',
        artists: ['The Testers'],
        type: 'EP',
        label: null,
        genre: null,
        releaseDate: null,
        tracks: [
          { isrc: TRACK_A.slice(5), manifest: contract.id },
          { isrc: TRACK_B.slice(5), manifest: contract.id },
        ],
        artwork: null,
      },
      market.label.keys.signer,
    )
    // The reference service follows the catalog topic for releases' track lists.
    market.label.topics.subscribe('catalog', { onMessage: () => {} })
    await waitForTopicPeers([market.label], topicString(market.net.name, 'catalog'))
    await market.label.topics.publish('catalog', release, market.label.credentials.attachments())
    await waitUntil(async () => (await market.referenceRole.store.release(OTHER_RELEASE)) != null, {
      message: 'the reference service learns the release',
    })
    await certified(offerBody(market, contract, { content: [OTHER_RELEASE] }))
    const partial = await market.publishContract({ content: [TRACK_A] })
    await refusedOnly('content', offerBody(market, partial, { content: [OTHER_RELEASE] }))
    // A contract naming a release does not cover its tracks sold one by one.
    const releaseOnly = await market.publishContract({ content: [OTHER_RELEASE] })
    await refusedOnly('content', offerBody(market, releaseOnly, { content: [TRACK_A] }))
  })

  it('use-type: refuses a use type the contract does not allow', async () => {
    await refusedOnly('use-type', offerBody(market, contract, { useType: 'ConditionalDownload' }))
    await certified(offerBody(market, contract, { useType: 'OnDemandStream' }))
  })

  it('territory: refuses territories outside the contract, excluded ones included', async () => {
    const answer = await refusedOnly('territory', offerBody(market, contract, { territories: ['DE', 'KP'] }))
    assert.match(answer.status === 'refused' ? answer.failures[0]!.message : '', /KP/)
    await refusedOnly('territory', offerBody(market, contract, { territories: ['Worldwide'] }))
    await certified(offerBody(market, contract, { territories: ['Worldwide'], excludedTerritories: ['KP'] }))
    const europe = await market.publishContract({ territories: ['DE', 'FR'], excludedTerritories: [] })
    await refusedOnly('territory', offerBody(market, europe, { territories: ['DE', 'US'] }))
    await certified(offerBody(market, europe, { territories: ['FR'] }))
    await refusedOnly('territory', offerBody(market, europe, { territories: ['DE'], excludedTerritories: ['DE'] }))
  })

  it('window: refuses an offer outside the contract’s validity window', async () => {
    const now = market.clock.now()
    const contractEnd = contract.body.validUntil!
    await refusedOnly('window', offerBody(market, contract, { validUntil: contractEnd + DAY }))
    await refusedOnly('window', offerBody(market, contract, { validUntil: null }))
    await refusedOnly('window', offerBody(market, contract, { validFrom: contract.body.validFrom - DAY }))
    await certified(offerBody(market, contract, { validFrom: now + DAY, validUntil: contractEnd }))
  })

  it('price: refuses a price under the wholesale price, or in a currency the contract does not price', async () => {
    const answer = await refusedOnly('price', offerBody(market, contract, { price: { amount: 69n, currency: 'EUR' } }))
    assert.match(answer.status === 'refused' ? answer.failures[0]!.message : '', /0\.69 EUR.*0\.70 EUR/)
    await certified(offerBody(market, contract, { price: { amount: 70n, currency: 'EUR' } }))
    await refusedOnly('price', offerBody(market, contract, { price: { amount: 500n, currency: 'USD' } }))
  })

  it('promotion: a discount down to the contract’s minimum, a free offer inside a free window; nothing else', async () => {
    const now = market.clock.now()
    const discount = { kind: 'discount' as const, label: 'Launch week' }
    await certified(offerBody(market, contract, { price: { amount: 49n, currency: 'EUR' }, promotion: discount }))
    await refusedOnly(
      'promotion',
      offerBody(market, contract, { price: { amount: 48n, currency: 'EUR' }, promotion: discount }),
    )
    const free = { kind: 'free' as const, label: 'Weekend gift' }
    const inWindow = { validFrom: now + 11 * DAY, validUntil: now + 12 * DAY }
    await certified(
      offerBody(market, contract, { price: { amount: 0n, currency: 'EUR' }, promotion: free, ...inWindow }),
    )
    await refusedOnly(
      'promotion',
      offerBody(market, contract, { price: { amount: 0n, currency: 'EUR' }, promotion: free, validUntil: now + DAY }),
    )
    await refusedOnly(
      'promotion',
      offerBody(market, contract, { price: { amount: 99n, currency: 'EUR' }, promotion: free, ...inWindow }),
    )
    const strict = await market.publishContract({ promotions: { minPrice: [], freeWindows: [] } })
    await refusedOnly(
      'promotion',
      offerBody(market, strict, { price: { amount: 60n, currency: 'EUR' }, promotion: discount }),
    )
    // A promotion label on a price at or above wholesale needs no permission.
    await certified(offerBody(market, strict, { price: { amount: 80n, currency: 'EUR' }, promotion: discount }))
  })

  it('rules: refuses usage rules beyond the contract’s bounds (defaults included)', async () => {
    const answer = await refusedOnly('rules', offerBody(market, contract, { rules: { devices: 10 } }))
    assert.match(answer.status === 'refused' ? answer.failures[0]!.message : '', /10 devices.*at most 5/)
    await refusedOnly('rules', offerBody(market, contract, { rules: { devices: 3, transfer: true } }))
    await certified(offerBody(market, contract, { rules: { devices: 5, transfer: false } }))
  })

  it('revoked: refuses an offer its retailer revoked, and every offer under a revoked contract', async () => {
    const body = offerBody(market, contract)
    const offer = signRecord('consort/offer', body, retailer.signer)
    const revocation = signRecord(
      'consort/revocation',
      {
        network: market.net.name,
        created: market.clock.now(),
        targets: [{ kind: 'offer', id: offer.id }],
        reason: 'test',
      },
      retailer.signer,
    )
    await market.retailers[0]!.node.topics.publish(
      'revocations',
      revocation,
      market.retailers[0]!.node.credentials.attachments(),
    )
    await waitUntil(async () => (await market.referenceRole.store.revokedBy(offer.id)) != null, {
      message: 'the reference service learns the offer revocation',
    })
    await refusedOnly('revoked', body)

    const doomed = await market.publishContract()
    await certified(offerBody(market, doomed))
    await market.revokeContract(doomed)
    await waitUntil(async () => {
      const head = await market.referenceRole.store.head(
        `${Buffer.from(doomed.signer).toString('hex')}!${doomed.body.contractId}`,
      )
      return head != null && head.revokedSeq >= 0
    })
    await refusedOnly('revoked', offerBody(market, doomed))
  })

  it('names every clause that fails at once', async () => {
    const stranger = await createNodeKeys()
    const { answer } = await certify(
      offerBody(market, contract, {
        content: [TRACK_C],
        useType: 'ConditionalDownload',
        territories: ['KP'],
        validUntil: null,
        price: { amount: 1n, currency: 'EUR' },
        rules: { devices: 50 },
      }),
      stranger,
      [],
    )
    assert.deepEqual(
      new Set(failedClauses(answer)),
      new Set(['retailer-certificate', 'content', 'use-type', 'territory', 'window', 'price', 'rules']),
    )
  })
})
