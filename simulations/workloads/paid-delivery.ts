import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { BITSWAP_PEER_ID, type FetchProgressEvent } from '../../protocols/segments/fetcher.ts'
import type { BlockServedEvent } from '../../protocols/segments/server.ts'
import type { SegmentsService, ServiceFetchOptions } from '../../protocols/segments/service.ts'
import { deliveryParticipant, walletParticipant } from '../../roles/clearinghouse/index.ts'
import type { Cluster, SimNode } from '../cluster.ts'
import { mapRows, seconds, type Table } from '../report/tables.ts'
import type { Check } from '../report/types.ts'
import { DeliveryCaps, type DeliveryTerms, deliveryDue, encryptedTrackBytes } from './delivery-truth.ts'
import type { GroundTruth } from './ground-truth.ts'
import { accountOf, participantLabel } from './participants.ts'
import { eur, statementLines } from './statements.ts'

const log = logger('consort:sim:paid-delivery')

/** A sale as paid delivery needs it: its licence (one per purchase here), price, distributor and delivery fee. */
export interface DeliverySale {
  purchaseId: string
  price: bigint
  /** The contract's distributor's participant id. */
  distributor: string
  /** The contract's delivery fee; null: the contract pays no delivery. */
  fee: DeliveryTerms | null
}

/** Why a serving peer of a licensed fetch is paid nothing. */
type Unpaid = 'not-payable' | 'self-delivery' | 'no-fee' | 'beyond-licence'

/** One serving peer of one licensed fetch: what moved, and what it must be paid. */
interface DeliveryRow {
  at: number
  player: SimNode
  isrc: string
  purchaseId: string
  /** The sale's distributor: who pays. */
  distributor: string
  /** The n-th licensed fetch of the run. */
  fetch: number
  server: SimNode | null
  peer: string
  blocks: number
  bytes: number
  payee: string | null
  paidBytes: number
  amount: bigint
  unpaid: Unpaid | null
}

/** A fetch a player started while the workload had a play of it under way. */
interface ObservedFetch {
  root: string | null
  /** Settles when the fetch has ended (its blocks are all counted). */
  ended: Promise<void> | null
  /** Per serving peer (in the order of their first block): verified blocks and bytes. */
  peers: Map<string, { blocks: number; bytes: number }>
}

/** What each node earned by delivering: the ground truth beside the clearinghouse's books. */
export interface DeliveryNodeRow {
  node: string
  group: string
  /** The participant it is paid as (`delivery:<key>`, `wallet:<account>`), or null when it is paid nothing. */
  participant: string | null
  /** Bytes its segments server wrote in full to players (every fetch, licensed or not). */
  servedToPlayersBytes: number
  /** Verified bytes it delivered to licensed fetches, and of those the bytes it must be paid for. */
  licensedBytes: number
  paidBytes: number
  expected: bigint
  /** Its posted balance at the clearinghouse, and the sum of its `delivery` statement lines. */
  ledger: bigint | null
  statement: bigint | null
  /** `delivery` statement lines: expected (one per paid receipt peer) and found. */
  lines: { expected: number; found: number | null }
}

export interface PaidDeliveryMetrics {
  fee: { perGBMinor: number; saleBps: number; paysListeners: boolean }
  /** Licensed fetches that moved bytes, and the bytes they verified from peers by name. */
  fetches: number
  bytes: number
  paidBytes: number
  /** Minor units the distributors owe the deliverers, and how many (fetch, peer) payments that is. */
  expectedMinor: bigint
  payments: number
  /** Bytes of plays that failed (no licence to attribute them to): the ground truth cannot price them. */
  unattributedBytes: number
  /** Receipts still in players' outboxes after the drain (0: every one reached a clearinghouse). */
  receiptsPending: number
  byNode: DeliveryNodeRow[]
  byDistributor: Array<{ participant: string; label: string; expected: bigint; statement: bigint | null }>
}

/**
 * Paid delivery in the market (decision 0811): what every licensed fetch moved, from whom, and what each deliverer
 * must therefore be paid, in the ground truth, to compare with the clearinghouse's ledger and statements.
 *
 * What moved is observed at both ends, never taken from the receipts under test: the fetching side through a tap
 * on each player's segments service (the fetcher's own `block` events — a block counts once, for the peer whose copy
 * was verified first against its CID), the serving side through each segments server's `served` events. Plays and
 * purchases are bracketed by the workload (`playStarted`/`playEnded`, `buyStarted`/`buyEnded`), so the fetch a play
 * started, and the prefetches a purchase started, are tied to the licence they are receipted under.
 */
export class PaidDelivery {
  readonly #cluster: Cluster
  readonly #truth: GroundTruth
  readonly #fee: PaidDeliveryMetrics['fee']
  readonly #caps = new DeliveryCaps()
  readonly #byPeer = new Map<string, SimNode>()
  readonly #tapped = new WeakSet<SegmentsService>()
  readonly #served = new WeakSet<EventTarget>()
  /** Per player (index): the fetches of its play under way, or undefined when none is. */
  readonly #playing = new Map<number, ObservedFetch[]>()
  /** Per player (index): the prefetches of its purchase under way. */
  readonly #buying = new Map<number, ObservedFetch[]>()
  readonly #byManifest = new Map<string, SignedRecord<'consort/manifest'>>()
  /** Bytes each server (index) wrote in full to each player (peer id). */
  readonly #servedBytes = new Map<number, Map<string, number>>()
  readonly #manifests = new Map<string, SignedRecord<'consort/manifest'>>()
  readonly #rows: DeliveryRow[] = []
  #fetches = 0
  #unattributed = 0

  constructor(cluster: Cluster, truth: GroundTruth, fee: PaidDeliveryMetrics['fee']) {
    this.#cluster = cluster
    this.#truth = truth
    this.#fee = fee
    for (const n of cluster.nodes) this.#byPeer.set(n.peerId, n)
  }

  /** The contract terms a release description gives, in the production role's words. */
  static dealTerms(fee: PaidDeliveryMetrics['fee']): {
    perGB: Array<{ currency: 'EUR'; amount: string }>
    saleBps: number
  } {
    const perGB = BigInt(fee.perGBMinor)
    return {
      perGB:
        perGB > 0n ? [{ currency: 'EUR', amount: `${perGB / 100n}.${String(perGB % 100n).padStart(2, '0')}` }] : [],
      saleBps: fee.saleBps,
    }
  }

  /** The manifests of the market's tracks (a track's size and segments). */
  tracks(manifests: ReadonlyArray<SignedRecord<'consort/manifest'>>): void {
    for (const m of manifests) {
      this.#manifests.set(m.body.isrc, m)
      this.#byManifest.set(m.id.toString(), m)
    }
  }

  /**
   * Follow a node that just started: its segments server's writes, and for a player its fetches. `listener` is the
   * segments service the market gave a node without roles.
   */
  attach(sim: SimNode, listener?: SegmentsService): void {
    if (!sim.honest || sim.node == null) return
    const roles = sim.node.roles
    const delivery = roles.has('delivery') ? sim.node.role('delivery') : undefined
    const player = roles.has('player') ? sim.node.role('player') : undefined
    for (const service of [delivery?.segments, player?.segments, listener]) {
      if (service != null) this.#followServer(sim, service)
    }
    if (player != null) {
      this.#playing.delete(sim.index)
      this.#buying.delete(sim.index)
      this.#tap(sim, player.segments)
    }
  }

  #followServer(sim: SimNode, service: SegmentsService): void {
    const server = service.server
    if (this.#served.has(server)) return
    this.#served.add(server)
    server.addEventListener('served', (event) => {
      const { peer, bytes } = (event as CustomEvent<BlockServedEvent>).detail
      if (this.#byPeer.get(peer)?.spec.roles.includes('player') !== true) return
      let perPeer = this.#servedBytes.get(sim.index)
      if (perPeer == null) {
        perPeer = new Map()
        this.#servedBytes.set(sim.index, perPeer)
      }
      perPeer.set(peer, (perPeer.get(peer) ?? 0) + bytes)
    })
  }

  /**
   * Tap a player's segments service: each fetch it starts at priority `now` while the workload has a play of it under
   * way is followed, and each prefetch (priority `prefetch`) while a purchase of it is under way — the player receipts
   * a prefetch under the purchase's licence once it arrives (decision 0511), and nothing when the purchase fails.
   */
  #tap(sim: SimNode, service: SegmentsService): void {
    if (this.#tapped.has(service)) return
    this.#tapped.add(service)
    const fetch = service.fetch.bind(service)
    service.fetch = (cids: CID[], options: ServiceFetchOptions = {}) => {
      const window =
        options.priority === 'now'
          ? this.#playing.get(sim.index)
          : options.priority === 'prefetch'
            ? this.#buying.get(sim.index)
            : undefined
      if (window == null) return fetch(cids, options)
      const observed: ObservedFetch = { root: options.root?.toString() ?? null, peers: new Map(), ended: null }
      window.push(observed)
      const inner = options.onProgress
      const started = fetch(cids, {
        ...options,
        onProgress: (event: FetchProgressEvent) => {
          if (event.type === 'block' && event.peer !== BITSWAP_PEER_ID) {
            const peer = observed.peers.get(event.peer) ?? { blocks: 0, bytes: 0 }
            peer.blocks++
            peer.bytes += event.bytes
            observed.peers.set(event.peer, peer)
          }
          inner?.(event)
        },
      })
      // A prefetch is receipted once it has ended (aborted or not): its blocks are counted until then.
      observed.ended = started.done.then(
        () => {},
        () => {},
      )
      return started
    }
  }

  /** A purchase of `sim` starts: the prefetches it starts from now on are its own. */
  buyStarted(sim: SimNode): void {
    this.#buying.set(sim.index, [])
  }

  /**
   * The purchase ended: with its sale when it was bought (its prefetches are receipted under its licence), null when
   * it failed or is pending (its prefetches are aborted and receipted by no one). Resolves once the prefetches have
   * ended and are priced: the workload's listener lets them end before it plays, so that a play never fetches the
   * same block as its purchase's prefetch (a block a peer wrote twice to the player before one acknowledgement is
   * acknowledged once — decision 0511's tally — which the truth would have to guess).
   */
  async buyEnded(sim: SimNode, sale: DeliverySale | null): Promise<void> {
    const fetches = this.#buying.get(sim.index) ?? []
    this.#buying.delete(sim.index)
    if (sale == null || fetches.length === 0) return
    await Promise.all(fetches.map((f) => f.ended))
    const at = performance.now()
    for (const f of fetches) {
      const manifest = f.root == null ? undefined : this.#byManifest.get(f.root)
      if (manifest == null) {
        for (const peer of f.peers.values()) this.#unattributed += peer.bytes
        continue
      }
      this.#priceFetch(sim, manifest.body.isrc, sale, manifest, f, at)
    }
  }

  /** A play of `sim` starts: the fetches it starts from now on are its own. */
  playStarted(sim: SimNode): void {
    this.#playing.set(sim.index, [])
  }

  /**
   * The play ended: with its sale when it was licensed (its fetch is receipted under that licence), null when it
   * failed (what it fetched cannot be attributed) or played without a licence (nothing is receipted).
   */
  playEnded(sim: SimNode, isrc: string, sale: DeliverySale | null, failed: boolean): void {
    const fetches = this.#playing.get(sim.index) ?? []
    this.#playing.delete(sim.index)
    const moved = fetches.filter((f) => [...f.peers.values()].some((p) => p.bytes > 0))
    if (moved.length === 0) return
    if (sale == null) {
      if (failed) for (const f of moved) for (const p of f.peers.values()) this.#unattributed += p.bytes
      return
    }
    const manifest = this.#manifests.get(isrc)
    if (manifest == null) {
      log('no manifest of %s: its delivery cannot be priced', isrc)
      for (const f of moved) for (const p of f.peers.values()) this.#unattributed += p.bytes
      return
    }
    for (const f of moved) this.#priceFetch(sim, isrc, sale, manifest, f, performance.now())
  }

  /** One receipted fetch: each serving peer, most bytes first (as the player's receipt lists them, ties in order). */
  #priceFetch(
    sim: SimNode,
    isrc: string,
    sale: DeliverySale,
    manifest: SignedRecord<'consort/manifest'>,
    f: ObservedFetch,
    at: number,
  ): void {
    const peers = [...f.peers.entries()].filter(([, p]) => p.bytes > 0).sort((a, b) => b[1].bytes - a[1].bytes)
    if (peers.length === 0) return
    const fetch = ++this.#fetches
    const size = encryptedTrackBytes(manifest.body)
    for (const [peer, moved] of peers) this.#pay(sim, isrc, sale, fetch, manifest, size, peer, moved, at)
  }

  #pay(
    sim: SimNode,
    isrc: string,
    sale: DeliverySale,
    fetch: number,
    manifest: SignedRecord<'consort/manifest'>,
    size: number,
    peer: string,
    moved: { blocks: number; bytes: number },
    at: number,
  ): void {
    const server = this.#byPeer.get(peer) ?? null
    const row: DeliveryRow = {
      at,
      player: sim,
      isrc,
      purchaseId: sale.purchaseId,
      distributor: sale.distributor,
      fetch,
      server,
      peer,
      blocks: moved.blocks,
      bytes: moved.bytes,
      payee: null,
      paidBytes: 0,
      amount: 0n,
      unpaid: null,
    }
    this.#rows.push(row)
    const payee = this.#payeeOf(server, sim)
    if (payee === 'not-payable' || payee === 'self-delivery') {
      row.unpaid = payee
      return
    }
    // The bytes count against the licence's one track before the fee is known (a fee of 0 still uses them up).
    row.paidBytes = this.#caps.take(sale.purchaseId, manifest.id.toString(), moved.bytes, size)
    if (row.paidBytes === 0) {
      row.unpaid = 'beyond-licence'
      return
    }
    row.amount = sale.fee == null ? 0n : deliveryDue(sale.fee, sale.price, row.paidBytes, size)
    if (row.amount === 0n) {
      row.unpaid = 'no-fee'
      row.paidBytes = 0
      return
    }
    row.payee = payee
    this.#truth.deliveryPayment({ distributor: sale.distributor, payee, amount: row.amount })
  }

  /** Who is paid for what `server` delivered to `player`, from what the simulation knows of both. */
  #payeeOf(server: SimNode | null, player: SimNode): string | 'not-payable' | 'self-delivery' {
    if (server == null || !server.honest) return 'not-payable'
    if (server === player) return 'self-delivery'
    if (server.spec.roles.includes('delivery')) return deliveryParticipant(server.keys.signer.publicKey)
    const account = accountOf(server)
    if (account == null) return 'not-payable'
    if (toHex(account.signer.publicKey) === toHex(accountOf(player)?.signer.publicKey ?? new Uint8Array(0)))
      return 'self-delivery'
    return this.#fee.paysListeners ? walletParticipant(account.signer.publicKey) : 'not-payable'
  }

  /**
   * Compare with the clearinghouse: each deliverer's `delivery` statement lines (sum and count) and posted balance,
   * each distributor's `delivery` lines; every receipt delivered. (The ledger check of the purchases compares every
   * balance, delivery payments included, with the ground truth.)
   */
  async report(
    house: SimNode | undefined,
    call: (path: string, query: Record<string, string>) => Promise<unknown>,
  ): Promise<{ metrics: PaidDeliveryMetrics; checks: Check[] }> {
    let receiptsPending = 0
    for (const sim of this.#cluster.nodes)
      if (sim.honest && sim.online && sim.spec.roles.includes('player'))
        receiptsPending += sim.started.role('player').deliveries.pending
    const known = house?.online === true ? call : null
    const statementOf = async (participant: string) => await statementLines(known, participant, 'delivery')
    const balanceOf = async (participant: string) => {
      if (house == null || !house.online) return null
      const answer = (await call('/balances', { participant }).catch(() => ({ balances: [] }))) as {
        balances: Array<{ currency: string; posted: bigint }>
      }
      return answer.balances.find((b) => b.currency === 'EUR')?.posted ?? 0n
    }
    const byNode: DeliveryNodeRow[] = []
    const servers = this.#cluster.nodes.filter(
      (n) => this.#servedBytes.has(n.index) || this.#rows.some((r) => r.server === n),
    )
    for (const server of servers) {
      const rows = this.#rows.filter((r) => r.server === server)
      const paid = rows.filter((r) => r.payee != null)
      const participant = paid[0]?.payee ?? null
      const statement = participant == null ? null : await statementOf(participant)
      byNode.push({
        node: server.name,
        group: server.spec.group,
        participant,
        servedToPlayersBytes: [...(this.#servedBytes.get(server.index)?.values() ?? [])].reduce((a, b) => a + b, 0),
        licensedBytes: rows.reduce((a, r) => a + r.bytes, 0),
        paidBytes: paid.reduce((a, r) => a + r.paidBytes, 0),
        expected: paid.reduce((a, r) => a + r.amount, 0n),
        ledger: participant == null ? null : await balanceOf(participant),
        statement: statement?.sum ?? null,
        lines: { expected: paid.length, found: statement?.lines ?? null },
      })
    }
    const distributors = new Map<string, bigint>()
    for (const r of this.#rows)
      if (r.payee != null) distributors.set(r.distributor, (distributors.get(r.distributor) ?? 0n) + r.amount)
    const byDistributor: PaidDeliveryMetrics['byDistributor'] = []
    for (const [participant, expected] of [...distributors].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const statement = await statementOf(participant)
      byDistributor.push({
        participant,
        label: participantLabel(this.#cluster.nodes, participant),
        expected: -expected,
        statement: statement?.sum ?? null,
      })
    }
    const paidRows = this.#rows.filter((r) => r.payee != null)
    const metrics: PaidDeliveryMetrics = {
      fee: this.#fee,
      fetches: this.#fetches,
      bytes: this.#rows.reduce((a, r) => a + r.bytes, 0),
      paidBytes: paidRows.reduce((a, r) => a + r.paidBytes, 0),
      expectedMinor: paidRows.reduce((a, r) => a + r.amount, 0n),
      payments: paidRows.length,
      unattributedBytes: this.#unattributed,
      receiptsPending,
      byNode,
      byDistributor,
    }
    const wrong = byNode.filter(
      (n) => n.participant != null && (n.statement !== n.expected || n.lines.found !== n.lines.expected),
    )
    const wrongDistributors = byDistributor.filter((d) => d.statement !== d.expected)
    const overpaid = this.#overpaidServers()
    const checks: Check[] = [
      {
        name: 'delivery paid as ground truth',
        ok:
          paidRows.length > 0 &&
          wrong.length === 0 &&
          wrongDistributors.length === 0 &&
          receiptsPending === 0 &&
          this.#unattributed === 0,
        detail:
          `${paidRows.length} payment(s) for ${metrics.paidBytes} byte(s) of ${this.#fetches} licensed fetch(es), ${eur(metrics.expectedMinor)} in all; ` +
          `${byNode.filter((n) => n.participant != null).length - wrong.length} of ${byNode.filter((n) => n.participant != null).length} deliverer(s) and ` +
          `${byDistributor.length - wrongDistributors.length} of ${byDistributor.length} distributor(s) with delivery statement lines equal to the ground truth to the cent` +
          `${wrong.map((n) => `; ${n.node} (${n.participant}): expected ${n.expected} in ${n.lines.expected} line(s), statement ${n.statement} in ${n.lines.found}`).join('')}` +
          `${wrongDistributors.map((d) => `; ${d.label}: expected ${d.expected}, statement ${d.statement}`).join('')}` +
          `; ${receiptsPending} receipt(s) undelivered; ${this.#unattributed} byte(s) of failed plays not attributable`,
      },
      {
        name: 'no deliverer paid beyond what it served',
        ok: overpaid.length === 0,
        detail:
          overpaid.length === 0
            ? `every paid (deliverer, player) pair: bytes paid ≤ bytes its segments server wrote to that player`
            : overpaid.join('; '),
      },
    ]
    return { metrics, checks }
  }

  /** (deliverer, player) pairs paid for more bytes than the deliverer's server wrote to that player. */
  #overpaidServers(): string[] {
    const paid = new Map<string, { server: SimNode; player: SimNode; bytes: number }>()
    for (const r of this.#rows) {
      if (r.payee == null || r.server == null) continue
      const key = `${r.server.index} ${r.player.index}`
      const known = paid.get(key) ?? { server: r.server, player: r.player, bytes: 0 }
      known.bytes += r.paidBytes
      paid.set(key, known)
    }
    const out: string[] = []
    for (const p of paid.values()) {
      const served = this.#servedBytes.get(p.server.index)?.get(p.player.peerId) ?? 0
      if (p.bytes > served)
        out.push(`${p.server.name} paid for ${p.bytes} byte(s) to ${p.player.name}, served ${served}`)
    }
    return out
  }

  summary(m: PaidDeliveryMetrics): Array<[string, string]> {
    const paid = m.byNode.filter((n) => n.participant != null)
    return [
      [
        'paid delivery',
        `${m.payments} payment(s), ${eur(m.expectedMinor)} for ${(m.paidBytes / 1e6).toFixed(2)} MB of ${(m.bytes / 1e6).toFixed(2)} MB delivered to ${m.fetches} licensed fetch(es) (fee ${eur(BigInt(m.fee.perGBMinor))}/GB + ${m.fee.saleBps} bps of the sale; listeners ${m.fee.paysListeners ? '' : 'not '}paid); ${paid.map((n) => `${n.node} ${eur(n.expected)}`).join(', ') || 'no one paid'}; ${m.receiptsPending} receipt(s) undelivered`,
      ],
    ]
  }

  /** `delivery_payments.csv`: one row per (licensed fetch, serving peer). */
  table(origin: number): Table {
    return {
      name: 'delivery_payments',
      row: 'one serving peer of one licensed fetch: the verified bytes it delivered, who is paid for them and how much (ground truth)',
      columns: [
        't_s',
        'player',
        'track',
        'purchase',
        'fetch',
        'server',
        'server_group',
        'blocks',
        'bytes',
        'payee',
        'paid_bytes',
        'amount_minor',
        'currency',
        'unpaid_reason',
      ],
      rows: () =>
        mapRows(this.#rows, (r) => [
          seconds(r.at, origin),
          r.player.name,
          r.isrc,
          r.purchaseId,
          r.fetch,
          r.server?.name ?? r.peer,
          r.server?.spec.group ?? null,
          r.blocks,
          r.bytes,
          r.payee == null ? null : participantLabel(this.#cluster.nodes, r.payee),
          r.paidBytes,
          r.amount,
          'EUR',
          r.unpaid,
        ]),
    }
  }
}
