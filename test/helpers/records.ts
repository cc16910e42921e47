import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import type { BodyInput } from '../../protocols/records/registry.ts'

/** The CID of a raw block with these bytes. */
export function rawCid(bytes: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(sha256.code, createHash('sha256').update(bytes).digest()))
}

/** A plausible manifest body for tests of the layers below production. */
export function sampleManifestBody(
  network: string,
  created: number,
  overrides: Partial<BodyInput<'consort/manifest'>> = {},
): BodyInput<'consort/manifest'> {
  const segmentSize = 256 * 1024
  const segments = overrides.segments ?? [rawCid(new TextEncoder().encode(`segment-0-${created}`))]
  return {
    network,
    created,
    seq: 0,
    isrc: 'USRC17607839',
    title: 'A Test Recording',
    version: null,
    artists: ['The Testers'],
    release: null,
    genre: null,
    label: null,
    year: 2026,
    durationMs: 180_000,
    codec: 'flac',
    mime: 'audio/flac',
    byteSize: segments.length * segmentSize,
    segmentSize,
    segments,
    keyId: new Uint8Array(16).fill(1),
    preview: null,
    ...overrides,
  }
}
