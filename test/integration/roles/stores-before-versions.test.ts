import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { Level } from 'level'
import { toString as bytesToHex } from 'uint8arrays/to-string'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { dataDirPaths } from '../../../node/data-dir.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { signRecord } from '../../../protocols/records/envelope.ts'
import type { OfferEntry, PurchaseEntry } from '../../../roles/retailer/index.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { sampleBodies } from '../../helpers/record-samples.ts'
import { sampleManifestBody } from '../../helpers/records.ts'

/**
 * Stores written before the roles had a layout version (main at 8d05b0f, where catalog, retailer, delivery,
 * reference and production kept their keys with no version): the keys and encodings below are exactly what that code
 * wrote (its `KEY`, `of!…`, `seed/…`, `ch!…` and `c/…` layouts, DAG-CBOR entries, decimal text, record bytes). The roles on the typed store must read them
 * unchanged, record version 1 beside them, and start again on what they recorded.
 */
const cbor = (value: unknown) => Buffer.from(dagCbor.encode(value)).toString('hex')

describe('role stores written before layout versions', function () {
  this.timeout(60_000)
  let dir: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `consort-stores-before-${process.pid}-`))
  })

  after(() => rm(dir, { recursive: true, force: true }))

  it('catalog, retailer, delivery, reference and production read what they wrote before, and record version 1', async () => {
    const clock = systemClock
    const net = await createTestNetwork(clock)
    const producer = await createNodeKeys()
    const keys = await createNodeKeys()
    const now = clock.now()
    const manifest = signRecord(
      'consort/manifest',
      sampleManifestBody(net.name, now, { isrc: 'GBAYE2600020', title: 'Written Before' }),
      producer.signer,
    )
    const contract = signRecord('consort/contract', sampleBodies(net.name, now)['consort/contract'], producer.signer)
    const text = (value: string) => new TextEncoder().encode(value)

    const offer: OfferEntry = {
      offerId: 'offer-before',
      live: null,
      latest: new Uint8Array([1, 2, 3]),
      status: 'withdrawn',
      failures: [],
      note: 'withdrawn by the retailer',
      updatedAt: now,
    }
    const purchase: PurchaseEntry = {
      purchaseId: 'purchase-before',
      state: 'voided',
      order: new Uint8Array([4]),
      device: new Uint8Array(32).fill(5),
      offer: new Uint8Array([6]),
      certification: new Uint8Array([7]),
      authorisation: null,
      authorisationExpiresAt: null,
      receipt: null,
      licence: null,
      error: { code: 'ERR_REFUSED', message: 'refused' },
      history: [
        { state: 'started', at: now },
        { state: 'voided', at: now },
      ],
      createdAt: now,
      updatedAt: now,
    }
    const seed = {
      cid: manifest.id.toString(),
      kind: 'manifest',
      state: 'failed',
      added: now,
      completed: null,
      manifests: [],
      blocks: 0,
      error: 'no peer served it',
    }

    await mkdir(dataDirPaths(dir).root, { recursive: true, mode: 0o700 })
    const db = new Level<string, Uint8Array>(dataDirPaths(dir).db, { valueEncoding: 'view' })
    await db.open()
    const docKey = `${bytesToHex(producer.signer.publicKey, 'base16')}/isrc:GBAYE2600020`
    const cid = manifest.id.toString()
    await db.sublevel<string, Uint8Array>('role-catalog', { valueEncoding: 'view' }).batch([
      { type: 'put', key: `doc/${docKey}`, value: manifest.bytes },
      { type: 'put', key: `seq/${docKey}`, value: text(String(manifest.body.seq)) },
      { type: 'put', key: `cid/${cid}`, value: text(docKey) },
      { type: 'put', key: `log/${'1'.padStart(16, '0')}`, value: text(cid) },
      { type: 'put', key: 'meta/log-counter', value: text('1') },
    ])
    const distributor = bytesToHex(contract.body.distributor, 'base16')
    const contractKey = `${distributor}!${contract.body.contractId}`
    await db.sublevel<string, Uint8Array>('role-retailer', { valueEncoding: 'view' }).batch([
      { type: 'put', key: `of!${offer.offerId}`, value: dagCbor.encode(offer) },
      { type: 'put', key: `pu!${purchase.purchaseId}`, value: dagCbor.encode(purchase) },
      { type: 'put', key: `ct!${contractKey}`, value: contract.bytes },
      { type: 'put', key: `cc!${contract.id.toString()}`, value: text(contractKey) },
      { type: 'put', key: `ci!${contract.body.contractId}!${distributor}`, value: new Uint8Array() },
    ])
    await db
      .sublevel<string, Uint8Array>('role-delivery', { valueEncoding: 'view' })
      .put(`seed/${seed.cid}`, dagCbor.encode(seed))
    const contractHead = { seq: contract.body.seq, cid: contract.id.toString(), revokedSeq: -1 }
    const release = { seq: 2, signer: bytesToHex(producer.signer.publicKey, 'base16'), tracks: ['isrc:GBAYE2600020'] }
    await db.sublevel<string, Uint8Array>('role-reference', { valueEncoding: 'view' }).batch([
      { type: 'put', key: `ch!${contractKey}`, value: dagCbor.encode(contractHead) },
      {
        type: 'put',
        key: `cv!${contractKey}!${String(contract.body.seq).padStart(16, '0')}`,
        value: contract.bytes,
      },
      { type: 'put', key: `cc!${contract.id.toString()}`, value: text(`${contractKey}!${contract.body.seq}`) },
      { type: 'put', key: `ci!${contract.body.contractId}!${distributor}`, value: new Uint8Array() },
      { type: 'put', key: 'rl!icpn:00724384960650', value: dagCbor.encode(release) },
      {
        type: 'put',
        key: `rv!${manifest.id.toString()}`,
        value: dagCbor.encode({ kind: 'certification', by: distributor }),
      },
    ])
    const contractState = {
      contractId: 'manual-before',
      seq: 0,
      record: contract.id,
      history: [contract.id],
      status: 'active',
      origin: 'manual',
      release: null,
      revocation: null,
    }
    await db.sublevel<string, Uint8Array>('role-production', { valueEncoding: 'view' }).batch([
      { type: 'put', key: 'c/manual-before', value: dagCbor.encode(contractState) },
      { type: 'put', key: 'a/icpn:00724384960650', value: text('release-before') },
    ])
    await db.close()

    const start = () =>
      startMemoryNode({
        network: net,
        clock,
        keys,
        roles: ['catalog', 'retailer', 'delivery', 'reference', 'production'],
        dataDir: dir,
        roleOptions: {
          catalog: { catchUp: false, announce: false },
          retailer: { renewCheckIntervalMs: 0, storefront: { enabled: false } },
          delivery: { reprovide: false },
        },
      })
    for (const round of ['first start: unversioned', 'second start: version 1 recorded']) {
      const node = await start()
      try {
        const catalog = node.role('catalog')
        assert.equal(catalog.size, 1, round)
        assert.equal(catalog.search({ query: 'written', filters: {}, page: 0, pageSize: 5 }).total, 1, round)
        const page = await catalog.syncPage({ cursor: '', limit: 10 })
        assert.deepEqual(
          page.records.map((bytes) => Buffer.from(bytes).toString('hex')),
          [Buffer.from(manifest.bytes).toString('hex')],
          round,
        )
        const retailer = node.role('retailer')
        assert.deepEqual(await retailer.store.offer(offer.offerId), offer, round)
        assert.deepEqual(await retailer.store.purchase(purchase.purchaseId), purchase, round)
        assert.equal(
          (await retailer.store.contractById(contract.body.contractId))?.id.toString(),
          contract.id.toString(),
        )
        assert.equal((await retailer.store.contractByCid(contract.id))?.id.toString(), contract.id.toString())
        assert.deepEqual(await node.role('delivery').seedStatus(manifest.id), seed, round)
        const reference = node.role('reference')
        assert.deepEqual(await reference.store.head(contractKey), contractHead, round)
        assert.equal(
          (await reference.store.contractById(contract.body.contractId))?.id.toString(),
          contract.id.toString(),
        )
        assert.deepEqual(await reference.store.release('icpn:00724384960650'), release, round)
        assert.equal(await reference.store.revokedBy(manifest.id), distributor, round)
        const production = node.role('production')
        // CIDs compare by their encoding (one side's digest is a Buffer).
        assert.equal(cbor(await production.state.getContract('manual-before')), cbor(contractState), round)
        assert.equal(await production.state.releaseKeyOf('icpn:00724384960650'), 'release-before', round)
        assert.equal(await production.state.countEntries(), 2, `${round}: the version key is not an entry`)
      } finally {
        await node.stop()
      }
    }

    const after = new Level<string, Uint8Array>(dataDirPaths(dir).db, { valueEncoding: 'view' })
    await after.open()
    try {
      for (const [role, key] of [
        ['catalog', 'meta/layout-version'],
        ['retailer', 'meta!layout-version'],
        ['delivery', 'meta/layout-version'],
        ['reference', 'meta!layout-version'],
        ['production', 'meta/layout-version'],
      ] as const) {
        const version = await after.sublevel<string, Uint8Array>(`role-${role}`, { valueEncoding: 'view' }).get(key)
        assert.equal(dagCbor.decode(version!), 1, `${role} recorded its layout version`)
      }
    } finally {
      await after.close()
    }
  })
})
