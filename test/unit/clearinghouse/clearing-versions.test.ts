import assert from 'node:assert/strict'
import {
  announcedSealVersion,
  CLEARING_VERSIONS,
  clearingProtocols,
  servedClearingProtocols,
} from '../../../protocols/clearing/versions.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { networkContext } from '../../../protocols/network.ts'
import { parseInit } from '../../../roles/clearinghouse/engine.ts'
import { createTestNetwork } from '../../helpers/network.ts'

/** Which usage boxes a clearinghouse opens, as the clearing protocol versions it serves say (decision 0518). */
describe('clearing protocol versions: what a clearinghouse announces it opens', () => {
  it('serves clearing/2 only when it opens version 2, and a peer reads the newest it announced', async () => {
    const network = networkContext((await createTestNetwork(new FakeClock())).record)
    const v1 = network.protocol('clearing', 1)
    const v2 = network.protocol('clearing', 2)
    assert.deepEqual(clearingProtocols(network), [v2, v1], 'offered newest first')
    assert.deepEqual(
      CLEARING_VERSIONS.map((v) => [v.protocol, v.opens]),
      [
        [2, 2],
        [1, 1],
      ],
    )
    assert.deepEqual(servedClearingProtocols(network, [1, 2]), [v2, v1])
    assert.deepEqual(servedClearingProtocols(network, [1]), [v1])
    assert.equal(announcedSealVersion(network, ['/ipfs/id/1.0.0', v1, v2]), 2)
    assert.equal(announcedSealVersion(network, [v1]), 1)
    assert.equal(announcedSealVersion(network, ['/ipfs/ping/1.0.0']), undefined, 'not a clearinghouse: nothing said')
    assert.equal(announcedSealVersion(network, ['/consort/othernet/clearing/2']), undefined, 'another network')
  })

  it('opens version 1 whatever it is told: players seal it until they hear more', () => {
    assert.deepEqual(parseInit({ sealVersions: [1] }).sealVersions, [1])
    assert.deepEqual(parseInit({ sealVersions: [1, 2] }).sealVersions, [1, 2])
    assert.equal(parseInit({}).sealVersions, undefined)
    assert.throws(() => parseInit({ sealVersions: [2] }), /clearinghouse\.sealVersions: version 1 must be opened/)
    assert.throws(() => parseInit({ sealVersions: [] }), /clearinghouse\.sealVersions/)
    assert.throws(() => parseInit({ sealVersions: [1, 3] }), /clearinghouse\.sealVersions/)
  })
})
