import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha512 } from 'multiformats/hashes/sha2'
import { assertVerifiableCid, blockMatches } from '../../../protocols/segments/index.ts'
import { rawCid } from '../../helpers/records.ts'

describe('segments block verification', () => {
  it('accepts a block that hashes to its CID and refuses one that does not', () => {
    const block = new TextEncoder().encode('an encrypted segment')
    const cid = rawCid(block)
    assertVerifiableCid(cid)
    assert.equal(blockMatches(cid, block), true)
    const altered = new Uint8Array(block)
    altered[3] = altered[3]! ^ 1
    assert.equal(blockMatches(cid, altered), false)
    assert.equal(blockMatches(cid, block.subarray(1)), false)
  })

  it('fetches only CIDv1 with sha2-256', async () => {
    const bytes = new Uint8Array([1, 2, 3])
    assert.throws(() => assertVerifiableCid(CID.createV1(raw.code, identity.digest(bytes))), {
      name: 'UnsupportedCidError',
    })
    const sha512Cid = CID.createV1(raw.code, await sha512.digest(bytes))
    assert.throws(() => assertVerifiableCid(sha512Cid), { name: 'UnsupportedCidError' })
    const v0 = CID.parse('QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n')
    assert.throws(() => assertVerifiableCid(v0), { name: 'UnsupportedCidError' })
    // records (dag-cbor) verify like segments (raw)
    const record = dagCbor.encode({ a: 1 })
    const recordCid = CID.createV1(
      dagCbor.code,
      (await import('multiformats/hashes/sha2')).sha256.digest(record) as never,
    )
    assertVerifiableCid(recordCid)
    assert.equal(blockMatches(recordCid, record), true)
  })
})
