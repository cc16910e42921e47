import assert from 'node:assert/strict'
import { dpidOf, isDpid } from '../../../protocols/identifiers/dpid.ts'
import { assignedPartyId } from '../../../protocols/register/party-id.ts'

describe('identifiers: DDEX party ids (DPID)', () => {
  it('accepts DPIDs DDEX issued, with the check character of ISO 7064 MOD 37,36', () => {
    // DPIDs published in DDEX's own documentation and samples.
    for (const id of ['PADPIDA2014111801Y', 'PADPIDA2008120501W', 'PADPIDA3897722461G', 'PADPIDA2007061301U']) {
      assert.ok(isDpid(id), id)
    }
    assert.equal(dpidOf('2014111801'), 'PADPIDA2014111801Y')
  })

  it('refuses a wrong check character, lower case, separators and other lengths', () => {
    for (const id of ['PADPIDA2014999999Z', 'padpida2014111801y', 'PA-DPIDA-2014111801-Y', 'PADPIDA201411180Y', '']) {
      assert.equal(isDpid(id), false, id)
    }
    assert.throws(() => dpidOf('20141118'), RangeError)
  })

  it('assigns a participant a valid DPID-style id that depends on its key only, never a DDEX-issued number', () => {
    const a = new Uint8Array(32).fill(1)
    const b = new Uint8Array(32).fill(2)
    assert.equal(assignedPartyId(a), assignedPartyId(Uint8Array.from(a)))
    assert.notEqual(assignedPartyId(a), assignedPartyId(b))
    for (const id of [assignedPartyId(a), assignedPartyId(b)]) {
      assert.ok(isDpid(id), id)
      assert.match(id, /^PADPIDAC[0-9A-Z]{10}$/, 'the party number starts with C: DDEX issues digits')
    }
  })
})
