import path from 'node:path'
import { createInterface } from 'node:readline/promises'
import type { Command } from 'commander'
import { toHex } from '../../keys/hex.ts'
import { ControlApiError, DaemonNotRunningError } from '../../node/errors.ts'
import { isError } from '../../protocols/errors.ts'
import { exportAccount, importAccount, loadAccountKeys, readAccountExport } from '../../roles/player/index.ts'
import { CliError, durationOption, EXIT, passphraseFrom, print, table } from '../output.ts'
import { accountCommand, clientFor, dataDirOf, withDataDir, withJson } from './common.ts'

/**
 * The listener's commands: `search`, `buy`, `play`, `licences`, `export`, `burn`, `usage`, and `account
 * export|import` (a second device of the same account). They act on the running daemon's player role through the
 * control API (`/v1/player/…`); `account export|import` work on the data dir itself. (`consort offers` is the
 * market command every offer-following role serves, the player included.)
 */

const when = (ms: number | null | undefined) => (ms == null ? '-' : new Date(ms).toISOString())

function whole(value: string, name: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1)
    throw new CliError(`--${name}: expected a whole number ≥ 1, got ${value}`, EXIT.usage)
  return n
}

interface Remaining {
  plays: number | null
  playSeconds: number | null
  exports: number | null
  burns: number | null
  usableUntil: number | null
}

const left = (n: number | null) => (n === null ? 'unlimited' : String(n))

/** What `GET /v1/player/quote` answers (roles/player/types.ts `PurchaseQuote`). */
interface Quote {
  offer: { useType: string; rules: string[]; retailerName: string }
  title: string
  priceText: string
  priceWords: string
  owned: Array<{ purchaseId: string; licenceId: string; useType: string; rules: string[] }>
}

/** Ask a question on the terminal and answer the line typed. */
async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return await rl.question(question)
  } finally {
    rl.close()
  }
}

function describeRemaining(r: Remaining | null): string {
  if (r === null) return ''
  return `plays left ${left(r.plays)}, exports left ${left(r.exports)}, burns left ${left(r.burns)}${
    r.usableUntil !== null ? `, usable until ${when(r.usableUntil)}` : ''
  }`
}

export function registerPlayerCommands(program: Command): void {
  withJson(
    withDataDir(
      program
        .command('search')
        .description('search the catalog for releases and tracks')
        .argument('<query...>', 'words to look for (title, artist, release, genre, label, year)')
        .option('--limit <n>', 'most results', '20'),
    ),
  ).action(async (words: string[], options) => {
    const q = encodeURIComponent(words.join(' '))
    const result = await clientFor(options).request<{
      hits: Array<Record<string, unknown>>
      source: string
      total: number
    }>('GET', `/v1/player/search?q=${q}&limit=${whole(options.limit, 'limit')}`)
    print(result, options, () =>
      [
        table(
          result.hits.map((h) => ({
            content: h.contentId,
            kind: h.kind,
            title: h.title,
            artists: (h.artists as string[]).join(', '),
            release: h.release ?? '',
            year: h.year ?? '',
          })),
          ['content', 'kind', 'title', 'artists', 'release', 'year'],
        ),
        `${result.total} found (${result.source === 'catalog' ? 'catalog' : "this player's own knowledge; no catalog node answered"})`,
      ].join('\n'),
    )
  })

  withJson(
    withDataDir(
      program
        .command('buy')
        .description(
          'buy an offer listed by `consort offers` (signed with your account key): shows the price and asks before it charges',
        )
        .argument('<offer>', 'the offer record id (or its offer id) from `consort offers`')
        .option('--yes', 'do not ask: buy at the price shown (for scripts)')
        .option('--again', 'buy even though this device already holds a licence that gives as much')
        .option(
          '--for <account>',
          'a gift: buy it for another account (its key, 64 hex characters); it is theirs at once',
        )
        .option(
          '--share <link>',
          'the share link you came through (`consort open`): it goes into your signed order and may credit who shared it',
        ),
    ),
  ).action(async (offer: string, options) => {
    const client = clientFor(options)
    const giftTo = options.for === undefined ? undefined : String(options.for).toLowerCase()
    if (giftTo !== undefined && !/^[0-9a-f]{64}$/.test(giftTo)) {
      throw new CliError(`--for: ${JSON.stringify(options.for)} is not an account key (64 hex characters)`)
    }
    const quote = await client.request<Quote>('GET', `/v1/player/quote?offer=${encodeURIComponent(offer)}`)
    if (quote.owned.length > 0 && options.again !== true) {
      throw new CliError(
        `you already hold ${quote.owned.map((o) => `licence ${o.licenceId} (${o.useType}: ${o.rules.join(', ')}; purchase ${o.purchaseId})`).join(' and ')}, which gives at least what this offer would: buying it again charges ${quote.priceText} again. Add --again to buy it anyway`,
      )
    }
    const terms = `${quote.title}: ${quote.offer.useType}, ${quote.offer.rules.join(', ')}, from ${quote.offer.retailerName}`
    const price = `${quote.priceText} (${quote.priceWords})`
    if (options.yes !== true) {
      if (process.stdin.isTTY !== true) {
        throw new CliError(
          `buying ${terms} charges ${price}: add --yes to buy without being asked (no terminal to ask on)`,
          EXIT.usage,
        )
      }
      const answer = await ask(`Buy ${terms}\nfor ${price}${quote.owned.length > 0 ? ', again' : ''}? [y/N] `)
      if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('not bought: nothing was charged', EXIT.failed)
    }
    const result = await client.request<Record<string, unknown>>('POST', '/v1/player/buy', {
      offer,
      ...(options.again === true || giftTo !== undefined ? { again: true } : {}),
      ...(options.share !== undefined ? { share: String(options.share) } : {}),
    })
    if (giftTo !== undefined) {
      // The purchase moves to the receiver at once (decision 0606); a retry with the same id moves it once.
      const given = await client.request<Record<string, unknown>>('POST', '/v1/player/licences/transfer', {
        purchaseId: result.purchaseId,
        to: giftTo,
        transferId: `gift:${result.purchaseId}`,
        gift: true,
      })
      print({ ...result, gift: given }, options, () =>
        [
          `bought     ${(result.content as string[]).join(', ')} as a gift`,
          `purchase   ${result.purchaseId}`,
          `given to   ${giftTo}: it fetches it with consort licences --fetch ${result.purchaseId}`,
        ].join('\n'),
      )
      return
    }
    print(result, options, () =>
      [
        `bought     ${(result.content as string[]).join(', ')}`,
        `purchase   ${result.purchaseId}`,
        `licence    ${result.licenceId} (${result.licence})`,
        `receipt    ${result.receipt}`,
        ...(options.share !== undefined
          ? ['share      in your signed order: its referrer is credited if the contract pays referrals']
          : []),
        `took       ${result.elapsedMs} ms, ${result.attempts} attempt(s)`,
      ].join('\n'),
    )
  })

  withJson(
    withDataDir(
      program
        .command('share')
        .description(
          'share a track or release: a link signed with your account key that anyone can open in their player (consort open)',
        )
        .argument('<content>', 'isrc:… (or a bare ISRC, or the manifest CID), or a release (icpn:…, grid:…)')
        .option('--offer <offer>', 'recommend an offer: its record id or offer id from `consort offers`')
        .option('--expires <duration>', 'how long the link works: 90s, 30m, 12h, 7d, 2w (default 30d, at most a year)'),
    ),
  ).action(async (content: string, options) => {
    const body: Record<string, unknown> = { content }
    if (options.offer !== undefined) body.offer = String(options.offer)
    if (options.expires !== undefined) body.expiresInMs = durationOption(String(options.expires), '--expires')
    const share = await clientFor(options).request<ShareView>('POST', '/v1/player/shares', body)
    print(share, options, () =>
      [
        share.link,
        '',
        `shares     ${describeShared(share)}`,
        ...(share.offer !== null ? [`offer      ${share.offer} (recommended)`] : []),
        `as         your account ${share.referrer.key}`,
        `expires    ${when(share.expires)}`,
        'open with  consort open LINK (any player); the recipient previews it and buys in its own territory',
      ].join('\n'),
    )
  })

  withJson(
    withDataDir(
      program
        .command('open')
        .description(
          "open a share link: checks it, plays the preview from the swarm at once, and lists the offers for your territory (the sharer's retailer first)",
        )
        .argument('<link>', "consort://share/…, a store's …/share/… address, or the bare share text")
        .option('--out <file>', 'write the preview to this file instead of the audio device')
        .option('--no-preview', 'do not play the preview'),
    ),
  ).action(async (link: string, options) => {
    const body: Record<string, unknown> = { link }
    if (options.out !== undefined) body.out = path.resolve(options.out)
    if (options.preview === false) body.preview = false
    const opened = await clientFor(options).request<OpenedShareAnswer>('POST', '/v1/player/shares/open', body)
    print(opened, options, () => describeOpened(opened, link))
  })

  withJson(
    withDataDir(
      program
        .command('play')
        .description('play a track: the full track with a licence, else its preview clip')
        .argument('<content>', 'isrc:… (or a bare ISRC, or the manifest CID)')
        .option('--out <file>', 'write the decrypted audio to this file instead of the audio device')
        .option('--seconds <n>', 'stop after this many seconds')
        .option('--preview', 'play the preview clip even with a licence'),
    ),
  ).action(async (content: string, options) => {
    const body: Record<string, unknown> = { content }
    if (options.out !== undefined) body.out = path.resolve(options.out)
    if (options.seconds !== undefined) body.seconds = whole(options.seconds, 'seconds')
    if (options.preview === true) body.preview = true
    const result = await clientFor(options).request<Record<string, unknown>>('POST', '/v1/player/play', body)
    print(result, options, () =>
      [
        `played     ${result.title} (${result.isrc}), ${result.mode === 'preview' ? 'preview clip' : 'licensed'}`,
        `to         ${result.sink}`,
        `audio      ${Number(result.seconds).toFixed(1)} s, ${result.bytes} bytes; first audio after ${result.firstAudioMs} ms`,
        `stopped    ${result.stopped}${result.limit !== null ? ` (${result.limit})` : ''}`,
        ...(result.remaining !== null ? [`licence    ${describeRemaining(result.remaining as Remaining)}`] : []),
        ...describeDelivery(result.delivery as PlayDelivery | null | undefined),
        ...describeSources(result.sources as Sources | undefined),
      ].join('\n'),
    )
    // Asked for the track, got its preview: say so and fail, so that a script never takes the clip for the track.
    if (result.mode === 'preview' && options.preview !== true) {
      throw new CliError(
        `no licence to play ${result.title} (${result.isrc}): only its ${Number(result.seconds).toFixed(0)}-second preview was played${options.out !== undefined ? ` (written to ${path.resolve(options.out)})` : ''}; buy it (consort offers ${result.content}), or pass --preview to ask for the preview`,
      )
    }
  })

  withJson(
    withDataDir(
      program
        .command('licences')
        .description("this device's licences, with what is left of each")
        .option('--resync', 'rebuild the local store with the registration manager and the clearinghouse')
        .option('--fetch <purchaseId>', "ask for this device's licence of a purchase (a second device of the account)"),
    ),
  ).action(async (options) => {
    const client = clientFor(options)
    if (options.resync === true) {
      const result = await client.request<Record<string, unknown>>('POST', '/v1/player/licences/resync')
      print(result, options, () =>
        [
          `licences restored    ${(result.licences as string[]).length}`,
          ...(result.refused as Array<{ purchaseId: string; reason: string }>).map(
            (r) => `refused              ${r.purchaseId}: ${r.reason}`,
          ),
          `entries salvaged     ${result.salvagedEntries} (${result.chainedEntries} in chain, ${result.unreadableEntries} unreadable)`,
          `events to report     ${result.restoredEvents}`,
        ].join('\n'),
      )
      return
    }
    if (options.fetch !== undefined) {
      const result = await client.request('POST', '/v1/player/licences/fetch', { purchaseId: options.fetch })
      print(result, options)
      return
    }
    const licences = await client.request<Array<Record<string, unknown>>>('GET', '/v1/player/licences')
    print(licences, options, () =>
      table(
        licences.map((l) => {
          const r = l.remaining as Remaining
          return {
            purchase: l.purchaseId,
            content: (l.content as string[]).join(' '),
            use: l.useType,
            'plays left': left(r.plays),
            'exports left': left(r.exports),
            'burns left': left(r.burns),
            'usable until': when(r.usableUntil),
            status: l.playable === true ? 'ok' : (l.reason ?? ''),
          }
        }),
        ['purchase', 'content', 'use', 'plays left', 'exports left', 'burns left', 'usable until', 'status'],
      ),
    )
  })

  const licence = program.command('licence').description('one licence: give it to another account')
  withJson(
    withDataDir(
      licence
        .command('transfer')
        .description(
          'give a purchase to another account where its rules allow transfer: this account keeps nothing of it, the uses made so far go with it',
        )
        .argument('<licence>', 'the purchase id (as `consort licences` lists it)')
        .requiredOption('--to <account>', "the receiving account's key (64 hex characters)")
        .option('--id <transferId>', 'the transfer id (a retry with the same id transfers once)')
        .option(
          '--gift',
          'a purchase bought for the receiver: allowed whatever its transfer rule, unused and within a day',
        ),
    ),
  ).action(async (purchaseId: string, options) => {
    const to = String(options.to).toLowerCase()
    if (!/^[0-9a-f]{64}$/.test(to))
      throw new CliError(`--to: ${JSON.stringify(options.to)} is not an account key (64 hex characters)`)
    const result = await clientFor(options).request<Record<string, unknown>>('POST', '/v1/player/licences/transfer', {
      purchaseId,
      to,
      ...(options.id !== undefined ? { transferId: options.id } : {}),
      ...(options.gift === true ? { gift: true } : {}),
    })
    print(result, options, () =>
      [
        `transferred  ${result.purchaseId} to ${result.to}`,
        `transfer id  ${result.transferId}`,
        `revoked      ${(result.revoked as string[]).length} licence(s) of this account`,
        `uses taken   ${result.used} play(s) already made go with it`,
        `the receiver fetches it with: consort licences --fetch ${result.purchaseId}`,
      ].join('\n'),
    )
  })

  for (const kind of ['export', 'burn'] as const) {
    const command = program
      .command(kind)
      .description(
        kind === 'export'
          ? 'export a licensed track (a counted use) to a file'
          : 'burn a licensed track (a counted use); simulated: writes a disc image (audio file + cue sheet)',
      )
      .argument('<content>', 'isrc:… (or a bare ISRC)')
    if (kind === 'export') command.requiredOption('--out <file>', 'where to write the track')
    else command.option('--out <file>', 'where to write the disc image (default: <data dir>/burns/)')
    withJson(withDataDir(command)).action(async (content: string, options) => {
      const body: Record<string, unknown> = { content }
      if (options.out !== undefined) body.out = path.resolve(options.out)
      const result = await clientFor(options).request<Record<string, unknown>>('POST', `/v1/player/${kind}`, body)
      print(result, options, () =>
        [
          `${kind === 'export' ? 'exported' : 'burned  '}   ${result.isrc} → ${(result.files as string[]).join(', ')}`,
          `note       ${result.note}`,
          `licence    ${describeRemaining(result.remaining as Remaining)}`,
        ].join('\n'),
      )
    })
  }

  withJson(
    withDataDir(
      program
        .command('usage')
        .description('usage events waiting for delivery and recently acknowledged; --flush delivers them now')
        .option('--flush', 'send the usage reports to the clearinghouses now'),
    ),
  ).action(async (options) => {
    const client = clientFor(options)
    if (options.flush === true) {
      const result = await client.request<Record<string, unknown>>('POST', '/v1/player/usage/flush')
      print(result, options, () =>
        [
          `reports built ${result.built}, acknowledged ${result.acknowledged}, still pending ${result.pendingReports}`,
          `events waiting ${result.readyEvents}; licences synced ${(result.synced as string[]).length}`,
          ...(result.errors as string[]).map((e) => `error: ${e}`),
        ].join('\n'),
      )
      // Reports that could not be delivered are a failure to report, whatever was built.
      const errors = result.errors as string[]
      if (errors.length > 0 || Number(result.pendingReports) > 0) {
        throw new CliError(
          `usage not delivered: ${Number(result.pendingReports)} report(s) still pending${errors.length > 0 ? ` (${errors.join('; ')})` : ''}; they stay queued and go out on the next flush`,
        )
      }
      return
    }
    const usage = await client.request<{
      pending: Array<Record<string, unknown>>
      acknowledged: Array<Record<string, unknown>>
    }>('GET', '/v1/player/usage')
    print(usage, options, () => {
      const all: Array<Record<string, unknown>> = [
        ...usage.pending.map((e) => ({ ...e, state: e.status })),
        ...usage.acknowledged.map((e) => ({ ...e, state: 'acknowledged' })),
      ]
      const rows = all.map((e) => ({
        event: e.eventId,
        kind: e.kind,
        isrc: e.isrc,
        seconds: e.seconds,
        started: when(e.startedAt as number),
        state: e.state,
      }))
      return table(rows, ['event', 'kind', 'isrc', 'seconds', 'started', 'state'])
    })
  })

  const account = accountCommand(program)

  withJson(
    withDataDir(
      account
        .command('export')
        .description('write the account key (passphrase-protected) and its purchases, for another device')
        .requiredOption('--out <file>', 'the export file to write (refused if it exists)')
        .option('--passphrase-file <file>', 'read the passphrase from this file (else $CONSORT_PASSPHRASE)'),
    ),
  ).action(async (options) => {
    const passphrase = passphraseFrom(options)
    if (passphrase === undefined || passphrase === '') {
      throw new CliError(
        'an account export needs a passphrase: --passphrase-file FILE or $CONSORT_PASSPHRASE',
        EXIT.usage,
      )
    }
    const dataDir = dataDirOf(options)
    const keys = await loadAccountKeys(dataDir)
    if (keys === null) throw new CliError(`${dataDir} has no account key yet (start the player once)`)
    let purchases: string[] = []
    let note = ''
    try {
      purchases = (await clientFor(options).request<{ purchases: string[] }>('GET', '/v1/player/account/purchases'))
        .purchases
    } catch (err) {
      if (!isError(err, DaemonNotRunningError) && !isError(err, ControlApiError)) throw err
      note = 'the daemon is not running: the export carries no purchases (the other device can fetch them by id)'
    }
    const out = path.resolve(options.out)
    await exportAccount(out, keys, { passphrase, purchases })
    const result = { file: out, account: toHex(keys.signer.publicKey), purchases, note }
    print(result, options, () =>
      [
        `wrote ${out}`,
        `account ${result.account}`,
        `${purchases.length} purchase(s)`,
        ...(note !== '' ? [note] : []),
      ].join('\n'),
    )
  })

  withJson(
    withDataDir(
      account
        .command('import')
        .description('put an exported account on this device; it registers and fetches its own licences')
        .argument('<file>', 'the file `consort account export` wrote')
        .option('--passphrase-file <file>', 'read the passphrase from this file (else $CONSORT_PASSPHRASE)')
        .option('--replace', 'replace the account this data dir already has'),
    ),
  ).action(async (file: string, options) => {
    const passphrase = passphraseFrom(options)
    if (passphrase === undefined || passphrase === '') {
      throw new CliError('the export is protected: --passphrase-file FILE or $CONSORT_PASSPHRASE', EXIT.usage)
    }
    await readAccountExport(path.resolve(file), passphrase)
    const dataDir = dataDirOf(options)
    const imported = await importAccount(dataDir, path.resolve(file), passphrase, { replace: options.replace === true })
    const result: Record<string, unknown> = {
      account: toHex(imported.keys.signer.publicKey),
      replaced: imported.replaced,
      purchases: imported.purchases,
      licences: [] as unknown[],
      refused: [] as unknown[],
    }
    try {
      const client = clientFor(options)
      result.device = await client.request('POST', '/v1/player/account/reload')
      for (const purchaseId of imported.purchases) {
        try {
          ;(result.licences as unknown[]).push(
            await client.request('POST', '/v1/player/licences/fetch', { purchaseId }),
          )
        } catch (err) {
          ;(result.refused as unknown[]).push({ purchaseId, reason: (err as Error).message })
        }
      }
    } catch (err) {
      if (!isError(err, DaemonNotRunningError)) throw err
      result.note =
        'the daemon is not running: start it, then run `consort licences --fetch PURCHASE` for each purchase'
    }
    print(result, options, () =>
      [
        `account ${result.account}${imported.replaced ? ' (replaced the previous one)' : ''}`,
        `licences fetched ${(result.licences as unknown[]).length} of ${imported.purchases.length}`,
        ...(result.refused as Array<{ purchaseId: string; reason: string }>).map(
          (r) => `refused ${r.purchaseId}: ${r.reason}`,
        ),
        ...(typeof result.note === 'string' ? [result.note] : []),
      ].join('\n'),
    )
  })
}

interface Sources {
  cachedBlocks: number
  peers: Array<{ peer: string; bytes: number; bytesRelayed: number }>
}

/** Where a play's blocks came from: one line per peer, saying how much came through a relay. */
function describeSources(sources: Sources | undefined): string[] {
  if (sources == null) return []
  const lines = sources.peers.map(
    (p) => `from       ${p.peer}: ${p.bytes} bytes${p.bytesRelayed > 0 ? ` (${p.bytesRelayed} relayed)` : ' (direct)'}`,
  )
  if (sources.cachedBlocks > 0) lines.push(`from       this node: ${sources.cachedBlocks} block(s) already held`)
  return lines
}

interface PlayDelivery {
  fetchedBytes: number
  redownload: boolean
  charged: number
}

/** What a licensed play's delivery cost the listener: nothing, and a re-download says so (decision 0511). */
function describeDelivery(d: PlayDelivery | null | undefined): string[] {
  if (d == null || d.fetchedBytes === 0) return []
  return [
    d.redownload
      ? `delivery   re-downloaded ${d.fetchedBytes} bytes under your licence: no charge`
      : `delivery   ${d.fetchedBytes} bytes from the swarm: no charge to you (the nodes that served them are paid by the label)`,
  ]
}

/** What `POST /v1/player/shares` answers (roles/player/types.ts `ShareView`). */
interface ShareView {
  link: string
  content: { track: string | null; release: string | null; manifest: string }
  title: string | null
  artists: string[]
  referrer: { kind: 'account' | 'retailer'; key: string; name: string | null }
  offer: string | null
  expires: number
  own: boolean
}

/** What `POST /v1/player/shares/open` answers (roles/player/types.ts `OpenedShare`). */
interface OpenedShareAnswer {
  share: ShareView
  territory: string
  offers: Array<{
    offer: string
    offerId: string
    retailerName: string
    priceText: string
    useType: string
    rules: string[]
    shared: boolean
    fromReferrer: boolean
  }>
  referrerSellsHere: boolean
  sharedOffer: 'listed' | 'not-sold-here' | null
  own: boolean
  preview: { played: boolean; seconds: number; sink: string | null; problem: string | null } | null
}

function describeShared(share: ShareView): string {
  const what = [share.content.track, share.content.release].filter((c) => c !== null).join(' on ')
  return share.title === null
    ? what
    : `${share.title}${share.artists.length > 0 ? ` — ${share.artists.join(', ')}` : ''} (${what})`
}

/** An opened share for people: who shared what, the preview, and the offers to buy with it. */
function describeOpened(opened: OpenedShareAnswer, link: string): string {
  const s = opened.share
  const who =
    s.referrer.kind === 'retailer'
      ? `the retailer ${s.referrer.name ?? s.referrer.key}`
      : `the account ${s.referrer.key}${opened.own ? ' (yours: buying through it credits no one)' : ''}`
  const preview =
    opened.preview === null
      ? []
      : opened.preview.played
        ? [`preview    ${opened.preview.seconds.toFixed(1)} s played to ${opened.preview.sink}`]
        : [`preview    not played: ${opened.preview.problem}`]
  const rows = opened.offers.map((o) => ({
    offer: o.offer,
    retailer: `${o.retailerName}${o.shared ? ' (recommended)' : o.fromReferrer ? " (the sharer's)" : ''}`,
    price: o.priceText,
    use: o.useType,
    rules: o.rules.join(', '),
  }))
  const notSold =
    opened.sharedOffer === 'not-sold-here'
      ? [`the offer it recommends (${s.offer}) is not sold in ${opened.territory}; these are:`]
      : []
  return [
    `shared     ${describeShared(s)}`,
    `by         ${who}`,
    `expires    ${when(s.expires)}`,
    ...preview,
    `offers in  ${opened.territory} (your account's territory)`,
    ...notSold,
    table(rows, ['offer', 'retailer', 'price', 'use', 'rules']),
    ...(opened.offers.length > 0 ? [`buy with   consort buy OFFER --share ${link.length > 80 ? 'LINK' : link}`] : []),
  ].join('\n')
}
