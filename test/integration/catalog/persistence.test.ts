import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { signRecord } from '../../../protocols/records/envelope.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { sampleManifestBody } from '../../helpers/records.ts'

describe('catalog: state on disk', function () {
  this.timeout(60_000)
  let dir: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'consort-catalog-'))
  })

  after(() => rm(dir, { recursive: true, force: true }))

  it('keeps its index and its takedowns across a restart', async () => {
    const clock = systemClock
    const net = await createTestNetwork(clock)
    const producer = await createNodeKeys()
    const keys = await createNodeKeys()
    const first = await startMemoryNode({
      network: net,
      clock,
      keys,
      roles: ['catalog'],
      dataDir: dir,
      roleOptions: { catalog: { catchUp: false, announce: false } },
    })
    first.trust.learnCert(net.certify(producer, ['production']))
    const kept = signRecord(
      'consort/manifest',
      sampleManifestBody(net.name, clock.now(), { isrc: 'GBAYE2600010', title: 'Harbour Lights' }),
      producer.signer,
    )
    const gone = signRecord(
      'consort/manifest',
      sampleManifestBody(net.name, clock.now(), { isrc: 'GBAYE2600011', title: 'Fog Signal' }),
      producer.signer,
    )
    const catalog = first.role('catalog')
    await catalog.ingest(kept)
    await catalog.ingest(gone)
    await catalog.withdraw(gone.id, producer.signer.publicKey)
    await first.stop()

    const second = await startMemoryNode({
      network: net,
      clock,
      keys,
      roles: ['catalog'],
      dataDir: dir,
      roleOptions: { catalog: { catchUp: false, announce: false } },
    })
    try {
      const reopened = second.role('catalog')
      assert.equal(reopened.size, 1)
      assert.equal(reopened.search({ query: 'harbour', filters: {}, page: 0, pageSize: 5 }).total, 1)
      await reopened.ingest(gone)
      assert.equal(
        reopened.search({ query: 'fog', filters: {}, page: 0, pageSize: 5 }).total,
        0,
        'a withdrawn record stays withdrawn',
      )
    } finally {
      await second.stop()
    }
  })
})
