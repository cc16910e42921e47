import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { RevocableKind } from '../../protocols/records/types/revocation.ts'
import { MAX_REVOKERS_PER_TARGET } from './constants.ts'
import type { RegistrarContext } from './context.ts'
import type { RegistrarTopics } from './contracts.ts'
import { type BatchOp, KEYS, put, type RevokedEntry } from './store.ts'

const log = logger('consort:registration:revocations')

/** Kinds whose revocations this role keeps for itself (the node's trust keeps certs, devices, licences, certifications). */
const WATCHED_KINDS: readonly RevocableKind[] = ['contract', 'offer', 'release', 'manifest']

/**
 * Revocations, both ways. Outgoing: the registrar signs a `consort/revocation` for certs, devices and licences,
 * applies it to its own trust (gossip does not deliver a node's own messages back to it), keeps it, and publishes
 * it on `revocations`. Incoming: it keeps who revoked which contract or offer, so that the licence check can
 * decide whose word counts (a contract's own signer or distributor, a reference service, a registrar).
 */
export class RevocationDesk {
  readonly #ctx: RegistrarContext
  readonly #publish: RevocationPublisher
  #unsubscribe: (() => void) | undefined

  constructor(ctx: RegistrarContext, publish: RevocationPublisher) {
    this.#ctx = ctx
    this.#publish = publish
  }

  /** Re-apply this registrar's own revocations to the trust (it forgets them on restart), then follow the topic. */
  async start(subscribe: RegistrarTopics): Promise<void> {
    const onBadValue = (err: Error) => log.error('dropping an own revocation that no longer decodes: %e', err)
    for await (const [, record] of this.#ctx.store.entries(KEYS.ownRevocationPrefix, {
      limit: Number.MAX_SAFE_INTEGER,
      onBadValue,
    })) {
      this.#ctx.trust.revoke(record.body.targets.map((t) => t.id))
    }
    this.#unsubscribe = subscribe('revocations', (delivery) =>
      this.learn(delivery.record as SignedRecord<'consort/revocation'>),
    )
  }

  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  /** Keep the contract and offer targets of a revocation received from the network, with who revoked them. */
  async learn(record: SignedRecord<'consort/revocation'>): Promise<void> {
    const signer = toHex(record.signer)
    const ops: BatchOp[] = []
    for (const target of record.body.targets) {
      if (!WATCHED_KINDS.includes(target.kind)) continue
      const key = KEYS.revoked(target.id.toString())
      const known = await this.#ctx.store.get(key)
      if (known?.by.includes(signer) === true) continue
      if (known != null && known.by.length >= MAX_REVOKERS_PER_TARGET) continue
      ops.push(put(key, { kind: target.kind, by: [...(known?.by ?? []), signer] } satisfies RevokedEntry))
    }
    await this.#ctx.store.batch(ops)
    if (ops.length > 0) log('%d target(s) revoked by %s: %s', ops.length, signer, record.body.reason)
  }

  /** Has any of `authorities` (or a reference service or registrar of the network) revoked `id`? */
  async isRevokedBy(id: CID, authorities: readonly Uint8Array[]): Promise<boolean> {
    if (this.#ctx.trust.isRevoked(id)) return true
    const entry = await this.#ctx.store.get(KEYS.revoked(id.toString()))
    if (entry == null) return false
    const allowed = new Set(authorities.map(toHex))
    return entry.by.some((by) => {
      if (allowed.has(by)) return true
      const key = Uint8Array.from(Buffer.from(by, 'hex'))
      return this.#ctx.trust.isReferenceService(key) || this.#ctx.trust.isRegistrar(key)
    })
  }

  /**
   * Sign a revocation of these targets. Returns the record and the batch operations that keep it; the caller
   * adds its own state changes to the same batch, writes it, then calls `announce`.
   */
  sign(
    targets: Array<{ kind: RevocableKind; id: CID }>,
    reason: string,
  ): { record: SignedRecord<'consort/revocation'>; ops: BatchOp[] } {
    const record = signRecord(
      'consort/revocation',
      { network: this.#ctx.network.name, created: this.#ctx.clock.now(), targets, reason },
      this.#ctx.signer,
      this.#ctx.network.caps,
    )
    return { record, ops: [put(KEYS.ownRevocation(record.id.toString()), record)] }
  }

  /** Apply a stored revocation to this node's trust and gossip it. A publish failure is logged, not thrown. */
  async announce(record: SignedRecord<'consort/revocation'>, attachments: readonly SignedRecord[]): Promise<number> {
    this.#ctx.trust.revoke(record.body.targets.map((t) => t.id))
    try {
      return await this.#publish(record, attachments)
    } catch (err) {
      log.error('revocation %s kept but not published: %e', record.id, err)
      return 0
    }
  }

  /** A revocation this registrar issued, by id. */
  async own(id: string): Promise<SignedRecord<'consort/revocation'> | undefined> {
    return this.#ctx.store.get(KEYS.ownRevocation(id))
  }
}

/** Publish a record on the revocations topic; returns how many peers it went to. */
export type RevocationPublisher = (record: SignedRecord, attachments: readonly SignedRecord[]) => Promise<number>
