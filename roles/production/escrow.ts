import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { toHex } from '../../keys/hex.ts'
import type { Random } from '../../keys/random.ts'
import { seal } from '../../keys/seal.ts'
import type { Clock } from '../../protocols/clock.ts'
import {
  depositResponse,
  ESCROW_OPS,
  ESCROW_PROTOCOL,
  ESCROW_SEAL_CONTEXT,
  MAX_ESCROWS_PER_DEPOSIT,
} from '../../protocols/escrow/index.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import type { Credentials } from '../role.ts'
import { ESCROW_DEADLINE_MS, ESCROW_RETRY_MAX_MS, ESCROW_RETRY_MIN_MS, MAX_DEPOSIT_BYTES } from './constants.ts'
import type { OutboxEntry, ProductionState } from './state.ts'

const log = logger('consort:production:escrow')

/** Entries attempted per round, so a long outage's backlog is worked off in bounded steps. */
const MAX_ENTRIES_PER_ROUND = 256

export interface EscrowKey {
  isrc: string
  manifest: SignedRecord<'consort/manifest'>
  contentKey: Uint8Array
}

export interface DeliveryCounts {
  delivered: number
  pending: number
}

/**
 * Content keys in escrow: each key of a new manifest is sealed to every registration manager the network record
 * names (`consort/escrow`), and the deposits wait in a durable outbox in the role's sublevel until each registrar
 * acknowledges them. Deposits go directly to the registrar over `/escrow/1`; escrows are never gossiped nor stored
 * as blocks. Retries back off from 1 s to 10 min and never stop, and a restart resumes them.
 */
export class EscrowOutbox {
  readonly #state: ProductionState
  readonly #libp2p: Libp2p
  readonly #network: NetworkContext
  readonly #credentials: Credentials
  readonly #clock: Clock
  readonly #random: Random
  readonly #signer: Parameters<typeof signRecord>[2]
  #timer: ReturnType<typeof setTimeout> | undefined
  #running: Promise<DeliveryCounts> | undefined
  #stopped = true
  #failures = 0

  constructor(init: {
    state: ProductionState
    libp2p: Libp2p
    network: NetworkContext
    credentials: Credentials
    clock: Clock
    random: Random
    signer: Parameters<typeof signRecord>[2]
  }) {
    this.#state = init.state
    this.#libp2p = init.libp2p
    this.#network = init.network
    this.#credentials = init.credentials
    this.#clock = init.clock
    this.#random = init.random
    this.#signer = init.signer
  }

  start(): void {
    this.#stopped = false
    this.#schedule(0)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer != null) clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running?.catch(() => {})
  }

  /**
   * The deposits for `keys`: one `consort/escrow` per key and registrar, grouped per registrar into deposits that
   * stay under `MAX_DEPOSIT_BYTES`, each with the manifests its escrows name and the release record.
   */
  entries(batchId: string, keys: readonly EscrowKey[], release: SignedRecord<'consort/release'> | null): OutboxEntry[] {
    const entries: OutboxEntry[] = []
    const created = this.#clock.now()
    for (const registrar of this.#network.body.registrars) {
      const registrarHex = toHex(registrar.key)
      let escrows: Uint8Array[] = []
      let manifests: Uint8Array[] = []
      let size = release?.bytes.length ?? 0
      const flush = () => {
        if (escrows.length === 0) return
        entries.push({
          id: `${registrarHex}/${batchId}/${entries.length}`,
          registrar: registrar.key,
          escrows,
          manifests,
          release: release?.bytes ?? null,
          attempts: 0,
          created,
          lastError: null,
        })
        escrows = []
        manifests = []
        size = release?.bytes.length ?? 0
      }
      for (const key of keys) {
        const escrow = signRecord(
          'consort/escrow',
          {
            network: this.#network.name,
            created,
            keyId: key.manifest.body.keyId,
            isrc: key.isrc,
            manifest: key.manifest.id,
            recipient: registrar.key,
            sealedKey: seal(registrar.sealingKey, key.contentKey, ESCROW_SEAL_CONTEXT, this.#random),
          },
          this.#signer,
          this.#network.caps,
        )
        const adds = escrow.bytes.length + key.manifest.bytes.length
        if (escrows.length > 0 && (size + adds > MAX_DEPOSIT_BYTES || escrows.length >= MAX_ESCROWS_PER_DEPOSIT))
          flush()
        escrows.push(escrow.bytes)
        manifests.push(key.manifest.bytes)
        size += adds
      }
      flush()
    }
    return entries
  }

  /** Attempt every waiting deposit now; the ones that fail are retried later. */
  async flush(): Promise<DeliveryCounts> {
    if (this.#running != null) await this.#running.catch(() => {})
    const run = this.#round()
    this.#running = run
    try {
      return await run
    } finally {
      if (this.#running === run) this.#running = undefined
    }
  }

  /** Deposits not yet acknowledged. */
  async pending(): Promise<OutboxEntry[]> {
    return this.#state.listOutbox(MAX_ENTRIES_PER_ROUND)
  }

  async #round(): Promise<DeliveryCounts> {
    if (this.#timer != null) clearTimeout(this.#timer)
    this.#timer = undefined
    const entries = await this.#state.listOutbox(MAX_ENTRIES_PER_ROUND)
    let delivered = 0
    // One registrar's deposits go one after the other; registrars are served in parallel.
    const byRegistrar = new Map<string, OutboxEntry[]>()
    for (const entry of entries) {
      const key = toHex(entry.registrar)
      byRegistrar.set(key, [...(byRegistrar.get(key) ?? []), entry])
    }
    await Promise.all(
      [...byRegistrar.values()].map(async (list) => {
        for (const entry of list) {
          if (this.#stopped) return
          if (await this.#deliver(entry)) delivered++
          else break
        }
      }),
    )
    const pending = (await this.#state.listOutbox(MAX_ENTRIES_PER_ROUND)).length
    this.#failures = pending === 0 ? 0 : this.#failures + 1
    if (pending > 0) this.#schedule(Math.min(ESCROW_RETRY_MAX_MS, ESCROW_RETRY_MIN_MS * 2 ** (this.#failures - 1)))
    return { delivered, pending }
  }

  async #deliver(entry: OutboxEntry): Promise<boolean> {
    try {
      const response = await rpcCall(
        this.#libp2p,
        peerIdOfKey(entry.registrar),
        this.#network.protocol(ESCROW_PROTOCOL),
        ESCROW_OPS.deposit,
        {
          escrows: entry.escrows,
          manifests: entry.manifests,
          release: entry.release,
          attachments: this.#credentials.attachments().map((r) => r.bytes),
        },
        { deadlineMs: ESCROW_DEADLINE_MS },
      )
      const { stored } = parseMessage(depositResponse, response, 'response')
      await this.#state.batch().deleteOutbox(entry.id).write()
      log('deposit %s acknowledged (%d stored)', entry.id, stored)
      return true
    } catch (err) {
      log('deposit %s failed (attempt %d): %e', entry.id, entry.attempts + 1, err)
      await this.#state
        .batch()
        .putOutbox({ ...entry, attempts: entry.attempts + 1, lastError: (err as Error).message.slice(0, 500) })
        .write()
      return false
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped || this.#timer != null) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.flush().catch((err) => log.error('escrow round failed: %e', err))
    }, delayMs)
    this.#timer.unref?.()
  }
}
