import { logger } from '@libp2p/logger'
import type { DecodeOptions, SignedRecord } from '../protocols/records/envelope.ts'
import { decodeRecordAs } from '../protocols/records/envelope.ts'
import type { RevocableKind } from '../protocols/records/types/revocation.ts'
import type { CheckResult, GossipDelivery, TopicBus } from '../protocols/topics/bus.ts'
import type { CertificateTrust } from '../protocols/trust/trust.ts'
import type { RoleDb } from '../roles/role.ts'

const log = logger('consort:revocations')

/** Kinds the node itself enforces (in its trust), and who may revoke them. */
const TRUST_LEVEL_KINDS: Partial<Record<RevocableKind, 'registrar' | 'reference'>> = {
  cert: 'registrar',
  device: 'registrar',
  licence: 'registrar',
  receipt: 'registrar',
  certification: 'reference',
}

/**
 * Every node honours revocations of certificates, devices, licences, receipts and certifications: it follows the
 * revocations topic, keeps what the right authority revoked (in its own sublevel, so a restart forgets
 * nothing), and feeds it to its trust. Revocations of offers, contracts and releases are for the roles.
 */
export class RevocationKeeper {
  readonly #db: RoleDb
  readonly #trust: CertificateTrust
  readonly #topics: TopicBus
  readonly #decodeOptions: () => DecodeOptions
  #unsubscribe: (() => void) | undefined

  constructor(init: { db: RoleDb; trust: CertificateTrust; topics: TopicBus; decodeOptions: () => DecodeOptions }) {
    this.#db = init.db
    this.#trust = init.trust
    this.#topics = init.topics
    this.#decodeOptions = init.decodeOptions
  }

  async start(): Promise<void> {
    for await (const value of this.#db.values()) {
      try {
        // Stored revocations are re-read without the freshness check's "now": they were valid when stored.
        const record = decodeRecordAs('consort/revocation', value, {
          ...this.#decodeOptions(),
          now: Number.MAX_SAFE_INTEGER,
        })
        this.#trust.revoke(this.#targetsFor(record).map((t) => t.id))
      } catch (err) {
        log.error('dropping a stored revocation that no longer decodes: %e', err)
      }
    }
    this.#unsubscribe = this.#topics.subscribe('revocations', {
      check: (delivery) => this.#check(delivery),
      onMessage: (delivery) => this.apply(delivery.record as SignedRecord<'consort/revocation'>),
    })
  }

  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  /** Apply a revocation this node received or issued itself. Idempotent by record id. */
  async apply(record: SignedRecord<'consort/revocation'>): Promise<void> {
    const targets = this.#targetsFor(record)
    if (targets.length === 0) return
    this.#trust.revoke(targets.map((t) => t.id))
    await this.#db.put(record.id.toString(), record.bytes)
  }

  #targetsFor(record: SignedRecord<'consort/revocation'>) {
    return record.body.targets.filter((target) => {
      const authority = TRUST_LEVEL_KINDS[target.kind]
      if (authority === 'registrar') return this.#trust.isRegistrar(record.signer)
      if (authority === 'reference') return this.#trust.isReferenceService(record.signer)
      return false
    })
  }

  #check(delivery: GossipDelivery): CheckResult {
    const record = delivery.record as SignedRecord<'consort/revocation'>
    for (const target of record.body.targets) {
      const authority = TRUST_LEVEL_KINDS[target.kind]
      if (authority === 'registrar' && !this.#trust.isRegistrar(record.signer)) {
        return {
          result: 'reject',
          code: 'ERR_NOT_AUTHORISED',
          reason: `only a registration manager may revoke a ${target.kind}`,
        }
      }
      if (authority === 'reference' && !this.#trust.isReferenceService(record.signer)) {
        return {
          result: 'reject',
          code: 'ERR_NOT_AUTHORISED',
          reason: 'only a reference service may revoke a certification',
        }
      }
    }
    return { result: 'accept' }
  }
}
