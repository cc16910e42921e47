import { toHex } from '../../keys/hex.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { catalogContentId } from '../../protocols/topics/catalog.ts'

/**
 * What the catalog indexes: one document per current release and one per current track (manifest), keyed by
 * signer and content id, so that two labels claiming one ISRC stay two entries rather than overwriting each
 * other.
 */
export interface CatalogDocument {
  key: string
  kind: 'release' | 'track'
  contentId: string
  record: string
  signer: string
  seq: number
  created: number
  title: string
  artists: string[]
  release: string | null
  genre: string | null
  label: string | null
  year: number | null
  type: string | null
  durationMs: number | null
  tracks: number | null
  /** Text MiniSearch indexes beyond the fields above (track titles of a release). */
  extra: string
}

/** The content id a release or manifest describes (the catalog topic's own, so that both key versions alike). */
export const contentIdOf = catalogContentId

export function documentKey(signer: Uint8Array, contentId: string): string {
  return `${toHex(signer)}/${contentId}`
}

function yearOf(date: string | null): number | null {
  if (date == null) return null
  const year = Number.parseInt(date.slice(0, 4), 10)
  return Number.isSafeInteger(year) ? year : null
}

export function toDocument(
  record: SignedRecord<'consort/release'> | SignedRecord<'consort/manifest'>,
): CatalogDocument {
  const contentId = contentIdOf(record)
  const common = {
    key: documentKey(record.signer, contentId),
    contentId,
    record: record.id.toString(),
    signer: toHex(record.signer),
    created: record.body.created,
  }
  if (record.type === 'consort/release') {
    const body = (record as SignedRecord<'consort/release'>).body
    return {
      ...common,
      kind: 'release',
      seq: body.seq,
      title: body.title,
      artists: body.artists,
      release: body.title,
      genre: body.genre,
      label: body.label,
      year: yearOf(body.releaseDate),
      type: body.type,
      durationMs: null,
      tracks: body.tracks.length,
      extra: body.tracks.map((t) => t.isrc).join(' '),
    }
  }
  const body = (record as SignedRecord<'consort/manifest'>).body
  return {
    ...common,
    kind: 'track',
    seq: body.seq,
    title: body.version != null ? `${body.title} (${body.version})` : body.title,
    artists: body.artists,
    release: body.release?.title ?? null,
    genre: body.genre,
    label: body.label,
    year: body.year,
    type: 'Track',
    durationMs: body.durationMs,
    tracks: null,
    extra: body.isrc,
  }
}
