import { evaluate, remaining, type UsageState } from './evaluate.ts'
import type { ResolvedRules } from './rules.ts'

/**
 * How much a use type gives, for comparing what a buyer holds with what an offer would give: a permanent download
 * plays, keeps and copies what a conditional or tethered download does, which plays what an on-demand stream does,
 * which plays what a non-interactive stream does.
 */
export const USE_TYPE_BREADTH: Readonly<Record<string, number>> = Object.freeze({
  PermanentDownload: 4,
  ConditionalDownload: 3,
  TetheredDownload: 3,
  OnDemandStream: 2,
  NonInteractiveStream: 1,
  Preview: 0,
})

/** A licence as held: its use type, its rules and what was used of them. */
export interface HeldTerms {
  useType: string
  rules: ResolvedRules
  state: UsageState
}

/** An offer's terms: its use type and its rules (resolved with the network's defaults). */
export interface OfferedTerms {
  useType: string
  rules: ResolvedRules
}

/**
 * Does a licence held now give at least what buying `offer` would give? Its use type is at least as broad; it may be
 * played now; what it has left of each count (plays, playing time, exports, burns) is unlimited or at least the
 * offer's; and it is usable at least as long as the offer would be (its `notAfter`, or its rental counted from now).
 * The `offline` rule is left out on both sides: it is how often a device reconnects, not how much it may use. Pure:
 * the player and the web checkout refuse a second sale of what is already held with it (issue 11).
 */
export function atLeastAsWide(held: HeldTerms, offer: OfferedTerms, now: number): boolean {
  if ((USE_TYPE_BREADTH[held.useType] ?? -1) < (USE_TYPE_BREADTH[offer.useType] ?? Number.POSITIVE_INFINITY)) {
    return false
  }
  const heldRules: ResolvedRules = { ...held.rules, offline: null }
  const offerRules: ResolvedRules = { ...offer.rules, offline: null }
  if (!evaluate(heldRules, held.state, { kind: 'play' }, now).allow) return false
  const left = remaining(heldRules, held.state, now)
  const pairs: Array<[number | null, number | null]> = [
    [left.plays, offerRules.plays],
    [left.playSeconds, offerRules.playSeconds],
    [left.exports, offerRules.export],
    [left.burns, offerRules.burn],
  ]
  for (const [have, would] of pairs) {
    if (have !== null && (would === null || have < would)) return false
  }
  if (left.usableUntil === null) return true
  const ends: number[] = []
  if (offerRules.notAfter !== null) ends.push(offerRules.notAfter)
  if (offerRules.rentalSeconds !== null) ends.push(now + offerRules.rentalSeconds * 1000)
  return ends.length > 0 && left.usableUntil >= Math.min(...ends)
}
