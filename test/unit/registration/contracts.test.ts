import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import type { ContractBody } from '../../../protocols/records/types/contract.ts'
import { coversTerritory, exclusionOf, type Sale, windowOpen } from '../../../roles/registration/contracts.ts'
import { contractBody } from '../../helpers/record-bodies.ts'

const NOW = Date.UTC(2026, 10, 1)

describe('registration: is a contract still in force for a sale', () => {
  let producer: NodeKeys
  let retailer: NodeKeys
  let base: ContractBody
  let sale: Sale

  before(async () => {
    producer = await createNodeKeys()
    retailer = await createNodeKeys()
    base = contractBody(
      'bench',
      producer.signer.publicKey,
      ['isrc:GBAYE2600001', 'isrc:GBAYE2600002'],
      NOW,
    ) as ContractBody
    sale = {
      content: ['isrc:GBAYE2600001'],
      useType: 'PermanentDownload',
      territories: ['Worldwide'],
      excludedTerritories: [],
      retailer: retailer.signer.publicKey,
      at: NOW,
    }
  })

  const next = (changes: Partial<ContractBody>): ContractBody => ({ ...base, seq: base.seq + 1, ...changes })

  it('finds nothing excluded by a version that changes only what the sale does not need', () => {
    assert.equal(exclusionOf(base, next({ content: ['isrc:GBAYE2600001'] }), sale), null)
    assert.equal(exclusionOf(base, next({ useTypes: ['PermanentDownload', 'OnDemandStream'] }), sale), null)
    assert.equal(exclusionOf(base, next({ validUntil: NOW + 1 }), sale), null)
  })

  it('names what a newer version takes away', () => {
    assert.match(
      exclusionOf(base, next({ content: ['isrc:GBAYE2600002'] }), sale) ?? '',
      /no longer covers isrc:GBAYE2600001/,
    )
    assert.match(
      exclusionOf(base, next({ useTypes: ['OnDemandStream'] }), sale) ?? '',
      /no longer allows PermanentDownload/,
    )
    assert.match(exclusionOf(base, next({ excludedTerritories: ['DE'] }), sale) ?? '', /territory Worldwide/)
    const other = new Uint8Array(32).fill(7)
    assert.match(exclusionOf(base, next({ retailer: other }), sale) ?? '', /another retailer/)
    assert.match(exclusionOf(base, next({ validUntil: NOW - 1 }), sale) ?? '', /not in force/)
  })

  it('reads territories with their exclusions', () => {
    const europe = next({ territories: ['DE', 'FR'], excludedTerritories: [] })
    assert.equal(coversTerritory(europe, 'DE', []), true)
    assert.equal(coversTerritory(europe, 'GB', []), false)
    assert.equal(coversTerritory(europe, 'Worldwide', []), false)
    const worldButDe = next({ territories: ['Worldwide'], excludedTerritories: ['DE'] })
    assert.equal(coversTerritory(worldButDe, 'DE', []), false)
    assert.equal(coversTerritory(worldButDe, 'FR', []), true)
    assert.equal(coversTerritory(worldButDe, 'Worldwide', []), false)
    assert.equal(coversTerritory(worldButDe, 'Worldwide', ['DE']), true)
    assert.equal(windowOpen(next({ validFrom: NOW, validUntil: NOW }), NOW), true)
    assert.equal(windowOpen(next({ validFrom: NOW + 1, validUntil: null }), NOW), false)
  })

  it('never finds a version excluding a sale from itself (property)', () => {
    const territory = fc.constantFrom('Worldwide', 'DE', 'FR', 'GB', 'US', 'JP')
    fc.assert(
      fc.property(
        fc.subarray(['isrc:GBAYE2600001', 'isrc:GBAYE2600002', 'isrc:GBAYE2600003'], { minLength: 1 }),
        fc.uniqueArray(territory, { minLength: 1, maxLength: 4 }),
        fc.uniqueArray(territory, { maxLength: 3 }),
        fc.integer({ min: -5000, max: 5000 }),
        (content, territories, excluded, offset) => {
          const contract = next({ content, territories: territories as ContractBody['territories'] })
          const s: Sale = { ...sale, content, territories, excludedTerritories: excluded, at: NOW + offset }
          return exclusionOf(contract, contract, s) === null
        },
      ),
    )
  })
})
