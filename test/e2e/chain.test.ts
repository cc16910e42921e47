import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import type { ConsortNode } from '../../node/consort-node.ts'
import { signAccountRequest } from '../../protocols/clearing/account.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL, fundResponse } from '../../protocols/clearing/index.ts'
import { FakeClock } from '../../protocols/clock.ts'
import { isError } from '../../protocols/errors.ts'
import { toJson } from '../../protocols/json.ts'
import { parseMessage } from '../../protocols/messages.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import type { RoleName } from '../../protocols/records/types/common.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { topicString } from '../../protocols/topics/names.ts'
import { AUTHORISATION_TTL_MS } from '../../roles/clearinghouse/constants.ts'
import {
  accountIdOf,
  type ClearinghouseRole,
  distributorParticipant,
  externalParticipant,
  feeParticipant,
  retailerParticipant,
  rightsholderParticipant,
  TEST_GATEWAY_NAME,
  walletParticipant,
} from '../../roles/clearinghouse/index.ts'
import { MemorySink, type PlayerRole, PurchasePendingError } from '../../roles/player/index.ts'
import { SAMPLE_ISRC, SAMPLE_UPC } from '../../roles/production/index.ts'
import { fixturePath } from '../fixtures.ts'
import { createTestNetwork } from '../helpers/network.ts'
import { connectMesh, startMemoryNode, stopAll, waitForTopicPeers } from '../helpers/nodes.ts'
import { waitUntil } from '../helpers/wait.ts'

/**
 * The whole chain with real nodes in one process on the memory transport, every role real: a label publishes the
 * sample release (the real FLAC fixture) → its deals become contracts → a retailer writes offers within them → the
 * reference service certifies them → a listener lists and buys one (signed with its account key) → the registrar
 * issues the licence → the clearinghouse captures and splits the payment → the listener fetches the segments from
 * the swarm and plays them → usage reports reach the clearinghouse → the plays settle. Every ledger account's
 * balance is then asserted to the cent.
 */
describe('e2e: publish → contract → offer → certify → buy → fetch → play → report → settle', function () {
  this.timeout(240_000)
  const clock = new FakeClock(Date.UTC(2026, 10, 2, 9))
  const nodes: ConsortNode[] = []
  let dir: string
  let keys: Record<
    'registrar' | 'reference' | 'clearinghouse' | 'label' | 'retailer' | 'listener' | 'account',
    NodeKeys
  >
  let label: ConsortNode
  let retailer: ConsortNode
  let reference: ConsortNode
  let house: ConsortNode
  let listener: ConsortNode
  let player: PlayerRole
  let offerRef: string
  let net: Awaited<ReturnType<typeof createTestNetwork>>

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'consort-e2e-'))
    keys = {
      registrar: await createNodeKeys(),
      reference: await createNodeKeys(),
      clearinghouse: await createNodeKeys(),
      label: await createNodeKeys(),
      retailer: await createNodeKeys(),
      listener: await createNodeKeys(),
      account: await createNodeKeys(),
    }
    net = await createTestNetwork(clock, {
      registrar: keys.registrar,
      references: [keys.reference],
      clearinghouses: [keys.clearinghouse],
    })
    const start = async (name: keyof typeof keys, roles: RoleName[], roleOptions = {}) => {
      const node = await startMemoryNode({ network: net, clock, keys: keys[name], roles, roleOptions })
      nodes.push(node)
      return node
    }
    await start('registrar', ['registration'])
    reference = await start('reference', ['reference'])
    house = await start('clearinghouse', ['clearinghouse'], { clearinghouse: { sync: false } })
    label = await start('label', ['production', 'delivery'], { production: { segmentSize: 16 * 1024 } })
    retailer = await start('retailer', ['retailer'], { retailer: { renewCheckIntervalMs: 0 } })
    listener = await startMemoryNode({
      network: net,
      clock,
      keys: keys.listener,
      roles: ['player'],
      certRoles: [],
      roleOptions: { player: { account: keys.account, flushIntervalMs: 0 } },
    })
    nodes.push(listener)
    await connectMesh(nodes, 3)
    for (const topic of ['catalog', 'contracts', 'offers', 'revocations', 'usage'] as const) {
      const followers = topic === 'catalog' || topic === 'usage' ? [listener] : [reference, retailer]
      await waitForTopicPeers(followers, topicString(net.name, topic))
    }
    player = listener.role('player')
    await player.ensureDevice()
  })

  after(async () => {
    await stopAll(nodes)
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('runs the chain and settles every cent', async () => {
    // 1. The label publishes the sample release: the real one-second FLAC, a download deal and a per-play deal.
    const production = label.role('production')
    const published = await production.publishSample({ audioFile: fixturePath('audio', 'sample-84k.flac') })
    const release = published.releases[0]!
    assert.equal(release.action, 'new')
    const track = release.tracks[0]!
    assert.equal(track.isrc, SAMPLE_ISRC)
    assert.equal(track.synthesized, false)
    const contractOf = (id: string) => release.contracts.find((c) => c.contractId.endsWith(id))!
    const download = contractOf('download')
    const stream = contractOf('stream')
    assert.ok(download !== undefined && stream !== undefined, JSON.stringify(release.contracts))

    // 2. The contracts reach the reference service and the retailer; the listener learns the release.
    const referenceRole = reference.role('reference')
    const shop = retailer.role('retailer')
    for (const c of [download, stream]) {
      await waitUntil(async () => (await referenceRole.store.contractByCid(c.record)) != null)
      await waitUntil(async () => (await shop.store.contractByCid(c.record)) != null)
    }
    await waitUntil(() => player.directory.manifestFor(SAMPLE_ISRC) !== undefined, {
      message: 'the listener knows the track',
    })

    // 3. The retailer offers the release for streaming under the per-play contract (10 plays); the reference
    //    certifies. The listener finds it by the track: offers of the releases that list a track are listed too.
    const streamContract = (await shop.store.contractByCid(stream.record))!
    const offer = await shop.offers.create({
      offerId: 'first-light-stream',
      content: streamContract.body.content,
      contract: stream.record.toString(),
      price: { amount: 99n, currency: 'EUR' },
      useType: 'OnDemandStream',
      // Within the sample stream deal's bounds (decision 0307): no exports or burns, offline at most 30 days.
      rules: { plays: 10, export: 0, burn: 0, offline: 30 },
      territories: ['Worldwide'],
    })
    assert.equal(offer.status, 'certified', JSON.stringify(offer.failures))

    // 4. The listener funds its wallet through the clearinghouse's test gateway, lists the offers and buys.
    const funded = await fund(10_00n)
    assert.equal(funded.balance.available, 10_00n)
    const market = await player.offers(`isrc:${SAMPLE_ISRC}`)
    const listed = market.offers.find((o) => o.offerId === 'first-light-stream')
    assert.ok(listed !== undefined, toJson(market))
    assert.equal(listed.priceText, '0.99 EUR')
    assert.ok(listed.rules.includes('10 plays'))
    offerRef = listed.offer
    const bought = await player.buy(listed.offer)
    assert.equal(bought.attempts, 1)
    const licence = player.licences().find((l) => l.purchaseId === bought.purchaseId)!
    assert.equal(licence.remaining.plays, 10)

    // 5. Fetch and play twice (the first from the swarm, the second from the blocks the player now holds), to a file.
    const out = path.join(dir, 'first-light.flac')
    const first = await player.play(SAMPLE_ISRC, { out })
    assert.equal(first.mode, 'licensed')
    assert.equal(first.stopped, 'end')
    const original = new Uint8Array(await readFile(fixturePath('audio', 'sample-84k.flac')))
    assert.deepEqual(new Uint8Array(await readFile(out)), original, 'the decrypted audio is the published file')
    clock.advance(5_000)
    await player.play(SAMPLE_ISRC, { sink: new MemorySink() })
    clock.advance(5_000)
    assert.equal(player.licences()[0]!.remaining.plays, 8)

    // 6. The usage reports reach the clearinghouse, which settles both plays.
    const role = house.role('clearinghouse')
    const flushed = await player.flushUsage()
    assert.equal(flushed.pendingReports, 0, JSON.stringify(flushed))
    await waitUntil(() => role.engine.ingest.pending === 0)
    assert.equal(role.engine.ingest.stats.playsSettled, 2)
    assert.equal(role.engine.ingest.stats.playsHeld, 0)

    // 7. Every account of the ledger, to the cent. Fee: 300 bps of each amount, rounded down.
    //    Sale 0.99: wallet −0.99; the retailer receives 0.99 and pays the clearing fee 0.02 (3 % of 99 = 2.97 → 2);
    //    the per-play contract has no unit price, so no wholesale moves at the sale.
    //    Each play: the retailer pays 0.01 to the distributor (fee 3 % of 1 = 0.03 → 0), which passes it on to the
    //    release's one rights holder (100 %).
    const eur = (participant: string) => balanceOf(role, participant, 'EUR')
    assert.equal(streamContract.body.splits.length, 1, toJson(streamContract.body.splits))
    const party = rightsholderParticipant(streamContract.body.splits[0]!.party)
    const balances = {
      gateway: await eur(externalParticipant(TEST_GATEWAY_NAME)),
      wallet: await eur(walletParticipant(keys.account.signer.publicKey)),
      retailer: await eur(retailerParticipant(keys.retailer.signer.publicKey)),
      distributor: await eur(distributorParticipant(keys.label.signer.publicKey)),
      rightsholder: await eur(party),
      fee: await eur(feeParticipant(keys.clearinghouse.signer.publicKey)),
      holding: await balanceById(
        role,
        `holding:${Buffer.from(keys.clearinghouse.signer.publicKey).toString('hex')}:EUR`,
      ),
    }
    assert.deepEqual(balances, {
      gateway: -10_00n,
      wallet: 10_00n - 99n,
      retailer: 99n - 2n - 2n,
      distributor: 0n,
      rightsholder: 2n,
      fee: 2n,
      holding: 0n,
    })
    assert.equal(
      Object.values(balances).reduce((a, b) => a + b, 0n),
      0n,
      'debits equal credits',
    )
    // …and no other account holds anything: every account any transfer touched is one of the above.
    const touched = new Set<string>()
    for (let after = 0; ; ) {
      const page = await role.engine.ledger.transfers({ after, limit: 100 })
      for (const t of page.transfers) touched.add(t.debitAccountId).add(t.creditAccountId)
      if (page.next === null) break
      after = page.next
    }
    const named = new Set([
      accountIdOf(externalParticipant(TEST_GATEWAY_NAME), 'EUR'),
      accountIdOf(walletParticipant(keys.account.signer.publicKey), 'EUR'),
      accountIdOf(retailerParticipant(keys.retailer.signer.publicKey), 'EUR'),
      accountIdOf(distributorParticipant(keys.label.signer.publicKey), 'EUR'),
      accountIdOf(party, 'EUR'),
      accountIdOf(feeParticipant(keys.clearinghouse.signer.publicKey), 'EUR'),
      `holding:${Buffer.from(keys.clearinghouse.signer.publicKey).toString('hex')}:EUR`,
    ])
    for (const id of touched) assert.ok(named.has(id), `account ${id} was not expected to move`)
    assert.deepEqual(await role.engine.ledger.audit(), [])
  })

  it('a purchase submitted twice (at once, and again after the retailer did not answer) gives one licence and one charge', async () => {
    const role = house.role('clearinghouse')
    const wallet = () => balanceOf(role, walletParticipant(keys.account.signer.publicKey), 'EUR')
    const before = await wallet()
    const licences = player.licences().length
    const [a, b] = await Promise.all([player.buy(offerRef), player.buy(offerRef)])
    assert.equal(a.purchaseId, b.purchaseId)
    assert.equal(a.licence, b.licence)
    assert.equal(await wallet(), before - 99n)
    assert.equal(player.licences().length, licences + 1)

    // a retailer that does not answer: the purchase stays pending, and buying again resumes it (same purchase id)
    const shop = retailer.role('retailer')
    await shop.stop()
    // (bought again on purpose: the stream pass just bought gives as much, which a buy refuses without `again`)
    const pending = await player.buy(offerRef, { attempts: 2, again: true }).catch((err: unknown) => err)
    assert.ok(isError(pending, PurchasePendingError), String(pending))
    await shop.start()
    const resumed = await player.buy(offerRef, { again: true })
    assert.equal(resumed.purchaseId, pending.purchaseId)
    assert.equal(await wallet(), before - 2n * 99n)
    assert.equal(player.licences().length, licences + 2)
    assert.notEqual(resumed.purchaseId, a.purchaseId)

    // a caller's own idempotency key (a checkout token): the second call answers the first purchase
    const once = await player.buy(offerRef, { purchaseId: 'checkout-42', again: true })
    const twice = await player.buy(offerRef, { purchaseId: 'checkout-42' })
    assert.equal(twice.licence, once.licence)
    assert.equal(twice.attempts, 0)
    assert.equal(await wallet(), before - 3n * 99n)
    assert.deepEqual(await role.engine.ledger.audit(), [])
  })

  it('a revoked device gets no licence and is not charged', async () => {
    const role = house.role('clearinghouse')
    const wallet = () => balanceOf(role, walletParticipant(keys.account.signer.publicKey), 'EUR')
    const tablet = await startMemoryNode({
      network: net,
      clock,
      roles: ['player'],
      certRoles: [],
      roleOptions: { player: { account: keys.account, flushIntervalMs: 0 } },
    })
    nodes.push(tablet)
    await connectMesh(nodes, 3)
    const second = tablet.role('player')
    await second.ensureDevice()
    await second.offers(`isrc:${SAMPLE_ISRC}`)
    const registration = nodes[0]!.role('registration')
    await registration.registrar.revoke('device', Buffer.from(tablet.keys.signer.publicKey).toString('hex'), 'stolen')
    const before = await wallet()
    await assert.rejects(second.buy(offerRef), /ERR_DEVICE_REVOKED|ERR_LICENCE_REFUSED/)
    assert.equal(await wallet(), before, 'nothing charged (or, after the capture, refunded)')
    assert.equal(second.licences().length, 0)
    assert.deepEqual(await role.engine.ledger.audit(), [])
  })

  it('a purchase whose authorisation lapses before its capture charges nothing, and no licence is ever issued', async () => {
    const role = house.role('clearinghouse')
    const wallet = () => balanceOf(role, walletParticipant(keys.account.signer.publicKey), 'EUR')
    const before = await wallet()
    const licences = player.licences().length
    const shop = retailer.role('retailer')
    // Once the receipt is signed, time runs past the authorisation's lifetime: the capture is refused.
    const expire = (event: Event) => {
      if ((event as CustomEvent<{ state: string }>).detail.state === 'receipted')
        clock.advance(AUTHORISATION_TTL_MS * 2)
    }
    shop.purchases.addEventListener('purchase', expire)
    const refused = await player
      .buy(offerRef, { purchaseId: 'capture-refused', again: true })
      .catch((err: unknown) => err)
    shop.purchases.removeEventListener('purchase', expire)
    assert.match(String(refused), /ERR_PAYMENT_REFUSED|expired/)
    assert.equal(await wallet(), before, 'nothing charged')
    assert.equal(player.licences().length, licences, 'the player got no licence')
    assert.equal((await shop.purchases.status('capture-refused'))?.state, 'voided')
    const registration = nodes[0]!.role('registration')
    assert.deepEqual(await registration.registrar.licences.licencesOf('capture-refused'), [], 'money before keys')
    assert.deepEqual(await role.engine.ledger.audit(), [])
  })

  it('finding 5: buying what the account already holds under a licence as wide is refused, and charged only with again', async () => {
    const role = house.role('clearinghouse')
    const wallet = () => balanceOf(role, walletParticipant(keys.account.signer.publicKey), 'EUR')
    const shop = retailer.role('retailer')
    const download = (await shop.store.contracts(100)).find((c) => c.body.useTypes.includes('PermanentDownload'))!
    const view = await shop.offers.create({
      offerId: 'first-light-download',
      content: download.body.content,
      contract: download.id.toString(),
      price: { amount: 97n, currency: 'EUR' },
      useType: 'PermanentDownload',
      rules: {},
      territories: ['Worldwide'],
    })
    assert.equal(view.status, 'certified', JSON.stringify(view.failures))
    const market = await player.offers(`isrc:${SAMPLE_ISRC}`)
    const toKeep = market.offers.find((o) => o.offerId === 'first-light-download')!
    const stream = market.offers.find((o) => o.offerId === 'first-light-stream')!
    await player.buy(toKeep.offer)
    const before = await wallet()
    // The same download again: refused before anything is signed or held, and said why.
    const quote = player.quote(toKeep.offer)
    assert.equal(quote.priceWords, 'ninety-seven euro cents')
    assert.equal(quote.owned.length, 1)
    await assert.rejects(player.buy(toKeep.offer), { code: 'ERR_ALREADY_OWNED' })
    // A 10-play stream of a track the account keeps for good gives nothing more: refused too.
    await assert.rejects(player.buy(stream.offer), { code: 'ERR_ALREADY_OWNED' })
    assert.equal(await wallet(), before, 'nothing charged')
    // Bought again on purpose.
    await player.buy(toKeep.offer, { again: true })
    assert.equal(await wallet(), before - 97n)
  })

  /** Credits minus debits of a participant's account (posted). */
  async function balanceOf(role: ClearinghouseRole, participant: string, currency: string): Promise<bigint> {
    return balanceById(role, accountIdOf(participant, currency))
  }

  async function balanceById(role: ClearinghouseRole, id: string): Promise<bigint> {
    const b = await role.engine.ledger.balance(id)
    assert.equal(b.debitsPending, 0n, `${id} has nothing pending`)
    assert.equal(b.creditsPending, 0n, `${id} has nothing pending`)
    return b.creditsPosted - b.debitsPosted
  }

  async function fund(amount: bigint) {
    const request = signAccountRequest(
      {
        network: listener.network.name,
        account: keys.account.signer.publicKey,
        op: 'fund',
        amount,
        currency: 'EUR',
        paymentToken: 'test-card',
        period: null,
        requestId: 'top-up-1',
        created: clock.now(),
      },
      keys.account.signer,
    )
    const response = await rpcCall(
      listener.libp2p,
      peerIdOfKey(keys.clearinghouse.signer.publicKey),
      listener.network.protocol(CLEARING_PROTOCOL),
      CLEARING_OPS.fund,
      request,
    )
    return parseMessage(fundResponse, response, 'response')
  }
})

void SAMPLE_UPC
