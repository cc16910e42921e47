import { toHex } from '../../keys/hex.ts'
import { isError } from '../../protocols/errors.ts'
import type { UsageEvent } from '../../protocols/usage/index.ts'
import { evaluate, type Remaining, remaining } from '../../protocols/usage-rules/index.ts'
import type { PlayerCore } from './core.ts'
import { ENTRY_KINDS, type LoggedAction } from './entries.ts'
import { LicenceRevokedError, NoLicenceError, UsageDeniedError } from './errors.ts'
import type { HeldLicence } from './library.ts'
import type { UsageReporter } from './usage.ts'

/**
 * Counted uses: every play, second of play, export and burn is asked of the shared rules function **before** it
 * happens and written into the log as it is counted, under the core's lock (so two uses never both take the last
 * one). A use that ends hands its event to usage reporting. Playback, copies and web streams count through here.
 */

/** What counting needs of usage reporting: a flush (the offline rule's second chance) and a flush soon after a use. */
export type UseReporting = Pick<UsageReporter, 'flush' | 'soon'>

export class Uses {
  readonly #core: PlayerCore
  readonly #reporting: UseReporting

  constructor(core: PlayerCore, reporting: UseReporting) {
    this.#core = core
    this.#reporting = reporting
  }

  /**
   * Pick the licence to use for `isrc` and count the use, or say why none may be used. For `play`, a licence whose
   * offline window has closed gets one chance: the outbox is flushed (reports delivered, licences synced) and the
   * rules asked again. With `dryRun`, only ask (nothing is counted).
   */
  async start(
    isrc: string,
    action: LoggedAction,
    event: (held: HeldLicence) => UsageEvent,
    options: { dryRun?: boolean; purchaseId?: string } = {},
  ): Promise<HeldLicence> {
    const core = this.#core
    const attempt = () =>
      core.exclusive(async () => {
        const held = core.library
          .licencesFor(isrc)
          .filter((l) => options.purchaseId === undefined || l.purchaseId === options.purchaseId)
        if (held.length === 0) throw new NoLicenceError(`this device holds no licence for ${isrc}`)
        const now = core.now()
        const reasons: Array<{ code: string; message: string }> = []
        for (const licence of held) {
          if (core.isRevoked(licence)) {
            reasons.push({ code: 'revoked', message: `licence ${licence.record.body.licenceId} was revoked` })
            continue
          }
          const decision = evaluate(licence.rules, licence.state, action, now)
          if (!decision.allow) {
            reasons.push(decision.reason)
            continue
          }
          if (options.dryRun !== true) {
            const e = event(licence)
            await core.commit([
              { kind: ENTRY_KINDS.use, data: { purchaseId: licence.purchaseId, action, event: e, eventId: null } },
            ])
          }
          return licence
        }
        const first = reasons[0]!
        if (first.code === 'revoked') throw new LicenceRevokedError(first.message)
        throw new UsageDeniedError(first.code, first.message)
      })
    try {
      return await attempt()
    } catch (err) {
      if (isError(err, UsageDeniedError)) await core.keepTime(err.reason)
      if (!isError(err, UsageDeniedError) || err.reason !== 'offline-too-long') throw err
      const flushed = await this.#reporting.flush().catch(() => null)
      if (flushed === null || flushed.synced.length === 0) {
        throw new UsageDeniedError(
          'offline-too-long',
          `${err.message.replace(/ \(offline-too-long\)$/, '')}; the usage reports could not be delivered yet, so playback waits until they are`,
        )
      }
      return await attempt()
    }
  }

  /** A new usage event of this device (its id is unique per device: the device key's prefix and random bytes). */
  newEvent(kind: UsageEvent['kind'], isrc: string, held: HeldLicence | null): UsageEvent {
    const c = this.#core.components
    return {
      eventId: `e-${toHex(c.keys.signer.publicKey).slice(0, 8)}-${toHex(c.random.bytes(12))}`,
      kind,
      isrc,
      purchaseId: held?.purchaseId ?? null,
      licence: held?.record.id ?? null,
      offer: held?.record.body.offer ?? null,
      contract: held?.record.body.contract ?? null,
      startedAt: this.#core.now(),
      seconds: 0,
    }
  }

  /**
   * Count `seconds` more of an open play, after asking the rules. Returns how many were counted: all, or what
   * `remaining()` still allows when they would pass `playSeconds` (the player stops there), or 0 when a window
   * closed or the licence was revoked.
   */
  async countSeconds(
    purchaseId: string,
    eventId: string,
    seconds: number,
  ): Promise<{ counted: number; limit: string | null }> {
    if (seconds <= 0) return { counted: 0, limit: null }
    const core = this.#core
    return await core.exclusive(async () => {
      const held = core.library.licences.get(purchaseId)
      if (held === undefined) return { counted: 0, limit: 'no-licence' }
      if (core.isRevoked(held)) return { counted: 0, limit: 'revoked' }
      const now = core.now()
      let decision = evaluate(held.rules, held.state, { kind: 'play-seconds', seconds }, now)
      let counted = seconds
      let limit: string | null = null
      if (!decision.allow) {
        if (decision.reason.code !== 'play-seconds-exhausted') return { counted: 0, limit: decision.reason.code }
        counted = remaining(held.rules, held.state, now).playSeconds ?? 0
        limit = decision.reason.code
        if (counted <= 0) return { counted: 0, limit }
        decision = evaluate(held.rules, held.state, { kind: 'play-seconds', seconds: counted }, now)
        if (!decision.allow) return { counted: 0, limit: decision.reason.code }
      }
      await core.commit([
        {
          kind: ENTRY_KINDS.use,
          data: { purchaseId, action: { kind: 'play-seconds', seconds: counted }, event: null, eventId },
        },
      ])
      return { counted, limit }
    })
  }

  /** Close a play (it becomes ready to report) and flush in the background. */
  async endPlay(eventId: string): Promise<void> {
    const core = this.#core
    await core.exclusive(async () => {
      if (core.library.events.get(eventId)?.status !== 'open') return
      await core.commit([{ kind: ENTRY_KINDS.end, data: { eventId } }])
    })
    this.#reporting.soon()
  }

  /** Log a preview that was heard (it is reported, and counts against nothing). */
  async notePreview(event: UsageEvent): Promise<void> {
    if (event.seconds <= 0) return
    const core = this.#core
    await core.exclusive(() => core.commit([{ kind: ENTRY_KINDS.preview, data: { event } }]))
    this.#reporting.soon()
  }

  /** What a purchase's licence still allows now, or null when this device holds none. */
  remainingOf(purchaseId: string): Remaining | null {
    const held = this.#core.library.licences.get(purchaseId)
    return held === undefined ? null : remaining(held.rules, held.state, this.#core.now())
  }

  /** A counted copy was made: its event is ready, report it soon. */
  copied(): void {
    this.#reporting.soon()
  }
}
