import assert from 'node:assert/strict'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { open } from '../../../keys/seal.ts'
import { ESCROW_SEAL_CONTEXT } from '../../../protocols/escrow/index.ts'
import { synthesizeWav } from '../../../roles/production/audio/index.ts'
import { readSegments } from '../../../roles/production/packaging/index.ts'
import { toneFor } from '../../../roles/production/validate.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { type Market, startMarket } from './market.ts'

const release = {
  consortRelease: 1,
  upc: '4006381333931',
  title: 'Kept in Escrow',
  artists: ['The Keyholders'],
  tracks: [
    { isrc: 'DEABC2600001', title: 'First', durationSeconds: 12 },
    { isrc: 'DEABC2600002', title: 'Second', durationSeconds: 9 },
  ],
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

describe('production: content keys in escrow with every registration manager', function () {
  this.timeout(120_000)
  let market: Market

  before(async () => {
    market = await startMarket({ registrars: 2 })
  })
  after(async () => {
    await market?.stop()
  })

  it('seals each key to each registrar, keeps undelivered deposits through a restart, and delivers them after', async () => {
    const [first, second] = market.registrars
    second!.accepting = false
    const keys = await createNodeKeys()
    const dataDir = await market.tempDir()
    const producer = await market.startProducer({ keys, dataDir })
    const result = await producer.role.publishDescription({ release, synthesizeMissing: true })
    assert.deepEqual(result.escrow, { deposits: 2, delivered: 1, pending: 1 })

    // The first registrar holds one escrow per track, sealed to it: each opens to the key of its track.
    const deposit = first!.deposits[0]!
    assert.deepEqual(
      deposit.escrows.map((e) => [e.body.isrc, hex(e.body.recipient)]),
      release.tracks.map((t) => [t.isrc, hex(first!.keys.signer.publicKey)]),
    )
    assert.equal(deposit.release?.body.icpn, '4006381333931')
    for (const [i, manifest] of deposit.manifests.entries()) {
      const key = deposit.keys.get(hex(manifest.body.keyId))!
      const audio = await readSegments(producer.node.helia.blockstore, manifest.body.segments, key, manifest.body.keyId)
      assert.deepEqual(audio, synthesizeWav(release.tracks[i]!.durationSeconds * 1000, { frequencyHz: toneFor(i) }))
    }
    // Escrows go to the registrars only: they are not blocks anyone could fetch, nor on any topic.
    for (const escrow of deposit.escrows) assert.equal(await producer.node.helia.blockstore.has(escrow.id), false)
    assert.ok(
      Object.values(market.received)
        .flat()
        .every((d) => d.record.type !== 'consort/escrow'),
    )

    const pending = await producer.role.pendingEscrow()
    assert.equal(pending.length, 1)
    assert.deepEqual(pending[0]!.registrar, second!.keys.signer.publicKey)
    assert.ok(pending[0]!.attempts >= 1)
    assert.match(pending[0]!.lastError ?? '', /ERR_UNAVAILABLE/)

    // Restart on the same data dir while the second registrar is back: the outbox resumes at start.
    await producer.node.stop()
    second!.accepting = true
    const restarted = await market.startNode({
      keys,
      roles: ['production'],
      roleOptions: { reannounceIntervalMs: 0 },
      dataDir,
    })
    const role = restarted.role('production')
    // The registrar holds the deposit before its answer reaches the producer, which only then clears its outbox:
    // wait for both sides, not for the first one alone.
    await waitUntil(async () => second!.deposits.length === 1 && (await role.pendingEscrow()).length === 0, {
      message: 'the second registrar got its deposit and the producer cleared its outbox',
    })
    assert.equal(second!.deposits.length, 1)
    const late = second!.deposits[0]!
    assert.deepEqual(
      late.escrows.map((e) => [e.body.isrc, hex(e.body.recipient)]),
      release.tracks.map((t) => [t.isrc, hex(second!.keys.signer.publicKey)]),
    )
    // Each registrar's escrow opens only with its own key, to the same content key.
    for (const [i, escrow] of late.escrows.entries()) {
      const mine = late.keys.get(hex(escrow.body.keyId))!
      assert.deepEqual(mine, deposit.keys.get(hex(escrow.body.keyId)))
      assert.throws(() => open(first!.keys.sealing, escrow.body.sealedKey, ESCROW_SEAL_CONTEXT), {
        name: 'SealOpenError',
      })
      assert.throws(() => open(second!.keys.sealing, deposit.escrows[i]!.body.sealedKey, ESCROW_SEAL_CONTEXT), {
        name: 'SealOpenError',
      })
    }
    // The state survived the restart: the same release is unchanged.
    const again = await role.publishDescription({ release, synthesizeMissing: true })
    assert.equal(again.releases[0]!.action, 'unchanged')
    // What is active is announced again on a timer (here by hand): the release and its two manifests.
    const announced = await role.reannounce()
    assert.equal(announced.gossiped, 3)
    assert.equal(announced.gossipFailed, 0)
  })
})
