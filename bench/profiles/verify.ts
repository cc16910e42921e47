/**
 * Envelope verification: `decodeRecord` of the signed offer the `records` benchmark uses (every check a node applies
 * to a record from outside), in a loop.
 */
import { SeededRandom, signerFromSeed } from '../../keys/index.ts'
import { decodeRecord, signRecord } from '../../protocols/records/index.ts'
import { sampleBodies } from '../../test/helpers/record-samples.ts'
import { type Category, frames } from '../lib/cpu-profile.ts'
import type { ProfiledPath } from '../lib/types.ts'

export const description = "decodeRecord of a signed consort/offer (the records benchmark's envelope.verify)"

export const categories: Category[] = [
  { name: 'Ed25519 signature (OpenSSL)', match: frames(['verify', 'verifyOneShot']) },
  { name: 'public key cache', match: frames(['ed25519PublicKeyObject']) },
  { name: 'signing payload (prefix + body copy)', match: frames(['signingPayload']) },
  { name: 'DAG-CBOR decode + canonical check', match: frames(['decodeCanonical']) },
  { name: 'body validation (quick check, or zod)', match: frames(['decodeBody', 'validateBody']) },
  { name: 'record id (SHA-256, CID)', match: frames(['recordId']) },
  { name: 'envelope checks (decodeRecord itself)', match: frames(['decodeRecord']) },
]

const NETWORK = 'benchnet'

export async function prepare(): Promise<ProfiledPath> {
  const now = Date.UTC(2026, 10, 1)
  const signer = signerFromSeed(new SeededRandom('bench-records').bytes(32))
  const offer = signRecord('consort/offer', sampleBodies(NETWORK, now)['consort/offer'], signer)
  const options = { network: NETWORK, now }
  return {
    unit: 'records',
    async run() {
      for (let i = 0; i < 1000; i++) decodeRecord(offer.bytes, options)
      return 1000
    },
    async dispose() {},
  }
}
