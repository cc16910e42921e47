import { icpnKey } from '../../../protocols/identifiers/index.ts'
import type { ErnMessage, ErnReleaseIds } from './model.ts'

/**
 * What a message means for each release it is about, given what the importer already holds. ERN does not always
 * say it: ERN 4 (and ERN 3 senders that leave out `UpdateIndicator`) re-send a whole `NewReleaseMessage` for an
 * update, and withdraw rights by sending deals that have ended or, in ERN 4, no deals at all. So the answer
 * depends on whether the release was delivered before, which only the caller knows.
 */

export type ErnAction = 'new' | 'update' | 'takedown'

export interface ErnReleaseAction {
  /** Identity keys of the release (see `releaseKeys`); match a later message's release or purge by any of them. */
  keys: string[]
  /** The release's reference inside this message, `null` for a purged release. */
  reference: string | null
  action: ErnAction
  /** Why, in words, for logs and operators. */
  reason: string
}

/**
 * Keys that identify a release across messages: `grid:<GRid>`, `icpn:<GTIN-14>` (so UPC, EAN and GTIN forms of one
 * product match), `isrc:<ISRC>`, `catalog:<namespace>:<number>`, `proprietary:<namespace>:<id>`.
 */
export function releaseKeys(ids: ErnReleaseIds): string[] {
  const keys: string[] = []
  if (ids.grid !== null) keys.push(`grid:${ids.grid}`)
  if (ids.icpn !== null) keys.push(`icpn:${icpnKey(ids.icpn)}`)
  if (ids.isrc !== null) keys.push(`isrc:${ids.isrc}`)
  for (const c of ids.catalogNumbers) keys.push(`catalog:${c.namespace ?? ''}:${c.value}`)
  for (const p of ids.proprietaryIds) keys.push(`proprietary:${p.namespace ?? ''}:${p.value}`)
  return keys
}

/**
 * Classifies each main release of a message (each purged release of a `PurgeReleaseMessage`):
 * - `takedown`: a `PurgeReleaseMessage`; or every deal in the message withdraws rights (ERN 3 `TakeDown` /
 *   `AllDealsCancelled`, ERN 4 deals that ended by the message's creation); or, in ERN 4, a message with no deal at
 *   all for a release delivered before.
 * - `update`: the release was delivered before (`isKnown` holds for one of its keys) or the message says
 *   `UpdateIndicator` `UpdateMessage`.
 * - `new`: otherwise.
 */
export function classifyErn(message: ErnMessage, isKnown: (key: string) => boolean): ErnReleaseAction[] {
  if (message.messageType === 'PurgeReleaseMessage') {
    return message.purgedReleases.map((ids) => ({
      keys: releaseKeys(ids),
      reference: null,
      action: 'takedown',
      reason: 'PurgeReleaseMessage',
    }))
  }
  const allWithdrawn = message.deals.length > 0 && message.deals.every((d) => d.takedown)
  return message.releases
    .filter((r) => r.isMain)
    .map((release) => {
      const keys = releaseKeys(release.ids)
      const known = keys.some((key) => isKnown(key))
      const base = { keys, reference: release.reference }
      if (allWithdrawn) return { ...base, action: 'takedown', reason: 'every deal in the message withdraws rights' }
      if (known && message.deals.length === 0 && message.ernVersion.startsWith('4.')) {
        return {
          ...base,
          action: 'takedown',
          reason: 'an ERN 4 NewReleaseMessage without deals for a release delivered before',
        }
      }
      if (known) return { ...base, action: 'update', reason: 'the release was delivered before' }
      if (message.updateIndicator === 'UpdateMessage') {
        return { ...base, action: 'update', reason: 'the message is marked UpdateMessage' }
      }
      return { ...base, action: 'new', reason: 'the release was not delivered before' }
    })
}
