import assert from 'node:assert/strict'
import type { PeerId } from '@libp2p/interface'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { BodyInput } from '../../../protocols/records/registry.ts'
import type { RoleName } from '../../../protocols/records/types/common.ts'
import type { Refusal } from '../../../protocols/topics/bus.ts'
import { CONTRACTS_MESSAGE_BYTES } from '../../../protocols/topics/contracts.ts'
import { encodeGossipMessage } from '../../../protocols/topics/message.ts'
import { type TopicName, topicString } from '../../../protocols/topics/names.ts'
import { ReferenceStore } from '../../../roles/reference/store.ts'
import { RetailerStore } from '../../../roles/retailer/store.ts'
import { untilLinked } from '../../helpers/gossip.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll } from '../../helpers/nodes.ts'
import { flipBit, sampleBodies } from '../../helpers/record-samples.ts'
import { nextEvent } from '../../helpers/wait.ts'

const HOUR = 3600_000

/** What a node answered for one message: the verdict and, for a refusal, its code. */
type Answer = `accept` | `${'ignore' | 'reject'} ${string}`

/**
 * The contract-topic verdict test (issue 15): nodes running different roles — a reference service, a retailer, a
 * clearinghouse, a registration manager, several at once, none at all — are handed the same contracts, good and bad,
 * in the same order, and each gives the same verdict (and the same code) for each: the contracts topic's rule decides,
 * not the roles. Messages go in through `TopicBus.ingest`, the catch-up path, which runs exactly the checks gossip
 * runs and answers the verdict of each node directly; a last part sends a good and a bad contract over real gossip.
 */
describe('topics: every node gives a contract the same verdict, whatever roles it runs', function () {
  this.timeout(120_000)
  const clock = new FakeClock(Date.UTC(2026, 10, 1))
  let net: TestNetwork
  const judges: Array<{ roles: string; node: ConsortNode }> = []
  let label: NodeKeys
  let otherLabel: NodeKeys
  let doomedLabel: NodeKeys
  let shortLivedLabel: NodeKeys
  let retailer: NodeKeys
  let stranger: NodeKeys
  const certs = new Map<NodeKeys, SignedRecord<'consort/cert'>>()
  /** The peer every message claims to come from (its author's node stands in for the network). */
  let from: PeerId

  before(async () => {
    const referenceKeys = await createNodeKeys()
    // One node plays a reference service and a clearinghouse at once: the network record lists its key as both.
    const secondReference = await createNodeKeys()
    const clearinghouseKeys = await createNodeKeys()
    net = await createTestNetwork(clock, {
      references: [referenceKeys, secondReference],
      clearinghouses: [clearinghouseKeys, secondReference],
    })
    label = await createNodeKeys()
    otherLabel = await createNodeKeys()
    doomedLabel = await createNodeKeys()
    shortLivedLabel = await createNodeKeys()
    retailer = await createNodeKeys()
    stranger = await createNodeKeys()
    for (const keys of [label, otherLabel, doomedLabel]) certs.set(keys, net.certify(keys, ['production']))
    certs.set(shortLivedLabel, net.certify(shortLivedLabel, ['production'], { notAfter: clock.now() + HOUR }))
    certs.set(retailer, net.certify(retailer, ['retailer']))

    const clearinghouseOptions = { clearinghouse: { sync: false, verifyWorkers: 0 } }
    const roleSets: Array<{ roles: RoleName[]; keys?: NodeKeys; certRoles?: RoleName[]; options?: object }> = [
      { roles: ['reference'], keys: referenceKeys, options: { reference: { fetchUnknownContracts: false } } },
      { roles: ['retailer'], options: { retailer: { renewCheckIntervalMs: 0 } } },
      { roles: ['clearinghouse'], keys: clearinghouseKeys, certRoles: [], options: clearinghouseOptions },
      { roles: ['registration'], keys: net.registrar },
      {
        roles: ['reference', 'retailer', 'clearinghouse'],
        keys: secondReference,
        certRoles: ['retailer'],
        options: {
          reference: { fetchUnknownContracts: false },
          retailer: { renewCheckIntervalMs: 0 },
          ...clearinghouseOptions,
        },
      },
      { roles: [] },
    ]
    for (const set of roleSets) {
      const node = await startMemoryNode({
        network: net,
        clock,
        roles: set.roles,
        ...(set.keys != null ? { keys: set.keys } : {}),
        ...(set.certRoles != null ? { certRoles: set.certRoles } : {}),
        roleOptions: (set.options ?? {}) as Record<string, Record<string, unknown>>,
      })
      // A node without roles follows the topic as any tool or relay may: its subscriber only listens.
      if (set.roles.length === 0) node.topics.subscribe('contracts', { onMessage: () => {} })
      judges.push({ roles: set.roles.join('+') || 'none', node })
    }
    from = judges[0]!.node.peerId
  })

  after(async () => {
    await stopAll(judges.map((j) => j.node))
  })

  let contractCounter = 0
  function contractBody(
    distributor: NodeKeys,
    overrides: Partial<BodyInput<'consort/contract'>> = {},
  ): BodyInput<'consort/contract'> {
    const base = sampleBodies(net.name, clock.now())['consort/contract']
    return {
      ...base,
      contractId: `verdict-${++contractCounter}`,
      distributor: distributor.signer.publicKey,
      splits: [{ party: 'Label', key: distributor.signer.publicKey, bps: 10_000 }],
      ...overrides,
    }
  }

  function sign(body: BodyInput<'consort/contract'>, signer: NodeKeys): SignedRecord<'consort/contract'> {
    return signRecord('consort/contract', body, signer.signer)
  }

  function message(record: SignedRecord, signer: NodeKeys | null = null): Uint8Array {
    const cert = signer == null ? undefined : certs.get(signer)
    return encodeGossipMessage([record.bytes, ...(cert != null ? [cert.bytes] : [])])
  }

  /** Hand one message to every node (one after another, as a catch-up would) and collect what each answered. */
  async function judge(topic: TopicName, data: Uint8Array): Promise<Map<string, Answer>> {
    const answers = new Map<string, Answer>()
    for (const { roles, node } of judges) {
      const refused: Refusal[] = []
      const listener = (event: Event) => refused.push((event as CustomEvent<Refusal>).detail)
      node.topics.addEventListener('refused', listener)
      try {
        const verdict = await node.topics.ingest(topic, data, from)
        const refusal = refused.at(-1)
        answers.set(roles, verdict === 'accept' ? 'accept' : `${verdict} ${refusal?.code ?? '(no refusal reported)'}`)
      } finally {
        node.topics.removeEventListener('refused', listener)
      }
    }
    return answers
  }

  /** Every node answers `expected` for this message. */
  async function expectEverywhere(topic: TopicName, data: Uint8Array, expected: Answer): Promise<void> {
    const answers = await judge(topic, data)
    const distinct = new Set(answers.values())
    assert.equal(distinct.size, 1, `the nodes disagree: ${JSON.stringify(Object.fromEntries(answers))}`)
    assert.equal([...distinct][0], expected, JSON.stringify(Object.fromEntries(answers)))
  }

  let first: SignedRecord<'consort/contract'>
  let second: SignedRecord<'consort/contract'>

  it('accepts a good contract, then its next version', async () => {
    first = sign(contractBody(label, { contractId: 'catalogue' }), label)
    await expectEverywhere('contracts', message(first, label), 'accept')
    second = sign({ ...first.body, seq: 1, created: clock.now() + 1 }, label)
    await expectEverywhere('contracts', message(second, label), 'accept')
  })

  it('ignores a stale version, and a conflicting one under the same sequence number; accepts the same one again', async () => {
    await expectEverywhere('contracts', message(first, label), 'ignore ERR_STALE_SEQUENCE')
    const conflicting = sign(
      { ...second.body, wholesale: [{ currency: 'EUR', amount: 1n, per: 'unit' }], created: clock.now() + 2 },
      label,
    )
    await expectEverywhere('contracts', message(conflicting, label), 'ignore ERR_CONFLICTING_SEQUENCE')
    // A re-announcement of the version in force (here without the certificate attached: another message).
    await expectEverywhere('contracts', message(second), 'accept')
  })

  it('rejects a contract whose distributor is not its signer', async () => {
    const forged = sign(contractBody(otherLabel), label)
    await expectEverywhere('contracts', message(forged, label), 'reject ERR_NOT_DISTRIBUTOR')
  })

  it('rejects a contract signed by a retailer, or by a key without a certificate', async () => {
    await expectEverywhere(
      'contracts',
      message(sign(contractBody(retailer), retailer), retailer),
      'reject ERR_WRONG_ROLE',
    )
    await expectEverywhere('contracts', message(sign(contractBody(stranger), stranger)), 'reject ERR_NO_CERTIFICATE')
  })

  it('rejects a contract that covers no country, one of another network, and one whose signature fails', async () => {
    const nowhere = sign(contractBody(label, { territories: ['DE'], excludedTerritories: ['DE'] }), label)
    await expectEverywhere('contracts', message(nowhere, label), 'reject ERR_CONTRACT_COVERS_NOTHING')
    const elsewhere = sign(contractBody(label, { network: 'othernet' }), label)
    await expectEverywhere('contracts', message(elsewhere, label), 'reject ERR_WRONG_NETWORK')
    const good = sign(contractBody(label), label)
    const bytes = flipBit(good.bytes, (good.bytes.length - 8) * 8)
    await expectEverywhere(
      'contracts',
      encodeGossipMessage([bytes, certs.get(label)!.bytes]),
      'reject ERR_BAD_SIGNATURE',
    )
  })

  it('rejects a message over the contracts topic cap before reading it', async () => {
    const record = sign(contractBody(label), label)
    const padding = new Uint8Array(CONTRACTS_MESSAGE_BYTES)
    await expectEverywhere('contracts', encodeGossipMessage([record.bytes, padding]), 'reject ERR_MESSAGE_TOO_LARGE')
  })

  it('rejects contracts of a label whose certificate was revoked', async () => {
    const before = sign(contractBody(doomedLabel), doomedLabel)
    await expectEverywhere('contracts', message(before, doomedLabel), 'accept')
    const revocation = signRecord(
      'consort/revocation',
      {
        network: net.name,
        created: clock.now(),
        targets: [{ kind: 'cert', id: certs.get(doomedLabel)!.id }],
        reason: 'the label left the network',
      },
      net.registrarSigner,
    )
    await expectEverywhere('revocations', encodeGossipMessage([revocation.bytes]), 'accept')
    const after = sign(contractBody(doomedLabel), doomedLabel)
    await expectEverywhere('contracts', message(after, doomedLabel), 'reject ERR_REVOKED')
  })

  it('ignores a contract its distributor revoked, and a revocation of it by anyone else; takes its next version', async () => {
    const contract = sign(contractBody(label), label)
    await expectEverywhere('contracts', message(contract, label), 'accept')
    const revoke = (by: NodeKeys) =>
      signRecord(
        'consort/revocation',
        {
          network: net.name,
          created: clock.now(),
          targets: [{ kind: 'contract', id: contract.id }],
          reason: 'withdrawn',
        },
        by.signer,
      )
    await expectEverywhere('revocations', message(revoke(retailer), retailer), 'ignore ERR_UNAUTHORISED')
    await expectEverywhere('revocations', message(revoke(label), label), 'accept')
    await expectEverywhere('contracts', message(contract), 'ignore ERR_CONTRACT_REVOKED')
    const next = sign({ ...contract.body, seq: 1, created: clock.now() + 3 }, label)
    await expectEverywhere('contracts', message(next, label), 'accept')
  })

  it('rejects contracts of a label whose certificate expired', async () => {
    const early = sign(contractBody(shortLivedLabel), shortLivedLabel)
    await expectEverywhere('contracts', message(early, shortLivedLabel), 'accept')
    clock.advance(2 * HOUR)
    const late = sign(contractBody(shortLivedLabel), shortLivedLabel)
    await expectEverywhere('contracts', message(late, shortLivedLabel), 'reject ERR_CERT_EXPIRED')
  })

  it('delivered to the roles exactly the contracts it accepted', async () => {
    for (const { roles, node } of judges) {
      await node.topics.idle()
      if (!roles.includes('reference')) continue
      const reference = node.role('reference')
      await reference.idle()
      const head = await reference.store.head(ReferenceStore.contractKey(label.signer.publicKey, 'catalogue'))
      assert.deepEqual(
        { seq: head?.seq, cid: head?.cid },
        { seq: 1, cid: second.id.toString() },
        `${roles}: the reference service holds version 1 of the catalogue contract`,
      )
    }
    for (const { roles, node } of judges) {
      if (!roles.includes('retailer')) continue
      const shop = node.role('retailer')
      const held = await shop.store.contract(RetailerStore.contractKey(label.signer.publicKey, 'catalogue'))
      assert.equal(held?.id.toString(), second.id.toString(), `${roles}: the retailer holds version 1`)
    }
  })

  it('over gossip too: a good contract reaches every node, a forged one is rejected by each with the same code', async () => {
    const publisher = await startMemoryNode({ network: net, clock, keys: otherLabel, certRoles: ['production'] })
    const relay = await startMemoryNode({ network: net, clock })
    try {
      for (const sender of [publisher, relay]) {
        sender.topics.subscribe('contracts', { onMessage: () => {} })
        for (const { node } of judges) await sender.libp2p.dial(node.libp2p.getMultiaddrs()[0]!)
        await untilLinked(
          sender,
          judges.map((j) => j.node),
          topicString(net.name, 'contracts'),
        )
      }
      const good = sign(contractBody(otherLabel), otherLabel)
      const accepted = judges.map(({ node }) =>
        nextEvent<{ record: SignedRecord }>(node.topics, 'accepted', (a) => a.record.id.equals(good.id)),
      )
      await publisher.topics.publish('contracts', good, [certs.get(otherLabel)!])
      await Promise.all(accepted)
      // The relay sends what the label signed for another distributor: every node refuses it and blames the relay.
      const forged = sign(contractBody(label), otherLabel)
      const refused = judges.map(({ node }) =>
        nextEvent<Refusal>(node.topics, 'refused', (r) => r.topic === 'contracts'),
      )
      await relay.topics.publish('contracts', forged, [certs.get(otherLabel)!])
      for (const refusal of await Promise.all(refused)) {
        assert.equal(`${refusal.result} ${refusal.code}`, 'reject ERR_NOT_DISTRIBUTOR')
        assert.equal(refusal.from.toString(), relay.peerId.toString())
      }
    } finally {
      await stopAll([publisher, relay])
    }
  })
})
