import { logger } from '@libp2p/logger'
import { isError } from '../../protocols/errors.ts'
import { ConsumptionRequiredError, LICENCE_ERRORS } from '../../protocols/licence/errors.ts'
import { LICENCE_CODES } from '../../protocols/licence/index.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { Money } from '../../protocols/records/fields.ts'
import { requestReissue, requestTransfer } from '../../protocols/register/client.ts'
import { RpcRemoteError } from '../../protocols/rpc/errors.ts'
import { describeRules, evaluate, remaining } from '../../protocols/usage-rules/index.ts'
import { fetchConsumption } from './account-requests.ts'
import { sameBytes } from './bytes.ts'
import { FRESH_LICENCE_MS, SYNC_DEADLINE_MS } from './constants.ts'
import type { PlayerCore } from './core.ts'
import type { DeviceRegistration } from './device.ts'
import { ENTRY_KINDS } from './entries.ts'
import { InvalidLicenceError, PurchaseRefusedError } from './errors.ts'
import type { HeldLicence } from './library.ts'
import { checkLicenceKeys } from './purchase.ts'
import type { LicenceView } from './types.ts'

/**
 * The licences this device holds: how they read (rules in words, what is left, playable or why not), and how one is
 * taken in — from a purchase's answer, handed over some other way, or fetched again from the registration manager
 * with the uses its purchase already consumed (decision 0704: limits survive the device).
 */

const log = logger('consort:player:licences')

export class Licences {
  readonly #core: PlayerCore
  readonly #device: DeviceRegistration

  constructor(core: PlayerCore, device: DeviceRegistration) {
    this.#core = core
    this.#device = device
  }

  list(): LicenceView[] {
    return [...this.#core.library.licences.values()].map((l) => this.view(l))
  }

  /** The purchase ids of this device's licences (for an account export). */
  purchaseIds(): string[] {
    return [...this.#core.library.licences.keys()]
  }

  view(held: HeldLicence): LicenceView {
    const core = this.#core
    const now = core.now()
    const revoked = core.isRevoked(held)
    const decision = evaluate(held.rules, held.state, { kind: 'play' }, now)
    const tampered = core.tampered !== null
    return {
      purchaseId: held.purchaseId,
      licence: held.record.id.toString(),
      licenceId: held.record.body.licenceId,
      content: held.record.body.content,
      tracks: held.record.body.keys.map((k) => k.isrc),
      useType: held.record.body.useType,
      rules: describeRules(held.record.body.rules, core.components.network.body.policy.ruleDefaults),
      price: this.#paid(held),
      issuedAt: held.record.body.created,
      notAfter: held.rules.notAfter,
      state: held.state,
      remaining: remaining(held.rules, held.state, now),
      playable: !revoked && decision.allow && !tampered,
      reason: revoked ? 'revoked' : tampered ? 'store-tampered' : decision.allow ? null : decision.reason.code,
      revoked,
    }
  }

  /** The price on a held licence's receipt, for the purchase history; null when there is none to read. */
  #paid(held: HeldLicence): Money | null {
    if (held.receipt == null) return null
    try {
      return this.#core.decode('consort/receipt', held.receipt).body.price
    } catch {
      return null
    }
  }

  /**
   * Keep a licence handed to this player (checked: a registrar's, for this device and account, every key opens). A
   * fresh one is kept as it is; one this store has no counters for that is older than `FRESH_LICENCE_MS` may have
   * been used already (a purchase answered again after the store was wiped), so it is fetched again from the
   * registrar, which writes in the uses its purchase consumed. Returns the licence kept.
   */
  async keep(
    licence: SignedRecord<'consort/licence'>,
    receipt: SignedRecord<'consort/receipt'> | null,
    device: SignedRecord<'consort/device'>,
  ): Promise<SignedRecord<'consort/licence'>> {
    const core = this.#core
    const purchaseId = licence.body.purchaseId
    let kept = licence
    if (!core.library.licences.has(purchaseId) && core.now() - licence.body.created > FRESH_LICENCE_MS) {
      log(
        'licence of %s was signed %d ms ago: fetched again with its uses',
        purchaseId,
        core.now() - licence.body.created,
      )
      kept = await this.reissue(purchaseId, device)
      checkLicenceKeys(kept, core.components.keys.sealing)
    }
    await core.exclusive(() =>
      core.commit([{ kind: ENTRY_KINDS.licence, data: { licence: kept.bytes, receipt: receipt?.bytes ?? null } }]),
    )
    return kept
  }

  /**
   * A licence this device received some other way than by buying here (from its retailer directly, by a script):
   * checked like a purchase's answer, then kept (fetched again with its uses if it is not fresh).
   */
  async receive(licenceBytes: Uint8Array, receiptBytes: Uint8Array | null = null): Promise<LicenceView> {
    const core = this.#core
    const c = core.components
    await core.checkStore()
    const device = await this.#device.ensure()
    let licence: SignedRecord<'consort/licence'>
    let receipt: SignedRecord<'consort/receipt'> | null = null
    try {
      licence = core.decode('consort/licence', licenceBytes)
      if (receiptBytes !== null) receipt = core.decode('consort/receipt', receiptBytes)
    } catch (err) {
      throw new InvalidLicenceError(`the licence does not decode: ${(err as Error).message}`)
    }
    const l = licence.body
    if (!c.trust.isRegistrar(licence.signer)) throw new InvalidLicenceError('the licence is not a registrar’s')
    if (!sameBytes(l.device, c.keys.signer.publicKey))
      throw new InvalidLicenceError('the licence is for another device')
    if (!sameBytes(l.account, core.account.signer.publicKey))
      throw new InvalidLicenceError('the licence is for another account')
    if (receipt !== null && (receipt.body.purchaseId !== l.purchaseId || !l.receipt.equals(receipt.id))) {
      throw new InvalidLicenceError('the receipt is not the licence’s')
    }
    checkLicenceKeys(licence, c.keys.sealing)
    const kept = await this.keep(licence, receipt, device)
    await c.records.put(kept).catch(() => {})
    this.added(l.purchaseId, kept)
    return this.view(core.library.licences.get(l.purchaseId)!)
  }

  /**
   * Ask the registration manager for this device's licence of a purchase: again (a lost or damaged store, new
   * keys), or for the first time on a second device of the account, within the licence's `devices` rule.
   */
  async fetch(purchaseId: string, transfer?: SignedRecord<'consort/transfer'>): Promise<LicenceView> {
    const core = this.#core
    await core.checkStore()
    const device = await this.#device.ensure()
    let licence: SignedRecord<'consort/licence'>
    try {
      licence = await this.reissue(purchaseId, device, transfer)
    } catch (err) {
      if (isError(err, RpcRemoteError)) throw new PurchaseRefusedError(err.code, err.message)
      throw err
    }
    checkLicenceKeys(licence, core.components.keys.sealing)
    await core.exclusive(() =>
      core.commit([{ kind: ENTRY_KINDS.licence, data: { licence: licence.bytes, receipt: null } }]),
    )
    await core.components.records.put(licence).catch(() => {})
    this.added(purchaseId, licence)
    return this.view(core.library.licences.get(purchaseId)!)
  }

  /**
   * Give a purchase this account holds to another account (`consort licence transfer`, decision 0606), where its rules
   * allow it: with what the purchase used so far (the clearinghouses' signed statements), signed by the account key.
   * The registrar revokes this account's licences of it and makes the receiver the holder, once per transfer id (a
   * retry with the same id answers the same). The receiver's devices then fetch their licences (`consort licences
   * --fetch PURCHASE`).
   */
  async transfer(
    purchaseId: string,
    to: Uint8Array,
    transferId: string,
    gift = false,
  ): Promise<{ purchaseId: string; transferId: string; to: string; revoked: string[]; used: number }> {
    const core = this.#core
    const c = core.components
    await core.checkStore()
    const device = await this.#device.ensure()
    const { consumption, unanswered } = await this.#consumption(purchaseId, device)
    for (const problem of unanswered) log('consumption of %s from %s', purchaseId, problem)
    let answer: Awaited<ReturnType<typeof requestTransfer>>
    try {
      answer = await requestTransfer(c.libp2p, c.network, {
        transferId,
        purchaseId,
        to,
        account: core.account.signer,
        consumption,
        now: core.now(),
        ...(gift ? { gift: true } : {}),
      })
    } catch (err) {
      if (isError(err, RpcRemoteError)) throw new PurchaseRefusedError(err.code, err.message)
      throw err
    }
    // The revocation reaches this player by gossip too; applied now, so that the licence stops at once.
    c.trust.revoke(answer.revocation.body.targets.map((t) => t.id))
    return {
      purchaseId,
      transferId,
      to: Buffer.from(to).toString('hex'),
      revoked: answer.transfer.body.revoked.map((r) => r.toString()),
      used: answer.transfer.body.used.plays,
    }
  }

  /** Tell listeners (`licence:added`) that a licence was kept. */
  added(purchaseId: string, licence: SignedRecord<'consort/licence'>): void {
    this.#core.events.dispatchEvent(
      new CustomEvent('licence:added', { detail: { purchaseId, licence: licence.id.toString() } }),
    )
  }

  /**
   * Ask the registration manager for this device's licence of a purchase, with the clearinghouses' signed statements
   * of what the purchase already used: the registrar writes the uses into the licence, so a licence fetched again
   * never starts from more than the purchase has left (issue 11, finding 3).
   */
  async reissue(
    purchaseId: string,
    device: SignedRecord<'consort/device'>,
    transfer?: SignedRecord<'consort/transfer'>,
  ): Promise<SignedRecord<'consort/licence'>> {
    const core = this.#core
    const c = core.components
    const { consumption, unanswered } = await this.#consumption(purchaseId, device, transfer)
    try {
      return await requestReissue(c.libp2p, c.network, {
        purchaseId,
        device,
        signer: c.keys.signer,
        now: core.now(),
        consumption,
      })
    } catch (err) {
      if (isError(LICENCE_ERRORS.decode(err), ConsumptionRequiredError) && unanswered.length > 0) {
        throw new PurchaseRefusedError(
          LICENCE_CODES.consumptionRequired,
          `the licence of purchase ${purchaseId} is fetched again only with what it already used, and the clearinghouse did not answer (${unanswered.join('; ')}); try again when it does`,
        )
      }
      throw err
    }
  }

  /**
   * What each clearinghouse says the purchase already used (its signed statement), and which did not answer, named
   * with why: the registrar needs the statements to reissue or transfer a licence without giving back used plays.
   */
  async #consumption(
    purchaseId: string,
    device: SignedRecord<'consort/device'>,
    transfer?: SignedRecord<'consort/transfer'>,
  ): Promise<{ consumption: SignedRecord<'consort/consumption'>[]; unanswered: string[] }> {
    const core = this.#core
    const c = core.components
    const consumption: SignedRecord<'consort/consumption'>[] = []
    const unanswered: string[] = []
    for (const clearinghouse of c.network.body.clearinghouses) {
      try {
        consumption.push(
          await fetchConsumption(c.libp2p, c.network, clearinghouse.key, c.keys.signer, device, purchaseId, {
            now: core.now(),
            random: c.random,
            deadlineMs: SYNC_DEADLINE_MS,
            ...(transfer !== undefined ? { transfer } : {}),
          }),
        )
      } catch (err) {
        unanswered.push(`${clearinghouse.name}: ${(err as Error).message}`)
      }
    }
    return { consumption, unanswered }
  }
}
