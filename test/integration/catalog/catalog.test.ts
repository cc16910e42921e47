import assert from 'node:assert/strict'
import { InvalidParametersError } from '@libp2p/interface'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { isError } from '../../../protocols/errors.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import type { CatalogRole } from '../../../roles/catalog/index.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { connectMesh, startMemoryNode, stopAll, waitForTopicPeers } from '../../helpers/nodes.ts'
import { rawCid, sampleManifestBody } from '../../helpers/records.ts'
import { waitUntil } from '../../helpers/wait.ts'

const clock = systemClock

function release(
  net: TestNetwork,
  producer: NodeKeys,
  manifests: SignedRecord<'consort/manifest'>[],
  overrides: Record<string, unknown> = {},
) {
  return signRecord(
    'consort/release',
    {
      network: net.name,
      created: clock.now(),
      seq: 0,
      icpn: '5099749534728',
      grid: null,
      title: 'Night Trains',
      artists: ['The Lanterns'],
      type: 'Album',
      label: 'Harbour Records',
      genre: 'Jazz',
      releaseDate: '2026-10-02',
      tracks: manifests.map((m) => ({ isrc: m.body.isrc, manifest: m.id })),
      artwork: null,
      ...overrides,
    },
    producer.signer,
  )
}

function catalogOf(node: ConsortNode): CatalogRole {
  return node.role('catalog')
}

describe('catalog: gossip-fed search, takedowns and catch-up', function () {
  this.timeout(60_000)
  let net: TestNetwork
  let producerKeys: NodeKeys
  const nodes: ConsortNode[] = []

  before(async () => {
    net = await createTestNetwork(clock)
    producerKeys = await createNodeKeys()
    nodes.push(await startMemoryNode({ network: net, clock, keys: producerKeys, certRoles: ['production'] }))
    nodes.push(await startMemoryNode({ network: net, clock, roles: ['catalog'] }))
    nodes.push(await startMemoryNode({ network: net, clock }))
    await connectMesh(nodes, 1)
    await waitForTopicPeers([nodes[0]!], topicString(net.name, 'catalog'))
  })

  after(() => stopAll(nodes))

  it('indexes releases and tracks from the catalog topic and finds them by words, facets and identifiers', async () => {
    const producer = nodes[0]!
    const manifests = [
      signRecord(
        'consort/manifest',
        sampleManifestBody(net.name, clock.now(), {
          isrc: 'GBAYE2600001',
          title: 'Platform Nine',
          artists: ['The Lanterns'],
          genre: 'Jazz',
          label: 'Harbour Records',
        }),
        producerKeys.signer,
      ),
      signRecord(
        'consort/manifest',
        sampleManifestBody(net.name, clock.now(), {
          isrc: 'GBAYE2600002',
          title: 'Last Departure',
          artists: ['The Lanterns', 'Ada Vale'],
          genre: 'Jazz',
          label: 'Harbour Records',
        }),
        producerKeys.signer,
      ),
    ]
    const rel = release(net, producerKeys, manifests)
    for (const record of [...manifests, rel])
      await producer.topics.publish('catalog', record, producer.credentials.attachments())
    const catalog = catalogOf(nodes[1]!)
    await waitUntil(() => catalog.size === 3, { message: 'catalog indexed 3 documents' })

    const byWord = catalog.search({ query: 'departure', filters: {}, page: 0, pageSize: 10 })
    assert.equal(byWord.total, 1)
    assert.equal(byWord.hits[0]!.contentId, 'isrc:GBAYE2600002')

    const byPrefixAndArtist = catalog.search({ query: 'lantern', filters: {}, page: 0, pageSize: 10 })
    assert.equal(byPrefixAndArtist.total, 3)
    const releasesOnly = catalog.search({ query: 'lantern', filters: { kind: 'release' }, page: 0, pageSize: 10 })
    assert.deepEqual(
      releasesOnly.hits.map((h) => h.contentId),
      ['icpn:05099749534728'],
    )
    assert.deepEqual(byPrefixAndArtist.facets.genre, [{ value: 'Jazz', count: 3 }])
    assert.ok(byPrefixAndArtist.facets.artist!.some((f) => f.value === 'Ada Vale' && f.count === 1))

    const page1 = catalog.search({ query: '', filters: {}, page: 1, pageSize: 2 })
    assert.equal(page1.total, 3)
    assert.equal(page1.hits.length, 1)

    const lookedUp = await catalog.lookup('isrc:GBAYE2600001')
    assert.equal(lookedUp.length, 1)
  })

  it('answers its own node through the catalog protocol (a role asking a role on the same node)', async () => {
    const { searchRemoteCatalog } = await import('../../../protocols/catalog/client.ts')
    const node = nodes[1]!
    const answer = await searchRemoteCatalog(node.libp2p, node.network, node.peerId, {
      query: 'departure',
      filters: {},
      page: 0,
      pageSize: 5,
    })
    assert.equal(answer.total, 1)
    await assert.rejects(
      searchRemoteCatalog(node.libp2p, node.network, node.peerId, {
        query: 'x'.repeat(300),
        filters: {},
        page: 0,
        pageSize: 5,
      }),
      // The shared code decodes to the reused @libp2p/interface error, by name.
      (err) => isError(err, InvalidParametersError) && err.message.includes('ERR_BAD_REQUEST'),
    )
  })

  it('keeps only the newest version and ignores an older one arriving late', async () => {
    const producer = nodes[0]!
    const catalog = catalogOf(nodes[1]!)
    const v2 = signRecord(
      'consort/manifest',
      sampleManifestBody(net.name, clock.now(), { isrc: 'GBAYE2600001', seq: 2, title: 'Platform Nine (Remastered)' }),
      producerKeys.signer,
    )
    const v1 = signRecord(
      'consort/manifest',
      sampleManifestBody(net.name, clock.now(), {
        isrc: 'GBAYE2600001',
        seq: 1,
        title: 'Platform Nine (Demo)',
        segments: [rawCid(new Uint8Array([9]))],
      }),
      producerKeys.signer,
    )
    await producer.topics.publish('catalog', v2, producer.credentials.attachments())
    await waitUntil(() => catalog.search({ query: 'remastered', filters: {}, page: 0, pageSize: 5 }).total === 1)
    await catalog.ingest(v1)
    assert.equal(catalog.search({ query: 'demo', filters: {}, page: 0, pageSize: 5 }).total, 0)
    assert.equal(catalog.documents('isrc:GBAYE2600001')[0]!.seq, 2)
  })

  it('removes a taken-down release at once, and only when its own label takes it down', async () => {
    const producer = nodes[0]!
    const catalog = catalogOf(nodes[1]!)
    const [doc] = catalog.documents('icpn:05099749534728')
    assert.ok(doc != null)
    const { CID } = await import('multiformats/cid')
    const target = { kind: 'release' as const, id: CID.parse(doc.record) }

    const stranger = await createNodeKeys()
    await catalog.withdraw(target.id, stranger.signer.publicKey)
    assert.equal(catalog.documents('icpn:05099749534728').length, 1, 'a stranger cannot take down a release')

    const takedown = signRecord(
      'consort/revocation',
      { network: net.name, created: clock.now(), targets: [target], reason: 'PurgeReleaseMessage' },
      producerKeys.signer,
    )
    await producer.topics.publish('revocations', takedown, producer.credentials.attachments())
    await waitUntil(() => catalog.documents('icpn:05099749534728').length === 0, { message: 'release withdrawn' })
    assert.equal(catalog.search({ query: 'night trains', filters: { kind: 'release' }, page: 0, pageSize: 5 }).total, 0)
  })

  it('a new catalog node catches up from an existing one without gossip', async () => {
    const late = await startMemoryNode({
      network: net,
      clock,
      roles: ['catalog'],
      roleOptions: { catalog: { catchUp: false } },
    })
    nodes.push(late)
    await late.libp2p.dial(nodes[1]!.libp2p.getMultiaddrs()[0]!)
    const count = await catalogOf(late).catchUp(nodes[1]!.peerId)
    assert.equal(count, catalogOf(nodes[1]!).size)
    assert.equal(catalogOf(late).size, catalogOf(nodes[1]!).size)
    assert.equal(catalogOf(late).search({ query: 'departure', filters: {}, page: 0, pageSize: 5 }).total, 1)
  })
})
