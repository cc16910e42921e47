import type { CID } from 'multiformats/cid'
import type { Signer } from '../../keys/ed25519.ts'
import type { Random } from '../../keys/random.ts'
import { type SealBoxVersion, type SealSession, seal } from '../../keys/seal.ts'
import type { NetworkContext } from '../network.ts'
import { type SignedRecord, signRecord } from '../records/envelope.ts'
import { encodeUsageEvents, type UsageEvent, usageSealContext } from './index.ts'

/**
 * A `consort/usage` report: a device's events sealed to every clearinghouse the network record lists (one box each,
 * bound to the report's device and sequence number by the seal context), signed by the device, chained per device
 * (`seq`, `prev`). The player builds its reports with it (roles/player/reports.ts), and so may any client.
 */
export interface BuildReportInit {
  network: NetworkContext
  device: Signer
  account: Uint8Array
  seq: number
  prev: CID | null
  events: readonly UsageEvent[]
  now: number
  random: Random
  /**
   * The device's sealing session (decision 0513): its boxes share one ephemeral key for a while, so a clearinghouse
   * makes one X25519 agreement per session rather than per report. Without it each box gets a fresh key (`seal`).
   */
  session?: SealSession
  /**
   * The box version to seal for each clearinghouse in a session: the newest it announced it opens (decision 0518;
   * `ClearinghouseSealVersions`). Absent: version 2 for all. Without a session every box is version 1.
   */
  sealVersion?: (clearinghouse: { key: Uint8Array; sealingKey: Uint8Array }) => SealBoxVersion
}

/** Seal the events to every clearinghouse of the network and sign the report with the device key. */
export function buildUsageReport(init: BuildReportInit): SignedRecord<'consort/usage'> {
  const clearinghouses = init.network.body.clearinghouses
  const plaintext = encodeUsageEvents([...init.events])
  const context = usageSealContext(init.network.name, init.device.publicKey, init.seq)
  const sealed = clearinghouses.map((c) => ({
    recipient: c.key,
    box:
      init.session !== undefined
        ? init.session.seal(c.sealingKey, plaintext, context, init.sealVersion?.(c))
        : seal(c.sealingKey, plaintext, context, init.random),
  }))
  plaintext.fill(0)
  return signRecord(
    'consort/usage',
    {
      network: init.network.name,
      created: init.now,
      device: init.device.publicKey,
      account: init.account,
      seq: init.seq,
      prev: init.prev,
      sealed,
    },
    init.device,
    init.network.caps,
  )
}
