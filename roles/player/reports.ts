import type { Connection, Libp2p } from '@libp2p/interface'
import { SEAL_SESSION_OVERHEAD_BYTES } from '../../keys/seal.ts'
import { CLEARING_OPS, MAX_REPORT_LICENCES, reportResponse } from '../../protocols/clearing/index.ts'
import { type ClearinghouseSealVersions, clearingProtocols } from '../../protocols/clearing/versions.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { encodeUsageEvents, MAX_EVENTS_PER_REPORT, type UsageEvent } from '../../protocols/usage/index.ts'
import { MAX_EVENTS_BYTES_PER_REPORT, REPORT_DEADLINE_MS, REPORT_ENVELOPE_RESERVE_BYTES } from './constants.ts'
import { reachable } from './reachable.ts'

/**
 * Usage reports (`consort/usage`): a device's events, sealed to every clearinghouse the network record lists (one
 * box each, bound to the report's device and sequence number by the seal context), signed by the device and
 * chained per device (`seq`, `prev`). A report is built once, logged, and then sent as the same bytes until a
 * clearinghouse acknowledges it, so a retry is a duplicate the clearinghouse recognises, never a second report.
 */

export type ReportStatus = 'settled' | 'held' | 'duplicate'

/** Bytes of encoded events one box may carry, given how many clearinghouses share the record's size cap. */
export function eventsBudget(network: NetworkContext): number {
  const recipients = Math.max(1, network.body.clearinghouses.length)
  const perBox = Math.floor((network.caps.largeRecordBytes - REPORT_ENVELOPE_RESERVE_BYTES) / recipients)
  return Math.min(MAX_EVENTS_BYTES_PER_REPORT, perBox - SEAL_SESSION_OVERHEAD_BYTES - 64)
}

/**
 * The longest prefix of `events` that fits one report (by count and encoded size), at least one event. Events
 * are small (a few hundred bytes), so the size is checked by encoding candidate prefixes, halving on overflow.
 */
export function takeForReport(events: readonly UsageEvent[], budgetBytes: number): UsageEvent[] {
  let take = Math.min(events.length, MAX_EVENTS_PER_REPORT)
  while (take > 1 && encodeUsageEvents(events.slice(0, take)).length > budgetBytes) take = Math.ceil(take / 2)
  return events.slice(0, take)
}

// Building a report is the protocol's (an attacker's client builds one the same way): protocols/usage/report.ts.
export { type BuildReportInit, buildUsageReport as buildReport } from '../../protocols/usage/report.ts'

/**
 * Send one report directly to one clearinghouse; answers its acknowledgement. Throws what the call throws. The newest
 * clearing protocol is offered first, and `versions` learns which one the clearinghouse chose (decision 0518).
 */
export async function sendReport(
  libp2p: Libp2p,
  network: NetworkContext,
  clearinghouse: Uint8Array,
  report: SignedRecord<'consort/usage'>,
  device: SignedRecord<'consort/device'>,
  signal?: AbortSignal,
  licences: readonly SignedRecord<'consort/licence'>[] = [],
  versions?: ClearinghouseSealVersions,
): Promise<{ status: ReportStatus; unpaid: Array<{ eventId: string; reason: string }> }> {
  const peer = peerIdOfKey(clearinghouse)
  await reachable(libp2p, peer, signal)
  const response = await rpcCall(
    libp2p,
    peer,
    clearingProtocols(network),
    CLEARING_OPS.report,
    {
      usage: report.bytes,
      device: device.bytes,
      ...(licences.length > 0 ? { licences: licences.slice(0, MAX_REPORT_LICENCES).map((l) => l.bytes) } : {}),
    },
    {
      deadlineMs: REPORT_DEADLINE_MS,
      ...(signal !== undefined ? { signal } : {}),
      ...(versions !== undefined
        ? {
            onProtocol: (protocol: string, connection: Connection | undefined) => {
              if (connection !== undefined) versions.learn(connection, [protocol])
            },
          }
        : {}),
    },
  )
  const answer = parseMessage(reportResponse, response, 'response')
  if (answer.reportId !== report.id.toString()) {
    throw new UnexpectedReportAnswerError(`the clearinghouse acknowledged ${answer.reportId}, not ${report.id}`)
  }
  return { status: answer.status, unpaid: answer.unpaid ?? [] }
}

/** A clearinghouse acknowledged something other than the report sent. */
export class UnexpectedReportAnswerError extends Error {
  static override name = 'UnexpectedReportAnswerError'
  override name = UnexpectedReportAnswerError.name

  constructor(message = 'A clearinghouse acknowledged something other than the report sent', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_UNEXPECTED_ANSWER'
}
