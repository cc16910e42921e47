/**
 * The bodies of the market's records as tests and benchmarks make them: a contract, a retailer's offer under it,
 * the reference service's certification of that offer. Each builder takes what differs from test to test as
 * arguments and fills in the rest with one plain, valid default (worldwide, a permanent download, euros), so a test
 * names only what it is about; `overrides` replace any field.
 */
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { BodyInput } from '../../protocols/records/registry.ts'

type ContractBody = BodyInput<'consort/contract'>
type OfferBody = BodyInput<'consort/offer'>
type CertificationBody = BodyInput<'consort/certification'>

let contracts = 0
let offers = 0

/**
 * A contract of `distributor` for `content`: any retailer, worldwide, permanent downloads at 0.70 EUR wholesale a
 * unit, all to one party, in force from a second before `now` with no end.
 */
export function contractBody(
  network: string,
  distributor: Uint8Array,
  content: readonly string[],
  now: number,
  overrides: Partial<ContractBody> = {},
): ContractBody {
  return {
    network,
    created: now,
    contractId: `contract-${++contracts}`,
    seq: 0,
    distributor,
    retailer: null,
    content: [...content],
    commercialModel: 'pay-as-you-go',
    useTypes: ['PermanentDownload'],
    territories: ['Worldwide'],
    excludedTerritories: [],
    validFrom: now - 1000,
    validUntil: null,
    wholesale: [{ currency: 'EUR', amount: 70n, per: 'unit' }],
    revenueShareBps: null,
    promotions: { minPrice: [], freeWindows: [] },
    ruleBounds: {},
    splits: [{ party: 'label', key: null, bps: 10_000 }],
    ...overrides,
  }
}

/**
 * A retailer's offer under `contract` for all its content: a permanent download at 0.99 EUR, worldwide, with no
 * usage rules, from a second before `now` with no end.
 */
export function offerBody(
  contract: SignedRecord<'consort/contract'>,
  now: number,
  overrides: Partial<OfferBody> = {},
): OfferBody {
  return {
    network: contract.body.network,
    created: now,
    offerId: `offer-${++offers}`,
    seq: 0,
    content: [...contract.body.content],
    contract: contract.id,
    price: { amount: 99n, currency: 'EUR' },
    useType: 'PermanentDownload',
    rules: {},
    territories: ['Worldwide'],
    excludedTerritories: [],
    validFrom: now - 1000,
    validUntil: null,
    promotion: null,
    ...overrides,
  }
}

/** The reference service's certification of `offer` under `contract`, valid for `validForMs` from `now`. */
export function certificationBody(
  offer: SignedRecord<'consort/offer'>,
  contract: SignedRecord<'consort/contract'>,
  now: number,
  validForMs: number,
): CertificationBody {
  return {
    network: offer.body.network,
    created: now,
    offer: offer.id,
    offerId: offer.body.offerId,
    contract: contract.id,
    contractId: contract.body.contractId,
    contractSeq: contract.body.seq,
    validUntil: now + validForMs,
  }
}
