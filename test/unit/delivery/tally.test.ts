import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { signerFromSeed } from '../../../keys/ed25519.ts'
import { SeededRandom } from '../../../keys/random.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { DeliveryAcks, ServedTally, verifyDeliveryAck } from '../../../protocols/delivery/index.ts'
import { sampleRecordCid } from '../../helpers/record-samples.ts'
import { rawCid } from '../../helpers/records.ts'

describe('protocols/delivery: what a serving node acknowledges', () => {
  it('confirms only blocks served to the asking peer, each once per time served', () => {
    const clock = new FakeClock(1_000_000)
    const tally = new ServedTally(clock)
    tally.served('peer-a', 'cid-1', 100)
    tally.served('peer-a', 'cid-2', 200)
    tally.served('peer-b', 'cid-3', 300)
    assert.deepEqual(tally.claim('peer-a', ['cid-1', 'cid-3', 'cid-9']), { blocks: 1, bytes: 100 })
    assert.deepEqual(tally.claim('peer-a', ['cid-1']), { blocks: 0, bytes: 0 }, 'acknowledged already')
    assert.deepEqual(tally.claim('peer-b', ['cid-2']), { blocks: 0, bytes: 0 }, 'served to someone else')
    tally.served('peer-a', 'cid-1', 100)
    assert.deepEqual(
      tally.claim('peer-a', ['cid-1', 'cid-2']),
      { blocks: 2, bytes: 300 },
      'served again: acknowledged again',
    )
    assert.equal(tally.entries, 1)
  })

  it('forgets blocks older than its time to live, and stays within its bounds', () => {
    const clock = new FakeClock(1_000_000)
    const tally = new ServedTally(clock, { ttlMs: 1000, maxEntries: 4, maxEntriesPerPeer: 3 })
    tally.served('a', 'x', 1)
    clock.advance(2000)
    assert.deepEqual(tally.claim('a', ['x']), { blocks: 0, bytes: 0 })
    for (let i = 0; i < 5; i++) tally.served('a', `a${i}`, 1)
    assert.equal(tally.entries, 3, 'at most 3 per peer')
    for (let i = 0; i < 3; i++) tally.served('b', `b${i}`, 1)
    assert.ok(tally.entries <= 4, `at most 4 in all (${tally.entries})`)
    assert.deepEqual(tally.claim('b', ['b0', 'b1', 'b2']), { blocks: 3, bytes: 3 }, 'the newest peer is kept')
  })

  it('signs what it confirms for the connection’s peer, which only that peer’s fields verify', async () => {
    const clock = new FakeClock(1_000_000)
    const signer = signerFromSeed(new SeededRandom('delivery-acks').bytes(32))
    const server = new EventTarget()
    const acks = new DeliveryAcks({
      libp2p: { handle: async () => {}, unhandle: async () => {} },
      network: { name: 'testnet', protocol: (n: string) => `/consort/testnet/${n}/1` },
      signer,
      clock,
      credentials: { attachments: () => [] },
      server: server as never,
    })
    await acks.start()
    const remote = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const blocks = [rawCid(new Uint8Array([1])), rawCid(new Uint8Array([2]))]
    server.dispatchEvent(
      new CustomEvent('served', { detail: { cid: blocks[0], peer: remote.toString(), bytes: 1000 } }),
    )
    const manifest = sampleRecordCid('manifest')
    const answered = await acks.ack(
      {
        fetches: [
          { fetch: 'f-1', manifest, cids: blocks },
          { fetch: 'f-0', manifest, cids: [blocks[1]!] },
        ],
      },
      { remotePeer: remote },
    )
    assert.equal(answered.acks[1], null, 'nothing of f-0 was served')
    const answer = answered.acks[0]!
    assert.equal(answer.blocks, 1)
    assert.equal(answer.bytes, 1000)
    const fields = {
      network: 'testnet',
      fetch: 'f-1',
      device: remote.publicKey!.raw,
      manifest,
      peer: signer.publicKey,
      blocks: 1,
      bytes: 1000,
    }
    assert.ok(verifyDeliveryAck(fields, answer.sig))
    assert.ok(!verifyDeliveryAck({ ...fields, bytes: 1001 }, answer.sig), 'more bytes')
    assert.ok(!verifyDeliveryAck({ ...fields, fetch: 'f-2' }, answer.sig), 'another fetch')
    assert.ok(!verifyDeliveryAck({ ...fields, device: new Uint8Array(32) }, answer.sig), 'another device')
    await assert.rejects(acks.ack({ fetches: [{ fetch: 'f-1', manifest, cids: blocks }] }, { remotePeer: remote }), {
      name: 'NothingServedError',
    })
    await assert.rejects(acks.ack({ fetches: [{ fetch: 'f-1', manifest, cids: [] }] }, { remotePeer: remote }), {
      name: 'DeliveryAckInvalidError',
    })
    await acks.stop()
  })
})
