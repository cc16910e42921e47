/**
 * Paid delivery (decision 0511): a player's `consort/delivery` receipt pays the peers that served its fetch, from the
 * distributor of the content, by the contract the purchase settled under — never for bytes the receipt cannot show
 * were fetched. What is checked, cheapest first:
 *
 * 1. the receipt: the device's signature, its registration (a registrar's, unrevoked, valid when the receipt was made,
 *    for that device and account);
 * 2. the licence it names: a registrar's, unrevoked, for that device and account, covering the manifest's recording
 *    with the manifest's key, of a purchase captured here and not refunded;
 * 3. the manifest: signed by a certified producer, the one the receipt names; its segments fix the track's size;
 * 4. each serving peer: its own signed acknowledgement of exactly the blocks and bytes the receipt gives it, for this
 *    device, fetch and manifest; paid only if it is a certified delivery node (or, where the network's policy says
 *    so, a registered device of another account: paid into that account's wallet), never the fetching device or
 *    another device of its account;
 * 5. the bytes: all peers together at most the track's size in one receipt; per licence and manifest, the bytes paid
 *    over every receipt never exceed the track's size (a re-download pays no second delivery).
 *
 * A receipt is settled once (its id; a second receipt for the same device and fetch id is refused). Money moves from
 * the distributor to each paid peer in one journalled chain with its `delivery` statement lines.
 */
import { logger } from '@libp2p/logger'
import { z } from 'zod'
import { toHex as hex } from '../../keys/hex.ts'
import type { DeliveryResponse, deliveryRequest } from '../../protocols/clearing/index.ts'
import type { Clock } from '../../protocols/clock.ts'
import { verifyDeliveryAck } from '../../protocols/delivery/ack.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import {
  type DecodeOptions,
  decodeRecord,
  decodeRecordAs,
  type SignedRecord,
} from '../../protocols/records/envelope.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import type { DeliveryFee } from '../../protocols/records/types/contract.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import { DeliveryInvalidError } from './errors.ts'
import type { Journal, JournalEntry } from './journal.ts'
import { accountIdOf, deliveryParticipant, distributorParticipant, walletParticipant } from './participants.ts'
import type { Purchases } from './purchases.ts'
import type { RecordBook } from './records.ts'
import { type LineBook, lineKeyOf, SettlementBatch } from './settlement.ts'
import { type PurchaseRow, periodOf } from './state.ts'
import { del, put, type StateStore } from './store.ts'

const log = logger('consort:clearinghouse:delivery')

/** Bytes in the decimal gigabyte a per-GB delivery fee is priced in. */
export const BYTES_PER_GB = 1_000_000_000n
/** The AES-256-GCM tag each encrypted segment carries beyond its plaintext (`keys/segments.ts`). */
const SEGMENT_TAG_BYTES = 16

export const DeliveryKeys = {
  /** A settled receipt: its answer (replayed on a retry). */
  receipt: (cid: string) => `x/${cid}`,
  /** The receipt a device's fetch id was settled with. */
  fetch: (device: string, fetch: string) => `xf/${device}/${fetch}`,
  /** Bytes paid so far under one licence for one manifest. */
  paid: (licence: string, manifest: string) => `xl/${licence}/${manifest}`,
} as const

const nat = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const amountRow = z.union([z.bigint(), z.number().int()]).transform((v) => BigInt(v))
const receiptRow = z
  .object({
    v: z.literal(1),
    currency: z.string(),
    paid: z.array(z.object({ peer: z.instanceof(Uint8Array), bytes: nat, amount: amountRow }).strict()),
    unpaid: z.array(z.object({ peer: z.instanceof(Uint8Array), reason: z.string() }).strict()),
  })
  .strict()
const fetchRow = z.object({ v: z.literal(1), receipt: z.string() }).strict()
const paidRow = z.object({ v: z.literal(1), bytes: nat }).strict()

export interface DeliveryDeps {
  store: StateStore
  journal: Journal
  records: RecordBook
  lines: LineBook
  trust: CertificateTrust
  network: NetworkContext
  clock: Clock
  purchases: Purchases
  serial: <T>(fn: () => Promise<T>) => Promise<T>
  sync: boolean
}

type Request = z.infer<typeof deliveryRequest>
/** What a receipt was checked against. */
interface Checked {
  licence: SignedRecord<'consort/licence'>
  manifest: SignedRecord<'consort/manifest'>
  purchase: PurchaseRow
  contract: SignedRecord<'consort/contract'> | undefined
  /** The track's encrypted size in bytes. */
  size: number
}
type UnpaidReason = DeliveryResponse['unpaid'][number]['reason']

/** The encrypted size of a manifest's track: every segment's plaintext plus its tag. */
export function trackBytes(manifest: SignedRecord<'consort/manifest'>): number {
  return manifest.body.byteSize + manifest.body.segments.length * SEGMENT_TAG_BYTES
}

/**
 * What a peer is paid for `bytes` of a track of `trackBytes`: the per-GB price in the sale's currency (rounded down)
 * plus the contract's share of the sale price pro rata to the bytes (rounded down). Pure; both parts are bounded by
 * the track's size because the bytes are.
 */
export function deliveryAmount(
  fee: DeliveryFee,
  currency: string,
  price: bigint,
  bytes: number,
  trackSize: number,
): bigint {
  const perGB = fee.perGB.find((p) => p.currency === currency)?.amount ?? 0n
  const b = BigInt(bytes)
  const byVolume = (b * perGB) / BYTES_PER_GB
  const bySale = trackSize > 0 ? (price * BigInt(fee.saleBps) * b) / (10_000n * BigInt(trackSize)) : 0n
  return byVolume + bySale
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

export class Deliveries {
  readonly #d: DeliveryDeps
  settled = 0

  constructor(deps: DeliveryDeps) {
    this.#d = deps
  }

  async settle(request: Request): Promise<DeliveryResponse> {
    const options: DecodeOptions = {
      network: this.#d.network.name,
      now: this.#d.clock.now(),
      caps: this.#d.network.caps,
    }
    const receipt = this.#decode('consort/delivery', request.receipt, 'receipt', options)
    const id = receipt.id.toString()
    const known = await this.#answered(id)
    if (known !== undefined) return known
    const checked = await this.#check(receipt, request, options)
    return this.#d.serial(async () => {
      const again = await this.#answered(id)
      if (again !== undefined) return again
      return this.#pay(receipt, checked)
    })
  }

  async #answered(id: string): Promise<DeliveryResponse | undefined> {
    const row = await this.#d.store.get(receiptRow, DeliveryKeys.receipt(id))
    if (row === undefined) return undefined
    return {
      receipt: id,
      status: 'duplicate',
      currency: row.currency as DeliveryResponse['currency'],
      paid: row.paid,
      unpaid: row.unpaid as DeliveryResponse['unpaid'],
    }
  }

  #decode<T extends RecordType>(type: T, bytes: Uint8Array, field: string, options: DecodeOptions): SignedRecord<T> {
    try {
      return decodeRecordAs(type, bytes, options)
    } catch (err) {
      throw new DeliveryInvalidError(`${field}: ${(err as Error).message}`)
    }
  }

  async #check(receipt: SignedRecord<'consort/delivery'>, request: Request, options: DecodeOptions): Promise<Checked> {
    const trust = this.#d.trust
    const body = receipt.body
    if (!same(receipt.signer, body.device)) throw new DeliveryInvalidError('receipt: not signed by its device')
    const registration = this.#decode('consort/device', request.device, 'device', options)
    if (!trust.isRegistrar(registration.signer) || trust.isRevoked(registration.id)) {
      throw new DeliveryInvalidError('device: not a current registration by a registrar of the network')
    }
    if (!same(registration.body.device, body.device) || !same(registration.body.account, body.account)) {
      throw new DeliveryInvalidError('device: the registration is for another device or account')
    }
    if (body.created < registration.body.notBefore || body.created >= registration.body.notAfter) {
      throw new DeliveryInvalidError('device: the registration was not valid when the receipt was made')
    }
    const licence = this.#decode('consort/licence', request.licence, 'licence', options)
    if (!licence.id.equals(body.licence)) throw new DeliveryInvalidError('licence: not the one the receipt names')
    if (!trust.isRegistrar(licence.signer) || trust.isRevoked(licence.id) || trust.isRevoked(licence.body.receipt)) {
      throw new DeliveryInvalidError('licence: not a current licence of a registrar of the network')
    }
    if (!same(licence.body.device, body.device) || !same(licence.body.account, body.account)) {
      throw new DeliveryInvalidError('licence: issued to another device or account')
    }
    const manifest = this.#decode('consort/manifest', request.manifest, 'manifest', options)
    if (!manifest.id.equals(body.manifest)) throw new DeliveryInvalidError('manifest: not the one the receipt names')
    const credentials: SignedRecord[] = []
    for (const [i, bytes] of request.credentials.entries()) {
      let record: SignedRecord
      try {
        record = decodeRecord(bytes, options)
      } catch (err) {
        throw new DeliveryInvalidError(`credentials.${i}: ${(err as Error).message}`)
      }
      if (record.type !== 'consort/cert' && record.type !== 'consort/device') {
        throw new DeliveryInvalidError(`credentials.${i}: a ${record.type}, not a certificate or device registration`)
      }
      credentials.push(record)
    }
    const producer = trust.check(manifest, credentials)
    if (!producer.ok) throw new DeliveryInvalidError(`manifest: ${producer.reason}`)
    const key = licence.body.keys.find((k) => k.isrc === manifest.body.isrc)
    if (key === undefined || !same(key.keyId, manifest.body.keyId)) {
      throw new DeliveryInvalidError(`licence: does not cover ${manifest.body.isrc} under the manifest's key`)
    }
    const purchase = await this.#d.purchases.get(licence.body.purchaseId)
    if (purchase === undefined || purchase.state !== 'captured') {
      throw new DeliveryInvalidError(
        `licence: purchase ${licence.body.purchaseId} is ${purchase?.state ?? 'unknown'} here, not captured`,
      )
    }
    const size = trackBytes(manifest)
    const claimed = body.peers.reduce((sum, p) => sum + p.bytes, 0)
    const blocks = body.peers.reduce((sum, p) => sum + p.blocks, 0)
    if (claimed > size || blocks > manifest.body.segments.length) {
      throw new DeliveryInvalidError(
        `receipt: ${claimed} bytes in ${blocks} blocks claimed of a track of ${size} bytes in ${manifest.body.segments.length}`,
      )
    }
    for (const [i, p] of body.peers.entries()) {
      const fields = {
        network: body.network,
        fetch: body.fetch,
        device: body.device,
        manifest: body.manifest,
        peer: p.peer,
        blocks: p.blocks,
        bytes: p.bytes,
      }
      if (!verifyDeliveryAck(fields, p.ack)) {
        throw new DeliveryInvalidError(`receipt.peers.${i}.ack: not the peer's acknowledgement of these blocks`)
      }
    }
    const contract =
      purchase.contract === null ? undefined : await this.#d.records.get('consort/contract', purchase.contract)
    return { licence, manifest, purchase, contract, size }
  }

  /** Who is paid for a serving peer, or why no one is. */
  #payee(peer: Uint8Array, receipt: SignedRecord<'consort/delivery'>): string | UnpaidReason {
    const trust = this.#d.trust
    if (same(peer, receipt.body.device)) return 'self-delivery'
    if (trust.hasRole(peer, 'delivery')) return deliveryParticipant(peer)
    const device = trust.deviceOf(peer)
    if (device !== undefined) {
      if (same(device.body.account, receipt.body.account)) return 'self-delivery'
      if (this.#d.network.body.policy.deliveryPaysListeners === true) return walletParticipant(device.body.account)
    }
    return 'not-payable'
  }

  async #pay(receipt: SignedRecord<'consort/delivery'>, checked: Checked): Promise<DeliveryResponse> {
    const { licence, manifest, purchase, contract, size } = checked
    const body = receipt.body
    const id = receipt.id.toString()
    const device = hex(body.device)
    const fetchKey = DeliveryKeys.fetch(device, body.fetch)
    const earlier = await this.#d.store.get(fetchRow, fetchKey)
    if (earlier !== undefined && earlier.receipt !== id) {
      throw new DeliveryInvalidError(`receipt: fetch ${body.fetch} of this device was settled by ${earlier.receipt}`)
    }
    const paidKey = DeliveryKeys.paid(licence.id.toString(), manifest.id.toString())
    let paidBefore = (await this.#d.store.get(paidRow, paidKey))?.bytes ?? 0
    const fee = contract?.body.delivery
    const currency = purchase.currency as DeliveryResponse['currency']
    const distributor = contract === undefined ? null : distributorParticipant(contract.body.distributor)
    const now = this.#d.clock.now()
    const period = periodOf(now)
    const batch = new SettlementBatch()
    const lineKeys: string[] = []
    const paid: DeliveryResponse['paid'] = []
    const unpaid: DeliveryResponse['unpaid'] = []
    const transfers: JournalEntry['transfers'] = []
    for (const [i, p] of body.peers.entries()) {
      const payee = this.#payee(p.peer, receipt)
      if (payee === 'self-delivery' || payee === 'not-payable' || payee === 'no-fee' || payee === 'beyond-licence') {
        unpaid.push({ peer: p.peer, reason: payee })
        continue
      }
      const bytes = Math.min(p.bytes, size - paidBefore)
      if (bytes <= 0) {
        unpaid.push({ peer: p.peer, reason: 'beyond-licence' })
        continue
      }
      paidBefore += bytes
      const amount = fee === undefined ? 0n : deliveryAmount(fee, currency, purchase.amount, bytes, size)
      if (amount === 0n || distributor === null) {
        unpaid.push({ peer: p.peer, reason: 'no-fee' })
        continue
      }
      paid.push({ peer: p.peer, bytes, amount })
      const content = `isrc:${manifest.body.isrc}`
      const line = (participant: string, counterparty: string, signed: bigint) => {
        const delta = {
          period,
          participant,
          currency,
          kind: 'delivery' as const,
          // One line per receipt, so that a failed batch removes only its own lines.
          ref: `dlv:${id}`,
          content,
          counterparty,
          units: p.blocks,
          amount: signed,
          at: now,
        }
        batch.line(delta)
        lineKeys.push(lineKeyOf(delta))
      }
      line(payee, distributor, amount)
      line(distributor, payee, -amount)
      transfers.push({
        kind: 'posted',
        id: `dlv:${id.slice(-40)}.${i}`,
        debitAccountId: accountIdOf(distributor, currency),
        creditAccountId: batch.account(payee, currency),
        amount,
        code: 'delivery',
        reference: purchase.purchaseId,
      })
      batch.account(distributor, currency)
    }
    const answer: DeliveryResponse = { receipt: id, status: 'settled', currency, paid, unpaid }
    const rows = [
      put(DeliveryKeys.receipt(id), { v: 1, currency, paid, unpaid }),
      put(fetchKey, { v: 1, receipt: id }),
      put(paidKey, { v: 1, bytes: paidBefore }),
    ]
    const m = await this.#d.lines.materialise(batch)
    const entry: JournalEntry = {
      kind: 'delivery',
      ref: id,
      accounts: m.accounts,
      transfers,
      onSuccess: rows,
      onFailure: [...new Set(lineKeys)].map((k) => del(k)),
    }
    const { n, ops } = this.#d.journal.intent(() => entry)
    try {
      await this.#d.store.write([...m.ops, ...ops], { sync: this.#d.sync })
    } catch (err) {
      this.#d.journal.rewind(n)
      this.#d.lines.reset()
      throw err
    }
    const result = await this.#d.journal.apply(n, entry, { sync: this.#d.sync })
    if (!result.ok) {
      this.#d.lines.reset()
      throw new DeliveryInvalidError(
        `the ledger refused the delivery payments: ${result.results.map((r) => r.result).join(', ')}`,
      )
    }
    this.#d.lines.commit(m)
    this.settled++
    log('delivery receipt %s: %d peers paid, %d not', id, paid.length, unpaid.length)
    return answer
  }
}
