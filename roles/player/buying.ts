import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import { toHex } from '../../keys/hex.ts'
import { isError } from '../../protocols/errors.ts'
import { territoryCovers } from '../../protocols/identifiers/territories.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { PURCHASE_CODES } from '../../protocols/purchase/index.ts'
import { type PurchaseOrderFields, signPurchaseOrder } from '../../protocols/purchase/order.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { id } from '../../protocols/records/fields.ts'
import { verifyCertification } from '../../protocols/reference/offers.ts'
import type { ShareRecord } from '../../protocols/share/index.ts'
import { sameBytes } from './bytes.ts'
import { clearinghouseKey } from './clearinghouse.ts'
import type { PlayerCore } from './core.ts'
import type { DeviceRegistration } from './device.ts'
import { ENTRY_KINDS } from './entries.ts'
import { AlreadyOwnedError, BadPlayerRequestError, PurchaseRefusedError } from './errors.ts'
import type { HeldLicence, TrackedPurchase } from './library.ts'
import type { Licences } from './licences.ts'
import type { CachedOffer, Market } from './market.ts'
import type { Prefetcher } from './prefetch.ts'
import { sendBuy, verifyPurchase } from './purchase.ts'
import { reachable } from './reachable.ts'
import { offerSellsShared, type Shares } from './shares.ts'
import type { BuyResult } from './types.ts'

/**
 * Buying an offer listed by the market. The purchase order is signed with the account key and logged before it is
 * sent, so that a retry (after a timeout, or a crash) sends the same order with the same purchase id and the
 * retailer and clearinghouse answer the first outcome again, never charging twice. The answer is checked (receipt,
 * licence, every content key opens with this device's key) before the licence is kept.
 */

const log = logger('consort:player:buying')

export interface BuyOptions {
  signal?: AbortSignal
  onAttempt?: (attempt: number) => void
  deadlineMs?: number
  attempts?: number
  /**
   * The caller's idempotency key for this purchase (a web page's checkout token, say): buying again with the same id
   * resumes or answers that purchase. Without one, a pending purchase of the same offer is resumed, else a new id is
   * drawn.
   */
  purchaseId?: string
  /** Buy even though this device already holds licences that give as much (a gift, a second copy). */
  again?: boolean
  /**
   * The share link the buyer came through (decision 0708): checked here (signature, expiry, that the offer sells what
   * it shares) and carried in the signed order, where the clearinghouse decides whether it earns its referrer a credit.
   * A pending purchase of the same offer is resumed with the order it was first sent with.
   */
  share?: string
}

export class Buying {
  readonly #core: PlayerCore
  readonly #device: DeviceRegistration
  readonly #market: Market
  readonly #licences: Licences
  readonly #prefetch: Prefetcher
  readonly #shares: Pick<Shares, 'read'>

  constructor(
    core: PlayerCore,
    device: DeviceRegistration,
    market: Market,
    licences: Licences,
    prefetch: Prefetcher,
    shares: Pick<Shares, 'read'>,
  ) {
    this.#shares = shares
    this.#core = core
    this.#device = device
    this.#market = market
    this.#licences = licences
    this.#prefetch = prefetch
  }

  async buy(offerRef: string, options: BuyOptions = {}): Promise<BuyResult> {
    const core = this.#core
    const c = core.components
    const started = performance.now()
    if (options.purchaseId !== undefined && !id.safeParse(options.purchaseId).success) {
      throw new BadPlayerRequestError(`purchaseId: ${JSON.stringify(options.purchaseId)} is not an id`)
    }
    await core.checkStore()
    const device = await this.#device.ensure()
    const done = options.purchaseId === undefined ? undefined : core.library.licences.get(options.purchaseId)
    if (done?.receipt != null) return this.#bought(done, done.receipt, 0, started)
    const cached = this.#market.find(offerRef)
    const share = options.share === undefined ? undefined : this.#shares.read(options.share)
    if (share !== undefined && !offerSellsShared(cached.offer.body.content, share.body.content)) {
      const shared = share.body.content
      throw new BadPlayerRequestError(
        `share: it shares ${[shared.track, shared.release].filter((c) => c !== null).join(' on ')}; offer ${cached.offer.body.offerId} sells ${cached.offer.body.content.join(', ')}`,
      )
    }
    if (options.again !== true) {
      const owned = this.#market.ownedBy(cached)
      if (owned.length > 0) {
        throw new AlreadyOwnedError(
          `you already hold ${owned.map((h) => `licence ${h.record.body.licenceId} (${h.record.body.useType}, purchase ${h.purchaseId})`).join(' and ')}, which gives at least what offer ${cached.offer.body.offerId} would: buying it again would charge again; buy again on purpose with --again`,
          owned.map((h) => h.purchaseId),
        )
      }
    }
    const verdict = verifyCertification(cached.offer, cached.certification, c.trust, core.now())
    if (!verdict.ok)
      throw new PurchaseRefusedError(verdict.code, `offer ${offerRef} can no longer be bought: ${verdict.reason}`)
    const purchase = await core.exclusive(() => this.#order(cached, device, options.purchaseId, share))
    const purchaseId = purchase.purchaseId
    await reachable(c.libp2p, peerIdOfKey(cached.offer.signer), options.signal).catch((err) =>
      log('retailer of %s: %s', offerRef, (err as Error).message),
    )
    const prefetch = this.#prefetch.start(cached.offer.body.content)
    let attempts = 0
    let answer: { receipt: Uint8Array; licence: Uint8Array }
    const sent = performance.now()
    try {
      answer = await sendBuy({
        libp2p: c.libp2p,
        network: c.network,
        order: purchase.order,
        device,
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        ...(options.deadlineMs !== undefined ? { deadlineMs: options.deadlineMs } : {}),
        ...(options.attempts !== undefined ? { attempts: options.attempts } : {}),
        onAttempt: (n) => {
          attempts = n
          options.onAttempt?.(n)
        },
      })
    } catch (err) {
      prefetch.abort()
      if (isError(err, PurchaseRefusedError)) await this.#fail(purchaseId, err.remoteCode, err.message)
      throw err
    }
    const answered = performance.now()
    let verified: ReturnType<typeof verifyPurchase>
    try {
      verified = verifyPurchase({
        order: purchase.order,
        offer: cached.offer,
        receiptBytes: answer.receipt,
        licenceBytes: answer.licence,
        decodeOptions: core.decodeOptions(),
        isRegistrar: (key) => c.trust.isRegistrar(key),
        sealing: c.keys.sealing,
      })
    } catch (err) {
      await this.#fail(purchaseId, (err as { code?: string }).code ?? 'ERR_LICENCE_INVALID', (err as Error).message)
      throw err
    }
    const kept = await this.#licences.keep(verified.licence, verified.receipt, device)
    // Kept so that this node can serve them by CID; nothing waits for it.
    Promise.all([c.records.put(verified.receipt), c.records.put(kept)]).catch((err) =>
      log.error('cannot store the purchase records: %e', err),
    )
    log(
      'bought %s: %d ms here before sending, %d ms at the retailer (%d attempt(s)), %d ms here after',
      purchaseId,
      Math.round(sent - started),
      Math.round(answered - sent),
      attempts,
      Math.round(performance.now() - answered),
    )
    this.#licences.added(purchaseId, kept)
    prefetch.receiptUnder(kept)
    return this.#bought(core.library.licences.get(purchaseId)!, verified.receipt.bytes, attempts, started)
  }

  /**
   * The purchase to send (the caller holds the lock): the one the caller's purchase id names, or a pending one of
   * the same offer to resume, else a new order signed with the account key and logged before it is sent.
   */
  async #order(
    cached: CachedOffer,
    device: SignedRecord<'consort/device'>,
    purchaseId: string | undefined,
    share: ShareRecord | undefined,
  ): Promise<TrackedPurchase> {
    const core = this.#core
    const c = core.components
    if (purchaseId !== undefined) {
      const known = core.library.purchases.get(purchaseId)
      if (known !== undefined) {
        if (!known.offer.equals(cached.offer.id)) {
          throw new BadPlayerRequestError(`purchaseId: ${purchaseId} was used for another offer`)
        }
        if (known.status === 'failed') {
          throw new PurchaseRefusedError(known.failure?.code ?? 'ERR_PURCHASE_FAILED', known.failure?.message ?? '')
        }
        if (known.status === 'pending') return known
      }
    } else {
      const pending = [...core.library.purchases.values()].find(
        (p) =>
          p.status === 'pending' &&
          p.offer.equals(cached.offer.id) &&
          sameBytes(p.order.order.device, device.body.device),
      )
      if (pending !== undefined) return pending
    }
    // Bought for the account's territory as its registrar attests it: an offer listed for another is not sold here.
    const territory = device.body.territory ?? 'Worldwide'
    if (!territoryCovers(cached.offer.body.territories, cached.offer.body.excludedTerritories, territory)) {
      throw new PurchaseRefusedError(
        PURCHASE_CODES.territory,
        `offer ${cached.offer.body.offerId} is not sold in ${territory}, your account's territory as your registration manager attests it` +
          (cached.territory !== territory ? ` (it was listed for ${cached.territory})` : ''),
      )
    }
    const fields: PurchaseOrderFields = {
      network: c.network.name,
      purchaseId: purchaseId ?? `p-${toHex(c.random.bytes(16))}`,
      offer: cached.offer.id,
      certification: cached.certification.id,
      retailer: cached.offer.signer,
      clearinghouse: clearinghouseKey(core),
      account: core.account.signer.publicKey,
      device: device.body.device,
      price: cached.offer.body.price,
      territory: territory as PurchaseOrderFields['territory'],
      created: core.now(),
      ...(share !== undefined ? { share: share.bytes } : {}),
    }
    const order = signPurchaseOrder(fields, core.account.signer)
    await core.commit([
      {
        kind: ENTRY_KINDS.purchase,
        data: {
          purchaseId: fields.purchaseId,
          offer: cached.offer.id,
          certification: cached.certification.id,
          content: cached.offer.body.content,
          order: dagCbor.encode(order),
        },
      },
    ])
    return core.library.purchases.get(fields.purchaseId)!
  }

  #bought(held: HeldLicence, receiptBytes: Uint8Array, attempts: number, started: number): BuyResult {
    const receipt = this.#core.decode('consort/receipt', receiptBytes)
    return {
      purchaseId: held.purchaseId,
      receipt: receipt.id.toString(),
      licence: held.record.id.toString(),
      licenceId: held.record.body.licenceId,
      offer: held.record.body.offer.toString(),
      price: receipt.body.price,
      content: held.record.body.content,
      attempts,
      elapsedMs: Math.round(performance.now() - started),
    }
  }

  /** A refusal is final: logged, so that the next `buy` of the offer draws a new purchase id. */
  async #fail(purchaseId: string, code: string, message: string): Promise<void> {
    const core = this.#core
    await core
      .exclusive(() =>
        core.commit([
          {
            kind: ENTRY_KINDS.purchaseFailed,
            data: { purchaseId, code: code.slice(0, 64), message: message.slice(0, 1024) },
          },
        ]),
      )
      .catch((err) => log.error('cannot record the failed purchase %s: %e', purchaseId, err))
  }
}
