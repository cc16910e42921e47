import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { SingleBar } from 'cli-progress'
import type { Command } from 'commander'
import type { ControlClient } from '../../node/control-client.ts'
import { isError } from '../../protocols/errors.ts'
import { toJsonValue } from '../../protocols/json.ts'
import {
  ErnFormatError,
  type ErnInspection,
  inspectErn,
  MAX_ERN_MESSAGE_BYTES,
  readErn,
} from '../../roles/production/index.ts'
import { CliError, collect, EXIT, listOption, print, table } from '../output.ts'
import { clientFor, withDataDir, withJson } from './common.ts'

/** A progress bar; `cli-progress` is loaded only when a bar is shown (it is CommonJS), as in `consort fetch`. */
async function progressBar(): Promise<SingleBar> {
  const { default: cliProgress } = await import('cli-progress')
  return new cliProgress.SingleBar(
    { format: ' {phase} |{bar}| {value}/{total} {detail}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  )
}

/** How often `publish` asks the daemon how its job is going. */
const POLL_INTERVAL_MS = 250

interface Issue {
  path: string
  value: string
  message: string
}

interface JobView {
  job: string
  status: 'queued' | 'running' | 'done' | 'failed'
  progress: Record<string, unknown> | null
  result: PublishResultView | null
  error: { code: string; message: string; issues?: Issue[] } | null
}

interface PublishResultView {
  source: string
  releases: Array<{
    key: string
    action: string
    reason: string
    title: string | null
    release: string | null
    seq: number
    tracks: Array<{
      isrc: string
      title: string
      manifest: string
      seq: number
      changed: boolean
      audioReused: boolean
      codec: string
      durationMs: number
      segments: number
      synthesized: boolean
    }>
    contracts: Array<{ contractId: string; record: string; seq: number; changed: boolean }>
    revocations: string[]
    revoked: Array<{ kind: string; id: string }>
  }>
  warnings: Issue[]
  announced: { gossiped: number; gossipFailed: number; dhtStored: number; dhtFailed: number }
  escrow: { delivered: number; pending: number; deposits: number }
}

const issueLine = (i: Issue) => `${i.path}${i.value === '' ? '' : ` = ${JSON.stringify(i.value)}`}: ${i.message}`

const orNone = (value: string | null) => value ?? '-'

/** `ern inspect` for people: what was read, then every issue with its grade and path. */
function showInspection(file: string, r: ErnInspection): string {
  const lines = [
    `${file}: ERN ${r.ernVersion} ${r.messageType} ${r.messageId === '' ? '(no MessageId)' : r.messageId}` +
      ` from ${r.sender.name ?? r.sender.partyId ?? '?'}`,
  ]
  const verdict = r.valid ? (r.counts.warnings > 0 ? 'publishable with warnings' : 'publishable') : 'refused'
  lines.push(`  ${verdict}: ${r.counts.errors} error(s), ${r.counts.warnings} warning(s)`)
  if (r.releases.length > 0) {
    lines.push(`releases (${r.releases.length}):`)
    for (const x of r.releases) {
      const id = x.icpn ?? x.grid ?? x.isrc ?? '-'
      lines.push(
        `  ${x.reference}${x.isMain ? ' (main)' : ''} ${x.type ?? x.element} ${id} "${orNone(x.title)}" by ${orNone(x.displayArtist)}` +
          ` — ${x.resourceReferences.length} resource(s)`,
      )
    }
  }
  if (r.resources.length > 0) {
    lines.push(`resources (${r.resources.length}):`)
    for (const x of r.resources) {
      const length = x.durationSeconds === null ? '' : ` ${x.durationSeconds}s`
      lines.push(`  ${x.reference} ${x.kind}/${orNone(x.type)} ${orNone(x.isrc)} "${orNone(x.title)}"${length}`)
    }
  }
  if (r.deals.length > 0) {
    lines.push(`deals (${r.deals.length}):`)
    for (const d of r.deals.slice(0, 20)) {
      const releases = Array.isArray(d.releaseReference) ? d.releaseReference.join(',') : orNone(d.releaseReference)
      const prices = d.prices.map((p) => `${p.wholesale ?? '?'} ${p.currency ?? ''}`.trim()).join(', ')
      lines.push(
        `  ${releases} ${d.commercialModels.join(',')}/${d.useTypes.join(',')} in ${d.territories.join(',')}` +
          `${d.excludedTerritories.length > 0 ? ` except ${d.excludedTerritories.join(',')}` : ''}` +
          ` from ${orNone(d.start)}${d.end === null ? '' : ` to ${d.end}`}${prices === '' ? '' : ` at ${prices}`}` +
          `${d.takedown ? ' (takedown)' : ''}`,
      )
    }
    if (r.deals.length > 20) lines.push(`  … ${r.deals.length - 20} more (--json lists all)`)
  }
  if (r.purgedReleases.length > 0) {
    lines.push(`purged releases (${r.purgedReleases.length}):`)
    for (const p of r.purgedReleases) lines.push(`  ${p.icpn ?? p.grid ?? p.isrc ?? '-'}`)
  }
  if (r.issues.length > 0) {
    lines.push(`issues (${r.issues.length + r.counts.omitted}):`)
    for (const i of r.issues) lines.push(`  ${i.severity.padEnd(7)} ${i.code.padEnd(9)} ${issueLine(i)}`)
    if (r.counts.omitted > 0) lines.push(`  … ${r.counts.omitted} more not listed`)
  }
  return lines.join('\n')
}

function readText(file: string, what: string, limit: number): string {
  if (!existsSync(file)) throw new CliError(`${what}: no such file ${file}`, EXIT.usage)
  const bytes = readFileSync(file)
  if (bytes.length > limit) throw new CliError(`${what}: ${file} is larger than ${limit} bytes`)
  return bytes.toString('utf8')
}

function readJson(file: string, what: string): unknown {
  try {
    return JSON.parse(readText(file, what, 4 * 1024 * 1024))
  } catch (err) {
    if (isError(err, CliError)) throw err
    throw new CliError(`${what}: ${file} is not JSON: ${(err as Error).message}`, EXIT.usage)
  }
}

function showResult(result: PublishResultView): string {
  const lines: string[] = [`${result.source}`]
  for (const r of result.releases) {
    lines.push(`release ${r.key}: ${r.action} (${r.reason})${r.title == null ? '' : ` — ${r.title}`}`)
    if (r.release != null) lines.push(`  record    ${r.release} (seq ${r.seq})`)
    if (r.tracks.length > 0) {
      lines.push(
        table(
          r.tracks.map((t) => ({
            isrc: t.isrc,
            manifest: t.manifest,
            seq: t.seq,
            codec: t.codec,
            seconds: (t.durationMs / 1000).toFixed(1),
            segments: t.segments,
            state: t.changed ? (t.audioReused ? 'new version' : 'packaged') : 'unchanged',
          })),
          ['isrc', 'manifest', 'seq', 'codec', 'seconds', 'segments', 'state'],
        )
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n'),
      )
    }
    if (r.contracts.length > 0) {
      const changed = r.contracts.filter((c) => c.changed).length
      lines.push(`  contracts ${r.contracts.length} (${changed} new or changed)`)
      for (const c of r.contracts.slice(0, 10)) lines.push(`    ${c.contractId}  ${c.record}  seq ${c.seq}`)
      if (r.contracts.length > 10) lines.push(`    … ${r.contracts.length - 10} more (--json lists all)`)
    }
    if (r.revocations.length > 0) lines.push(`  revoked   ${r.revoked.length} record(s) in ${r.revocations.join(', ')}`)
  }
  const a = result.announced
  lines.push(
    `announced ${a.gossiped} record(s)${a.gossipFailed > 0 ? `, ${a.gossipFailed} failed` : ''}; DHT ${a.dhtStored} stored${a.dhtFailed > 0 ? `, ${a.dhtFailed} failed` : ''}`,
  )
  lines.push(
    `escrow    ${result.escrow.deposits} deposit(s), ${result.escrow.delivered} acknowledged, ${result.escrow.pending} waiting`,
  )
  if (result.warnings.length > 0) {
    lines.push(`warnings (${result.warnings.length}):`)
    for (const w of result.warnings.slice(0, 20)) lines.push(`  ${issueLine(w)}`)
    if (result.warnings.length > 20) lines.push(`  … ${result.warnings.length - 20} more (--json lists all)`)
  }
  return lines.join('\n')
}

/** Submit an import, follow its job with a progress bar (on a terminal), print what it made or why it failed. */
async function runImport(
  client: ControlClient,
  body: Record<string, unknown>,
  options: { json?: boolean; progress?: boolean },
): Promise<void> {
  const started = await client.request<JobView>('POST', '/v1/production/publish', { ...body, wait: false })
  const showBar = options.progress !== false && options.json !== true && process.stderr.isTTY === true
  const bar = showBar ? await progressBar() : null
  let barStarted = false
  let view = started
  while (view.status === 'queued' || view.status === 'running') {
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
    view = await client.request<JobView>('GET', `/v1/production/jobs/${view.job}`)
    const p = view.progress
    if (bar != null && p != null) {
      const total = Number(p.phase === 'packaging' ? p.segments : (p.total ?? 1))
      const value = Number(p.phase === 'packaging' ? p.segment : (p.done ?? 0))
      const detail = p.phase === 'packaging' ? `track ${p.track}/${p.tracks} ${p.isrc}` : ''
      if (!barStarted) {
        bar.start(total, value, { phase: p.phase, detail })
        barStarted = true
      } else {
        bar.setTotal(total)
        bar.update(value, { phase: p.phase, detail })
      }
    }
  }
  if (barStarted) bar?.stop()
  if (view.status === 'failed') {
    const error = view.error ?? { code: 'ERR_INTERNAL', message: 'the import failed' }
    if (options.json === true) print({ ok: false, error }, options)
    else {
      process.stdout.write(`import refused (${error.code})\n`)
      for (const issue of error.issues ?? []) process.stdout.write(`  ${issueLine(issue)}\n`)
      if (error.issues == null || error.issues.length === 0) process.stdout.write(`  ${error.message}\n`)
    }
    process.exitCode = EXIT.failed
    return
  }
  print(view.result, options, (value) => showResult(value as PublishResultView))
}

/** What an audio file's own tags say (ID3, Vorbis comments, MP4 atoms, RIFF INFO), as music-metadata reads them. */
interface FileTags {
  title?: string
  artists?: string[]
  album?: string
  genre?: string
  year?: number
  isrc?: string
  label?: string
  barcode?: string
}

async function readTags(file: string): Promise<FileTags> {
  // Loaded here, not at the top: only `publish --file` needs it, and every other command starts faster without it.
  const { parseFile } = await import('music-metadata')
  let common: Awaited<ReturnType<typeof parseFile>>['common']
  try {
    common = (await parseFile(file, { duration: false, skipCovers: true })).common
  } catch (err) {
    throw new CliError(`--file: cannot read the tags of ${file}: ${(err as Error).message}`, EXIT.usage)
  }
  const first = (list: readonly string[] | undefined) => list?.map((v) => v.trim()).find((v) => v !== '')
  const artists = (common.artists ?? (common.artist != null ? [common.artist] : [])).map((a) => a.trim())
  return {
    ...(common.title?.trim() ? { title: common.title.trim() } : {}),
    ...(artists.some((a) => a !== '') ? { artists: artists.filter((a) => a !== '') } : {}),
    ...(common.album?.trim() ? { album: common.album.trim() } : {}),
    ...(first(common.genre) != null ? { genre: first(common.genre)! } : {}),
    ...(common.year != null && common.year >= 1800 && common.year <= 9999 ? { year: common.year } : {}),
    ...(first(common.isrc) != null ? { isrc: first(common.isrc)!.replaceAll('-', '').toUpperCase() } : {}),
    ...(first(common.label) != null ? { label: first(common.label)! } : {}),
    ...(common.barcode?.trim() ? { barcode: common.barcode.trim() } : {}),
  }
}

/**
 * A single from one audio file: its tags (title, artists, album, genre, year, ISRC, label, barcode) fill in the
 * release, and every flag given overrides the tag it names. What neither gives is refused by name.
 */
async function singleTrackRelease(options: Record<string, unknown>): Promise<Record<string, unknown>> {
  const tags = await readTags(path.resolve(String(options.file)))
  const flagArtists = Array.isArray(options.artist)
    ? (options.artist as string[])
        .flatMap((a) => a.split(';'))
        .map((a) => a.trim())
        .filter((a) => a !== '')
    : []
  const title = typeof options.title === 'string' ? options.title : tags.title
  const isrc = typeof options.isrc === 'string' ? options.isrc : tags.isrc
  const artists = flagArtists.length > 0 ? flagArtists : (tags.artists ?? [])
  if (title == null) throw new CliError('--file: the file has no title tag: give --title', EXIT.usage)
  if (artists.length === 0) throw new CliError('--file: the file has no artist tag: give --artist', EXIT.usage)
  if (isrc == null) throw new CliError('--file: the file has no ISRC tag: give --isrc', EXIT.usage)
  const upc = typeof options.upc === 'string' ? options.upc : tags.barcode
  const label = typeof options.label === 'string' ? options.label : tags.label
  if ((options.price == null) !== (options.currency == null)) {
    throw new CliError('--price and --currency go together', EXIT.usage)
  }
  const file = path.resolve(String(options.file))
  const deals: Array<Record<string, unknown>> = []
  if (typeof options.price === 'string') {
    deals.push({
      id: 'sale',
      commercialModel: 'pay-as-you-go',
      useTypes: listOption(typeof options.useTypes === 'string' ? options.useTypes : 'PermanentDownload'),
      territories: listOption(typeof options.territories === 'string' ? options.territories : 'Worldwide'),
      wholesale: [
        {
          currency: String(options.currency).toUpperCase(),
          amount: options.price,
          per: options.perPlay === true ? 'play' : 'unit',
        },
      ],
    })
  }
  return {
    consortRelease: 1,
    ...(upc != null ? { upc } : {}),
    ...(typeof options.grid === 'string' ? { grid: options.grid } : {}),
    title: typeof options.releaseTitle === 'string' ? options.releaseTitle : (tags.album ?? title),
    artists,
    type: 'Single',
    ...(label != null ? { label } : {}),
    ...(tags.genre != null ? { genre: tags.genre } : {}),
    ...(tags.year != null ? { releaseDate: String(tags.year) } : {}),
    tracks: [
      {
        isrc,
        title,
        artists,
        file,
        ...(tags.genre != null ? { genre: tags.genre } : {}),
        ...(tags.year != null ? { year: tags.year } : {}),
      },
    ],
    deals,
  }
}

/** Contract terms from command-line flags (the same names as the JSON terms). */
function termsFrom(options: Record<string, unknown>): Record<string, unknown> {
  const terms: Record<string, unknown> = {}
  if (Array.isArray(options.content)) terms.content = (options.content as string[]).flatMap((c) => listOption(c))
  if (typeof options.model === 'string') terms.commercialModel = options.model
  if (typeof options.useTypes === 'string') terms.useTypes = listOption(options.useTypes)
  if (typeof options.territories === 'string') terms.territories = listOption(options.territories)
  if (typeof options.exclude === 'string') terms.excludedTerritories = listOption(options.exclude)
  if (typeof options.from === 'string') terms.validFrom = options.from
  if (typeof options.until === 'string') terms.validUntil = options.until === 'open' ? null : options.until
  if (Array.isArray(options.wholesale)) {
    terms.wholesale = (options.wholesale as string[]).map((w) => {
      const [currency, amount, per] = w.split(':')
      if (currency == null || amount == null)
        throw new CliError(`--wholesale: expected CUR:AMOUNT[:unit|play], got ${w}`, EXIT.usage)
      return { currency: currency.toUpperCase(), amount, per: per ?? 'unit' }
    })
  }
  if (Array.isArray(options.split)) {
    terms.splits = (options.split as string[]).map((s) => {
      const [party, bps, key] = s.split(':')
      const n = Number(bps)
      if (party == null || !Number.isInteger(n))
        throw new CliError(`--split: expected PARTY:BPS[:KEYHEX], got ${s}`, EXIT.usage)
      return { party, bps: n, ...(key != null ? { key } : {}) }
    })
  }
  if (typeof options.retailer === 'string') terms.retailer = options.retailer === 'any' ? null : options.retailer
  if (typeof options.revenueShare === 'string') terms.revenueShareBps = Number(options.revenueShare)
  if (typeof options.bounds === 'string') {
    try {
      terms.ruleBounds = JSON.parse(options.bounds)
    } catch (err) {
      throw new CliError(`--bounds: not JSON: ${(err as Error).message}`, EXIT.usage)
    }
  }
  if (typeof options.file === 'string') Object.assign(terms, readJson(options.file, '--file'))
  return terms
}

function withTermsOptions(command: Command): Command {
  return command
    .option('--file <json>', 'the terms as a JSON file (the fields of README.md); flags override nothing in it')
    .option('--content <ids>', 'content ids: isrc:…, icpn:…, grid:… (comma-separated or repeated)', collect)
    .option('--model <model>', 'pay-as-you-go, subscription, ad-supported or free')
    .option(
      '--use-types <list>',
      'PermanentDownload, ConditionalDownload, TetheredDownload, OnDemandStream, NonInteractiveStream, Preview',
    )
    .option('--territories <list>', 'ISO 3166 codes or Worldwide (default Worldwide)')
    .option('--exclude <list>', 'territories left out')
    .option('--from <date>', 'valid from (YYYY-MM-DD or ISO date-time; default now)')
    .option('--until <date>', 'valid until; "open" for no end')
    .option('--wholesale <CUR:AMOUNT[:per]>', 'a wholesale price, per unit or per play (repeat per currency)', collect)
    .option('--split <PARTY:BPS[:KEY]>', 'a royalty split in basis points (repeat; they sum to 10000)', collect)
    .option('--retailer <keyhex|any>', 'one retailer (its signing key) or any certified retailer (default)')
    .option('--revenue-share <bps>', "the distributor's share of subscription / ad-supported revenue")
    .option('--bounds <json>', 'bounds on usage rules, e.g. {"maxDevices":3}')
}

function contractLine(c: Record<string, unknown>): Record<string, unknown> {
  return { contractId: c.contractId, seq: c.seq, status: c.status, origin: c.origin, record: c.record }
}

/**
 * `consort ern inspect`, `consort publish`, `consort release list|show|takedown`, `consort contract
 * create|list|show|update|revoke` and `consort escrow status|retry`: the production role's commands.
 */
export function registerProductionCommands(program: Command): void {
  const ern = program.command('ern').description('DDEX ERN messages')
  withJson(
    withDataDir(ern.command('inspect'))
      .description('read an ERN message and summarise it, without publishing anything (no daemon needed)')
      .argument('<file>', 'the ERN message (XML)')
      .option('--strict', 'exit 1 on warnings too, as publish --strict refuses them'),
  ).action(async (file: string, options) => {
    const xml = readText(file, 'ern inspect', MAX_ERN_MESSAGE_BYTES)
    let inspection: ErnInspection
    try {
      inspection = inspectErn(readErn(xml))
    } catch (err) {
      if (isError(err, ErnFormatError) || (err as Error).name === 'ErnFormatError') {
        const e = err as ErnFormatError
        if (options.json === true) print({ valid: false, code: e.code, reason: e.reason, message: e.message }, options)
        else process.stdout.write(`${file}: ${e.message}\n`)
        process.exitCode = EXIT.failed
        return
      }
      throw err
    }
    print(inspection, options, () => showInspection(file, inspection))
    const refused = !inspection.valid || (options.strict === true && inspection.counts.warnings > 0)
    if (refused) process.exitCode = EXIT.failed
  })

  withDataDir(
    program
      .command('publish')
      .description('publish a release through the running daemon: a DDEX ERN message, a JSON description, or one track')
      .option('--ern <file>', 'a DDEX ERN message (new release, update, takedown or purge)')
      .option('--audio <dir>', "the directory the message's audio files are in (default: the message's directory)")
      .option('--synthesize-missing', 'make up audio of the stated duration where a file is absent (tests, demos)')
      .option('--strict', 'refuse an ERN message for warnings too (default: accepted, reported, recorded)')
      .option('--release <file>', 'a JSON release description (schema in roles/production/README.md)')
      .option('--json [file]', 'print JSON; with a file, publish that JSON release description (same as --release)')
      .option('--file <track>', 'one audio file to publish as a single')
      .option('--title <title>', "with --file: the track title (default: the file's title tag)")
      .option(
        '--artist <name>',
        "with --file: an artist (repeat, or separate with ;; default: the file's artist tags)",
        collect,
      )
      .option('--isrc <isrc>', "with --file: the ISRC (default: the file's ISRC tag)")
      .option('--upc <upc>', 'with --file: the UPC/EAN (without one, the track is published without a release record)')
      .option('--grid <grid>', 'with --file: the GRid')
      .option('--label <name>', 'with --file: the label')
      .option('--price <decimal>', 'with --file: wholesale price for a pay-as-you-go contract, e.g. 0.99')
      .option('--currency <code>', 'with --price: ISO 4217 currency')
      .option('--per-play', 'with --price: the price is per play (streams)')
      .option('--use-types <list>', 'with --price: use types (default PermanentDownload)')
      .option('--territories <list>', 'with --price: territories (default Worldwide)')
      .option('--no-progress', 'no progress bar'),
  ).action(async (options) => {
    const jsonFile = typeof options.json === 'string' ? options.json : undefined
    const output = { json: options.json != null && options.json !== false, progress: options.progress }
    const releaseFile = options.release ?? jsonFile
    const sources = [options.ern, releaseFile, options.file].filter((s) => s != null).length
    if (sources !== 1)
      throw new CliError('give one of --ern FILE, --release FILE (or --json FILE) and --file TRACK', EXIT.usage)
    const client = clientFor(options)
    const synthesizeMissing = options.synthesizeMissing === true
    if (options.ern != null) {
      const ernFile = path.resolve(options.ern)
      if (!existsSync(ernFile)) throw new CliError(`--ern: no such file ${ernFile}`, EXIT.usage)
      const audioDir = path.resolve(options.audio ?? path.dirname(ernFile))
      await runImport(client, { ern: ernFile, audioDir, synthesizeMissing, strict: options.strict === true }, output)
      return
    }
    if (releaseFile != null) {
      const file = path.resolve(releaseFile)
      await runImport(
        client,
        { release: readJson(file, '--release'), baseDir: path.dirname(file), synthesizeMissing },
        output,
      )
      return
    }
    await runImport(
      client,
      { release: await singleTrackRelease(options), baseDir: process.cwd(), synthesizeMissing },
      output,
    )
  })

  const release = program.command('release').description("this production node's releases")
  withJson(withDataDir(release.command('list').description('releases published by this node'))).action(
    async (options) => {
      const list = await clientFor(options).request<Array<Record<string, unknown>>>(
        'GET',
        '/v1/production/releases?limit=500',
      )
      print(list, options, () =>
        table(
          list.map((r) => ({
            key: r.key,
            status: r.status,
            seq: r.seq,
            tracks: (r.tracks as unknown[]).length,
            contracts: (r.contracts as unknown[]).length,
            title: r.title,
          })),
          ['key', 'status', 'seq', 'tracks', 'contracts', 'title'],
        ),
      )
    },
  )
  withJson(
    withDataDir(release.command('show').description('one release').argument('<key>', 'icpn:…, grid:… or isrc:…')),
  ).action(async (key: string, options) => {
    print(
      await clientFor(options).request('GET', `/v1/production/releases/show?key=${encodeURIComponent(key)}`),
      options,
    )
  })
  withJson(
    withDataDir(
      release
        .command('takedown')
        .description('withdraw a release and revoke its contracts (as a purge message would)')
        .argument('<key>', 'icpn:…, grid:… or isrc:…')
        .option('--reason <text>', 'the reason given in the revocations'),
    ),
  ).action(async (key: string, options) => {
    const result = await clientFor(options).request<PublishResultView>('POST', '/v1/production/takedown', {
      release: key,
      ...(options.reason != null ? { reason: options.reason } : {}),
    })
    print(result, options, (value) => showResult(value as PublishResultView))
  })

  const contract = program
    .command('contract')
    .description('contracts this distributor signs: create, list, show, update, revoke')
  withJson(
    withDataDir(
      withTermsOptions(
        contract.command('create').description('sign a contract and gossip it on the contracts topic'),
      ).option('--id <contractId>', 'the contract id (default: a fresh one)'),
    ),
  ).action(async (options) => {
    const terms = termsFrom(options)
    if (typeof options.id === 'string') terms.contractId = options.id
    const result = await clientFor(options).request('POST', '/v1/production/contracts', terms)
    print(result, options)
  })
  withJson(
    withDataDir(
      contract
        .command('list')
        .description("this distributor's contracts")
        .option('--status <status>', 'active or revoked')
        .option('--after <contractId>', 'the page after this id')
        .option('--limit <n>', 'page size', '100'),
    ),
  ).action(async (options) => {
    const query = new URLSearchParams({ limit: options.limit })
    if (options.after != null) query.set('after', options.after)
    if (options.status != null) query.set('status', options.status)
    const list = await clientFor(options).request<Array<Record<string, unknown>>>(
      'GET',
      `/v1/production/contracts?${query}`,
    )
    print(list, options, () => table(list.map(contractLine), ['contractId', 'seq', 'status', 'origin', 'record']))
  })
  withJson(
    withDataDir(contract.command('show').description('one contract and its terms').argument('<contractId>')),
  ).action(async (contractId: string, options) => {
    print(
      await clientFor(options).request('GET', `/v1/production/contracts/show?id=${encodeURIComponent(contractId)}`),
      options,
    )
  })
  withJson(
    withDataDir(
      withTermsOptions(
        contract
          .command('update')
          .description('sign a new version (higher seq) with the terms given')
          .argument('<contractId>'),
      ),
    ),
  ).action(async (contractId: string, options) => {
    const result = await clientFor(options).request('POST', '/v1/production/contracts/update', {
      contractId,
      changes: termsFrom(options),
    })
    print(result, options)
  })
  withJson(
    withDataDir(
      contract
        .command('revoke')
        .description('revoke a contract (every version) on the revocations topic')
        .argument('<contractId>')
        .option('--reason <text>', 'why'),
    ),
  ).action(async (contractId: string, options) => {
    const result = await clientFor(options).request('POST', '/v1/production/contracts/revoke', {
      contractId,
      ...(options.reason != null ? { reason: options.reason } : {}),
    })
    print(result, options)
  })

  const escrow = program
    .command('escrow')
    .description('content keys waiting to be acknowledged by registration managers')
  withJson(withDataDir(escrow.command('status').description('escrow deposits not yet acknowledged'))).action(
    async (options) => {
      const list = await clientFor(options).request<Array<Record<string, unknown>>>('GET', '/v1/production/escrow')
      print(list, options, () =>
        table(
          list.map((e) => toJsonValue(e) as Record<string, unknown>),
          ['id', 'escrows', 'attempts', 'lastError'],
        ),
      )
    },
  )
  withJson(withDataDir(escrow.command('retry').description('attempt every waiting deposit now'))).action(
    async (options) => {
      print(await clientFor(options).request('POST', '/v1/production/escrow/retry'), options)
    },
  )
}
