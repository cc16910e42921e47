/**
 * What the catalog says about the content the clearinghouse settles, for its DSR reports (titles, artists,
 * durations, releases and their tracks). Learnt from the `catalog` topic (manifests and releases, checked by the
 * topic's validator) and kept per content id and signer, the highest `seq` of each signer: a report takes the
 * description signed by the contract's distributor, so that another producer claiming the same ISRC cannot rename a
 * label's recordings in its reports.
 */

import { toHex } from '../../../keys/hex.ts'
import { canonicalIcpn } from '../../../protocols/identifiers/content-id.ts'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import { type ContentInfoRow, contentInfoRow, StateKeys } from '../state.ts'
import { put, type StateStore } from '../store.ts'
import type { ContentInfo } from './message.ts'

export class CatalogFacts {
  readonly #store: StateStore

  constructor(store: StateStore) {
    this.#store = store
  }

  /** Keep what a manifest or release record says (an older `seq` of the same signer is ignored). */
  async learn(record: SignedRecord<'consort/manifest'> | SignedRecord<'consort/release'>): Promise<void> {
    const signer = toHex(record.signer)
    const rows: Array<[string, ContentInfoRow]> = []
    if (record.type === 'consort/manifest') {
      const b = (record as SignedRecord<'consort/manifest'>).body
      rows.push([
        `isrc:${b.isrc}`,
        {
          v: 1,
          seq: b.seq,
          title: b.title,
          subtitle: b.version,
          artists: b.artists,
          durationMs: b.durationMs,
          // Content ids carry an ICPN as its GTIN-14 (decision 0006); records may carry any valid form.
          release: b.release === null ? null : { ...b.release, icpn: b.release.icpn && canonicalIcpn(b.release.icpn) },
          label: b.label,
          releaseType: null,
          releaseDate: null,
          tracks: [],
        },
      ])
    } else {
      const b = (record as SignedRecord<'consort/release'>).body
      const row: ContentInfoRow = {
        v: 1,
        seq: b.seq,
        title: b.title,
        subtitle: null,
        artists: b.artists,
        durationMs: null,
        release: null,
        label: b.label,
        releaseType: b.type,
        releaseDate: b.releaseDate,
        tracks: b.tracks.map((t) => t.isrc),
      }
      if (b.icpn !== null) rows.push([`icpn:${canonicalIcpn(b.icpn)}`, row])
      if (b.grid !== null) rows.push([`grid:${b.grid}`, row])
    }
    const ops = []
    for (const [contentId, row] of rows) {
      const key = StateKeys.contentInfo(contentId, signer)
      const known = await this.#store.get(contentInfoRow, key)
      if (known === undefined || row.seq > known.seq) ops.push(put(key, row))
    }
    if (ops.length > 0) await this.#store.write(ops, { sync: false })
  }

  /** What is known of `contentId`: as `preferred` signed it (the contract's distributor), else any signer's. */
  async describe(contentId: string, preferred: readonly string[]): Promise<ContentInfo | undefined> {
    let fallback: ContentInfoRow | undefined
    for await (const [key, row] of this.#store.rows(contentInfoRow, StateKeys.contentInfoPrefix(contentId))) {
      const signer = key.slice(StateKeys.contentInfoPrefix(contentId).length)
      if (preferred.includes(signer)) return infoOf(contentId, row)
      fallback ??= row
    }
    return fallback === undefined ? undefined : infoOf(contentId, fallback)
  }
}

function infoOf(contentId: string, row: ContentInfoRow): ContentInfo {
  return {
    contentId,
    title: row.title,
    subtitle: row.subtitle,
    artists: row.artists,
    durationMs: row.durationMs,
    release: row.release,
    label: row.label,
    releaseType: row.releaseType,
    releaseDate: row.releaseDate,
    tracks: row.tracks,
  }
}
