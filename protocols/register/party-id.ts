/**
 * The party id a registrar assigns to a participant it certifies (`consort/cert` `partyId`): DPID-style, so that
 * DDEX messages (DSR sales reports) can name every participant the way the industry names its parties. Consort cannot
 * issue DDEX-registered DPIDs; its party numbers start with `C` followed by nine characters of the SHA-256 of the
 * participant's key (base 36), where DDEX's own are digits, so the two never meet: one key, one party id, on every
 * network and at every registrar (a collision needs about 10^7 participants to become likely).
 */
import { createHash } from 'node:crypto'
import { dpidOf } from '../identifiers/dpid.ts'

const DOMAIN = 'consort/v1/party-id'

export function assignedPartyId(subject: Uint8Array): string {
  const digest = createHash('sha256')
    .update(DOMAIN)
    .update(new Uint8Array([0]))
    .update(subject)
    .digest()
  const number = BigInt(`0x${digest.subarray(0, 8).toString('hex')}`) % 36n ** 9n
  return dpidOf(`C${number.toString(36).toUpperCase().padStart(9, '0')}`)
}
