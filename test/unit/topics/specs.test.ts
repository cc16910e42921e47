import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { gridCheckCharacter } from '../../../protocols/identifiers/grid.ts'
import { COUNTRY_CODES } from '../../../protocols/identifiers/territories.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { BodyInput } from '../../../protocols/records/registry.ts'
import { MAX_CONTRACT_CONTENT, MAX_SPLITS } from '../../../protocols/records/types/contract.ts'
import { MAX_OFFER_CONTENT } from '../../../protocols/records/types/offer.ts'
import { MAX_REVOCATION_TARGETS } from '../../../protocols/records/types/revocation.ts'
import { CATALOG_MESSAGE_BYTES, catalogTopic } from '../../../protocols/topics/catalog.ts'
import { CONTRACTS_MESSAGE_BYTES, checkContract, contractsTopic } from '../../../protocols/topics/contracts.ts'
import { TopicMemory } from '../../../protocols/topics/knowledge.ts'
import { encodeGossipMessage } from '../../../protocols/topics/message.ts'
import { TOPIC_NAMES } from '../../../protocols/topics/names.ts'
import { OFFERS_MESSAGE_BYTES, offersTopic } from '../../../protocols/topics/offers.ts'
import { TOPIC_SPECS } from '../../../protocols/topics/registry.ts'
import { REVOCATIONS_MESSAGE_BYTES, revocationsTopic } from '../../../protocols/topics/revocations.ts'
import type { TopicSpec, Verdict } from '../../../protocols/topics/spec.ts'
import { Topic } from '../../../protocols/topics/topic.ts'
import { USAGE_MESSAGE_BYTES, usageTopic } from '../../../protocols/topics/usage.ts'
import { CertificateTrust } from '../../../protocols/trust/trust.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { sampleBodies, sampleRecordCid } from '../../helpers/record-samples.ts'
import { sampleManifestBody } from '../../helpers/records.ts'

const FROM = peerIdFromString('12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq')
const DAY = 24 * 3600_000
/** A text of `n` characters of three UTF-8 bytes each: the most bytes a `text(n)` field can hold. */
const widest = (n: number) => '€'.repeat(n)
const CURRENCIES = ['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'SEK', 'NOK', 'DKK', 'PLN', 'CZK', 'HUF', 'AUD', 'CAD', 'NZD']

/** `n` distinct GRid content ids, the longest kind of content id. */
function grids(n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const body = `A1TESTS${i.toString().padStart(10, '0')}`
    return `grid:${body}${gridCheckCharacter(body)}`
  })
}

/** Every territory once, and every country but one excluded: as many territory bytes as a valid set can carry. */
const territories = ['Worldwide', ...COUNTRY_CODES]
const excludedTerritories = COUNTRY_CODES.slice(1)

/** A verdict as one line: `accept`, or `ignore CODE` / `reject CODE`. */
const line = (verdict: Verdict) => (verdict.result === 'accept' ? 'accept' : `${verdict.result} ${verdict.code}`)

describe('protocols/topics: each topic, one spec', () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 1))
  let net: TestNetwork
  let reference: NodeKeys
  let label: NodeKeys
  let otherLabel: NodeKeys
  let retailer: NodeKeys
  let device: NodeKeys
  let account: NodeKeys
  const certs = new Map<NodeKeys, SignedRecord<'consort/cert'>>()
  let registration: SignedRecord<'consort/device'>

  before(async () => {
    reference = await createNodeKeys()
    net = await createTestNetwork(clock, { references: [reference] })
    label = await createNodeKeys()
    otherLabel = await createNodeKeys()
    retailer = await createNodeKeys()
    device = await createNodeKeys()
    account = await createNodeKeys()
    certs.set(label, net.certify(label, ['production']))
    certs.set(otherLabel, net.certify(otherLabel, ['production']))
    certs.set(retailer, net.certify(retailer, ['retailer']))
    registration = signRecord(
      'consort/device',
      {
        ...sampleBodies(net.name, clock.now())['consort/device'],
        account: account.signer.publicKey,
        device: device.signer.publicKey,
        sealingKey: device.sealing.publicKey,
      },
      net.registrarSigner,
    )
  })

  /** A topic as one node runs it, with its own memory (or a shared one), no subscribers but those a test adds. */
  function topicOf(spec: TopicSpec, memory = new TopicMemory()): Topic {
    return new Topic(spec, {
      network: net.name,
      clock,
      trust: new CertificateTrust(net.record.body, clock),
      memory,
      networkMessageBytes: net.record.body.caps.messageBytes,
    })
  }

  function message(record: SignedRecord, ...attachments: Array<SignedRecord | Uint8Array>): Uint8Array {
    return encodeGossipMessage([record.bytes, ...attachments.map((a) => (a instanceof Uint8Array ? a : a.bytes))])
  }

  /** Bytes that make a message too large: never read, since the size is checked first. */
  const padding = (n: number) => new Uint8Array(Math.max(1, n))

  /** Judge a message and, if it passes, admit it (as the gossip validator does): the verdict as one line. */
  async function verdictOf(topic: Topic, data: Uint8Array): Promise<string> {
    const judged = await topic.judge(data, FROM)
    if (judged.delivery == null) return line(judged.verdict)
    return line(topic.admit(judged.delivery, data.length).verdict)
  }

  let counter = 0
  function contract(signer: NodeKeys, overrides: Partial<BodyInput<'consort/contract'>> = {}) {
    return signRecord(
      'consort/contract',
      {
        ...sampleBodies(net.name, clock.now())['consort/contract'],
        contractId: `contract-${++counter}`,
        distributor: signer.signer.publicKey,
        ...overrides,
      },
      signer.signer,
    )
  }

  function revocation(by: NodeKeys, targets: BodyInput<'consort/revocation'>['targets']) {
    return signRecord(
      'consort/revocation',
      { network: net.name, created: clock.now(), targets, reason: 'test' },
      by.signer,
    )
  }

  function certifiedOffer(overrides: Partial<BodyInput<'consort/offer'>> = {}) {
    const offer = signRecord(
      'consort/offer',
      { ...sampleBodies(net.name, clock.now())['consort/offer'], offerId: `offer-${++counter}`, ...overrides },
      retailer.signer,
    )
    const certification = signRecord(
      'consort/certification',
      {
        network: net.name,
        created: clock.now(),
        offer: offer.id,
        offerId: offer.body.offerId,
        contract: sampleRecordCid('contract'),
        contractId: 'contract-1',
        contractSeq: 0,
        validUntil: clock.now() + DAY,
      },
      reference.signer,
    )
    return { offer, certification }
  }

  describe('the registry and the caps', () => {
    it('names one spec per topic, each with its own record types and a queue that holds its largest message', () => {
      const leads = new Set<string>()
      for (const name of TOPIC_NAMES) {
        const spec = TOPIC_SPECS[name]
        assert.equal(spec.name, name)
        for (const type of spec.leads) {
          assert.ok(!leads.has(type), `${type} leads on two topics`)
          leads.add(type)
        }
        assert.ok(spec.queue.maxBytes >= spec.maxMessageBytes, `${name}: the queue cannot hold its largest message`)
        assert.ok(spec.queue.maxItems >= spec.queue.concurrency, `${name}: more deliveries at once than it holds`)
        assert.ok(spec.maxMessageBytes <= net.record.body.caps.messageBytes, `${name}: above the network's own cap`)
      }
      // The caps differ by what each topic carries.
      assert.ok(OFFERS_MESSAGE_BYTES < REVOCATIONS_MESSAGE_BYTES)
      assert.ok(REVOCATIONS_MESSAGE_BYTES < CONTRACTS_MESSAGE_BYTES)
      assert.ok(CONTRACTS_MESSAGE_BYTES < CATALOG_MESSAGE_BYTES)
      assert.equal(USAGE_MESSAGE_BYTES, CATALOG_MESSAGE_BYTES)
    })

    it('contracts: the largest valid contract travels with its attachments; one byte over the cap does not', async () => {
      const bps = Math.floor(10_000 / MAX_SPLITS)
      const largest = contract(label, {
        contractId: 'x'.repeat(128),
        retailer: retailer.signer.publicKey,
        content: grids(MAX_CONTRACT_CONTENT),
        commercialModel: 'subscription',
        useTypes: ['PermanentDownload', 'ConditionalDownload', 'TetheredDownload', 'OnDemandStream', 'Preview'],
        territories,
        excludedTerritories,
        validUntil: Number.MAX_SAFE_INTEGER,
        wholesale: CURRENCIES.flatMap((currency) =>
          (['unit', 'play'] as const).map((per) => ({ currency, amount: 2n ** 64n - 1n, per })),
        ),
        revenueShareBps: 10_000,
        promotions: {
          minPrice: CURRENCIES.map((currency) => ({ currency, amount: 2n ** 64n - 1n })),
          freeWindows: Array.from({ length: 32 }, (_, i) => ({
            from: Number.MAX_SAFE_INTEGER - 100 - i,
            until: Number.MAX_SAFE_INTEGER - i,
          })),
        },
        splits: Array.from({ length: MAX_SPLITS }, (_, i) => ({
          party: widest(127) + String.fromCharCode(65 + (i % 26)) + String(i),
          key: label.signer.publicKey,
          bps: i === 0 ? 10_000 - bps * (MAX_SPLITS - 1) : bps,
        })).map((s) => ({ ...s, party: s.party.slice(-128) })),
      })
      const data = message(largest, certs.get(label)!, registration)
      assert.ok(data.length <= CONTRACTS_MESSAGE_BYTES, `${data.length} bytes > ${CONTRACTS_MESSAGE_BYTES}`)
      assert.equal(await verdictOf(topicOf(contractsTopic), data), 'accept')
      const over = message(largest, certs.get(label)!, registration, padding(CONTRACTS_MESSAGE_BYTES - data.length + 1))
      assert.ok(over.length > CONTRACTS_MESSAGE_BYTES)
      assert.equal(await verdictOf(topicOf(contractsTopic), over), 'reject ERR_MESSAGE_TOO_LARGE')
    })

    it('offers: the largest valid offer travels with its certification and the retailer credentials', async () => {
      const { offer, certification } = certifiedOffer({
        offerId: 'y'.repeat(128),
        content: grids(MAX_OFFER_CONTENT),
        price: { currency: 'EUR', amount: 2n ** 64n - 1n },
        rules: {
          plays: Number.MAX_SAFE_INTEGER,
          playSeconds: Number.MAX_SAFE_INTEGER,
          notAfter: Number.MAX_SAFE_INTEGER,
          rentalSeconds: Number.MAX_SAFE_INTEGER,
          previewSeconds: Number.MAX_SAFE_INTEGER,
          devices: Number.MAX_SAFE_INTEGER,
          export: Number.MAX_SAFE_INTEGER,
          burn: Number.MAX_SAFE_INTEGER,
          transfer: true,
          offline: Number.MAX_SAFE_INTEGER,
        },
        territories,
        excludedTerritories,
        validUntil: Number.MAX_SAFE_INTEGER,
        promotion: { kind: 'discount', label: widest(128) },
      })
      const data = message(offer, certification, certs.get(retailer)!, registration)
      assert.ok(data.length <= OFFERS_MESSAGE_BYTES, `${data.length} bytes > ${OFFERS_MESSAGE_BYTES}`)
      assert.equal(await verdictOf(topicOf(offersTopic), data), 'accept')
      const over = encodeGossipMessage([offer.bytes, new Uint8Array(OFFERS_MESSAGE_BYTES)])
      assert.equal(await verdictOf(topicOf(offersTopic), over), 'reject ERR_MESSAGE_TOO_LARGE')
    })

    it('revocations: the largest valid revocation travels with the revoker credentials', async () => {
      const largest = signRecord(
        'consort/revocation',
        {
          network: net.name,
          created: clock.now(),
          targets: Array.from({ length: MAX_REVOCATION_TARGETS }, (_, i) => ({
            kind: 'certification' as const,
            id: sampleRecordCid(`certification-${i}`),
          })),
          reason: widest(512),
        },
        reference.signer,
      )
      const data = message(largest, certs.get(retailer)!, registration)
      assert.ok(data.length <= REVOCATIONS_MESSAGE_BYTES, `${data.length} bytes > ${REVOCATIONS_MESSAGE_BYTES}`)
      assert.equal(await verdictOf(topicOf(revocationsTopic), data), 'accept')
      const over = encodeGossipMessage([largest.bytes, new Uint8Array(REVOCATIONS_MESSAGE_BYTES)])
      assert.equal(await verdictOf(topicOf(revocationsTopic), over), 'reject ERR_MESSAGE_TOO_LARGE')
    })

    it("a topic's cap never exceeds the network's", () => {
      const topic = new Topic(catalogTopic, {
        network: net.name,
        clock,
        trust: new CertificateTrust(net.record.body, clock),
        memory: new TopicMemory(),
        networkMessageBytes: 64 * 1024,
      })
      assert.equal(topic.maxMessageBytes, 64 * 1024)
    })
  })

  describe('contracts', () => {
    it('the contract rule: signed by its distributor, covering at least one country', () => {
      assert.equal(line(checkContract(contract(label))), 'accept')
      assert.equal(
        line(checkContract(contract(label, { distributor: otherLabel.signer.publicKey }))),
        'reject ERR_NOT_DISTRIBUTOR',
      )
      assert.equal(
        line(checkContract(contract(label, { territories: ['FR', 'DE'], excludedTerritories: ['DE', 'FR'] }))),
        'reject ERR_CONTRACT_COVERS_NOTHING',
      )
      assert.equal(
        line(
          checkContract(contract(label, { territories: ['Worldwide'], excludedTerritories: COUNTRY_CODES.slice(1) })),
        ),
        'accept',
      )
    })

    it('the sequence rule: newer accepted, older and conflicting ignored, the same again accepted', async () => {
      const topic = topicOf(contractsTopic)
      const cert = certs.get(label)!
      const v1 = contract(label, { contractId: 'versions', seq: 1 })
      assert.equal(await verdictOf(topic, message(v1, cert)), 'accept')
      const v0 = contract(label, { contractId: 'versions', seq: 0 })
      assert.equal(await verdictOf(topic, message(v0, cert)), 'ignore ERR_STALE_SEQUENCE')
      const rival = contract(label, { contractId: 'versions', seq: 1, validUntil: clock.now() + 2 * DAY })
      assert.equal(await verdictOf(topic, message(rival, cert)), 'ignore ERR_CONFLICTING_SEQUENCE')
      assert.equal(await verdictOf(topic, message(v1)), 'accept')
      const v2 = contract(label, { contractId: 'versions', seq: 2 })
      assert.equal(await verdictOf(topic, message(v2, cert)), 'accept')
      // Another distributor's contract of the same id is another contract.
      const theirs = contract(otherLabel, { contractId: 'versions', seq: 0 })
      assert.equal(await verdictOf(topic, message(theirs, certs.get(otherLabel)!)), 'accept')
    })

    it('two versions judged at once: the first admitted is the version, the other is a conflict', async () => {
      const topic = topicOf(contractsTopic)
      const a = contract(label, { contractId: 'race', seq: 3 })
      const b = contract(label, { contractId: 'race', seq: 3, validUntil: clock.now() + 3 * DAY })
      const [ja, jb] = await Promise.all([
        topic.judge(message(a, certs.get(label)!), FROM),
        topic.judge(message(b, certs.get(label)!), FROM),
      ])
      assert.equal(line(ja.verdict), 'accept')
      assert.equal(line(jb.verdict), 'accept', 'neither knew of the other while judged')
      assert.equal(line(topic.admit(ja.delivery!, 1).verdict), 'accept')
      assert.equal(line(topic.admit(jb.delivery!, 1).verdict), 'ignore ERR_CONFLICTING_SEQUENCE')
    })

    it('a subscriber store that knows a newer version makes an older one stale (after a restart, say)', async () => {
      const topic = topicOf(contractsTopic)
      topic.add({ lookups: { latest: () => ({ seq: 7, id: 'the-stored-head' }) }, onMessage: () => {} })
      const old = contract(label, { seq: 6 })
      assert.equal(await verdictOf(topic, message(old, certs.get(label)!)), 'ignore ERR_STALE_SEQUENCE')
    })

    it('ignores a contract revoked by its distributor; a revocation by anyone else does not count', async () => {
      const memory = new TopicMemory()
      const contracts = topicOf(contractsTopic, memory)
      const target = contract(label)
      memory.noteRevocation(revocation(otherLabel, [{ kind: 'contract', id: target.id }]))
      assert.equal(await verdictOf(contracts, message(target, certs.get(label)!)), 'accept')
      const again = contract(label)
      memory.noteRevocation(revocation(label, [{ kind: 'contract', id: again.id }]))
      assert.equal(await verdictOf(contracts, message(again, certs.get(label)!)), 'ignore ERR_CONTRACT_REVOKED')
    })

    it('a full queue refuses the newest (ignore) and remembers nothing of it; room made, the same message passes', async () => {
      const release = Promise.withResolvers<void>()
      const topic = topicOf({ ...contractsTopic, queue: { ...contractsTopic.queue, maxItems: 1, concurrency: 1 } })
      topic.add({ onMessage: () => release.promise })
      assert.equal(await verdictOf(topic, message(contract(label), certs.get(label)!)), 'accept')
      const next = message(contract(label, { contractId: 'waiting' }), certs.get(label)!)
      assert.equal(await verdictOf(topic, next), 'ignore ERR_QUEUE_FULL')
      const waiting = topic.judge(next, FROM).then((j) => topic.admitWhenRoom(j.delivery!, next.length))
      release.resolve()
      assert.equal(line((await waiting).verdict), 'accept')
      await topic.idle()
    })
  })

  describe('offers', () => {
    it('ignores an offer revoked by its retailer or by a reference service, not by anyone else', async () => {
      const memory = new TopicMemory()
      const offers = topicOf(offersTopic, memory)
      const attach = (o: ReturnType<typeof certifiedOffer>) => message(o.offer, o.certification, certs.get(retailer)!)
      const byStranger = certifiedOffer()
      memory.noteRevocation(revocation(label, [{ kind: 'offer', id: byStranger.offer.id }]))
      assert.equal(await verdictOf(offers, attach(byStranger)), 'accept')
      const byRetailer = certifiedOffer()
      memory.noteRevocation(revocation(retailer, [{ kind: 'offer', id: byRetailer.offer.id }]))
      assert.equal(await verdictOf(offers, attach(byRetailer)), 'ignore ERR_OFFER_REVOKED')
      const byReference = certifiedOffer()
      memory.noteRevocation(revocation(reference, [{ kind: 'offer', id: byReference.offer.id }]))
      assert.equal(await verdictOf(offers, attach(byReference)), 'ignore ERR_OFFER_REVOKED')
    })

    it('ignores an offer past its window and rejects one without its certification', async () => {
      const offers = topicOf(offersTopic)
      const ended = certifiedOffer({ validFrom: clock.now() - 2 * DAY, validUntil: clock.now() - DAY })
      assert.equal(
        await verdictOf(offers, message(ended.offer, ended.certification, certs.get(retailer)!)),
        'ignore ERR_OFFER_EXPIRED',
      )
      const bare = certifiedOffer()
      assert.equal(await verdictOf(offers, message(bare.offer, certs.get(retailer)!)), 'reject ERR_NO_CERTIFICATION')
    })
  })

  describe('revocations', () => {
    it("rejects a revocation of what only an anchor may revoke, by anyone else; accepts the anchor's", async () => {
      const topic = topicOf(revocationsTopic)
      const byLabel = revocation(label, [{ kind: 'cert', id: certs.get(retailer)!.id }])
      assert.equal(await verdictOf(topic, message(byLabel, certs.get(label)!)), 'reject ERR_UNAUTHORISED')
      const certification = revocation(retailer, [{ kind: 'certification', id: sampleRecordCid('c') }])
      assert.equal(await verdictOf(topic, message(certification, certs.get(retailer)!)), 'reject ERR_UNAUTHORISED')
      const receipt = signRecord(
        'consort/revocation',
        {
          network: net.name,
          created: clock.now(),
          targets: [{ kind: 'receipt', id: sampleRecordCid('r') }],
          reason: 'x',
        },
        net.registrarSigner,
      )
      assert.equal(await verdictOf(topic, message(receipt)), 'accept')
    })

    it("ignores a revocation of a record this node knows to be someone else's; takes one of an unknown record", async () => {
      const memory = new TopicMemory()
      const contracts = topicOf(contractsTopic, memory)
      const revocations = topicOf(revocationsTopic, memory)
      const known = contract(label)
      assert.equal(await verdictOf(contracts, message(known, certs.get(label)!)), 'accept')
      const foreign = revocation(otherLabel, [{ kind: 'contract', id: known.id }])
      assert.equal(await verdictOf(revocations, message(foreign, certs.get(otherLabel)!)), 'ignore ERR_UNAUTHORISED')
      const unknown = revocation(otherLabel, [{ kind: 'contract', id: sampleRecordCid('unseen') }])
      assert.equal(await verdictOf(revocations, message(unknown, certs.get(otherLabel)!)), 'accept')
      const own = revocation(label, [{ kind: 'contract', id: known.id }])
      assert.equal(await verdictOf(revocations, message(own, certs.get(label)!)), 'accept')
      assert.deepEqual(memory.revokers(known.id), [Buffer.from(label.signer.publicKey).toString('hex')])
    })
  })

  describe('catalog', () => {
    it("ignores a record its own signer took down and a stale version; another signer's takedown does not count", async () => {
      const memory = new TopicMemory()
      const catalog = topicOf(catalogTopic, memory)
      const manifest = (seq: number, isrc = 'USRC17607839') =>
        signRecord('consort/manifest', sampleManifestBody(net.name, clock.now(), { seq, isrc }), label.signer)
      const taken = manifest(1)
      memory.noteRevocation(revocation(otherLabel, [{ kind: 'manifest', id: taken.id }]))
      assert.equal(await verdictOf(catalog, message(taken, certs.get(label)!)), 'accept')
      const down = manifest(2, 'GBAYE0601498')
      memory.noteRevocation(revocation(label, [{ kind: 'manifest', id: down.id }]))
      assert.equal(await verdictOf(catalog, message(down, certs.get(label)!)), 'ignore ERR_WITHDRAWN')
      assert.equal(await verdictOf(catalog, message(manifest(0), certs.get(label)!)), 'ignore ERR_STALE_SEQUENCE')
    })
  })

  describe('usage', () => {
    function report(signer: NodeKeys, overrides: Partial<BodyInput<'consort/usage'>> = {}) {
      return signRecord(
        'consort/usage',
        {
          ...sampleBodies(net.name, clock.now())['consort/usage'],
          device: device.signer.publicKey,
          account: account.signer.publicKey,
          ...overrides,
        },
        signer.signer,
      )
    }

    it("accepts a device's own report; rejects one naming another device, or another account", async () => {
      const usage = topicOf(usageTopic)
      assert.equal(await verdictOf(usage, message(report(device), registration)), 'accept')
      assert.equal(
        await verdictOf(usage, message(report(device, { device: account.signer.publicKey }), registration)),
        'reject ERR_NOT_OWN_DEVICE',
      )
      assert.equal(
        await verdictOf(usage, message(report(device, { account: label.signer.publicKey }), registration)),
        'reject ERR_WRONG_ACCOUNT',
      )
    })
  })
})
