import { gridCheckCharacter } from './grid.ts'

/**
 * DDEX Party Identifier (DPID): 18 characters, `PA` (the identifier scheme), `DPIDA` (the identifier type), a
 * 10-character party number and one check character computed, as for the GRid, with ISO 7064 MOD 37,36 over the
 * alphabet 0-9 A-Z (`PADPIDA2014111801Y`). DDEX issues them; Consort's registrars assign DPID-style ids to the
 * participants they register (`protocols/register/party-id.ts`).
 */
const DPID_SHAPE = /^PADPIDA[0-9A-Z]{11}$/

/** True when `s` is a DPID in canonical form (upper case, no separators) with a correct check character. */
export function isDpid(s: string): boolean {
  return DPID_SHAPE.test(s) && gridCheckCharacter(s.slice(0, 17)) === s[17]
}

/** The DPID for a 10-character party number (0-9 A-Z), with its check character. */
export function dpidOf(partyNumber: string): string {
  if (!/^[0-9A-Z]{10}$/.test(partyNumber)) throw new RangeError('a DPID party number is 10 characters 0-9 A-Z')
  const body = `PADPIDA${partyNumber}`
  return `${body}${gridCheckCharacter(body)}`
}
