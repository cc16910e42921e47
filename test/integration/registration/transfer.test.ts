import assert from 'node:assert/strict'
import { signConsumptionRequest } from '../../../protocols/clearing/consumption.ts'
import { CLEARING_PROTOCOL, consumptionResponse } from '../../../protocols/clearing/index.ts'
import { parseMessage } from '../../../protocols/messages.ts'
import { peerIdOfKey } from '../../../protocols/peers.ts'
import { decodeRecordAs, type SignedRecord } from '../../../protocols/records/envelope.ts'
import { requestTransfer } from '../../../protocols/register/client.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import { MemorySink } from '../../../roles/player/index.ts'
import { waitUntil } from '../../helpers/wait.ts'
import {
  announce,
  licenceFor,
  type PackagedTrack,
  type PlayerNode,
  packageTrack,
  startPlayer,
  startWorld,
  type World,
} from '../player/world.ts'

/**
 * Licence transfer (issue 19, decision 0606) with real nodes: a real registrar, clearinghouse and players on the
 * memory transport. The giver plays once, then moves the purchase to another account: its licences are revoked, the
 * receiver's device fetches its own licence starting from the use already consumed, and the move happens once.
 */
describe('registration: a licence transferred to another account', function () {
  this.timeout(180_000)
  let world: World
  let giver: PlayerNode
  let receiver: PlayerNode
  let track: PackagedTrack

  before(async () => {
    world = await startWorld()
    giver = await startPlayer(world)
    receiver = await startPlayer(world)
    track = await packageTrack(world, 'GBAYE2611019')
    await announce(giver, track)
    await announce(receiver, track)
  })

  after(async () => {
    await world?.stop()
  })

  /** A device's `consumption` request, with the transfer that made its account the purchase's holder. */
  async function consumption(p: PlayerNode, purchaseId: string, transfer?: SignedRecord<'consort/transfer'>) {
    const device = p.node.credentials.device()!
    const request = signConsumptionRequest(
      {
        network: world.net.name,
        device: device.body.device,
        purchaseId,
        requestId: `c-${world.clock.now()}-${Math.random().toString(36).slice(2)}`,
        created: world.clock.now(),
      },
      p.node.keys.signer,
      device.bytes,
    )
    const response = await rpcCall(
      p.node.libp2p,
      peerIdOfKey(world.keys.clearinghouse.signer.publicKey),
      p.node.network.protocol(CLEARING_PROTOCOL),
      'consumption',
      { ...request, ...(transfer !== undefined ? { transfer: transfer.bytes } : {}) },
    )
    const { consumption: bytes } = parseMessage(consumptionResponse, response, 'response')
    return decodeRecordAs('consort/consumption', bytes, {
      network: world.net.name,
      now: world.clock.now(),
      caps: p.node.network.caps,
    })
  }

  it('moves the purchase once: one holder, the uses travel with it, the giver keeps nothing', async () => {
    const { purchaseId, licence } = await licenceFor(world, giver, track, { plays: 5, transfer: true })
    await giver.role.play(track.isrc, { sink: new MemorySink(), seconds: 5 })
    world.clock.advance(6_000)
    const flushed = await giver.role.flushUsage()
    assert.equal(flushed.pendingReports, 0, JSON.stringify(flushed))

    const used = await consumption(giver, purchaseId)
    assert.equal(used.body.plays, 1)
    const ask = (transferId: string) =>
      requestTransfer(giver.node.libp2p, giver.node.network, {
        transferId,
        purchaseId,
        to: receiver.account.signer.publicKey,
        account: giver.account.signer,
        consumption: [used],
        now: world.clock.now(),
      })
    const [a, b] = await Promise.all([ask('gift-1'), ask('gift-1')])
    assert.ok(a.transfer.id.equals(b.transfer.id), 'the same request answers the same transfer')
    assert.equal(a.transfer.body.seq, 1)
    assert.deepEqual(
      a.revocation.body.targets.map((t) => t.id.toString()),
      [licence.id.toString()],
    )
    assert.equal(a.transfer.body.used.plays, 1)
    // The giver no longer holds it: a second transfer is refused, and so is a licence fetched again.
    await assert.rejects(ask('gift-2'), { code: 'ERR_NOT_HOLDER' })
    await assert.rejects(giver.role.fetchLicence(purchaseId))
    // The giver's licence is revoked on its player: it plays no more.
    await waitUntil(() => giver.role.licences().find((l) => l.purchaseId === purchaseId)?.revoked === true, {
      message: 'the revocation reaches the giver',
    })
    await assert.rejects(giver.role.play(track.isrc, { sink: new MemorySink() }), { name: 'LicenceRevokedError' })

    // The clearinghouse learns the new holder with the revocation's gossip (or from the transfer shown to it).
    const travelled = await consumption(receiver, purchaseId, a.transfer)
    assert.equal(travelled.body.plays, 1, 'the play the giver made travels with the purchase')
    await waitUntil(
      async () =>
        consumption(receiver, purchaseId).then(
          () => true,
          () => false,
        ),
      { message: 'the clearinghouse learns the transfer from the revocations topic' },
    )
    // The receiver's player notices the transfer by itself (the revocation's gossip carries it) and fetches its
    // licence, showing the transfer to the clearinghouse, whether or not that has seen the gossip yet.
    await waitUntil(() => receiver.role.library.licences.get(purchaseId) !== undefined, {
      message: "the receiver's player fetches its licence by itself",
    })
    const auto = receiver.role.library.licences.get(purchaseId)!.record
    assert.deepEqual(auto.body.account, receiver.account.signer.publicKey)
    assert.equal(auto.body.used?.plays, 1)
    // Fetched again as for any purchase of its account: the real reissue path answers the same.
    const view = await receiver.role.fetchLicence(purchaseId)
    const received = receiver.role.library.licences.get(purchaseId)!.record
    assert.deepEqual(received.body.account, receiver.account.signer.publicKey)
    assert.deepEqual(received.body.device, receiver.node.credentials.device()!.body.device)
    assert.equal(received.body.used?.plays, 1)
    assert.equal(view.remaining.plays, 4, 'four of five plays left: no double use')
    await receiver.role.play(track.isrc, { sink: new MemorySink(), seconds: 5 })
    world.clock.advance(6_000)
    // Now the giver's old consumption is refused: the purchase is the receiver's.
    await assert.rejects(consumption(giver, purchaseId), { code: 'ERR_UNAUTHORISED' })
  })

  it('refuses a transfer the usage rules do not allow, and one signed by another account', async () => {
    const { purchaseId } = await licenceFor(world, giver, track, { plays: 5 })
    const used = await consumption(giver, purchaseId)
    await assert.rejects(
      requestTransfer(giver.node.libp2p, giver.node.network, {
        transferId: 'not-allowed-1',
        purchaseId,
        to: receiver.account.signer.publicKey,
        account: giver.account.signer,
        consumption: [used],
        now: world.clock.now(),
      }),
      { code: 'ERR_TRANSFER_NOT_ALLOWED' },
    )
    await assert.rejects(
      requestTransfer(receiver.node.libp2p, receiver.node.network, {
        transferId: 'stolen-1',
        purchaseId,
        to: receiver.account.signer.publicKey,
        account: receiver.account.signer,
        consumption: [used],
        now: world.clock.now(),
      }),
      { code: 'ERR_NOT_HOLDER' },
    )
  })

  it('a gift: bought for another account, it plays on the receiver’s device only, whatever its transfer rule', async () => {
    const giftee = await startPlayer(world)
    await announce(giftee, track)
    // Rules without transfer: a plain transfer is refused, the gift of an unused purchase is not.
    const { purchaseId } = await licenceFor(world, giver, track, { plays: 3 })
    const used = await consumption(giver, purchaseId)
    const give = (transferId: string, gift: boolean) =>
      requestTransfer(giver.node.libp2p, giver.node.network, {
        transferId,
        purchaseId,
        to: giftee.account.signer.publicKey,
        account: giver.account.signer,
        consumption: [used],
        now: world.clock.now(),
        ...(gift ? { gift: true } : {}),
      })
    await assert.rejects(give('plain-1', false), { code: 'ERR_TRANSFER_NOT_ALLOWED' })
    const gift = await give(`gift:${purchaseId}`, true)
    assert.equal(gift.transfer.body.used.plays, 0)
    await waitUntil(() => giver.role.licences().find((l) => l.purchaseId === purchaseId)?.revoked === true)
    assert.equal(giver.role.licences().find((l) => l.purchaseId === purchaseId)?.playable, false)
    const view = await giftee.role.fetchLicence(purchaseId)
    assert.equal(view.remaining.plays, 3)
    const played = await giftee.role.play(track.isrc, { sink: new MemorySink(), seconds: 2 })
    assert.equal(played.mode, 'licensed')
    // Given once: the receiver cannot pass it on as a gift (nor, under these rules, as a transfer).
    world.clock.advance(3_000)
    const theirs = await consumption(giftee, purchaseId)
    await assert.rejects(
      requestTransfer(giftee.node.libp2p, giftee.node.network, {
        transferId: `gift-again:${purchaseId}`,
        purchaseId,
        to: receiver.account.signer.publicKey,
        account: giftee.account.signer,
        consumption: [theirs],
        now: world.clock.now(),
        gift: true,
      }),
      { code: 'ERR_TRANSFER_NOT_ALLOWED' },
    )
  })
})
