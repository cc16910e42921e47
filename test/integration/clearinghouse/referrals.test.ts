import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { signAccountRequest } from '../../../protocols/clearing/account.ts'
import {
  type AccountRequestFields,
  CLEARING_OPS,
  CLEARING_PROTOCOL,
  statementResponse,
} from '../../../protocols/clearing/index.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { parseMessage } from '../../../protocols/messages.ts'
import { peerIdOfKey } from '../../../protocols/peers.ts'
import {
  buyResponse,
  PURCHASE_DEADLINE_MS,
  PURCHASE_OPS,
  PURCHASE_PROTOCOL,
  signPurchaseOrder,
} from '../../../protocols/purchase/index.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import { createShare, decodeShareLink, encodeShareLink } from '../../../protocols/share/index.ts'
import { accountIdOf, retailerParticipant, walletParticipant } from '../../../roles/clearinghouse/index.ts'
import { SAMPLE_ISRC } from '../../../roles/production/index.ts'
import { startChainWorld } from '../../helpers/chain-world.ts'
import type { TestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'
import { publishSampleDownloadContract } from '../../helpers/sample-contract.ts'
import { waitUntil } from '../../helpers/wait.ts'

const DAY = 24 * 3600_000
const REFERRAL_BPS = 1000
const PRICE = 250n

/**
 * Share and refer with every service real on the memory transport (issue 19, decision 0512): a label publishes the
 * sample release and a version of its download contract with a referral clause (10 % of the price, from the
 * retailer's margin, to consumers); a retailer sells it; a friend shares the track; a buyer buys through the share,
 * its signed order carrying it, over `purchase/1` to the retailer, which has the clearinghouse authorise and capture
 * and the registrar license. The friend reads its statement over `clearing/1` and finds the credit, to the cent.
 * Then what a buyer or a third party could try — a forged share, an altered one, the same share again, an expired
 * one, the buyer referring itself, a share of other content — each buys the track and credits no one.
 */
describe('clearinghouse: a sale through a share credits its referrer (real retailer, clearinghouse, registrar)', function () {
  this.timeout(240_000)
  const clock = new FakeClock(Date.UTC(2026, 11, 7, 9))
  const nodes: ConsortNode[] = []
  let keys: Record<
    'registrar' | 'reference' | 'clearinghouse' | 'label' | 'retailer' | 'listener' | 'account',
    NodeKeys
  >
  let friend: NodeKeys
  let net: TestNetwork
  let house: ConsortNode
  let listener: ConsortNode
  let retailer: ConsortNode
  let device: SignedRecord<'consort/device'>
  let offer: SignedRecord<'consort/offer'>
  let certification: SignedRecord<'consort/certification'>
  let manifest: SignedRecord<'consort/manifest'>
  let margin: bigint
  let purchases = 0

  before(async () => {
    const world = await startChainWorld({ clock })
    nodes.push(...world.nodes)
    const you = world.listeners.get('listener')!
    const shop0 = world.retailers.get('retailer')!
    keys = { ...world.keys, retailer: shop0.keys, listener: you.keys, account: you.account }
    friend = await createNodeKeys()
    net = world.net
    house = world.house
    listener = you.node
    retailer = shop0.node
    const { reference, label } = world
    device = await listener.role('player').ensureDevice()

    // The sample release, and a version of its download contract that credits referrals.
    const contract = await publishSampleDownloadContract(
      { clock, label, labelKeys: keys.label, retailers: [retailer], reference, house },
      { referral: { bps: REFERRAL_BPS, from: 'retailer', referrers: ['account', 'retailer'] } },
    )
    const shop = retailer.role('retailer')
    const created = await shop.offers.create({
      offerId: 'first-light-download',
      content: contract.body.content,
      contract: contract.id.toString(),
      price: { amount: PRICE, currency: 'EUR' },
      useType: 'PermanentDownload',
      rules: {},
      territories: ['Worldwide'],
    })
    assert.equal(created.status, 'certified', JSON.stringify(created.failures))
    const player = listener.role('player')
    await waitUntil(() => player.directory.manifestFor(SAMPLE_ISRC) !== undefined)
    manifest = player.directory.manifestFor(SAMPLE_ISRC)! as SignedRecord<'consort/manifest'>
    const records = await shop.offers.records('first-light-download')
    offer = records.offer
    certification = records.certification!
    // The retailer's margin on one sale: price − the network's fee − the contract's wholesale price.
    const fee = (PRICE * BigInt(net.record.body.policy.clearingFeeBps)) / 10_000n
    const wholesale = contract.body.wholesale.find((w) => w.currency === 'EUR' && w.per === 'unit')!.amount
    margin = PRICE - fee - wholesale
    assert.ok((PRICE * BigInt(REFERRAL_BPS)) / 10_000n < margin, 'the margin covers the credit')
    await account(keys.account, 'fund', { amount: 100_000n, currency: 'EUR', paymentToken: 'test-card' })
  })

  after(async () => {
    await stopAll(nodes)
  })

  /** An account request over `clearing/1`, signed by `who`. */
  async function account(who: NodeKeys, op: 'fund' | 'statement', fields: Partial<AccountRequestFields>) {
    const request = signAccountRequest(
      {
        network: listener.network.name,
        account: who.signer.publicKey,
        op,
        amount: null,
        currency: null,
        paymentToken: null,
        period: null,
        requestId: `${op}-${clock.now()}-${Math.random()}`,
        created: clock.now(),
        ...fields,
      } as AccountRequestFields,
      who.signer,
    )
    return rpcCall(
      listener.libp2p,
      peerIdOfKey(keys.clearinghouse.signer.publicKey),
      listener.network.protocol(CLEARING_PROTOCOL),
      CLEARING_OPS[op],
      request,
    )
  }

  function share(
    referrer: NodeKeys = friend,
    options: { track?: string; kind?: 'account' | 'retailer'; now?: number } = {},
  ): SignedRecord<'consort/share'> {
    return createShare(
      {
        network: listener.network.name,
        content: { track: options.track ?? `isrc:${SAMPLE_ISRC}`, release: null, manifest: manifest.id },
        kind: options.kind ?? 'account',
        offer: offer.body.offerId,
        now: options.now ?? clock.now(),
        ttlMs: 7 * DAY,
      },
      referrer.signer,
    )
  }

  /** The buyer buys the offer from the retailer over `purchase/1`, its signed order carrying `shareBytes`. */
  async function buy(shareBytes: Uint8Array | undefined, purchaseId = `purchase-${++purchases}`): Promise<string> {
    const order = signPurchaseOrder(
      {
        network: listener.network.name,
        purchaseId,
        offer: offer.id,
        certification: certification.id,
        retailer: offer.signer,
        clearinghouse: keys.clearinghouse.signer.publicKey,
        account: keys.account.signer.publicKey,
        device: keys.listener.signer.publicKey,
        price: offer.body.price,
        territory: 'Worldwide',
        created: clock.now(),
        ...(shareBytes === undefined ? {} : { share: shareBytes }),
      },
      keys.account.signer,
    )
    const answer = parseMessage(
      buyResponse,
      await rpcCall(
        listener.libp2p,
        retailer.peerId,
        listener.network.protocol(PURCHASE_PROTOCOL),
        PURCHASE_OPS.buy,
        { order, device: device.bytes },
        { deadlineMs: PURCHASE_DEADLINE_MS },
      ),
      'response',
    )
    const licence = decodeRecordAs('consort/licence', answer.licence, {
      network: listener.network.name,
      now: clock.now(),
    })
    assert.equal(licence.body.purchaseId, purchaseId, 'the sale went through: a licence for it')
    return purchaseId
  }

  const engine = () => house.role('clearinghouse').engine
  async function balance(participant: string): Promise<bigint> {
    const id = accountIdOf(participant, 'EUR')
    if ((await engine().ledger.getAccount(id)) === undefined) return 0n
    const b = await engine().ledger.balance(id)
    return b.creditsPosted - b.debitsPosted
  }

  /** The referral lines of `who`'s statement for this month, read over `clearing/1` and checked as signed. */
  async function referralLines(who: NodeKeys) {
    const period = new Date(clock.now()).toISOString().slice(0, 7)
    const { statements } = parseMessage(statementResponse, await account(who, 'statement', { period }), 'response')
    return statements
      .map((bytes) => decodeRecordAs('consort/statement', bytes, { network: listener.network.name, now: clock.now() }))
      .flatMap((s) => s.body.lines)
      .filter((l) => l.kind === 'referral')
  }

  it("credits the referrer ⌊price × 10 %⌋ from the retailer's margin, on its signed statement to the cent", async () => {
    // The link a person passes on, read back as the recipient's player would.
    const link = encodeShareLink(share())
    const opened = decodeShareLink(link, { network: listener.network.name, now: clock.now() })
    const walletBefore = await balance(walletParticipant(keys.account.signer.publicKey))
    const purchaseId = await buy(opened.bytes)
    const credit = (PRICE * BigInt(REFERRAL_BPS)) / 10_000n
    assert.equal(credit, 25n)
    const lines = await referralLines(friend)
    assert.deepEqual(
      lines.map((l) => [l.ref, l.amount, l.counterparty]),
      [[purchaseId, credit, retailerParticipant(keys.retailer.signer.publicKey)]],
    )
    assert.equal(await balance(walletParticipant(friend.signer.publicKey)), credit)
    assert.equal(await balance(walletParticipant(keys.account.signer.publicKey)), walletBefore - PRICE, 'full price')
    // The retailer's statement shows what it paid for the referral.
    const paid = (await referralLines(keys.retailer)).filter((l) => l.ref === purchaseId)
    assert.deepEqual(
      paid.map((l) => l.amount),
      [-credit],
    )
    // The same purchase asked again (a retry after a timeout) credits nothing more.
    await buy(opened.bytes, purchaseId)
    assert.equal(await balance(walletParticipant(friend.signer.publicKey)), credit)
    const audit = await engine().audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('a forged, altered, replayed, expired, self-referred or off-content share sells the track and credits no one', async () => {
    const friendBefore = await balance(walletParticipant(friend.signer.publicKey))
    const buyerBefore = await balance(walletParticipant(keys.account.signer.publicKey))
    const mallory = await createNodeKeys()
    const cases: Array<[string, Uint8Array]> = []
    cases.push(['bad-signature', signRecord('consort/share', { ...share().body, id: 'forged' }, mallory.signer).bytes])
    const envelope = dagCbor.decode(share().bytes) as { body: { expires: number } }
    envelope.body.expires += DAY
    cases.push(['bad-signature', dagCbor.encode(envelope)])
    const used = share()
    await buy(used.bytes)
    const afterFirst = await balance(walletParticipant(friend.signer.publicKey))
    assert.equal(afterFirst - friendBefore, 25n, 'the share credits its first purchase by this buyer')
    cases.push(['replayed', used.bytes])
    cases.push(['expired', share(friend, { now: clock.now() - 8 * DAY }).bytes])
    cases.push(['self-referral', share(keys.account).bytes])
    cases.push(['other-content', share(friend, { track: 'isrc:GBAYE0601498' }).bytes])
    for (const [reason, bytes] of cases) {
      const purchaseId = await buy(bytes)
      const verdict = await engine().referrals.verdict(purchaseId)
      assert.equal(verdict?.reason, reason, `${purchaseId}: ${verdict?.detail}`)
    }
    assert.equal(await balance(walletParticipant(friend.signer.publicKey)), afterFirst, 'no credit from any of them')
    assert.equal(await balance(walletParticipant(keys.account.signer.publicKey)), buyerBefore - 7n * PRICE)
    // Nothing of them on any statement: the friend's referral lines are its two credits.
    assert.equal((await referralLines(friend)).length, 2)
    const audit = await engine().audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })
})
