import { generateKeyPairSync, sign, verify } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { SeededRandom, signerFromSeed } from '../../keys/index.ts'
import type { ConsortNode } from '../../node/consort-node.ts'
import { FakeClock } from '../../protocols/clock.ts'
import { decodeCanonical } from '../../protocols/records/canonical.ts'
import {
  decodeRecord,
  decodeRecordAs,
  RECORD_TYPES,
  recordId,
  type SignedRecord,
  signingPayload,
  signRecord,
} from '../../protocols/records/index.ts'
import { quickOfferBody } from '../../protocols/records/types/offer.ts'
import { topicString } from '../../protocols/topics/names.ts'
import { sampleBodies } from '../../test/helpers/record-samples.ts'
import { sampleManifestBody } from '../../test/helpers/records.ts'
import { LatencyRecorder } from '../lib/latency.ts'
import { compareRates } from '../lib/rates.ts'
import { result } from '../lib/result.ts'
import type { BenchOptions, BenchResult } from '../lib/types.ts'

export const description =
  'envelope sign/verify rates next to raw node:crypto Ed25519; gossip fan-out latency over 20 nodes'

/** issue 2: verifying a record (decode, full validation, signature) may cost at most ~43% more than the bare signature check. */
const VERIFY_RATIO_TARGET = 0.7
/** Nodes of the fan-out measurement (issue 2). */
const FANOUT_NODES = 20
/** How long one message may take to reach every node before it counts as undelivered. */
const DELIVERY_TIMEOUT_MS = 10_000

const NETWORK = 'benchnet'

/** Envelope sign and verify of an offer-sized record, next to raw node:crypto Ed25519 on a message of the same size. */
function envelopeRates(options: BenchOptions): BenchResult[] {
  const now = Date.UTC(2026, 10, 1)
  const signer = signerFromSeed(new SeededRandom('bench-records').bytes(32))
  const offerBody = sampleBodies(NETWORK, now)['consort/offer']
  const offer = signRecord('consort/offer', offerBody, signer)
  const decodeOptions = { network: NETWORK, now }

  // The raw baseline: node:crypto with ready KeyObjects (the fastest way to use it) over as many bytes as the record.
  const raw = generateKeyPairSync('ed25519')
  const message = new SeededRandom('bench-records-message').bytes(offer.bytes.length)
  const rawSig = sign(null, message, raw.privateKey)
  if (!verify(null, message, raw.publicKey, rawSig)) throw new Error('raw baseline does not verify')
  decodeRecord(offer.bytes, decodeOptions)

  options.log(`verify: offer of ${offer.bytes.length} bytes, ${options.rounds} rounds`)
  const sliceMs = options.quick ? 25 : 50
  // Verify and sign are measured in separate groups: signing feeds bigints through the same schema and codec
  // code, and mixing the two in one loop would make V8 optimise that code for both and slow both down.
  const verifyRates = compareRates(
    {
      'envelope.verify': () => decodeRecord(offer.bytes, decodeOptions),
      'raw.verify': () => verify(null, message, raw.publicKey, rawSig),
    },
    { rounds: options.rounds, sliceMs },
  )
  options.log(`verify rounds: envelope ${verifyRates.rounds['envelope.verify']!.map(Math.round).join(' ')}`)
  options.log(`verify rounds: raw      ${verifyRates.rounds['raw.verify']!.map(Math.round).join(' ')}`)
  options.log(`sign: ${options.rounds} rounds`)
  const signRates = compareRates(
    {
      'envelope.sign': () => signRecord('consort/offer', offerBody, signer),
      'raw.sign': () => sign(null, message, raw.privateKey),
    },
    { rounds: options.rounds, sliceMs },
  )
  const m = { ...verifyRates.median, ...signRates.median }

  // Where a verify's time goes, each step of decodeRecord on its own (informational).
  const envelope = decodeCanonical(offer.bytes) as { body: unknown }
  const payload = signingPayload('consort/offer', dagCbor.encode(envelope.body))
  const parts = compareRates(
    {
      'canonical-decode': () => decodeCanonical(offer.bytes),
      'quick-check': () => quickOfferBody(envelope.body),
      'schema-zod': () => RECORD_TYPES['consort/offer'].body.safeParse(envelope.body),
      'record-id': () => recordId(offer.bytes),
      signature: () => verify(null, payload, raw.publicKey, rawSig),
    },
    { rounds: Math.max(3, Math.ceil(options.rounds / 2)), sliceMs: options.quick ? 15 : 30 },
  ).median

  return [
    result({
      metric: 'envelope.verify',
      value: m['envelope.verify']!,
      unit: 'records/s',
      baseline: { name: 'node:crypto ed25519 verify', value: m['raw.verify']! },
      target: { op: '>=', value: VERIFY_RATIO_TARGET, of: 'ratio' },
    }),
    result({
      metric: 'envelope.sign',
      value: m['envelope.sign']!,
      unit: 'records/s',
      baseline: { name: 'node:crypto ed25519 sign', value: m['raw.sign']! },
    }),
    result({ metric: 'envelope.bytes', value: offer.bytes.length, unit: 'bytes' }),
    ...Object.entries(parts).map(([part, rate]) =>
      result({ metric: `verify.part.${part}`, value: 1e6 / rate, unit: 'µs/op' }),
    ),
  ]
}

/** Publish manifests through the TopicBus of 20 in-process nodes and time their arrival at each of the other 19. */
async function gossipFanout(options: BenchOptions): Promise<BenchResult[]> {
  // The node stack is loaded here, after the crypto figures: each part runs with what it needs.
  const { createTestNetwork } = await import('../../test/helpers/network.ts')
  const { connectMesh, startMemoryNode, stopAll, waitForTopicPeers } = await import('../../test/helpers/nodes.ts')
  const clock = new FakeClock()
  const network = await createTestNetwork(clock, { name: NETWORK })
  const nodes: ConsortNode[] = []
  try {
    options.log(`fan-out: starting ${FANOUT_NODES} nodes`)
    for (let i = 0; i < FANOUT_NODES; i++) {
      nodes.push(await startMemoryNode({ network, clock, certRoles: ['production'] }))
    }
    await connectMesh(nodes)

    const latency = new LatencyRecorder()
    const pending = new Map<string, { sentAt: number; remaining: number; done: () => void }>()
    let measuring = false
    for (const node of nodes) {
      node.topics.subscribe('catalog', {
        onMessage: (delivery) => {
          const entry = pending.get(delivery.record.id.toString())
          if (entry == null) return
          if (measuring) latency.record(performance.now() - entry.sentAt)
          if (--entry.remaining === 0) entry.done()
        },
      })
    }
    await waitForTopicPeers(nodes, topicString(NETWORK, 'catalog'), 2)

    const warmup = options.quick ? 10 : 30
    const messages = options.quick ? 60 : 300
    // Signed before timing starts: the figure is the network's, not the publisher's signing.
    const records: Array<{ record: SignedRecord; attachments: SignedRecord[]; from: number }> = []
    for (let i = 0; i < warmup + messages; i++) {
      const from = i % nodes.length
      const node = nodes[from]!
      const record = signRecord(
        'consort/manifest',
        // A new version each time: the catalog topic ignores a second record under one sequence number.
        sampleManifestBody(NETWORK, clock.now(), { title: `Fan-out ${i}`, seq: i }),
        node.keys.signer,
      )
      records.push({ record, attachments: node.credentials.attachments(), from })
    }

    let delivered = 0
    options.log(`fan-out: ${warmup} warm-up messages, then ${messages} measured, one in flight at a time`)
    for (const [i, { record, attachments, from }] of records.entries()) {
      measuring = i >= warmup
      const id = record.id.toString()
      let timer: NodeJS.Timeout | undefined
      const arrived = new Promise<boolean>((resolve) => {
        pending.set(id, { sentAt: performance.now(), remaining: nodes.length - 1, done: () => resolve(true) })
        timer = setTimeout(() => resolve(false), DELIVERY_TIMEOUT_MS)
      })
      await nodes[from]!.topics.publish('catalog', record, attachments)
      await arrived
      clearTimeout(timer)
      if (measuring) delivered += nodes.length - 1 - pending.get(id)!.remaining
      pending.delete(id)
    }
    const expected = messages * (nodes.length - 1)
    const out = [
      result({ metric: 'gossip.fanout.p50', value: latency.percentileMs(50), unit: 'ms' }),
      result({ metric: 'gossip.fanout.p99', value: latency.percentileMs(99), unit: 'ms' }),
      result({ metric: 'gossip.fanout.max', value: latency.maxMs, unit: 'ms' }),
      result({
        metric: 'gossip.fanout.delivered',
        value: delivered / expected,
        unit: `fraction of ${expected}`,
        target: { op: '>=', value: 1, of: 'value' },
      }),
    ]
    latency.destroy()
    return out
  } finally {
    await stopAll(nodes)
  }
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  // Make sure the decode path is the full one (type check included) before timing anything.
  decodeRecordAs(
    'consort/offer',
    signRecord('consort/offer', sampleBodies(NETWORK, 0)['consort/offer'], signerFromSeed(new Uint8Array(32).fill(9)))
      .bytes,
    { network: NETWORK, now: 0 },
  )
  return [...envelopeRates(options), ...(await gossipFanout(options))]
}
