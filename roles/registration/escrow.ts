import { logger } from '@libp2p/logger'
import { toHex } from '../../keys/hex.ts'
import { open } from '../../keys/seal.ts'
import { CONTENT_KEY_BYTES } from '../../keys/segments.ts'
import { ESCROW_SEAL_CONTEXT } from '../../protocols/escrow/index.ts'
import { decodeRecord, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import { releaseContentId } from '../../protocols/records/types/release.ts'
import { MAX_LICENCE_KEYS } from './constants.ts'
import { bytesEqual, decodeOptions, emit, type RegistrarContext } from './context.ts'
import { EscrowInvalidError, KeyNotEscrowedError, RegistrationError } from './errors.ts'
import {
  type BatchOp,
  type EscrowEntry,
  type IsrcIndexEntry,
  KEYS,
  keyName,
  put,
  type ReleaseEntry,
  type StoreKey,
} from './store.ts'

const log = logger('consort:registration:escrow')

export interface DepositMessage {
  escrows: Uint8Array[]
  manifests: Uint8Array[]
  release: Uint8Array | null
  attachments?: Uint8Array[] | undefined
}

/** A key a licence needs: the track and its escrow entry (the key still sealed to this registrar). */
export interface ResolvedKey {
  isrc: string
  entry: EscrowEntry
}

/** The licence needs more keys than a licence may carry. */
export class TooManyKeysError extends RegistrationError {
  static override name = 'TooManyKeysError'
  override name = TooManyKeysError.name

  override readonly code = 'ERR_TOO_LARGE'
}

const newer = (a: { seq: number; created: number }, b: { seq: number; created: number } | undefined) =>
  b == null || a.seq > b.seq || (a.seq === b.seq && a.created > b.created)

/**
 * Escrowed content keys. Producers deposit keys sealed to this registrar; they stay sealed at rest, indexed by key
 * id, by manifest and by ISRC per producer, with the releases that expand a release id into its tracks. A key is
 * opened only in memory, only to be sealed again to a licensed device.
 */
export class EscrowVault {
  readonly #ctx: RegistrarContext

  constructor(ctx: RegistrarContext) {
    this.#ctx = ctx
  }

  /** `escrow/1 deposit`: verify every record, then store all of it in one batch. Idempotent by record id. */
  async deposit(message: DepositMessage): Promise<number> {
    const options = decodeOptions(this.#ctx)
    const attachments = (message.attachments ?? []).map((bytes, i) =>
      this.#decode(() => decodeRecord(bytes, options), `attachments.${i}`),
    )
    const escrows = message.escrows.map((bytes, i) => {
      const escrow = this.#decode(() => decodeRecordAs('consort/escrow', bytes, options), `escrows.${i}`)
      this.#checkSigner(escrow, attachments, `escrows.${i}`)
      if (!bytesEqual(escrow.body.recipient, this.#ctx.signer.publicKey))
        throw new EscrowInvalidError(`escrows.${i}.recipient: the key is sealed to another registration manager`)
      this.#checkOpens(escrow, `escrows.${i}`)
      return escrow
    })
    const manifests = new Map<string, SignedRecord<'consort/manifest'>>()
    message.manifests.forEach((bytes, i) => {
      const manifest = this.#decode(() => decodeRecordAs('consort/manifest', bytes, options), `manifests.${i}`)
      this.#checkSigner(manifest, attachments, `manifests.${i}`)
      manifests.set(manifest.id.toString(), manifest)
    })
    for (const [i, escrow] of escrows.entries()) {
      const manifest = manifests.get(escrow.body.manifest.toString())
      if (manifest == null) continue
      if (manifest.body.isrc !== escrow.body.isrc || !bytesEqual(manifest.body.keyId, escrow.body.keyId))
        throw new EscrowInvalidError(`escrows.${i}: its ISRC or key id differs from its manifest's`)
    }
    const release =
      message.release == null
        ? null
        : this.#decode(() => decodeRecordAs('consort/release', message.release!, options), 'release')
    if (release != null) this.#checkSigner(release, attachments, 'release')

    await this.#ctx.locks.run('escrow', async () => {
      const ops: BatchOp[] = []
      const isrcIndex = new Map<string, { key: StoreKey<'isrcIndex'>; entry: IsrcIndexEntry | undefined }>()
      for (const [i, escrow] of escrows.entries()) {
        const keyId = toHex(escrow.body.keyId)
        const signer = toHex(escrow.signer)
        const known = await this.#ctx.store.get(KEYS.escrow(keyId))
        if (known != null && !bytesEqual(known.signer, escrow.signer))
          throw new EscrowInvalidError(`escrows.${i}.keyId: key ${keyId} was escrowed by another producer`)
        const manifest = manifests.get(escrow.body.manifest.toString())
        const entry: EscrowEntry = {
          keyId: escrow.body.keyId,
          isrc: escrow.body.isrc,
          manifest: escrow.body.manifest,
          signer: escrow.signer,
          sealedKey: escrow.body.sealedKey,
          seq: manifest?.body.seq ?? known?.seq ?? -1,
          created: escrow.body.created,
          record: escrow.bytes,
        }
        ops.push(put(KEYS.escrow(keyId), entry))
        ops.push(put(KEYS.manifestKey(escrow.body.manifest.toString()), keyId))
        const key = KEYS.isrc(escrow.body.isrc, signer)
        const name = keyName(key)
        if (!isrcIndex.has(name)) isrcIndex.set(name, { key, entry: await this.#ctx.store.get(key) })
        const candidate: IsrcIndexEntry = { keyId, seq: entry.seq, created: entry.created }
        const current = isrcIndex.get(name)?.entry
        if (current?.keyId === keyId || newer(candidate, current)) isrcIndex.set(name, { key, entry: candidate })
      }
      for (const { key, entry } of isrcIndex.values()) if (entry != null) ops.push(put(key, entry))
      if (release != null) {
        const key = KEYS.release(releaseContentId(release.body), toHex(release.signer))
        const known = await this.#ctx.store.get(key)
        const entry: ReleaseEntry = {
          seq: release.body.seq,
          created: release.body.created,
          tracks: release.body.tracks,
          record: release.bytes,
        }
        if (newer(entry, known) || known?.created === entry.created) ops.push(put(key, entry))
      }
      await this.#ctx.store.batch(ops)
    })
    for (const manifest of manifests.values()) await this.#ctx.records.put(manifest)
    if (release != null) await this.#ctx.records.put(release)
    emit(this.#ctx, 'escrow:stored', { keyIds: escrows.map((e) => e.body.keyId) })
    log('%d escrowed key(s) stored', escrows.length)
    return escrows.length
  }

  /**
   * The escrowed keys of the content of an offer: a track (`isrc:`) directly, a release (`icpn:`, `grid:`)
   * through its track list. Only keys escrowed by `signers` (the contract's signer and distributor) are used,
   * so nobody else can slip their own key under another label's content. Throws `KeyNotEscrowedError`.
   */
  async resolve(content: readonly string[], signers: readonly Uint8Array[]): Promise<ResolvedKey[]> {
    const out = new Map<string, ResolvedKey>()
    const add = (key: ResolvedKey) => {
      if (out.has(key.isrc)) return
      if (out.size >= MAX_LICENCE_KEYS)
        throw new TooManyKeysError(`the content needs more than ${MAX_LICENCE_KEYS} keys`)
      out.set(key.isrc, key)
    }
    for (const item of content) {
      if (item.startsWith('isrc:')) {
        const isrc = item.slice('isrc:'.length)
        const entry = await this.#byIsrc(isrc, signers)
        if (entry == null) throw new KeyNotEscrowedError(`no key is escrowed for ${item}`)
        add({ isrc, entry })
        continue
      }
      const release = await this.#release(item, signers)
      if (release == null) throw new KeyNotEscrowedError(`no release ${item} was deposited with its keys`)
      for (const track of release.tracks) {
        const entry =
          (await this.#byManifest(track.manifest.toString(), signers)) ?? (await this.#byIsrc(track.isrc, signers))
        if (entry == null) throw new KeyNotEscrowedError(`no key is escrowed for isrc:${track.isrc} of ${item}`)
        add({ isrc: track.isrc, entry })
      }
    }
    return [...out.values()]
  }

  /** Open an escrowed key: the content key in clear, for the caller to seal again and then wipe. */
  openKey(entry: EscrowEntry): Uint8Array {
    return open(this.#ctx.sealing, entry.sealedKey, ESCROW_SEAL_CONTEXT)
  }

  async #byIsrc(isrc: string, signers: readonly Uint8Array[]): Promise<EscrowEntry | undefined> {
    let best: IsrcIndexEntry | undefined
    for (const signer of signers) {
      const entry = await this.#ctx.store.get(KEYS.isrc(isrc, toHex(signer)))
      if (entry != null && newer(entry, best)) best = entry
    }
    return best == null ? undefined : this.#ctx.store.get(KEYS.escrow(best.keyId))
  }

  async #byManifest(manifest: string, signers: readonly Uint8Array[]): Promise<EscrowEntry | undefined> {
    const keyId = await this.#ctx.store.get(KEYS.manifestKey(manifest))
    if (keyId == null) return undefined
    const entry = await this.#ctx.store.get(KEYS.escrow(keyId))
    return entry != null && signers.some((s) => bytesEqual(s, entry.signer)) ? entry : undefined
  }

  /** The newest release of `contentId` deposited by one of `signers` (verified when it was deposited). */
  async #release(contentId: string, signers: readonly Uint8Array[]): Promise<ReleaseEntry | undefined> {
    let best: ReleaseEntry | undefined
    for (const signer of signers) {
      const entry = await this.#ctx.store.get(KEYS.release(contentId, toHex(signer)))
      if (entry != null && newer(entry, best)) best = entry
    }
    return best
  }

  #decode<T>(decode: () => T, field: string): T {
    try {
      return decode()
    } catch (err) {
      throw new EscrowInvalidError(`${field}: ${(err as Error).message}`)
    }
  }

  #checkSigner(record: SignedRecord, attachments: SignedRecord[], field: string): void {
    const verdict = this.#ctx.trust.check(record, attachments)
    if (!verdict.ok) throw new EscrowInvalidError(`${field}: ${verdict.reason}`)
  }

  #checkOpens(escrow: SignedRecord<'consort/escrow'>, field: string): void {
    let key: Uint8Array
    try {
      key = open(this.#ctx.sealing, escrow.body.sealedKey, ESCROW_SEAL_CONTEXT)
    } catch (err) {
      throw new EscrowInvalidError(
        `${field}.sealedKey: does not open with this registrar's key (${(err as Error).name})`,
      )
    }
    const length = key.length
    key.fill(0)
    if (length !== CONTENT_KEY_BYTES)
      throw new EscrowInvalidError(`${field}.sealedKey: holds ${length} bytes, a content key is ${CONTENT_KEY_BYTES}`)
  }
}
