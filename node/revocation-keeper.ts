import { logger } from '@libp2p/logger'
import type { DecodeOptions, SignedRecord } from '../protocols/records/envelope.ts'
import { decodeRecordAs } from '../protocols/records/envelope.ts'
import type { TopicBus } from '../protocols/topics/bus.ts'
import { mayRevoke, REVOCATION_AUTHORITY } from '../protocols/topics/revocations.ts'
import type { CertificateTrust } from '../protocols/trust/trust.ts'
import type { RoleDb } from '../roles/role.ts'

const log = logger('consort:revocations')

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
    // Who may revoke what is the revocations topic's rule (`protocols/topics/revocations.ts`), checked before this.
    this.#unsubscribe = this.#topics.subscribe('revocations', {
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
    // The kinds an anchor revokes, each by the anchor the revocations topic's table names.
    return record.body.targets.filter((target) => {
      const authority = REVOCATION_AUTHORITY[target.kind]
      if (authority !== 'registrar' && authority !== 'reference') return false
      return mayRevoke(target.kind, record.signer, undefined, this.#trust) === true
    })
  }
}
