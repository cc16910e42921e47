/**
 * A DSR message from the facts of one participant's period (pure: `facts.ts` gathers them). What goes where:
 *
 * - One `SY01.03` summary per sales context: the retailer (the distribution channel), the contract's commercial
 *   model, the offer's use type, the buyer's territory and the price's currency. `NetRevenue` is what end users paid
 *   in that context in the period (captured purchases), `TotalUsages` its sales (downloads) or streams (plays), and
 *   `Subscribers` the subscriptions sold (subscription model only).
 * - One block per head release: `RE01.03` (an album or single by ICPN or GRid, or a track on its own), an
 *   `AS01.03` for each of its recordings involved, then the sales and usage of that release and its recordings.
 * - A download sale is counted once in an `SU01.03` (sales grouped by context, item and price); a play of a streamed
 *   licence once in an `SU02.03` (plays grouped by context, recording and licence price). Plays of downloads are
 *   not usage a licensee reports: they are left out (the accounting export keeps them). Fees, wholesale and royalty
 *   splits are not sales: they are in the accounting export only.
 * - `FOOT` counts the lines (HEAD and FOOT included), summaries and blocks.
 */
import { formatMinorUnits } from '../../../protocols/identifiers/currencies.ts'
import { formatDuration } from '../../../protocols/identifiers/iso8601.ts'
import {
  DDEX_COMMERCIAL_MODEL,
  DOWNLOAD_USE_TYPES,
  DSR_MESSAGE_VERSION,
  DSR_PROFILE,
  DSR_PROFILE_VERSION,
} from './records.ts'
import { type DsrCells, type Namespaced, recordLine } from './tsv.ts'

export type CommercialModel = keyof typeof DDEX_COMMERCIAL_MODEL

/** A party as a DSR names it: its DDEX party id (where it has one) and its name. */
export interface DsrParty {
  partyId: string | null
  name: string
}

/** What the catalog said about a recording or a release (from the records its producer signed). */
export interface ContentInfo {
  contentId: string
  title: string
  subtitle: string | null
  artists: string[]
  /** Recordings only. */
  durationMs: number | null
  /** The release a recording was published on. */
  release: { icpn: string | null; grid: string | null; title: string } | null
  label: string | null
  /** Releases only: `Album`, `Single`, … and the release date, its recordings in order. */
  releaseType: string | null
  releaseDate: string | null
  tracks: string[]
}

/** The sales context of a sale or a play. */
export interface SalesContext {
  retailerKey: string
  model: CommercialModel
  useType: string
  territory: string
  currency: string
}

/** One captured purchase (a sale of its offer's content). */
export interface SaleFact extends SalesContext {
  purchaseId: string
  offerId: string
  /** The offer's content ids, as sold (one item, or a bundle). */
  content: string[]
  /** What the end user paid, in minor units of `currency`. */
  amount: bigint
  promotion: string | null
}

/** Plays of one recording under one licence (one purchase) in the period. */
export interface PlayFact extends SalesContext {
  isrc: string
  plays: number
  /** The price of the licence the plays were made under (minor units of `currency`). */
  licencePrice: bigint
  promotion: string | null
}

export interface DsrFacts {
  period: string
  /** When the statement was made (the close of the period for a final one). */
  created: number
  messageId: string
  /** The network's name: the service the report is about (no spaces or underscores). */
  service: string
  sender: DsrParty
  recipient: DsrParty
  retailers: ReadonlyMap<string, DsrParty>
  sales: SaleFact[]
  plays: PlayFact[]
  content: ReadonlyMap<string, ContentInfo>
}

export interface DsrMessage {
  /** The file name the DSR standard gives this message. */
  fileName: string
  text: string
  lines: number
  summaries: number
  blocks: number
  /** Plays left out because they were plays of downloads. */
  downloadPlaysLeftOut: number
}

/** Characters a file name element must not hold (DSR Part 1, file naming): underscores and spaces, and path syntax. */
const FILE_NAME_UNSAFE = /[_\s/\\]+/g

function periodBounds(period: string): { start: string; end: string } {
  const [year, month] = period.split('-').map(Number) as [number, number]
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate()
  return { start: `${period}-01`, end: `${period}-${String(last).padStart(2, '0')}` }
}

function rfc3339(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`
}

function basicDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replaceAll('-', '').replaceAll(':', '')
}

function fileElement(value: string): string {
  return value.replace(FILE_NAME_UNSAFE, '-')
}

function contextKey(c: SalesContext): string {
  return [c.retailerKey, c.model, c.useType, c.territory, c.currency].join('\u0000')
}

function schemeOf(contentId: string): string {
  return contentId.slice(0, contentId.indexOf(':'))
}

function idOf(contentId: string): string {
  return contentId.slice(contentId.indexOf(':') + 1)
}

interface Context extends SalesContext {
  id: string
  usages: number
  subscribers: number
  revenue: bigint
}

interface Block {
  id: string
  /** The head release's content id (`icpn:…`, `grid:…`), a recording standing alone (`isrc:…`), or a bundle. */
  head: string
  bundle: SaleFact | null
  resources: Map<string, string>
  sales: Map<string, { ref: { release?: string; resource?: string }; context: Context; sale: SaleFact; units: number }>
  streams: Map<string, { resource: string; context: Context; fact: PlayFact; plays: number }>
}

/** Build the DSR message of one participant's period. */
export function buildDsrMessage(facts: DsrFacts): DsrMessage {
  const info = (id: string): ContentInfo | undefined => facts.content.get(id)
  const headOf = (isrc: string): string => {
    const release = info(`isrc:${isrc}`)?.release
    if (release?.icpn != null) return `icpn:${release.icpn}`
    if (release?.grid != null) return `grid:${release.grid}`
    return `isrc:${isrc}`
  }

  // Sales contexts, in a fixed order so that the same facts give the same bytes.
  const contexts = new Map<string, Context>()
  const contextOf = (c: SalesContext): Context => {
    const key = contextKey(c)
    let known = contexts.get(key)
    if (known === undefined) {
      known = { ...c, id: '', usages: 0, subscribers: 0, revenue: 0n }
      contexts.set(key, known)
    }
    return known
  }
  const blocks = new Map<string, Block>()
  const blockOf = (head: string, bundle: SaleFact | null = null): Block => {
    let block = blocks.get(head)
    if (block === undefined) {
      block = { id: '', head, bundle, resources: new Map(), sales: new Map(), streams: new Map() }
      blocks.set(head, block)
    }
    return block
  }
  const addResource = (block: Block, isrc: string) => block.resources.set(isrc, '')

  for (const sale of [...facts.sales].sort((a, b) => (a.purchaseId < b.purchaseId ? -1 : 1))) {
    const context = contextOf(sale)
    context.revenue += sale.amount
    if (sale.model === 'subscription') context.subscribers++
    if (!DOWNLOAD_USE_TYPES.has(sale.useType)) continue
    context.usages++
    let block: Block
    let ref: { release?: string; resource?: string }
    if (sale.content.length > 1) {
      block = blockOf(`offer:${sale.offerId}`, sale)
      for (const id of sale.content) for (const isrc of tracksOf(id, info)) addResource(block, isrc)
      ref = { release: 'head' }
    } else {
      const item = sale.content[0]!
      if (schemeOf(item) === 'isrc') {
        block = blockOf(headOf(idOf(item)))
        addResource(block, idOf(item))
        ref = { resource: idOf(item) }
      } else {
        block = blockOf(item)
        for (const isrc of tracksOf(item, info)) addResource(block, isrc)
        ref = { release: 'head' }
      }
    }
    const key = [
      contextKey(context),
      ref.release ?? '',
      ref.resource ?? '',
      String(sale.amount),
      sale.promotion ?? '',
    ].join('\u0000')
    const known = block.sales.get(key)
    if (known !== undefined) known.units++
    else block.sales.set(key, { ref, context, sale, units: 1 })
  }

  let downloadPlaysLeftOut = 0
  for (const play of facts.plays) {
    if (DOWNLOAD_USE_TYPES.has(play.useType)) {
      downloadPlaysLeftOut += play.plays
      continue
    }
    const context = contextOf(play)
    context.usages += play.plays
    const block = blockOf(headOf(play.isrc))
    addResource(block, play.isrc)
    const key = [contextKey(context), play.isrc, String(play.licencePrice), play.promotion ?? ''].join('\u0000')
    const known = block.streams.get(key)
    if (known !== undefined) known.plays += play.plays
    else block.streams.set(key, { resource: play.isrc, context, fact: play, plays: play.plays })
  }

  const sortedContexts = [...contexts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c)
  sortedContexts.forEach((c, i) => {
    c.id = `S${i + 1}`
  })
  const sortedBlocks = [...blocks.values()].sort((a, b) => (a.head < b.head ? -1 : a.head > b.head ? 1 : 0))

  const lines: string[] = []
  const { start, end } = periodBounds(facts.period)
  lines.push(
    recordLine('HEAD', {
      MessageVersion: DSR_MESSAGE_VERSION,
      Profile: DSR_PROFILE,
      ProfileVersion: DSR_PROFILE_VERSION,
      MessageId: facts.messageId,
      MessageCreatedDateTime: rfc3339(facts.created),
      FileNumber: '1',
      NumberOfFiles: '1',
      UsageStartDate: start,
      UsageEndDate: end,
      SenderPartyId: facts.sender.partyId,
      SenderName: facts.sender.name,
      ServiceDescription: facts.service,
      RecipientPartyId: facts.recipient.partyId,
      RecipientName: facts.recipient.name,
    }),
  )
  for (const c of sortedContexts) {
    const retailer = facts.retailers.get(c.retailerKey)
    lines.push(
      recordLine('SY01.03', {
        SummaryRecordId: c.id,
        DistributionChannel: retailer?.name,
        DistributionChannelDPID: retailer?.partyId,
        CommercialModelType: DDEX_COMMERCIAL_MODEL[c.model],
        UseType: c.useType,
        Territory: c.territory,
        TotalUsages: String(c.usages),
        Subscribers: c.model === 'subscription' ? String(c.subscribers) : null,
        CurrencyOfReporting: c.currency,
        NetRevenue: formatMinorUnits(c.revenue, c.currency),
      }),
    )
  }

  let transaction = 0
  sortedBlocks.forEach((block, b) => {
    block.id = `B${b + 1}`
    const resources = [...block.resources.keys()].sort()
    for (const [r, isrc] of resources.entries()) block.resources.set(isrc, `A${r + 1}`)
    lines.push(recordLine('RE01.03', releaseCells(block, info)))
    for (const isrc of resources) {
      const track = info(`isrc:${isrc}`)
      const cells: DsrCells<'AS01.03'> = {
        BlockId: block.id,
        ResourceReference: block.resources.get(isrc),
        DspResourceId: `isrc:${isrc}`,
        ResourceIsrc: isrc,
        ResourceTitle: track?.title ?? isrc,
        ResourceSubTitle: track?.subtitle,
        ResourceDisplayArtistName: track === undefined ? null : displayName(track.artists),
        ResourceDuration: track?.durationMs != null ? formatDuration(track.durationMs) : null,
        ResourceType: 'SoundRecording',
        ResourceDisplayArtist: track?.artists,
      }
      lines.push(recordLine('AS01.03', cells))
    }
    const sales = [...block.sales.values()].sort((x, y) => order(x.context.id, y.context.id, x.sale, y.sale))
    for (const s of sales) {
      lines.push(
        recordLine('SU01.03', {
          BlockId: block.id,
          SummaryRecordId: s.context.id,
          SalesTransactionId: `T${++transaction}`,
          TransactedReleaseReference: s.ref.release !== undefined ? 'R1' : null,
          TransactedResourceReference: s.ref.resource !== undefined ? block.resources.get(s.ref.resource) : null,
          IsRoyaltyBearing: s.sale.amount > 0n ? 'true' : 'false',
          SalesUpgrade: 'false',
          Usages: String(s.units),
          Returns: '0',
          PriceEndUserPaidExcSalesTax: formatMinorUnits(s.sale.amount, s.sale.currency),
          PromotionalActivity: s.sale.promotion,
          UseType: s.sale.useType,
        }),
      )
    }
    const streams = [...block.streams.values()].sort((x, y) =>
      x.context.id !== y.context.id
        ? x.context.id < y.context.id
          ? -1
          : 1
        : x.resource !== y.resource
          ? x.resource < y.resource
            ? -1
            : 1
          : Number(x.fact.licencePrice - y.fact.licencePrice),
    )
    for (const s of streams) {
      lines.push(
        recordLine('SU02.03', {
          BlockId: block.id,
          SummaryRecordId: s.context.id,
          SalesTransactionId: `T${++transaction}`,
          TransactedResourceReference: block.resources.get(s.resource),
          IsRoyaltyBearing: s.context.model === 'free' ? 'false' : 'true',
          NumberOfStreams: String(s.plays),
          PriceEndUserPaidExcSalesTax:
            s.context.model === 'pay-as-you-go' ? formatMinorUnits(s.fact.licencePrice, s.context.currency) : null,
          PromotionalActivity: s.fact.promotion,
          UseType: s.context.useType,
        }),
      )
    }
  })
  const total = lines.length + 1
  lines.push(
    recordLine('FOOT', {
      NumberOfLinesInFile: String(total),
      NumberOfLinesInReport: String(total),
      NumberOfSummaryRecords: String(sortedContexts.length),
      NumberOfBlocksInFile: String(sortedBlocks.length),
      NumberOfBlocksInReport: String(sortedBlocks.length),
    }),
  )
  const territories = new Set(sortedContexts.map((c) => c.territory))
  const fileName = [
    'DSR',
    fileElement(facts.recipient.partyId ?? facts.recipient.name),
    fileElement(facts.sender.partyId ?? facts.sender.name),
    fileElement(facts.service),
    facts.period,
    territories.size === 1 ? [...territories][0]! : 'Worldwide',
    basicDateTime(facts.created),
  ].join('_')
  return {
    fileName: `${fileName}.tsv`,
    text: `${lines.join('\n')}\n`,
    lines: total,
    summaries: sortedContexts.length,
    blocks: sortedBlocks.length,
    downloadPlaysLeftOut,
  }
}

function order(a: string, b: string, x: SaleFact, y: SaleFact): number {
  if (a !== b) return a < b ? -1 : 1
  return x.purchaseId < y.purchaseId ? -1 : x.purchaseId > y.purchaseId ? 1 : 0
}

/** The recordings of a content id: itself for a recording, the release's tracks (as the catalog lists them). */
function tracksOf(contentId: string, info: (id: string) => ContentInfo | undefined): string[] {
  if (schemeOf(contentId) === 'isrc') return [idOf(contentId)]
  return info(contentId)?.tracks ?? []
}

/** How DDEX displays several artists in one name ("A & B"). */
function displayName(artists: readonly string[]): string {
  return artists.length <= 1 ? (artists[0] ?? '') : `${artists.slice(0, -1).join(', ')} & ${artists.at(-1)}`
}

function releaseCells(block: Block, info: (id: string) => ContentInfo | undefined): DsrCells<'RE01.03'> {
  const base = { BlockId: block.id, ReleaseReference: 'R1' }
  if (block.bundle !== null) {
    const titles = block.bundle.content.map((id) => info(id)?.title ?? idOf(id))
    return {
      ...base,
      DspReleaseId: `offer:${block.bundle.offerId}`,
      ReleaseTitle: titles.join(' / '),
    }
  }
  const scheme = schemeOf(block.head)
  const id = idOf(block.head)
  if (scheme === 'isrc') {
    // A recording sold or streamed on its own, with no release known: it stands as its own release.
    const track = info(block.head)
    return {
      ...base,
      DspReleaseId: block.head,
      ReleaseDisplayArtistName: track === undefined ? null : displayName(track.artists),
      ReleaseTitle: track?.title,
      ReleaseType: 'TrackRelease',
      ReleaseLabelName: track?.label,
      ReleaseDisplayArtist: track?.artists,
    }
  }
  const release = info(block.head)
  // A release the catalog never described: what its recordings said about it.
  const fromTrack = [...block.resources.keys()]
    .map((isrc) => info(`isrc:${isrc}`))
    .find((t) => t?.release != null && (t.release.icpn === id || t.release.grid === id))
  const proprietary: Namespaced[] = scheme === 'grid' ? [{ namespace: 'GRid', value: id }] : []
  return {
    ...base,
    DspReleaseId: block.head,
    ProprietaryReleaseId: proprietary,
    ReleaseIcpn: scheme === 'icpn' ? id : null,
    ReleaseDisplayArtistName: release !== undefined ? displayName(release.artists) : null,
    ReleaseTitle: release?.title ?? fromTrack?.release?.title,
    ReleaseType: release?.releaseType,
    ReleaseLabelName: release?.label ?? fromTrack?.label,
    ReleaseDate: release?.releaseDate,
    ReleaseDisplayArtist: release?.artists,
  }
}
