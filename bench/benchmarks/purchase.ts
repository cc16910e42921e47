import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Signer } from '../../keys/ed25519.ts'
import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import { SeededRandom } from '../../keys/random.ts'
import { type ConsortNode, createConsortNode } from '../../node/consort-node.ts'
import { signAccountRequest } from '../../protocols/clearing/account.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL } from '../../protocols/clearing/index.ts'
import { systemClock } from '../../protocols/clock.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { type DecodeOptions, decodeRecordAs, signRecord } from '../../protocols/records/envelope.ts'
import type { RoleName } from '../../protocols/records/types/common.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { SegmentsService } from '../../protocols/segments/service.ts'
import { topicString } from '../../protocols/topics/names.ts'
import { NullSink } from '../../roles/player/index.ts'
import { measureLicenceIssueRate } from '../../test/helpers/licensing-world.ts'
import { createTestNetwork, type TestNetwork } from '../../test/helpers/network.ts'
import { waitForTopicPeers } from '../../test/helpers/nodes.ts'
import { waitUntil } from '../../test/helpers/wait.ts'
import { LatencyRecorder, RepeatedLatency } from '../lib/latency.ts'
import { PURCHASE_STEPS, PurchaseSteps } from '../lib/purchase-steps.ts'
import { result } from '../lib/result.ts'
import type { BenchOptions, BenchResult } from '../lib/types.ts'

export const description =
  'purchase-to-first-audio and licensed first-audio latency of a 10 MB track on a TCP loopback devnet; licences/s'

/** issue 6: from pressing "buy" to the first decrypted audio, p99 at most 400 ms on a loopback devnet. */
const PURCHASE_TO_AUDIO_P99_TARGET_MS = 400
/** issue 6: first audio of a track already licensed, p99 at most 150 ms (Spotify reported a 265 ms median on the internet). */
const LICENSED_FIRST_AUDIO_P99_TARGET_MS = 150
/** The track: 10 MB of 44.1 kHz 16-bit stereo WAV (about 59 s). */
const TRACK_BYTES = 10 * 1024 * 1024
const BYTES_PER_SECOND = 44_100 * 2 * 2
const ISRC = 'ZZCNS2699001'
const UPC = '012345678905'
/** Payment records signed and verified in process to measure what the proof costs in CPU. */
const PAYMENT_PROOF_ROUNDS = 500
/** Tail figures are the median of this many repetitions' percentiles (each repetition a third of the samples). */
const REPETITIONS = 3
/** Purchases run at once when measuring the purchase rate. */
const PURCHASE_CONCURRENCY = 8

/** A WAV file of `bytes` bytes of PCM noise (deterministic): content production accepts and packages. */
function wavFile(bytes: number): Uint8Array {
  const pcm = new SeededRandom('purchase-bench-audio').bytes(bytes - (bytes % 4))
  const header = Buffer.alloc(44)
  header.write('RIFF', 0)
  header.writeUInt32LE(36 + pcm.length, 4)
  header.write('WAVE', 8)
  header.write('fmt ', 12)
  header.writeUInt32LE(16, 16)
  header.writeUInt16LE(1, 20)
  header.writeUInt16LE(2, 22)
  header.writeUInt32LE(44_100, 24)
  header.writeUInt32LE(BYTES_PER_SECOND, 28)
  header.writeUInt16LE(4, 32)
  header.writeUInt16LE(16, 34)
  header.write('data', 36)
  header.writeUInt32LE(pcm.length, 40)
  return Buffer.concat([header, pcm])
}

interface Devnet {
  net: TestNetwork
  nodes: Map<string, ConsortNode>
  account: NodeKeys
  stop(): Promise<void>
}

/** The devnet's nodes, each on TCP loopback with its own listener, all dialled to one another. */
async function startDevnet(): Promise<Devnet> {
  const specs: Array<{ name: string; roles: RoleName[]; options?: Record<string, unknown> }> = [
    { name: 'registrar', roles: ['registration'] },
    { name: 'reference', roles: ['reference'] },
    { name: 'clearinghouse', roles: ['clearinghouse'], options: { clearinghouse: { sync: false } } },
    { name: 'label', roles: ['production', 'delivery'] },
    { name: 'retailer', roles: ['retailer'], options: { retailer: { renewCheckIntervalMs: 0 } } },
    { name: 'listener', roles: ['player'] },
  ]
  const keys = new Map<string, NodeKeys>()
  for (const spec of specs) keys.set(spec.name, await createNodeKeys())
  const account = await createNodeKeys()
  const net = await createTestNetwork(systemClock, {
    registrar: keys.get('registrar')!,
    references: [keys.get('reference')!],
    clearinghouses: [keys.get('clearinghouse')!],
  })
  const nodes = new Map<string, ConsortNode>()
  const stop = async () => {
    for (const node of [...nodes.values()].reverse()) await node.stop()
  }
  try {
    for (const spec of specs) {
      const node = await createConsortNode({
        dataDir: null,
        network: net.record,
        keys: keys.get(spec.name)!,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        transports: { tcp: true, memory: false },
        roles: spec.roles,
        roleOptions: spec.name === 'listener' ? { player: { account, flushIntervalMs: 0 } } : (spec.options ?? {}),
        clock: systemClock,
      })
      await node.start()
      const certRoles = spec.roles.filter((r) => r !== 'player')
      if (certRoles.length > 0) await node.credentials.setCert(net.certify(keys.get(spec.name)!, certRoles))
      nodes.set(spec.name, node)
    }
    const all = [...nodes.values()]
    for (const [i, a] of all.entries()) {
      for (const b of all.slice(i + 1)) await a.libp2p.dial(b.libp2p.getMultiaddrs()[0]!)
    }
    const listener = nodes.get('listener')!
    await waitForTopicPeers([listener], topicString(net.name, 'catalog'))
    await waitForTopicPeers([listener], topicString(net.name, 'usage'))
    await waitForTopicPeers([nodes.get('reference')!, nodes.get('retailer')!], topicString(net.name, 'contracts'))
    return { net, nodes, account, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

async function fund(devnet: Devnet, amount: bigint): Promise<void> {
  const listener = devnet.nodes.get('listener')!
  const request = signAccountRequest(
    {
      network: devnet.net.name,
      account: devnet.account.signer.publicKey,
      op: 'fund',
      amount,
      currency: 'EUR',
      paymentToken: 'bench',
      period: null,
      requestId: `bench-top-up-${amount}`,
      created: systemClock.now(),
    },
    devnet.account.signer,
  )
  await rpcCall(
    listener.libp2p,
    peerIdOfKey(devnet.nodes.get('clearinghouse')!.keys.signer.publicKey),
    listener.network.protocol(CLEARING_PROTOCOL),
    CLEARING_OPS.fund,
    request,
  )
}

/**
 * The CPU money before keys adds to a purchase (decision 0306), per purchase in ms: the clearinghouse signs one
 * `consort/payment` at the capture and the registrar verifies it before it licenses (a real payment of this run).
 */
function paymentProofMs(bytes: Uint8Array, signer: Signer, options: DecodeOptions): number {
  const payment = decodeRecordAs('consort/payment', bytes, options)
  const started = performance.now()
  for (let i = 0; i < PAYMENT_PROOF_ROUNDS; i++) {
    const signed = signRecord('consort/payment', payment.body, signer)
    decodeRecordAs('consort/payment', signed.bytes, options)
  }
  return (performance.now() - started) / PAYMENT_PROOF_ROUNDS
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const samples = options.quick ? 12 : Math.max(60, options.rounds * 9)
  const purchases = options.quick ? 24 : 96
  const dir = await mkdtemp(path.join(tmpdir(), 'consort-bench-purchase-'))
  options.log('starting the devnet (6 nodes on TCP loopback)')
  const devnet = await startDevnet()
  const firstAudioAfterPurchase = new RepeatedLatency(REPETITIONS)
  const purchaseOnly = new LatencyRecorder()
  const firstAudioLicensed = new RepeatedLatency(REPETITIONS)
  /** The raw first-segment fetch, measured next to each sample of the loop it is the baseline of. */
  const rawNextToPurchases = new RepeatedLatency(REPETITIONS)
  const rawNextToPlays = new RepeatedLatency(REPETITIONS)
  const repetition = (i: number) => Math.floor((i * REPETITIONS) / samples)
  let steps: PurchaseSteps | undefined
  try {
    const audio = path.join(dir, 'track.wav')
    await writeFile(audio, wavFile(TRACK_BYTES))
    const label = devnet.nodes.get('label')!
    const production = label.role('production')
    options.log('publishing a 10 MB track')
    const published = await production.publishDescription({
      release: {
        consortRelease: 1,
        upc: UPC,
        title: 'Benchmark',
        artists: ['The Bench'],
        type: 'Single',
        label: 'Consort Records',
        genre: 'Noise',
        releaseDate: '2026-01-01',
        tracks: [{ isrc: ISRC, title: 'Ten Megabytes', file: audio }],
        deals: [
          {
            id: 'download',
            commercialModel: 'pay-as-you-go',
            useTypes: ['PermanentDownload'],
            territories: ['Worldwide'],
            wholesale: [{ currency: 'EUR', amount: '0.69' }],
          },
        ],
      },
    })
    const release = published.releases[0]!
    const contract = release.contracts[0]!
    options.log(`track packaged: ${release.tracks[0]!.segments} segments`)
    const shop = devnet.nodes.get('retailer')!.role('retailer')
    await waitUntil(async () => (await shop.store.contractByCid(contract.record)) != null)
    const record = (await shop.store.contractByCid(contract.record))!
    const offer = await shop.offers.create({
      offerId: 'bench-download',
      content: record.body.content,
      contract: contract.record.toString(),
      price: { amount: 99n, currency: 'EUR' },
      useType: 'PermanentDownload',
      territories: ['Worldwide'],
    })
    if (offer.status !== 'certified') throw new Error(`offer not certified: ${JSON.stringify(offer.failures)}`)

    const listener = devnet.nodes.get('listener')!
    const player = listener.role('player')
    await player.ensureDevice()
    await waitUntil(() => player.directory.manifestFor(ISRC) !== undefined)
    await fund(devnet, BigInt(samples + purchases + 10) * 99n)
    const listed = (await player.offers(`isrc:${ISRC}`)).offers.find((o) => o.offerId === 'bench-download')
    if (listed === undefined) throw new Error('the offer is not listed')
    const manifest = player.directory.manifestFor(ISRC)!
    const blocks = listener.helia.blockstore
    const forget = async () => {
      for (const cid of manifest.body.segments) await blocks.delete(cid)
    }
    // The baseline: the first segment alone, fetched by the same multi-source fetcher from the same peers, with
    // no purchase, no licence, no log and no decryption.
    const rawFetcher = new SegmentsService(
      { libp2p: listener.libp2p, blockstore: blocks as never, network: listener.network, clock: systemClock },
      { serve: false, reprovide: false },
    )
    await rawFetcher.start()
    const rawFirstSegment = async () => {
      await forget()
      const started = performance.now()
      const fetch = rawFetcher.fetch([manifest.body.segments[0]!], { priority: 'now', root: null })
      await fetch.done
      return performance.now() - started
    }

    // Warm-up: one purchase and play, one raw fetch (JIT, connections, caches).
    await player.buy(listed.offer)
    await player.play(ISRC, { sink: new NullSink(), seconds: 1 })
    await rawFirstSegment()

    options.log(`purchase → first audio: ${samples} purchases, each from a cold block store`)
    // Each step of the retailer's purchase, one purchase at a time (the capture: money before keys).
    steps = new PurchaseSteps(shop.purchases)
    steps.measuring = true
    let lastPurchase = ''
    for (let i = 0; i < samples; i++) {
      rawNextToPurchases.record(await rawFirstSegment(), repetition(i))
      await forget()
      const started = performance.now()
      // The same offer every time: the player refuses a second sale unless asked on purpose.
      lastPurchase = (await player.buy(listed.offer, { again: true })).purchaseId
      purchaseOnly.record(performance.now() - started)
      let first = 0
      await player.play(ISRC, {
        sink: new NullSink(),
        seconds: 1,
        onFirstAudio: () => {
          first = performance.now() - started
        },
      })
      firstAudioAfterPurchase.record(first, repetition(i))
    }

    steps.measuring = false
    const payment = (await shop.purchases.status(lastPurchase))?.payment
    if (payment == null) throw new Error(`purchase ${lastPurchase} has no payment record`)
    const house = devnet.nodes.get('clearinghouse')!
    const proofMs = paymentProofMs(payment, house.keys.signer, { network: devnet.net.name, now: Date.now() })

    options.log(`licensed first audio: ${samples} plays, each from a cold block store`)
    for (let i = 0; i < samples; i++) {
      rawNextToPlays.record(await rawFirstSegment(), repetition(i))
      await forget()
      const result = await player.play(ISRC, { sink: new NullSink(), seconds: 1 })
      firstAudioLicensed.record(result.firstAudioMs ?? Number.POSITIVE_INFINITY, repetition(i))
    }
    const each = (r: RepeatedLatency) => r.each(99).join(' / ')
    options.log(
      `p99 of each of ${REPETITIONS} repetitions (the figure is their median): purchase → first audio ${each(firstAudioAfterPurchase)} ms (raw ${each(rawNextToPurchases)}); licensed first audio ${each(firstAudioLicensed)} ms (raw ${each(rawNextToPlays)})`,
    )
    await rawFetcher.stop()

    options.log(`licences issued: ${purchases} purchases, ${PURCHASE_CONCURRENCY} at a time`)
    let next = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: PURCHASE_CONCURRENCY }, async () => {
        while (next < purchases) await player.buy(listed.offer, { purchaseId: `bench-rate-${next++}`, again: true })
      }),
    )
    const purchasesPerSecond = purchases / ((performance.now() - started) / 1000)
    options.log('licences issued in process by the registrar alone (baseline)')
    const registrarRate = await measureLicenceIssueRate({
      licences: options.quick ? 300 : 1000,
      concurrency: PURCHASE_CONCURRENCY,
    })

    const raw = (recorder: RepeatedLatency, p: number) => ({
      name: `first segment alone (same fetcher, same peers, no purchase or licence), p${p} (median of ${REPETITIONS} repetitions)`,
      value: recorder.percentileMs(p),
    })
    return [
      result({
        metric: 'purchase-to-first-audio.p50',
        value: firstAudioAfterPurchase.percentileMs(50),
        unit: 'ms',
        baseline: raw(rawNextToPurchases, 50),
      }),
      result({
        metric: 'purchase-to-first-audio.p99',
        value: firstAudioAfterPurchase.percentileMs(99),
        unit: 'ms',
        baseline: raw(rawNextToPurchases, 99),
        target: { op: '<=', value: PURCHASE_TO_AUDIO_P99_TARGET_MS, of: 'value' },
      }),
      result({ metric: 'purchase-alone.p50', value: purchaseOnly.percentileMs(50), unit: 'ms' }),
      result({ metric: 'purchase-alone.p99', value: purchaseOnly.percentileMs(99), unit: 'ms' }),
      // Money before keys: each step of the purchase against the whole purchase (the ratio is its share), and the
      // CPU the payment proof adds (signed at the capture, verified by the registrar).
      ...PURCHASE_STEPS.map((step) =>
        result({
          metric: `purchase-step.${step}.p50`,
          value: steps!.step(step).percentileMs(50),
          unit: 'ms',
          baseline: { name: 'the whole purchase (purchase-alone), p50', value: purchaseOnly.percentileMs(50) },
        }),
      ),
      result({
        metric: 'purchase-step.capture.p99',
        value: steps.step('capture').percentileMs(99),
        unit: 'ms',
        baseline: { name: 'the whole purchase (purchase-alone), p99', value: purchaseOnly.percentileMs(99) },
      }),
      result({
        metric: 'payment-proof.sign-and-verify',
        value: proofMs,
        unit: 'ms',
        baseline: { name: 'the whole purchase (purchase-alone), p50', value: purchaseOnly.percentileMs(50) },
      }),
      result({
        metric: 'licensed-first-audio.p50',
        value: firstAudioLicensed.percentileMs(50),
        unit: 'ms',
        baseline: raw(rawNextToPlays, 50),
      }),
      result({
        metric: 'licensed-first-audio.p99',
        value: firstAudioLicensed.percentileMs(99),
        unit: 'ms',
        baseline: raw(rawNextToPlays, 99),
        target: { op: '<=', value: LICENSED_FIRST_AUDIO_P99_TARGET_MS, of: 'value' },
      }),
      result({
        metric: 'licences-issued.purchases',
        value: purchasesPerSecond,
        unit: 'licences/s',
        baseline: { name: 'registrar issue alone, in process', value: registrarRate.licencesPerSecond },
      }),
    ]
  } finally {
    steps?.destroy()
    for (const r of [firstAudioAfterPurchase, purchaseOnly, firstAudioLicensed, rawNextToPurchases, rawNextToPlays]) {
      r.destroy()
    }
    await devnet.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
