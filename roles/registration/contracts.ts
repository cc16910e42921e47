import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { withDeadline } from '../../protocols/deadline.ts'
import { isError } from '../../protocols/errors.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { UseType } from '../../protocols/records/types/common.ts'
import type { ContractBody } from '../../protocols/records/types/contract.ts'
import type { GossipDelivery } from '../../protocols/topics/bus.ts'
import { CONTRACT_CACHE_ENTRIES } from './constants.ts'
import type { RegistrarContext } from './context.ts'
import { CertificationInvalidError, ContractNotInForceError } from './errors.ts'
import { KEYS, keyName, put } from './store.ts'

const log = logger('consort:registration:contracts')

/** What was sold, as far as a contract is concerned. */
export interface Sale {
  content: readonly string[]
  useType: UseType
  territories: readonly string[]
  excludedTerritories: readonly string[]
  /** The retailer's key. */
  retailer: Uint8Array
  /** When the licence is issued. */
  at: number
}

const WORLDWIDE = 'Worldwide'

/** Does the contract license territory `t` of an offer that itself excludes `offerExcluded`? */
export function coversTerritory(contract: ContractBody, t: string, offerExcluded: readonly string[]): boolean {
  const territories: readonly string[] = contract.territories
  const excluded: readonly string[] = contract.excludedTerritories
  const worldwide = territories.includes(WORLDWIDE)
  if (t === WORLDWIDE) return worldwide && excluded.every((x) => offerExcluded.includes(x))
  return (worldwide || territories.includes(t)) && !excluded.includes(t)
}

export function windowOpen(contract: ContractBody, at: number): boolean {
  return at >= contract.validFrom && (contract.validUntil == null || at <= contract.validUntil)
}

function allowsRetailer(contract: ContractBody, retailer: Uint8Array): boolean {
  return contract.retailer == null || toHex(contract.retailer) === toHex(retailer)
}

/**
 * What a newer version of a contract takes away from a sale that the certified version allowed, or null when
 * the newer version still allows everything the sale needs. Only what the certified version granted is
 * compared, so this never second-guesses the reference service's own reading of the certified version.
 */
export function exclusionOf(certified: ContractBody, latest: ContractBody, sale: Sale): string | null {
  for (const item of sale.content) {
    if (certified.content.includes(item) && !latest.content.includes(item))
      return `version ${latest.seq} no longer covers ${item}`
  }
  if (certified.useTypes.includes(sale.useType) && !latest.useTypes.includes(sale.useType))
    return `version ${latest.seq} no longer allows ${sale.useType}`
  for (const t of sale.territories) {
    if (
      coversTerritory(certified, t, sale.excludedTerritories) &&
      !coversTerritory(latest, t, sale.excludedTerritories)
    )
      return `version ${latest.seq} no longer covers territory ${t}`
  }
  if (allowsRetailer(certified, sale.retailer) && !allowsRetailer(latest, sale.retailer))
    return `version ${latest.seq} is for another retailer`
  if (windowOpen(certified, sale.at) && !windowOpen(latest, sale.at))
    return `version ${latest.seq} is not in force at ${sale.at}`
  return null
}

/**
 * The contracts the registrar licenses against: it follows the `contracts` topic to know each contract's latest
 * version, fetches the certified version by CID through the record store (from the swarm when it is not held
 * here), and decides whether a contract is still in force for a sale.
 */
export class ContractWatch {
  readonly #ctx: RegistrarContext
  readonly #isRevoked: (record: SignedRecord<'consort/contract'>) => Promise<boolean>
  /** Decoded contracts by CID, least recently used first. */
  readonly #cache = new Map<string, SignedRecord<'consort/contract'>>()
  #unsubscribe: (() => void) | undefined

  constructor(ctx: RegistrarContext, isRevoked: (record: SignedRecord<'consort/contract'>) => Promise<boolean>) {
    this.#ctx = ctx
    this.#isRevoked = isRevoked
  }

  start(subscribe: RegistrarTopics): void {
    this.#unsubscribe = subscribe('contracts', (delivery) =>
      this.learn(delivery.record as SignedRecord<'consort/contract'>),
    )
  }

  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  /** Remember a contract version (from gossip or a fetch); the index keeps each contract's highest `seq`. */
  async learn(contract: SignedRecord<'consort/contract'>): Promise<void> {
    this.#remember(contract)
    const key = KEYS.contract(toHex(contract.signer), contract.body.contractId)
    await this.#ctx.locks.run(keyName(key), async () => {
      const known = await this.#ctx.store.get(key)
      if (known != null && known.seq >= contract.body.seq) return
      await this.#ctx.records.put(contract)
      await this.#ctx.store.batch([put(key, { seq: contract.body.seq, cid: contract.id })])
      log('contract %s version %d', contract.body.contractId, contract.body.seq)
    })
  }

  async fetch(id: CID, signal?: AbortSignal): Promise<SignedRecord<'consort/contract'>> {
    const cached = this.#cache.get(id.toString())
    if (cached != null) {
      this.#remember(cached)
      return cached
    }
    const contract = await this.#ctx.records.getAs('consort/contract', id, {
      signal: withDeadline(this.#ctx.options.contractFetchTimeoutMs, signal).signal,
    })
    if (!contract.id.equals(id)) throw new ContractNotInForceError(`contract ${id}: the store returned another record`)
    await this.learn(contract)
    return contract
  }

  /**
   * The certified version of the contract, if the contract is still in force for this sale: not revoked, within
   * its window, and not superseded by a version that excludes the sale. Throws `ContractNotInForceError`.
   */
  async checkInForce(
    certification: SignedRecord<'consort/certification'>,
    sale: Sale,
    signal?: AbortSignal,
  ): Promise<SignedRecord<'consort/contract'>> {
    const id = certification.body.contract
    let contract: SignedRecord<'consort/contract'>
    try {
      contract = await this.fetch(id, signal)
    } catch (err) {
      if (isError(err, ContractNotInForceError)) throw err
      throw new ContractNotInForceError(`contract ${id}: not available (${(err as Error).message})`)
    }
    if (
      contract.body.contractId !== certification.body.contractId ||
      contract.body.seq !== certification.body.contractSeq
    ) {
      throw new CertificationInvalidError(
        `certification names contract ${certification.body.contractId} version ${certification.body.contractSeq}, ` +
          `but ${id} is ${contract.body.contractId} version ${contract.body.seq}`,
      )
    }
    if (await this.#isRevoked(contract))
      throw new ContractNotInForceError(`contract ${contract.body.contractId} version ${contract.body.seq} is revoked`)
    if (!windowOpen(contract.body, sale.at))
      throw new ContractNotInForceError(
        `contract ${contract.body.contractId} is in force from ${contract.body.validFrom} until ` +
          `${contract.body.validUntil ?? 'open'}, not at ${sale.at}`,
      )
    const latest = await this.#ctx.store.get(KEYS.contract(toHex(contract.signer), contract.body.contractId))
    if (latest != null && latest.seq > contract.body.seq) {
      const newer = await this.fetch(latest.cid, signal)
      if (await this.#isRevoked(newer))
        throw new ContractNotInForceError(`contract ${contract.body.contractId} version ${newer.body.seq} is revoked`)
      const exclusion = exclusionOf(contract.body, newer.body, sale)
      if (exclusion != null)
        throw new ContractNotInForceError(`contract ${contract.body.contractId} is superseded: ${exclusion}`)
    }
    return contract
  }

  #remember(contract: SignedRecord<'consort/contract'>): void {
    const key = contract.id.toString()
    this.#cache.delete(key)
    this.#cache.set(key, contract)
    if (this.#cache.size > CONTRACT_CACHE_ENTRIES) {
      const oldest = this.#cache.keys().next()
      if (oldest.done !== true) this.#cache.delete(oldest.value)
    }
  }
}

/** Subscribe to a topic for this role; returns the unsubscribe function. */
export type RegistrarTopics = (
  topic: 'contracts' | 'revocations',
  onMessage: (delivery: GossipDelivery) => Promise<void>,
) => () => void
