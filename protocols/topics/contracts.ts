import { expandTerritories } from '../identifiers/territories.ts'
import type { SignedRecord } from '../records/envelope.ts'
import { keyHex } from './knowledge.ts'
import { ATTACHMENT_TYPES } from './names.ts'
import { isWithdrawn } from './revocations.ts'
import {
  ACCEPT,
  type Accept,
  type Ignore,
  ignore,
  type Reject,
  reject,
  type TopicSpec,
  type TopicTrust,
} from './spec.ts'

/**
 * The largest valid contract (10 000 content ids of the longest kind, 64 splits, every currency priced, every
 * territory named) is about 265 KiB, 270 KiB with the distributor's certificate and device: 384 KiB leaves room for a
 * field or two more (`test/unit/topics/specs.test.ts` builds it and keeps this honest).
 */
export const CONTRACTS_MESSAGE_BYTES = 384 * 1024

export const CONTRACT_CODES = {
  notDistributor: 'ERR_NOT_DISTRIBUTOR',
  coversNothing: 'ERR_CONTRACT_COVERS_NOTHING',
  revoked: 'ERR_CONTRACT_REVOKED',
} as const

/** The key a contract's versions share: its distributor and its stable id. */
export function contractVersionKey(record: SignedRecord<'consort/contract'>): string {
  return `${keyHex(record.body.distributor)}/${record.body.contractId}`
}

/**
 * The contract rule, over the contract alone (decision 0308). Beyond what every record passes (strict schema: parties
 * are keys, territories ISO 3166 codes without repeats, a window that ends after it starts, shares that sum to 100 %;
 * the network; freshness; the signature) and what trust checks (its signer holds a current, unrevoked `production`
 * certificate): the distributor the contract names is its signer — a label signs its own contracts, never another's
 * — and its territories, less the excluded ones, cover at least one country.
 */
export function checkContract(record: SignedRecord<'consort/contract'>): Accept | Reject {
  const body = record.body
  if (keyHex(body.distributor) !== keyHex(record.signer)) {
    return reject(
      CONTRACT_CODES.notDistributor,
      `contract ${body.contractId} names distributor ${keyHex(body.distributor)} but is signed by ${keyHex(record.signer)}`,
    )
  }
  if (expandTerritories(body.territories, body.excludedTerritories).size === 0) {
    return reject(
      CONTRACT_CODES.coversNothing,
      `contract ${body.contractId} covers no country: ${body.territories.join(', ')} less ${body.excludedTerritories.join(', ')}`,
    )
  }
  return ACCEPT
}

/**
 * The whole contract rule for a contract obtained another way than the topic (fetched by its CID): its signer trusted
 * for it, then `checkContract`. The same verdict the topic gives before anything a node knows is consulted.
 */
export function verifyContract(record: SignedRecord<'consort/contract'>, trust: TopicTrust): Accept | Reject {
  const trusted = trust.check(record)
  if (!trusted.ok) return reject(trusted.code, trusted.reason)
  return checkContract(record)
}

/**
 * `/contracts`: `consort/contract`, signed by a holder of a `production` certificate. Rejected: anything that fails
 * the contract rule (`checkContract`). Ignored: a contract its distributor revoked, and a stale or conflicting
 * version (the sequence rule, keyed by distributor and contract id).
 */
export const contractsTopic: TopicSpec = {
  name: 'contracts',
  leads: ['consort/contract'],
  attachments: ATTACHMENT_TYPES,
  maxMessageBytes: CONTRACTS_MESSAGE_BYTES,
  // Contracts come in bursts when a label imports a catalogue (one per deal) and each may start a re-check of every
  // offer under it at a reference service: few at once, and every one must arrive, so the newest waits at the door.
  queue: { maxItems: 1024, maxBytes: 32 * 1024 * 1024, concurrency: 4, whenFull: 'refuse-newest' },
  validate: (delivery) => checkContract(delivery.record as SignedRecord<'consort/contract'>),
  async judge(delivery, { trust, knows }): Promise<Accept | Ignore> {
    const record = delivery.record as SignedRecord<'consort/contract'>
    if (isWithdrawn(record, await knows.revokers(record.id), trust)) {
      return ignore(
        CONTRACT_CODES.revoked,
        `contract ${record.body.contractId} (${record.id}) was revoked by its distributor`,
      )
    }
    return ACCEPT
  },
  version: (record) => {
    const contract = record as SignedRecord<'consort/contract'>
    return { key: contractVersionKey(contract), seq: contract.body.seq }
  },
}
