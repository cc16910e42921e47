import type { Command } from 'commander'
import { ControlApiError } from '../../node/errors.ts'
import { isError } from '../../protocols/errors.ts'
import { CliError, collect, EXIT, listOption, print, table } from '../output.ts'
import { clientFor, withDataDir, withJson } from './common.ts'

/** A failed certification clause, as the reference service names it. */
interface ClauseFailure {
  clause: string
  message: string
}

/** An offer as the retailer reports it (money amounts arrive as decimal strings). */
interface OfferView {
  offerId: string
  status: string
  onSale: boolean
  offer: string
  seq: number
  content: string[]
  priceText: string
  useType: string
  territories: string[]
  excludedTerritories: string[]
  validFrom: number
  validUntil: number | null
  certification: string | null
  certifiedUntil: number | null
  failures: ClauseFailure[]
  note: string | null
}

interface OfferSummary {
  offerId: string
  offer: string
  retailerName: string
  content: string[]
  priceText: string
  useType: string
  territories: string[]
  certifier: string
  certifiedUntil: number
}

interface MarketAnswer {
  content: string
  territory: string
  offers: OfferSummary[]
  dropped: Array<{ offer: string | null; reason: string }>
  unreachable: Array<{ reference: string; reason: string }>
}

const RULE_OPTIONS = [
  ['plays', 'plays'],
  ['playSeconds', 'play-seconds'],
  ['rentalSeconds', 'rental-seconds'],
  ['previewSeconds', 'preview-seconds'],
  ['devices', 'devices'],
  ['export', 'export'],
  ['burn', 'burn'],
  ['offline', 'offline'],
] as const

function count(value: string, name: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0)
    throw new CliError(`--${name}: expected a whole number, got ${value}`, EXIT.usage)
  return n
}

const when = (ms: number | null) => (ms == null ? 'open' : new Date(ms).toISOString())

/** The options `offer create` and `offer update` share. */
function withOfferOptions(command: Command): Command {
  command
    .option('--content <id>', 'content: isrc:… for a track, icpn:…/grid:… for a release (repeat for a bundle)', collect)
    .option('--contract <id>', 'the contract: its record CID, or its contract id')
    .option('--price <decimal>', 'retail price in major units, e.g. 0.99')
    .option('--currency <code>', 'ISO 4217 currency, e.g. EUR')
    .option('--use-type <type>', 'PermanentDownload, ConditionalDownload, OnDemandStream, NonInteractiveStream…')
    .option('--territories <list>', 'comma-separated ISO 3166 codes or Worldwide (default: the contract’s)')
    .option('--exclude <list>', 'comma-separated territories to leave out')
    .option('--from <date>', 'valid from (YYYY-MM-DD or an ISO date-time; default: now or the contract’s start)')
    .option('--until <date>', 'valid until (default: the contract’s end); "open" for no end')
    .option('--promotion <kind:label>', 'a promotion: discount:"Launch week" or free:"Weekend gift"; "none" to drop it')
    .option('--rules <json>', 'usage rules as JSON, e.g. {"devices":3,"plays":10}')
  for (const [, flag] of RULE_OPTIONS) command.option(`--${flag} <n>`, `usage rule ${flag}`)
  return command.option('--transfer <yes|no>', 'usage rule: may the licence be transferred')
}

/** Turn command-line options into the control API's offer input. */
export function offerInputFrom(options: Record<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = {}
  if (Array.isArray(options.content)) input.content = options.content
  if (typeof options.contract === 'string') input.contract = options.contract
  if (typeof options.price === 'string') input.price = options.price
  if (typeof options.currency === 'string') input.currency = options.currency
  if (typeof options.useType === 'string') input.useType = options.useType
  if (typeof options.territories === 'string') input.territories = listOption(options.territories)
  if (typeof options.exclude === 'string') input.excludedTerritories = listOption(options.exclude)
  if (typeof options.from === 'string') input.validFrom = options.from
  if (typeof options.until === 'string') input.validUntil = options.until === 'open' ? null : options.until
  if (typeof options.promotion === 'string') {
    if (options.promotion === 'none') input.promotion = null
    else {
      const colon = options.promotion.indexOf(':')
      if (colon < 0) throw new CliError('--promotion: expected kind:label, e.g. discount:"Launch week"', EXIT.usage)
      input.promotion = { kind: options.promotion.slice(0, colon), label: options.promotion.slice(colon + 1) }
    }
  }
  let rules: Record<string, unknown> | undefined
  if (typeof options.rules === 'string') {
    try {
      rules = JSON.parse(options.rules) as Record<string, unknown>
    } catch (err) {
      throw new CliError(`--rules: not JSON: ${(err as Error).message}`, EXIT.usage)
    }
    if (rules == null || typeof rules !== 'object' || Array.isArray(rules))
      throw new CliError('--rules: expected a JSON object', EXIT.usage)
  }
  for (const [rule, flag] of RULE_OPTIONS) {
    const key = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
    const value = options[key]
    if (typeof value === 'string') {
      rules ??= {}
      rules[rule] = count(value, flag)
    }
  }
  if (typeof options.transfer === 'string') {
    if (options.transfer !== 'yes' && options.transfer !== 'no') throw new CliError('--transfer: yes or no', EXIT.usage)
    rules ??= {}
    rules.transfer = options.transfer === 'yes'
  }
  if (rules != null) input.rules = rules
  return input
}

function showOffer(view: OfferView): string {
  const lines = [
    `offer     ${view.offerId} (seq ${view.seq}) ${view.status}${view.onSale ? ', on sale' : ''}`,
    `record    ${view.offer}`,
    `content   ${view.content.join(', ')}`,
    `price     ${view.priceText}  ${view.useType}`,
    `where     ${view.territories.join(', ')}${view.excludedTerritories.length > 0 ? ` except ${view.excludedTerritories.join(', ')}` : ''}`,
    `when      ${when(view.validFrom)} – ${when(view.validUntil)}`,
  ]
  if (view.certification != null) lines.push(`certified ${view.certification} until ${when(view.certifiedUntil)}`)
  if (view.note != null) lines.push(`note      ${view.note}`)
  if (view.failures.length > 0) {
    lines.push('refused:')
    for (const f of view.failures) lines.push(`  ✗ ${f.clause}: ${f.message}`)
  }
  return lines.join('\n')
}

/** A refused offer is a failed command (exit 1), after its reasons are printed. */
function finish(view: OfferView): void {
  if (view.status === 'refused') process.exitCode = EXIT.failed
}

/**
 * `consort offer create|update|withdraw|list|show` (a retailer's offers) and `consort offers CONTENT` (the
 * certified offers for a track or release, on any node that follows offers).
 */
export function registerRetailCommands(program: Command): void {
  const offer = program.command('offer').description("a retailer's offers: create, update, withdraw, list")

  withJson(withDataDir(withOfferOptions(offer.command('create').description('write an offer and have it certified'))))
    .option('--id <offerId>', 'the offer id (default: a random one)')
    .action(async (options) => {
      const input = offerInputFrom(options)
      if (typeof options.id === 'string') input.offerId = options.id
      const view = await clientFor(options).request<OfferView>('POST', '/v1/retailer/offers', input)
      print(view, options, () => showOffer(view))
      finish(view)
    })

  withJson(
    withDataDir(
      withOfferOptions(
        offer
          .command('update')
          .description('change an offer (a new version, certified again)')
          .argument('<offerId>', 'the offer to change'),
      ),
    ),
  ).action(async (offerId: string, options) => {
    const view = await clientFor(options).request<OfferView>(
      'POST',
      `/v1/retailer/offers/${encodeURIComponent(offerId)}`,
      offerInputFrom(options),
    )
    print(view, options, () => showOffer(view))
    finish(view)
  })

  withJson(
    withDataDir(
      offer
        .command('withdraw')
        .description('withdraw an offer (a revocation, gossiped)')
        .argument('<offerId>', 'the offer to withdraw')
        .option('--reason <text>', 'why', 'withdrawn by the retailer'),
    ),
  ).action(async (offerId: string, options) => {
    const view = await clientFor(options).request<OfferView>(
      'DELETE',
      `/v1/retailer/offers/${encodeURIComponent(offerId)}?reason=${encodeURIComponent(options.reason)}`,
    )
    print(view, options, () => showOffer(view))
  })

  withJson(
    withDataDir(
      offer
        .command('from-contracts')
        .description(
          'make and certify an offer for each item and use type of every contract this retailer holds ' +
            '(the wholesale price plus a markup; existing offers are kept)',
        )
        .option('--content <id>', 'only this content (isrc:…, icpn:…, grid:…; repeatable)', collect)
        .option('--markup <bps>', 'markup over the wholesale price in basis points (default 4000 = 40 %)'),
    ),
  ).action(async (options) => {
    const body: Record<string, unknown> = {}
    if (options.content != null) body.content = options.content
    if (options.markup != null) {
      if (!/^\d+$/.test(options.markup)) throw new CliError(`--markup: basis points, got ${options.markup}`, EXIT.usage)
      body.markupBps = Number(options.markup)
    }
    const views = await clientFor(options).request<OfferView[]>('POST', '/v1/retailer/offers/from-contracts', body)
    print(views, options, () =>
      views.length === 0
        ? 'no new offers (no contract covers anything without an offer yet)'
        : table(
            views.map((v) => ({
              offer: v.offerId,
              status: v.status,
              content: v.content.join(','),
              price: v.priceText,
              use: v.useType,
            })),
            ['offer', 'status', 'content', 'price', 'use'],
          ),
    )
    if (views.some((v) => v.status !== 'certified')) process.exitCode = EXIT.failed
  })

  withJson(withDataDir(offer.command('list').description("this retailer's offers"))).action(async (options) => {
    const views = await clientFor(options).request<OfferView[]>('GET', '/v1/retailer/offers')
    print(views, options, () =>
      table(
        views.map((v) => ({
          offer: v.offerId,
          status: v.status,
          content: v.content.join(','),
          price: v.priceText,
          use: v.useType,
          territories: v.territories.join(','),
          'certified until': v.certifiedUntil == null ? '' : when(v.certifiedUntil),
        })),
        ['offer', 'status', 'content', 'price', 'use', 'territories', 'certified until'],
      ),
    )
  })

  withJson(withDataDir(offer.command('show').description('one offer').argument('<offerId>'))).action(
    async (offerId: string, options) => {
      const view = await clientFor(options).request<OfferView>(
        'GET',
        `/v1/retailer/offers/${encodeURIComponent(offerId)}`,
      )
      print(view, options, () => showOffer(view))
    },
  )

  withJson(
    withDataDir(
      program
        .command('offers')
        .description('list the certified offers for a track or release, cheapest first')
        .argument('<content>', 'isrc:…, icpn:… or grid:… (a bare ISRC or UPC works too)')
        .option('--territory <code>', 'where you buy (ISO 3166 code; default: the player’s territory, else Worldwide)'),
    ),
  ).action(async (content: string, options) => {
    const client = clientFor(options)
    // Without --territory the node decides: a player lists (and later buys) for its listener's territory.
    const query =
      `content=${encodeURIComponent(content)}` +
      (typeof options.territory === 'string' ? `&territory=${encodeURIComponent(options.territory)}` : '')
    const { roles } = await client.request<{ roles: string[] }>('GET', '/v1/id')
    // Any role that follows offers answers, the player first (it remembers the offers it listed, for `consort
    // buy`); a node-wide route (`/v1/market`) serves nodes without one.
    const paths = [
      ...['player', 'retailer', 'reference'].filter((r) => roles.includes(r)).map((r) => `/v1/${r}/market`),
      '/v1/market',
    ]
    let answer: MarketAnswer | undefined
    for (const path of paths) {
      try {
        answer = await client.request<MarketAnswer>('GET', `${path}?${query}`)
        break
      } catch (err) {
        if (!isError(err, ControlApiError) || (err as ControlApiError).status !== 404) throw err
      }
    }
    if (answer == null) {
      throw new CliError('this node serves no market query (run it on a node with the retailer or reference role)')
    }
    const result = answer
    print(result, options, () => {
      const rows = table(
        result.offers.map((o) => ({
          offer: o.offer,
          retailer: o.retailerName,
          price: o.priceText,
          use: o.useType,
          content: o.content.join(','),
          'certified until': when(o.certifiedUntil),
        })),
        ['offer', 'retailer', 'price', 'use', 'content', 'certified until'],
      )
      const notes = [
        ...result.unreachable.map((u) => `(reference ${u.reference} did not answer: ${u.reason})`),
        ...result.dropped.map((d) => `(dropped ${d.offer ?? 'an answer'}: ${d.reason})`),
      ]
      return [rows, ...notes].join('\n')
    })
  })
}
