/**
 * A participant's DSR report for a period, from the clearinghouse's own state: the purchases its statement lines
 * name (each with the offer, contract and territory it was bought under), the plays settled in the period that
 * concern it (counted per licence, contract and recording at settlement, `dsrPlays` rows), what the catalog said
 * about the content (`catalog.ts`) and the parties' DPID-style ids (from their certificates). The message itself is
 * built by `message.ts`.
 *
 * Which sales and plays concern whom: a retailer's are those of its own offers; a distributor's those under its
 * contracts; a rights holder's the sales on its statement and the plays under contracts that split to it.
 */
import { createHash } from 'node:crypto'
import { fromHex, toHex } from '../../../keys/hex.ts'
import type { Clock } from '../../../protocols/clock.ts'
import { isDpid } from '../../../protocols/identifiers/dpid.ts'
import { isCountryCode } from '../../../protocols/identifiers/territories.ts'
import { toJson } from '../../../protocols/json.ts'
import type { NetworkContext } from '../../../protocols/network.ts'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import { assignedPartyId } from '../../../protocols/register/party-id.ts'
import type { CertificateTrust } from '../../../protocols/trust/trust.ts'
import { DsrNotApplicableError } from '../errors.ts'
import { parseParticipant, rightsholderParticipant } from '../participants.ts'
import type { RecordBook } from '../records.ts'
import { dsrPlaysRow, purchaseRow, StateKeys } from '../state.ts'
import type { Statements } from '../statements.ts'
import type { StateStore } from '../store.ts'
import type { CatalogFacts } from './catalog.ts'
import {
  buildDsrMessage,
  type CommercialModel,
  type ContentInfo,
  type DsrMessage,
  type DsrParty,
  type PlayFact,
  type SaleFact,
} from './message.ts'

export interface DsrExportComponents {
  store: StateStore
  records: RecordBook
  statements: Statements
  catalog: CatalogFacts
  trust: CertificateTrust
  network: NetworkContext
  clock: Clock
  /** This clearinghouse's key: the sender of its reports. */
  clearinghouse: Uint8Array
}

export interface DsrReport extends DsrMessage {
  participant: string
  period: string
  /** Things the report could not say as it should (a record the clearinghouse no longer has, say). */
  warnings: string[]
}

export class DsrExport {
  readonly #c: DsrExportComponents

  constructor(components: DsrExportComponents) {
    this.#c = components
  }

  /** The DSR report of one participant (a retailer, distributor or rights holder) for one period. */
  async report(period: string, participant: string): Promise<DsrReport> {
    const parsed = parseParticipant(participant)
    if (parsed === undefined || !['retailer', 'distributor', 'rightsholder'].includes(parsed.kind)) {
      throw new DsrNotApplicableError(
        `participant: ${participant} is not a retailer, distributor or rights holder; a DSR reports sales and usage to them`,
      )
    }
    const warnings: string[] = []
    const concerns = (offer: SignedRecord<'consort/offer'>, contract: SignedRecord<'consort/contract'>): boolean => {
      if (parsed.kind === 'retailer') return toHex(offer.signer) === parsed.subject
      if (parsed.kind === 'distributor') return toHex(contract.body.distributor) === parsed.subject
      return contract.body.splits.some((s) => rightsholderParticipant(s.party) === participant)
    }
    const sales = await this.#sales(period, participant, warnings)
    const plays = await this.#plays(period, concerns, warnings)
    const closedAt = await this.#c.statements.closedAt(period)
    const created = closedAt ?? this.#c.clock.now()

    const retailers = new Map<string, DsrParty>()
    for (const fact of [...sales.map((s) => s.fact), ...plays.map((p) => p.fact)]) {
      if (!retailers.has(fact.retailerKey)) retailers.set(fact.retailerKey, this.#party(fact.retailerKey, 'retailer'))
    }
    const content = new Map<string, ContentInfo>()
    const describe = async (contentId: string, preferred: readonly string[]) => {
      if (content.has(contentId)) return content.get(contentId)
      const info = await this.#c.catalog.describe(contentId, preferred)
      if (info === undefined) warnings.push(`the catalog never described ${contentId}: its title is its identifier`)
      else content.set(contentId, info)
      return info
    }
    const describeTrack = async (isrc: string, preferred: readonly string[]) => {
      const track = await describe(`isrc:${isrc}`, preferred)
      if (track?.release?.icpn != null) await describe(`icpn:${track.release.icpn}`, preferred)
      else if (track?.release?.grid != null) await describe(`grid:${track.release.grid}`, preferred)
    }
    for (const { fact, preferred } of sales) {
      for (const id of fact.content) {
        if (id.startsWith('isrc:')) await describeTrack(id.slice(5), preferred)
        else {
          const release = await describe(id, preferred)
          for (const isrc of release?.tracks ?? []) await describe(`isrc:${isrc}`, preferred)
        }
      }
    }
    for (const { fact, preferred } of plays) await describeTrack(fact.isrc, preferred)

    const facts = {
      period,
      created,
      messageId: '',
      service: this.#c.network.name,
      sender: this.#party(toHex(this.#c.clearinghouse), 'clearinghouse'),
      recipient: this.#recipient(participant, parsed.kind, parsed.subject),
      retailers,
      sales: sales.map((s) => s.fact),
      plays: plays.map((p) => p.fact),
      content,
    }
    // The id is the digest of what the report says: built again from the same books, it is the same message.
    const digest = createHash('sha256')
      .update(toJson({ participant, period, created, sales: facts.sales, plays: facts.plays }))
      .digest('hex')
    facts.messageId = `${period}-${digest.slice(0, 24)}`
    return { ...buildDsrMessage(facts), participant, period, warnings }
  }

  /** The captured purchases the participant's statement lines of the period name. */
  async #sales(
    period: string,
    participant: string,
    warnings: string[],
  ): Promise<Array<{ fact: SaleFact; preferred: string[] }>> {
    const ids = new Set<string>()
    for (const rows of (await this.#c.statements.lines(period, participant)).values()) {
      for (const row of rows) {
        if ((row.kind === 'sale' || row.kind === 'split') && !row.ref.startsWith('plays:')) ids.add(row.ref)
      }
    }
    const out: Array<{ fact: SaleFact; preferred: string[] }> = []
    for (const purchaseId of [...ids].sort()) {
      const row = await this.#c.store.get(purchaseRow, StateKeys.purchase(purchaseId))
      if (row === undefined || row.state !== 'captured' || row.contract === null) {
        warnings.push(`purchase ${purchaseId} is on the statement but not captured here`)
        continue
      }
      const offer = await this.#c.records.get('consort/offer', row.offer)
      const contract = await this.#c.records.get('consort/contract', row.contract)
      if (offer === undefined || contract === undefined) {
        warnings.push(`purchase ${purchaseId}: its offer or contract record is missing`)
        continue
      }
      out.push({
        fact: {
          purchaseId,
          offerId: offer.body.offerId,
          content: offer.body.content,
          retailerKey: row.retailer,
          model: contract.body.commercialModel as CommercialModel,
          useType: offer.body.useType,
          territory: row.territory,
          currency: row.currency,
          amount: row.amount,
          promotion: offer.body.promotion?.label ?? null,
        },
        preferred: preferredSigners(contract),
      })
    }
    return out
  }

  /** The plays settled in the period that concern the participant, per licence, contract and recording. */
  async #plays(
    period: string,
    concerns: (offer: SignedRecord<'consort/offer'>, contract: SignedRecord<'consort/contract'>) => boolean,
    warnings: string[],
  ): Promise<Array<{ fact: PlayFact; preferred: string[] }>> {
    const out: Array<{ fact: PlayFact; preferred: string[] }> = []
    for await (const [, row] of this.#c.store.rows(dsrPlaysRow, StateKeys.dsrPlaysPrefix(period))) {
      const licence = await this.#c.records.get('consort/licence', row.licence)
      const contract = await this.#c.records.get('consort/contract', row.contract)
      const offer =
        licence === undefined ? undefined : await this.#c.records.get('consort/offer', licence.body.offer.toString())
      if (licence === undefined || contract === undefined || offer === undefined) {
        warnings.push(`${row.plays} play(s) of ${row.isrc}: a licence, offer or contract record is missing`)
        continue
      }
      if (!concerns(offer, contract)) continue
      out.push({
        fact: {
          isrc: row.isrc,
          plays: row.plays,
          retailerKey: toHex(offer.signer),
          model: contract.body.commercialModel as CommercialModel,
          useType: licence.body.useType,
          territory: await this.#territoryOf(licence.body.purchaseId, offer),
          currency: offer.body.price.currency,
          licencePrice: offer.body.price.amount,
          promotion: offer.body.promotion?.label ?? null,
        },
        preferred: preferredSigners(contract),
      })
    }
    return out
  }

  /**
   * Where a licence was bought: the territory of its purchase order, as authorised here; for a purchase
   * authorised by another clearinghouse, the offer's one country, else `Worldwide`.
   */
  async #territoryOf(purchaseId: string, offer: SignedRecord<'consort/offer'>): Promise<string> {
    const row = await this.#c.store.get(purchaseRow, StateKeys.purchase(purchaseId))
    if (row !== undefined) return row.territory
    const countries = offer.body.territories.filter(isCountryCode)
    return countries.length === 1 && offer.body.territories.length === 1 ? countries[0]! : 'Worldwide'
  }

  /** A keyed participant: its certificate's name and party id (the party id its registrar assigned). */
  #party(keyHex: string, kind: string): DsrParty {
    const key = fromHex(keyHex)
    const cert = this.#c.trust.certOf(key)
    const anchor = this.#c.network.body.clearinghouses.find((c) => toHex(c.key) === keyHex)
    return {
      partyId: cert?.body.partyId ?? assignedPartyId(key),
      name: cert?.body.name ?? anchor?.name ?? `${kind} ${keyHex.slice(0, 16)}`,
    }
  }

  #recipient(participant: string, kind: string, subject: string): DsrParty {
    if (kind !== 'rightsholder') return this.#party(subject, kind)
    // A rights holder is named by the party id of the contract's split: a DPID when it is one.
    const party = participant.startsWith('rightsholder:') ? participant.slice('rightsholder:'.length) : subject
    return { partyId: isDpid(party) ? party : null, name: party }
  }
}

/** Whose description of the content a report prefers: the contract's distributor's, then its signer's. */
function preferredSigners(contract: SignedRecord<'consort/contract'>): string[] {
  return [toHex(contract.body.distributor), toHex(contract.signer)]
}
