import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ReleaseDescription } from './release-json.ts'

/**
 * The built-in sample release the devnet publishes on start: one track, a valid UPC and ISRC, a download to keep
 * (no limit on offline use, exports or burns) and a per-play stream deal (no exports or burns), Worldwide. Its audio is the real one-second FLAC of the shared fixtures when it is there,
 * else 30 s of synthesized tone.
 */

export const SAMPLE_UPC = '012345678905'
export const SAMPLE_ISRC = 'ZZCNS2600001'
/** When the sample's deals start: its release date. */
export const SAMPLE_DEALS_FROM = '2026-01-01'
/** The fixture's own one second; the stand-in when it is absent. */
const SYNTH_SECONDS = 30

/** `$CONSORT_FIXTURES/audio/sample-84k.flac`, else `../shared/fixtures/audio/sample-84k.flac` next to the project. */
export function defaultSampleAudio(): string {
  const fixtures = process.env.CONSORT_FIXTURES
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
  const dir =
    fixtures != null && fixtures !== '' ? path.resolve(fixtures) : path.resolve(root, '..', 'shared', 'fixtures')
  return path.join(dir, 'audio', 'sample-84k.flac')
}

export function sampleDescription(audioFile: string | null = defaultSampleAudio()): ReleaseDescription {
  const file = audioFile != null && existsSync(audioFile) ? audioFile : null
  return {
    consortRelease: 1,
    upc: SAMPLE_UPC,
    title: 'Consort Sampler',
    artists: ['The Consort Ensemble'],
    type: 'Single',
    label: 'Consort Records',
    genre: 'Electronic',
    releaseDate: '2026-01-01',
    tracks: [
      {
        isrc: SAMPLE_ISRC,
        title: 'First Light',
        ...(file != null ? { file } : { durationSeconds: SYNTH_SECONDS }),
      },
    ],
    deals: [
      {
        id: 'download',
        commercialModel: 'pay-as-you-go',
        useTypes: ['PermanentDownload'],
        territories: ['Worldwide'],
        // A fixed start, so that publishing the sample again (a devnet started again) changes no contract.
        validFrom: SAMPLE_DEALS_FROM,
        wholesale: [
          { currency: 'EUR', amount: '0.69' },
          { currency: 'USD', amount: '0.79' },
        ],
      },
      {
        id: 'stream',
        commercialModel: 'pay-as-you-go',
        useTypes: ['OnDemandStream'],
        territories: ['Worldwide'],
        validFrom: SAMPLE_DEALS_FROM,
        wholesale: [{ currency: 'EUR', amount: '0.01', per: 'play' }],
        // A stream is heard, not kept: no copies out of the player, and plays are paid one by one, so the licence
        // reconnects (and reports) at least once a statement period.
        ruleBounds: { maxExport: 0, maxBurn: 0, maxOfflineDays: 30 },
      },
    ],
  }
}
