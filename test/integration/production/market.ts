import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import type { Random } from '../../../keys/random.ts'
import { open } from '../../../keys/seal.ts'
import { type ConsortNode, createConsortNode } from '../../../node/consort-node.ts'
import { createNetworkRecord } from '../../../node/network-file.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { depositRequest, ESCROW_SEAL_CONTEXT } from '../../../protocols/escrow/index.ts'
import { parseMessage } from '../../../protocols/messages.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { RoleName } from '../../../protocols/records/types/common.ts'
import { assignedPartyId } from '../../../protocols/register/party-id.ts'
import { RpcHandlerError } from '../../../protocols/rpc/errors.ts'
import { registerRpc } from '../../../protocols/rpc/server.ts'
import type { GossipDelivery } from '../../../protocols/topics/bus.ts'
import { type TopicName, topicString } from '../../../protocols/topics/names.ts'
import type { ProductionRole } from '../../../roles/production/index.ts'
import { stopAll, waitForTopicPeers } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'

/**
 * A small market for the production role's tests, on the memory transport: registration managers that take escrow
 * deposits (a stand-in for the registration role that checks each escrow and opens its key with the registrar's own
 * sealing key), an observer that follows the catalog, contracts and revocations topics, and producers.
 */

let address = 0

export interface Deposit {
  escrows: SignedRecord<'consort/escrow'>[]
  manifests: SignedRecord<'consort/manifest'>[]
  release: SignedRecord<'consort/release'> | null
  /** Each escrowed content key, opened with this registrar's sealing key, by key id (hex). */
  keys: Map<string, Uint8Array>
}

export interface Registrar {
  node: ConsortNode
  keys: NodeKeys
  deposits: Deposit[]
  /** While false, deposits are refused with ERR_UNAVAILABLE (the registrar is "down"). */
  accepting: boolean
}

export interface Market {
  clock: FakeClock
  name: string
  record: SignedRecord<'consort/network'>
  registrars: Registrar[]
  observer: ConsortNode
  received: Record<'catalog' | 'contracts' | 'revocations', GossipDelivery[]>
  certify(keys: NodeKeys, roles: RoleName[]): SignedRecord<'consort/cert'>
  startNode(options: {
    keys?: NodeKeys
    roles?: RoleName[]
    roleOptions?: Record<string, unknown>
    dataDir?: string | null
    random?: Random
  }): Promise<ConsortNode>
  startProducer(options?: {
    keys?: NodeKeys
    init?: Record<string, unknown>
    dataDir?: string | null
    random?: Random
  }): Promise<{ node: ConsortNode; role: ProductionRole }>
  tempDir(): Promise<string>
  stop(): Promise<void>
}

export async function startMarket(options: { registrars?: number; name?: string } = {}): Promise<Market> {
  const clock = new FakeClock()
  const name = options.name ?? 'prodnet'
  const genesis = await createNodeKeys()
  const registrarKeys = await Promise.all(Array.from({ length: options.registrars ?? 1 }, () => createNodeKeys()))
  const record = createNetworkRecord(
    {
      name,
      created: clock.now(),
      registrars: registrarKeys.map((k, i) => ({
        name: `registrar-${i + 1}`,
        key: k.signer.publicKey,
        sealingKey: k.sealing.publicKey,
      })),
    },
    genesis.signer,
  )
  let serial = 0
  const certify = (keys: NodeKeys, roles: RoleName[]) =>
    signRecord(
      'consort/cert',
      {
        network: name,
        created: clock.now(),
        serial: ++serial,
        subject: keys.signer.publicKey,
        name: `node-${serial}`,
        partyId: assignedPartyId(keys.signer.publicKey),
        roles,
        sealingKey: keys.sealing.publicKey,
        notBefore: clock.now() - 1000,
        notAfter: clock.now() + 365 * 24 * 3600_000,
      },
      registrarKeys[0]!.signer,
    )
  const nodes: ConsortNode[] = []
  const dirs: string[] = []
  const startNode: Market['startNode'] = async ({ keys, roles = [], roleOptions, dataDir = null, random }) => {
    const nodeKeys = keys ?? (await createNodeKeys())
    const node = await createConsortNode({
      dataDir,
      network: record,
      keys: nodeKeys,
      listen: [`/memory/consort-production-${process.pid}-${++address}`],
      transports: { tcp: false, memory: true },
      roles,
      roleOptions: roleOptions == null ? {} : { production: roleOptions },
      clock,
      ...(random == null ? {} : { random }),
    })
    await node.start()
    if (roles.length > 0) await node.credentials.setCert(certify(nodeKeys, roles))
    nodes.push(node)
    if (nodes.length > 1) {
      const others = nodes.filter((n) => n !== node && n.status === 'started')
      await Promise.all(others.map((n) => node.libp2p.dial(n.libp2p.getMultiaddrs()[0]!)))
    }
    return node
  }

  const registrars: Registrar[] = []
  for (const keys of registrarKeys) {
    const node = await startNode({ keys })
    const registrar: Registrar = { node, keys, deposits: [], accepting: true }
    await registerRpc(node.libp2p, node.network.protocol('escrow'), {
      deposit: async (body) => {
        if (!registrar.accepting) throw new RpcHandlerError('ERR_UNAVAILABLE', 'the registrar is down')
        const request = parseMessage(depositRequest, body, 'request')
        const options = { network: name, now: clock.now() }
        const escrows = request.escrows.map((b) => decodeRecordAs('consort/escrow', b, options))
        const opened = new Map<string, Uint8Array>()
        for (const escrow of escrows) {
          opened.set(
            Buffer.from(escrow.body.keyId).toString('hex'),
            open(keys.sealing, escrow.body.sealedKey, ESCROW_SEAL_CONTEXT),
          )
        }
        registrar.deposits.push({
          escrows,
          manifests: request.manifests.map((b) => decodeRecordAs('consort/manifest', b, options)),
          release: request.release == null ? null : decodeRecordAs('consort/release', request.release, options),
          keys: opened,
        })
        return { stored: escrows.length }
      },
    })
    registrars.push(registrar)
  }

  const observer = await startNode({})
  const received: Market['received'] = { catalog: [], contracts: [], revocations: [] }
  for (const topic of ['catalog', 'contracts', 'revocations'] as const) {
    observer.topics.subscribe(topic, { onMessage: (delivery) => void received[topic].push(delivery) })
  }

  return {
    clock,
    name,
    record,
    registrars,
    observer,
    received,
    certify,
    startNode,
    async startProducer({ keys, init = {}, dataDir = null, random } = {}) {
      const node = await startNode({
        keys,
        roles: ['production'],
        roleOptions: { reannounceIntervalMs: 0, ...init },
        dataDir,
        ...(random == null ? {} : { random }),
      })
      for (const topic of ['catalog', 'contracts', 'revocations'] as TopicName[]) {
        await waitForTopicPeers([node], topicString(name, topic))
      }
      return { node, role: node.role('production') }
    },
    async tempDir() {
      const dir = await mkdtemp(path.join(tmpdir(), 'consort-production-'))
      dirs.push(dir)
      return dir
    },
    async stop() {
      await stopAll(nodes.filter((n) => n.status === 'started'))
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
    },
  }
}

/** Wait until `count` messages satisfying `filter` have arrived on `topic`, and return them. */
export async function arrivals(
  market: Market,
  topic: 'catalog' | 'contracts' | 'revocations',
  filter: (d: GossipDelivery) => boolean,
  count: number,
): Promise<GossipDelivery[]> {
  await waitUntil(() => market.received[topic].filter(filter).length >= count, {
    message: `${count} message(s) on ${topic}`,
  })
  return market.received[topic].filter(filter)
}

/** Every block in a node's blockstore (to show an import wrote nothing). */
export async function countBlocks(node: ConsortNode): Promise<number> {
  let n = 0
  for await (const _ of node.helia.blockstore.getAll()) n++
  return n
}
