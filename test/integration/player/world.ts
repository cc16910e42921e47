import { readFile } from 'node:fs/promises'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { seal } from '../../../keys/seal.ts'
import { encryptSegment, generateContentKey, generateKeyId } from '../../../keys/segments.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { ESCROW_SEAL_CONTEXT } from '../../../protocols/escrow/index.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { BodyInput } from '../../../protocols/records/registry.ts'
import type { NetworkPolicy } from '../../../protocols/records/types/network.ts'
import { depositEscrow, requestLicence } from '../../../protocols/register/client.ts'
import { SegmentsService } from '../../../protocols/segments/service.ts'
import type { UsageRules } from '../../../protocols/usage-rules/index.ts'
import type { PlayerInit, PlayerRole } from '../../../roles/player/index.ts'
import { fixturePath } from '../../fixtures.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll } from '../../helpers/nodes.ts'
import { paymentFor } from '../../helpers/payments.ts'
import { certificationBody, contractBody, offerBody } from '../../helpers/record-bodies.ts'
import { rawCid } from '../../helpers/records.ts'
import { waitUntil } from '../../helpers/wait.ts'

/**
 * A small world for the player's tests on the memory transport: a real registration manager (the registration
 * role), a producer node that holds encrypted segments and serves them on `/segments/1`, a retailer and a
 * reference service whose records the tests sign by hand, a clearinghouse (the real role, unless `clearinghouse:
 * false`: its statements of what a purchase used let a licence be fetched again), and player nodes (the player
 * role). Licences come from the real registrar: the retailer node asks for one against a hand-signed receipt and
 * payment, and hands it to the player (`receiveLicence`). The full purchase path (retailer, clearinghouse) is
 * tested end to end in `test/e2e/chain.test.ts`.
 */
export interface World {
  clock: FakeClock
  net: TestNetwork
  keys: { registrar: NodeKeys; producer: NodeKeys; retailer: NodeKeys; reference: NodeKeys; clearinghouse: NodeKeys }
  registrar: ConsortNode
  producer: ConsortNode
  retailer: ConsortNode
  /** The clearinghouse node (absent with `clearinghouse: false`). */
  clearinghouse: ConsortNode | null
  nodes: ConsortNode[]
  seeder: SegmentsService
  stop(): Promise<void>
}

export async function startWorld(
  policy: Partial<NetworkPolicy> = {},
  options: { clearinghouse?: boolean } = {},
): Promise<World> {
  const clock = new FakeClock()
  const keys = {
    registrar: await createNodeKeys(),
    producer: await createNodeKeys(),
    retailer: await createNodeKeys(),
    reference: await createNodeKeys(),
    clearinghouse: await createNodeKeys(),
  }
  const net = await createTestNetwork(clock, {
    registrar: keys.registrar,
    references: [keys.reference],
    clearinghouses: [keys.clearinghouse],
    policy,
  })
  const registrar = await startMemoryNode({ network: net, clock, keys: keys.registrar, roles: ['registration'] })
  const producer = await startMemoryNode({ network: net, clock, keys: keys.producer, certRoles: ['production'] })
  const retailer = await startMemoryNode({ network: net, clock, keys: keys.retailer, certRoles: ['retailer'] })
  const clearinghouse =
    options.clearinghouse === false
      ? null
      : await startMemoryNode({
          network: net,
          clock,
          keys: keys.clearinghouse,
          roles: ['clearinghouse'],
          roleOptions: { clearinghouse: { sync: false } },
        })
  for (const node of [producer, retailer, ...(clearinghouse === null ? [] : [clearinghouse])]) {
    await node.libp2p.dial(registrar.libp2p.getMultiaddrs()[0]!)
  }
  const seeder = new SegmentsService(
    {
      libp2p: producer.libp2p,
      blockstore: producer.helia.blockstore as never,
      network: producer.network,
      clock,
    },
    { reprovide: false },
  )
  await seeder.start()
  const nodes = [registrar, producer, retailer, ...(clearinghouse === null ? [] : [clearinghouse])]
  return {
    clock,
    net,
    keys,
    registrar,
    producer,
    retailer,
    clearinghouse,
    nodes,
    seeder,
    stop: async () => {
      await seeder.stop()
      await stopAll(nodes)
    },
  }
}

export interface PlayerNode {
  node: ConsortNode
  role: PlayerRole
  account: NodeKeys
}

/** A player node on `account` (new keys unless given), connected to the world and registered as a device. */
export async function startPlayer(
  world: World,
  options: { account?: NodeKeys; keys?: NodeKeys; dataDir?: string; init?: PlayerInit } = {},
): Promise<PlayerNode> {
  const account = options.account ?? (await createNodeKeys())
  const node = await startMemoryNode({
    network: world.net,
    clock: world.clock,
    ...(options.keys !== undefined ? { keys: options.keys } : {}),
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
    roles: ['player'],
    certRoles: [],
    roleOptions: { player: { account, flushIntervalMs: 0, ...options.init } },
  })
  world.nodes.push(node)
  for (const peer of [
    world.registrar,
    world.producer,
    world.retailer,
    ...(world.clearinghouse ? [world.clearinghouse] : []),
  ]) {
    await node.libp2p.dial(peer.libp2p.getMultiaddrs()[0]!)
  }
  const role = node.role('player')
  await role.ensureDevice()
  return { node, role, account }
}

export interface PackagedTrack {
  isrc: string
  plaintext: Uint8Array
  previewPlaintext: Uint8Array
  manifest: SignedRecord<'consort/manifest'>
  contentKey: Uint8Array
}

/** Segment size of the test tracks: the smallest a manifest allows, so that the fixture spans several segments. */
export const TEST_SEGMENT_BYTES = 16 * 1024

/**
 * Package audio as the production role does (fresh content key, AES-256-GCM segments as raw blocks in the
 * producer's blockstore, a preview clip under a published key, a signed manifest) and escrow the key with the
 * registrar. The audio is the FLAC fixture unless given.
 */
export async function packageTrack(
  world: World,
  isrc: string,
  options: { audio?: Uint8Array; durationMs?: number; previewBytes?: number; previewMs?: number } = {},
): Promise<PackagedTrack> {
  const plaintext = options.audio ?? new Uint8Array(await readFile(fixturePath('audio', 'sample-84k.flac')))
  const contentKey = generateContentKey()
  const keyId = generateKeyId()
  const blocks = world.producer.helia.blockstore
  const store = async (key: Uint8Array, id: Uint8Array, bytes: Uint8Array) => {
    const cids = []
    for (let i = 0; i * TEST_SEGMENT_BYTES < bytes.length; i++) {
      const block = encryptSegment(key, id, i, bytes.subarray(i * TEST_SEGMENT_BYTES, (i + 1) * TEST_SEGMENT_BYTES))
      const cid = rawCid(block)
      await blocks.put(cid, block)
      cids.push(cid)
    }
    return cids
  }
  const segments = await store(contentKey, keyId, plaintext)
  const previewPlaintext = plaintext.subarray(0, options.previewBytes ?? 40 * 1024)
  const previewKey = generateContentKey()
  const previewKeyId = generateKeyId()
  const previewSegments = await store(previewKey, previewKeyId, previewPlaintext)
  const now = world.clock.now()
  const manifest = signRecord(
    'consort/manifest',
    {
      network: world.net.name,
      created: now,
      seq: 0,
      isrc,
      title: `Track ${isrc}`,
      version: null,
      artists: ['The Lanterns'],
      release: null,
      genre: 'Folk',
      label: null,
      year: 2026,
      durationMs: options.durationMs ?? 60_000,
      codec: 'flac',
      mime: 'audio/flac',
      byteSize: plaintext.length,
      segmentSize: TEST_SEGMENT_BYTES,
      segments,
      keyId,
      preview: {
        startMs: 0,
        durationMs: options.previewMs ?? 40_000,
        codec: 'flac',
        mime: 'audio/flac',
        byteSize: previewPlaintext.length,
        keyId: previewKeyId,
        key: previewKey,
        segments: previewSegments,
      },
    },
    world.keys.producer.signer,
  )
  await world.producer.records.put(manifest)
  const escrow = signRecord(
    'consort/escrow',
    {
      network: world.net.name,
      created: now,
      keyId,
      isrc,
      manifest: manifest.id,
      recipient: world.keys.registrar.signer.publicKey,
      sealedKey: seal(world.keys.registrar.sealing.publicKey, contentKey, ESCROW_SEAL_CONTEXT),
    },
    world.keys.producer.signer,
  )
  await depositEscrow(world.producer.libp2p, world.producer.network, {
    escrows: [escrow],
    manifests: [manifest],
    release: null,
    attachments: world.producer.credentials.attachments(),
  })
  return { isrc, plaintext, previewPlaintext, manifest, contentKey }
}

let offerCounter = 0

/** A contract, a certified offer with `rules`, and a licence of it for the player, picked up by the player. */
export async function licenceFor(
  world: World,
  player: PlayerNode,
  track: PackagedTrack,
  rules: UsageRules = {},
  overrides: Partial<BodyInput<'consort/contract'>> = {},
): Promise<{ purchaseId: string; licence: SignedRecord<'consort/licence'> }> {
  const now = world.clock.now()
  const content = [`isrc:${track.isrc}`]
  const contract = signRecord(
    'consort/contract',
    contractBody(world.net.name, world.keys.producer.signer.publicKey, content, now, {
      contractId: `contract-${track.isrc}-${++offerCounter}`,
      splits: [{ party: 'The Lanterns', key: null, bps: 10_000 }],
      ...overrides,
    }),
    world.keys.producer.signer,
  )
  await world.producer.records.put(contract)
  const offer = signRecord(
    'consort/offer',
    offerBody(contract, now, { offerId: `offer-${offerCounter}`, rules }),
    world.keys.retailer.signer,
  )
  const certification = signRecord(
    'consort/certification',
    certificationBody(offer, contract, now, 3600_000),
    world.keys.reference.signer,
  )
  const purchaseId = `p-test-${offerCounter}`
  const device = player.node.credentials.device()!
  const receipt = signRecord(
    'consort/receipt',
    {
      network: world.net.name,
      created: now,
      purchaseId,
      offer: offer.id,
      certification: certification.id,
      account: player.account.signer.publicKey,
      device: device.body.device,
      price: offer.body.price,
      clearinghouse: world.keys.clearinghouse.signer.publicKey,
      authorisation: `auth-${purchaseId}`,
    },
    world.keys.retailer.signer,
  )
  const licence = await requestLicence(world.retailer.libp2p, world.retailer.network, {
    receipt,
    payment: paymentFor(receipt, world.keys.clearinghouse.signer, now),
    offer,
    certification,
    device,
    attachments: world.retailer.credentials.attachments(),
    now,
  })
  // The retailer hands the licence to the player, as a purchase's answer would.
  await player.role.receiveLicence(licence.bytes, receipt.bytes)
  const held = player.role.library.licences.get(purchaseId)!
  return { purchaseId, licence: held.record }
}

/** Let the player know the manifest (as the catalog topic would tell it). */
export async function announce(player: PlayerNode, track: PackagedTrack): Promise<void> {
  await player.role.directory.remember(track.manifest)
  await waitUntil(() => player.role.directory.manifestFor(track.isrc) !== undefined)
}
