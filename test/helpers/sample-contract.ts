import type { NodeKeys } from '../../keys/keystore.ts'
import type { ConsortNode } from '../../node/consort-node.ts'
import type { FakeClock } from '../../protocols/clock.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { BodyInput } from '../../protocols/records/registry.ts'
import { fixturePath } from '../fixtures.ts'
import { waitUntil } from './wait.ts'

/** The nodes a contract version must reach before a test sells under it. */
export interface ContractReach {
  clock: FakeClock
  label: ConsortNode
  labelKeys: NodeKeys
  retailers: ConsortNode[]
  reference: ConsortNode
  house: ConsortNode
}

/**
 * Publish the sample release from the label, then the next version of its download contract with `changes` (a
 * delivery fee, a referral clause), signed by the label, and wait until every retailer, the reference service and
 * the clearinghouse hold that version: where the end-to-end tests of paid delivery and of sharing start.
 */
export async function publishSampleDownloadContract(
  reach: ContractReach,
  changes: Partial<BodyInput<'consort/contract'>>,
): Promise<SignedRecord<'consort/contract'>> {
  const { clock, label, retailers, reference, house } = reach
  const published = await label.role('production').publishSample({ audioFile: fixturePath('audio', 'sample-84k.flac') })
  const download = published.releases[0]!.contracts.find((c) => c.contractId.endsWith('download'))!
  const shops = retailers.map((r) => r.role('retailer'))
  await waitUntil(async () => (await shops[0]!.store.contractByCid(download.record)) != null)
  const first = (await shops[0]!.store.contractByCid(download.record))!
  const contract = signRecord(
    'consort/contract',
    { ...first.body, seq: first.body.seq + 1, created: clock.now(), ...changes },
    reach.labelKeys.signer,
    label.network.caps,
  )
  await label.topics.publish('contracts', contract, label.credentials.attachments())
  for (const shop of shops) await waitUntil(async () => (await shop.store.contractByCid(contract.id)) != null)
  await waitUntil(async () => (await reference.role('reference').store.contractByCid(contract.id)) != null)
  await waitUntil(
    async () =>
      (await house.role('clearinghouse').engine.records.get('consort/contract', contract.id.toString())) !== undefined,
  )
  return contract
}
