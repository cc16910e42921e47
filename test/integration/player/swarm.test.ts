import assert from 'node:assert/strict'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { MemorySink } from '../../../roles/player/index.ts'
import { announce, licenceFor, packageTrack, startPlayer, startWorld, type World } from './world.ts'

describe('player: fetching from the swarm', function () {
  this.timeout(120_000)
  let world: World

  before(async () => {
    world = await startWorld()
  })

  after(async () => {
    await world?.stop()
  })

  it('a licence holder fetches from any peer that holds the blocks: another player seeds what it played', async () => {
    const account = await createNodeKeys()
    const phone = await startPlayer(world, { account })
    const laptop = await startPlayer(world, { account })
    const track = await packageTrack(world, 'GBAYE0605001')
    await announce(phone, track)
    await announce(laptop, track)
    const { purchaseId } = await licenceFor(world, phone, track, { devices: 2 })
    await phone.role.play(track.isrc, { sink: new MemorySink() })

    // the label's seeder goes away: only the phone holds the blocks now
    await world.seeder.stop()
    await laptop.node.libp2p.dial(phone.node.libp2p.getMultiaddrs()[0]!)
    await laptop.role.fetchLicence(purchaseId)
    const sink = new MemorySink()
    const result = await laptop.role.play(track.isrc, { sink })
    assert.equal(result.stopped, 'end')
    assert.deepEqual(sink.bytes(), track.plaintext)
  })
})
