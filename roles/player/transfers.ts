import { logger } from '@libp2p/logger'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { GossipDelivery } from '../../protocols/topics/bus.ts'
import { sameBytes } from './bytes.ts'
import type { PlayerCore } from './core.ts'
import type { Licences } from './licences.ts'

const log = logger('consort:player:transfers')

/**
 * A purchase given to this account (a transfer or a gift, decision 0606) reaches its player by itself: the
 * registrar's `consort/transfer` travels as an attachment of the revocation of the giver's licences, and a player
 * that sees one naming its account as the receiver fetches its own licence at once (the ordinary reissue, which the
 * registrar grants only to the purchase's holder, so a forged or stale message gains nothing but a refused request).
 * A player offline at the time catches up through the revocations topic's sync when it comes back, or by
 * `consort licences --fetch PURCHASE`.
 */
export class TransferWatcher {
  readonly #core: PlayerCore
  readonly #licences: Licences
  /** Purchases being fetched now: a transfer seen from several peers is fetched once. */
  readonly #fetching = new Set<string>()
  #unsubscribe: (() => void) | null = null

  constructor(core: PlayerCore, licences: Licences) {
    this.#core = core
    this.#licences = licences
  }

  start(): void {
    this.#unsubscribe = this.#core.components.topics.subscribe('revocations', {
      onMessage: async (delivery) => this.#onRevocation(delivery),
    })
  }

  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = null
  }

  async #onRevocation(delivery: GossipDelivery): Promise<void> {
    for (const attachment of delivery.attachments) {
      if (attachment.type !== 'consort/transfer') continue
      const transfer = attachment as SignedRecord<'consort/transfer'>
      if (!this.#forMe(transfer)) continue
      await this.#receive(transfer)
    }
  }

  /** Signed by a registration manager, naming this account as the receiver, of a purchase this device lacks. */
  #forMe(transfer: SignedRecord<'consort/transfer'>): boolean {
    const core = this.#core
    if (!core.running) return false
    if (!core.components.trust.isRegistrar(transfer.signer)) return false
    if (!sameBytes(transfer.body.to, core.account.signer.publicKey)) return false
    return core.library.licences.get(transfer.body.purchaseId) === undefined
  }

  async #receive(transfer: SignedRecord<'consort/transfer'>): Promise<void> {
    const purchaseId = transfer.body.purchaseId
    if (this.#fetching.has(purchaseId)) return
    this.#fetching.add(purchaseId)
    try {
      const view = await this.#licences.fetch(purchaseId, transfer)
      log('received purchase %s by transfer: %s', purchaseId, view.content.join(', '))
      this.#core.events.dispatchEvent(new CustomEvent('licence:received', { detail: { purchaseId } }))
    } catch (err) {
      log('purchase %s was given to this account, its licence not fetched: %s', purchaseId, (err as Error).message)
    } finally {
      this.#fetching.delete(purchaseId)
    }
  }
}
