import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { BodyInput } from '../../../protocols/records/registry.ts'
import { USE_TYPES } from '../../../protocols/records/types/common.ts'
import { DEFAULT_NETWORK_RULES } from '../../../protocols/usage-rules/index.ts'
import { type ClauseInput, checkOfferClauses } from '../../../roles/reference/clauses.ts'
import { OTHER_RELEASE, RELEASE, TRACK_A, TRACK_B, TRACK_C } from '../../integration/market/market.ts'

const NOW = Date.UTC(2026, 10, 1)
const DAY = 24 * 3600_000
const NETWORK = 'testnet'

/** The pure clause function over many generated offers: the properties the reference service must never break. */
describe('reference service: clause properties', () => {
  let label: NodeKeys
  let retailer: NodeKeys
  let other: NodeKeys

  before(async () => {
    label = await createNodeKeys()
    retailer = await createNodeKeys()
    other = await createNodeKeys()
  })

  function contract(overrides: Partial<BodyInput<'consort/contract'>> = {}): SignedRecord<'consort/contract'> {
    return signRecord(
      'consort/contract',
      {
        network: NETWORK,
        created: NOW,
        contractId: 'c-1',
        seq: 0,
        distributor: label.signer.publicKey,
        retailer: null,
        content: [TRACK_A, TRACK_B, RELEASE],
        commercialModel: 'pay-as-you-go',
        useTypes: ['PermanentDownload', 'OnDemandStream'],
        territories: ['Worldwide'],
        excludedTerritories: ['KP'],
        validFrom: NOW - DAY,
        validUntil: NOW + 365 * DAY,
        wholesale: [{ currency: 'EUR', amount: 70n, per: 'unit' }],
        revenueShareBps: null,
        promotions: { minPrice: [{ amount: 49n, currency: 'EUR' }], freeWindows: [] },
        ruleBounds: { maxDevices: 5 },
        splits: [{ party: 'Label', key: null, bps: 10_000 }],
        ...overrides,
      },
      label.signer,
    )
  }

  const offerArb = fc.record({
    content: fc.uniqueArray(fc.constantFrom(TRACK_A, TRACK_B, TRACK_C, RELEASE, OTHER_RELEASE), {
      minLength: 1,
      maxLength: 3,
    }),
    price: fc.bigInt({ min: 0n, max: 500n }),
    currency: fc.constantFrom('EUR', 'USD'),
    useType: fc.constantFrom(...USE_TYPES),
    devices: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
    territories: fc.uniqueArray(fc.constantFrom('DE', 'FR', 'US', 'KP', 'JP', 'Worldwide'), {
      minLength: 1,
      maxLength: 3,
    }),
    from: fc.integer({ min: -2 * DAY, max: 2 * DAY }),
    length: fc.option(fc.integer({ min: 1, max: 400 * DAY }), { nil: null }),
    promotion: fc.option(
      fc.record({ kind: fc.constantFrom('discount' as const, 'free' as const), label: fc.constant('promo') }),
      { nil: null },
    ),
  })

  type OfferCase = typeof offerArb extends fc.Arbitrary<infer T> ? T : never

  function sign(o: OfferCase, c: SignedRecord<'consort/contract'>) {
    return signRecord(
      'consort/offer',
      {
        network: NETWORK,
        created: NOW,
        offerId: 'o-1',
        seq: 0,
        content: o.content,
        contract: c.id,
        price: { amount: o.price, currency: o.currency },
        useType: o.useType,
        rules: o.devices != null ? { devices: o.devices } : {},
        territories: o.territories,
        excludedTerritories: [],
        validFrom: NOW + o.from,
        validUntil: o.length == null ? null : NOW + o.from + o.length,
        promotion: o.promotion,
      },
      retailer.signer,
    )
  }

  function input(offer: SignedRecord<'consort/offer'>, c: SignedRecord<'consort/contract'>): ClauseInput {
    return {
      offer,
      now: NOW,
      retailer: { ok: true },
      named: c,
      current: c,
      contractRevoked: false,
      offerRevoked: false,
      releaseTracks: new Map(),
      ruleDefaults: DEFAULT_NETWORK_RULES,
    }
  }

  it('never certifies a retailer without a contract: another retailer’s contract always fails contract-party', () => {
    const exclusive = contract({ retailer: other.signer.publicKey })
    fc.assert(
      fc.property(offerArb, (o) => {
        const failures = checkOfferClauses(input(sign(o, exclusive), exclusive))
        assert.ok(failures.some((f) => f.clause === 'contract-party'))
      }),
      { numRuns: 150 },
    )
  })

  it('never certifies an unknown contract, nor one revoked', () => {
    const c = contract()
    fc.assert(
      fc.property(offerArb, fc.boolean(), (o, known) => {
        const offer = sign(o, c)
        const failures = checkOfferClauses(
          known ? { ...input(offer, c), contractRevoked: true } : { ...input(offer, c), named: null, current: null },
        )
        assert.ok(failures.some((f) => f.clause === (known ? 'revoked' : 'contract-exists')))
      }),
      { numRuns: 100 },
    )
  })

  it('never certifies a price under the wholesale price without a promotion the contract allows', () => {
    const c = contract()
    fc.assert(
      fc.property(offerArb, (o) => {
        const failures = checkOfferClauses(input(sign(o, c), c))
        if (failures.length > 0) return
        const below = o.currency === 'EUR' && o.price < 70n
        if (below) {
          assert.ok(
            o.promotion?.kind === 'discount' && o.price >= 49n,
            `certified ${o.price} EUR with ${JSON.stringify(o.promotion)}`,
          )
        }
        assert.equal(o.currency, 'EUR', 'the contract prices only EUR')
      }),
      { numRuns: 300 },
    )
  })

  it('certifies only offers whose every term lies within the contract', () => {
    const c = contract()
    fc.assert(
      fc.property(offerArb, (o) => {
        const failures = checkOfferClauses(input(sign(o, c), c))
        const inside =
          o.content.every((x) => c.body.content.includes(x)) &&
          c.body.useTypes.includes(o.useType) &&
          !o.territories.includes('KP') &&
          !o.territories.includes('Worldwide') &&
          o.from >= -DAY &&
          o.length != null &&
          o.from + o.length <= 365 * DAY &&
          (o.devices ?? DEFAULT_NETWORK_RULES.devices ?? Number.POSITIVE_INFINITY) <= 5
        if (failures.length === 0)
          assert.ok(
            inside,
            `certified an offer outside its contract: ${JSON.stringify(o, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`,
          )
        for (const f of failures) assert.ok(f.message.length > 0)
      }),
      { numRuns: 300 },
    )
  })
})
