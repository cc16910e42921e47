import type { ErnMessage } from './model.ts'

/**
 * A stable, JSON-ready summary of an ERN message, for operators and tests: absent values are `null`, amounts are the
 * decimal strings of the message, one `deals` entry per `Deal` element. A deal whose `ReleaseDeal` names several
 * releases has `releaseReference` as an array of them; otherwise it is the single reference.
 */
export interface ErnInspection {
  messageType: string
  ernVersion: string
  sender: { partyId: string | null; name: string | null }
  releases: Array<{
    reference: string
    icpn: string | null
    grid: string | null
    title: string | null
    displayArtist: string | null
    type: string | null
    trackReferences: string[]
  }>
  soundRecordings: Array<{
    reference: string
    isrc: string | null
    title: string | null
    displayArtist: string | null
    durationSeconds: number | null
    preview: { startSeconds: number; durationSeconds: number | null } | null
  }>
  deals: Array<{
    releaseReference: string | string[] | null
    commercialModels: string[]
    useTypes: string[]
    territories: string[]
    excludedTerritories: string[]
    start: string | null
    end: string | null
    prices: Array<{ currency: string | null; wholesale: string | null }>
  }>
}

function seconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000
}

export function inspectErn(message: ErnMessage): ErnInspection {
  return {
    messageType: message.messageType,
    ernVersion: message.ernVersion,
    sender: { partyId: message.sender.partyId, name: message.sender.name },
    releases: message.releases.map((r) => ({
      reference: r.reference,
      icpn: r.ids.icpn,
      grid: r.ids.grid,
      title: r.title,
      displayArtist: r.displayArtist,
      type: r.type,
      trackReferences: [...r.trackReferences],
    })),
    soundRecordings: message.soundRecordings.map((s) => ({
      reference: s.reference,
      isrc: s.isrc,
      title: s.title,
      displayArtist: s.displayArtist,
      durationSeconds: seconds(s.durationMs),
      preview:
        s.preview === null
          ? null
          : { startSeconds: s.preview.startMs / 1000, durationSeconds: seconds(s.preview.durationMs) },
    })),
    deals: message.deals.map((d) => {
      // The first validity period (ERN deals almost always have one; all are in the model).
      const period = d.periods[0]
      return {
        releaseReference:
          d.releaseReferences.length === 0
            ? null
            : d.releaseReferences.length === 1
              ? d.releaseReferences[0]!
              : [...d.releaseReferences],
        commercialModels: [...d.commercialModels],
        useTypes: [...d.useTypes],
        territories: [...d.territories],
        excludedTerritories: [...d.excludedTerritories],
        start: period?.start ?? null,
        end: period?.end ?? null,
        prices: d.prices.map((p) => ({ currency: p.currency, wholesale: p.wholesale })),
      }
    }),
  }
}
