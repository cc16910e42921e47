import * as dagCbor from '@ipld/dag-cbor'
import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import type { Signer } from '../../keys/ed25519.ts'
import { CLEARING_ERRORS, DeliveryInvalidError } from '../../protocols/clearing/errors.ts'
import {
  CLEARING_OPS,
  CLEARING_PROTOCOL,
  type DeliveryResponse,
  deliveryResponse,
} from '../../protocols/clearing/index.ts'
import type { Clock } from '../../protocols/clock.ts'
import {
  buildDeliveryReceipt,
  collectAcks,
  DeliveryRecorder,
  type FetchDeliveries,
} from '../../protocols/delivery/recorder.ts'
import { isError } from '../../protocols/errors.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { recordId, type SignedRecord } from '../../protocols/records/envelope.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import type { FetchSummary } from '../../protocols/segments/fetcher.ts'

const log = logger('consort:player:deliveries')

/** Fetches and receipts waiting at most (a listener offline for weeks fetches far fewer tracks). */
export const MAX_PENDING_DELIVERIES = 4096

/** Where pending fetches and receipts are kept across restarts (a sublevel of the player's). */
export interface DeliveryOutbox {
  get(key: string): Promise<Uint8Array | undefined>
  put(key: string, value: Uint8Array): Promise<void>
  del(key: string): Promise<void>
  entries(): AsyncIterable<[string, Uint8Array]>
}

export interface DeliveryReceiptsDeps {
  libp2p: Libp2p
  network: NetworkContext
  clock: Clock
  /** The device key: it signs receipts, and it is the peer id the blocks were written to. */
  device: Signer
  account: () => Uint8Array
  /** The device's registration, sent with each receipt. */
  registration: () => SignedRecord<'consort/device'> | undefined
  outbox: DeliveryOutbox
}

/** A fetch not yet acknowledged: `f/<fetch id>`. */
interface PendingFetch {
  fetch: string
  licence: Uint8Array
  manifest: Uint8Array
  deliveries: Array<{ peer: string; cids: Uint8Array[]; blocks: number; bytes: number }>
}
/** A receipt not yet settled by a clearinghouse: `r/<receipt id>`. */
interface PendingReceipt {
  receipt: Uint8Array
  device: Uint8Array
  licence: Uint8Array
  manifest: Uint8Array
  credentials: Uint8Array[]
}

export interface DeliveryFlush {
  /** Receipts a clearinghouse settled (or had settled). */
  settled: number
  /** Receipts refused for good (dropped). */
  refused: number
  /** Fetches and receipts still waiting. */
  pending: number
}

/**
 * Paid delivery on the player (decision 0511). Every licensed fetch is followed (`recorder`, `noteFetch`); at each
 * usage flush the peers that served the fetches since the last flush are asked to acknowledge their blocks — once
 * per peer for all of them — and a device-signed `consort/delivery` receipt per fetch is delivered to a clearinghouse,
 * kept in an outbox until one settles it (also after being offline). The listener never pays for delivery: a fetch
 * again under a licence costs nothing, and the player says so (`isRedownload`).
 */
export class DeliveryReceipts {
  readonly #d: DeliveryReceiptsDeps
  #pending = 0
  #counter = 0
  #flushing: Promise<DeliveryFlush> | null = null

  constructor(deps: DeliveryReceiptsDeps) {
    this.#d = deps
  }

  get pending(): number {
    return this.#pending
  }

  async open(): Promise<void> {
    let n = 0
    for await (const [key] of this.#d.outbox.entries()) if (!key.startsWith('d/')) n++
    this.#pending = n
  }

  /** A recorder to pass as the fetch's `onProgress`. */
  recorder(cids: readonly CID[]): DeliveryRecorder {
    return new DeliveryRecorder(cids)
  }

  /** Whether this device already fetched the track in full under the licence: fetching it now is a free re-download. */
  async isRedownload(
    licence: SignedRecord<'consort/licence'>,
    manifest: SignedRecord<'consort/manifest'>,
  ): Promise<boolean> {
    return (await this.#d.outbox.get(`d/${licence.id}/${manifest.id}`)) !== undefined
  }

  /**
   * A licensed fetch ended (complete or not): keep what each peer delivered, to be acknowledged at the next flush.
   * `partial`: the fetch asked for only some of the track's segments (a prefetch), so its completion is not the
   * track's.
   */
  async noteFetch(
    summary: FetchSummary,
    recorder: DeliveryRecorder,
    licence: SignedRecord<'consort/licence'>,
    manifest: SignedRecord<'consort/manifest'>,
    options: { partial?: boolean } = {},
  ): Promise<void> {
    try {
      if (options.partial !== true && summary.cached + summary.fetched >= summary.total) {
        await this.#d.outbox.put(`d/${licence.id}/${manifest.id}`, new Uint8Array([1]))
      }
      const deliveries = recorder.deliveries()
      if (deliveries.length === 0) return
      if (this.#pending >= MAX_PENDING_DELIVERIES) {
        log('%d deliveries wait for a clearinghouse: this fetch is not receipted', this.#pending)
        return
      }
      const fetch = `f-${this.#d.clock.now().toString(36)}-${(++this.#counter).toString(36)}`
      const pending: PendingFetch = {
        fetch,
        licence: licence.bytes,
        manifest: manifest.bytes,
        deliveries: deliveries.map((d) => ({
          peer: d.peer,
          cids: d.cids.map((c) => c.bytes),
          blocks: d.blocks,
          bytes: d.bytes,
        })),
      }
      await this.#d.outbox.put(`f/${fetch}`, dagCbor.encode(pending))
      this.#pending++
    } catch (err) {
      log('delivery of %s not noted: %e', manifest.id, err)
    }
  }

  /** Acknowledge the fetches noted since the last flush, and deliver every receipt waiting. */
  async flush(signal?: AbortSignal): Promise<DeliveryFlush> {
    if (this.#flushing !== null) return this.#flushing
    this.#flushing = this.#flush(signal).finally(() => {
      this.#flushing = null
    })
    return this.#flushing
  }

  async #flush(signal?: AbortSignal): Promise<DeliveryFlush> {
    const fetches: Array<[string, PendingFetch]> = []
    const receipts: Array<[string, PendingReceipt]> = []
    for await (const [key, value] of this.#d.outbox.entries()) {
      if (key.startsWith('f/')) fetches.push([key, dagCbor.decode(value) as PendingFetch])
      else if (key.startsWith('r/')) receipts.push([key, dagCbor.decode(value) as PendingReceipt])
    }
    if (fetches.length > 0) receipts.push(...(await this.#receipt(fetches, signal)))
    const result: DeliveryFlush = { settled: 0, refused: 0, pending: 0 }
    for (const [key, p] of receipts) {
      if (signal?.aborted === true) break
      const outcome = await this.#send(p, signal)
      if (outcome === 'kept') continue
      await this.#d.outbox.del(key)
      this.#pending = Math.max(0, this.#pending - 1)
      if (outcome === 'refused') result.refused++
      else result.settled++
    }
    result.pending = this.#pending
    return result
  }

  /** Ask the serving peers to acknowledge the noted fetches, and turn each into a receipt (in the outbox). */
  async #receipt(
    fetches: Array<[string, PendingFetch]>,
    signal?: AbortSignal,
  ): Promise<Array<[string, PendingReceipt]>> {
    const registration = this.#d.registration()
    if (registration === undefined) return []
    const decoded = fetches.map(([key, f]) => ({ key, pending: f, manifestCid: recordId(f.manifest) }))
    const asked: FetchDeliveries[] = decoded.map((d) => ({
      fetch: d.pending.fetch,
      manifest: d.manifestCid,
      deliveries: d.pending.deliveries.map((x) => ({ ...x, cids: x.cids.map((c) => CID.decode(c)) })),
    }))
    const acks = await collectAcks({
      libp2p: this.#d.libp2p,
      network: this.#d.network,
      device: this.#d.device.publicKey,
      fetches: asked,
      ...(signal !== undefined ? { signal } : {}),
    })
    const out: Array<[string, PendingReceipt]> = []
    for (const d of decoded) {
      const peers = acks.peers.get(d.pending.fetch) ?? []
      await this.#d.outbox.del(d.key)
      if (peers.length === 0) {
        this.#pending = Math.max(0, this.#pending - 1)
        continue
      }
      const receipt = buildDeliveryReceipt({
        network: this.#d.network,
        device: this.#d.device,
        account: this.#d.account(),
        fetch: d.pending.fetch,
        licence: recordId(d.pending.licence),
        manifest: d.manifestCid,
        peers,
        clock: this.#d.clock,
      })
      const pending: PendingReceipt = {
        receipt: receipt.bytes,
        device: registration.bytes,
        licence: d.pending.licence,
        manifest: d.pending.manifest,
        credentials: acks.credentials,
      }
      const key = `r/${receipt.id}`
      await this.#d.outbox.put(key, dagCbor.encode(pending))
      out.push([key, pending])
    }
    return out
  }

  async #send(p: PendingReceipt, signal?: AbortSignal): Promise<DeliveryResponse | 'refused' | 'kept'> {
    let refused = 0
    for (const clearinghouse of this.#d.network.body.clearinghouses) {
      try {
        const body = await rpcCall(
          this.#d.libp2p,
          peerIdOfKey(clearinghouse.key),
          this.#d.network.protocol(CLEARING_PROTOCOL),
          CLEARING_OPS.delivery,
          p,
          { service: 'clearinghouse', errors: CLEARING_ERRORS, ...(signal !== undefined ? { signal } : {}) },
        )
        return parseMessage(deliveryResponse, body, 'response')
      } catch (err) {
        if (isError(err, DeliveryInvalidError)) refused++
        log('delivery receipt not taken by %s: %s', clearinghouse.name, (err as Error).message)
      }
    }
    return refused === this.#d.network.body.clearinghouses.length ? 'refused' : 'kept'
  }
}
