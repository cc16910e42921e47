import type { Libp2p } from '@libp2p/interface'
import type { Signer } from '../../keys/ed25519.ts'
import { toHex } from '../../keys/hex.ts'
import type { Random } from '../../keys/random.ts'
import { signAccountRequest } from '../../protocols/clearing/account.ts'
import { signConsumptionRequest } from '../../protocols/clearing/consumption.ts'
import {
  type AccountRequestFields,
  balanceResponse,
  CLEARING_OPS,
  CLEARING_PROTOCOL,
  CONSUMPTION_OP,
  consumptionResponse,
  USAGE_STATE_OP,
  type UsageStateResponse,
  usageStateResponse,
} from '../../protocols/clearing/index.ts'
import { signUsageStateRequest } from '../../protocols/clearing/usage-state.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { reachable } from './reachable.ts'

/**
 * The player's signed requests to a clearinghouse over `/clearing/1`: the account's `balance` (signed by the
 * account key), the device's `usage-state` and a purchase's `consumption` (signed by the device key).
 */

export type Balance = ReturnType<typeof balanceResponse.parse>['balances'][number]

interface CallInit {
  now: number
  random: Random
  deadlineMs?: number
  signal?: AbortSignal
}

function requestId(random: Random): string {
  return `q-${toHex(random.bytes(12))}`
}

function callOptions(init: CallInit) {
  return {
    ...(init.deadlineMs !== undefined ? { deadlineMs: init.deadlineMs } : {}),
    ...(init.signal !== undefined ? { signal: init.signal } : {}),
  }
}

/** The account's balances at one clearinghouse. */
export async function fetchBalance(
  libp2p: Libp2p,
  network: NetworkContext,
  clearinghouse: Uint8Array,
  account: Signer,
  init: CallInit,
): Promise<Balance[]> {
  const fields: AccountRequestFields = {
    network: network.name,
    account: account.publicKey,
    op: 'balance',
    amount: null,
    currency: null,
    paymentToken: null,
    period: null,
    requestId: requestId(init.random),
    created: init.now,
  }
  await reachable(libp2p, peerIdOfKey(clearinghouse), init.signal)
  const response = await rpcCall(
    libp2p,
    peerIdOfKey(clearinghouse),
    network.protocol(CLEARING_PROTOCOL),
    CLEARING_OPS.balance,
    signAccountRequest(fields, account),
    callOptions(init),
  )
  return parseMessage(balanceResponse, response, 'response').balances
}

/** What one clearinghouse acknowledged of this device's usage (`usage-state`). */
export async function fetchUsageState(
  libp2p: Libp2p,
  network: NetworkContext,
  clearinghouse: Uint8Array,
  device: Signer,
  deviceRecord: SignedRecord<'consort/device'>,
  init: CallInit,
): Promise<UsageStateResponse> {
  const request = signUsageStateRequest(
    { network: network.name, device: device.publicKey, requestId: requestId(init.random), created: init.now },
    device,
    deviceRecord.bytes,
  )
  await reachable(libp2p, peerIdOfKey(clearinghouse), init.signal)
  const response = await rpcCall(
    libp2p,
    peerIdOfKey(clearinghouse),
    network.protocol(CLEARING_PROTOCOL),
    USAGE_STATE_OP,
    request,
    callOptions(init),
  )
  return parseMessage(usageStateResponse, response, 'response')
}

/**
 * One clearinghouse's signed statement of what a purchase of this account has used over all its devices
 * (`consumption`): what a registration manager writes into a reissued licence. Checked here before it is sent on:
 * the clearinghouse's own signature, for this purchase.
 */
export async function fetchConsumption(
  libp2p: Libp2p,
  network: NetworkContext,
  clearinghouse: Uint8Array,
  device: Signer,
  deviceRecord: SignedRecord<'consort/device'>,
  purchaseId: string,
  init: CallInit & { transfer?: SignedRecord<'consort/transfer'> },
): Promise<SignedRecord<'consort/consumption'>> {
  const signed = signConsumptionRequest(
    {
      network: network.name,
      device: device.publicKey,
      purchaseId,
      requestId: requestId(init.random),
      created: init.now,
    },
    device,
    deviceRecord.bytes,
  )
  // The transfer that made this account the purchase's holder, shown so that the clearinghouse need not have seen
  // its gossip yet (decision 0606).
  const request = init.transfer === undefined ? signed : { ...signed, transfer: init.transfer.bytes }
  await reachable(libp2p, peerIdOfKey(clearinghouse), init.signal)
  const response = await rpcCall(
    libp2p,
    peerIdOfKey(clearinghouse),
    network.protocol(CLEARING_PROTOCOL),
    CONSUMPTION_OP,
    request,
    callOptions(init),
  )
  const { consumption } = parseMessage(consumptionResponse, response, 'response')
  const record = decodeRecordAs('consort/consumption', consumption, {
    network: network.name,
    now: init.now,
    caps: network.caps,
  })
  if (Buffer.compare(record.signer, clearinghouse) !== 0 || record.body.purchaseId !== purchaseId) {
    throw new UnexpectedClearingAnswerError(`the clearinghouse answered for another purchase or with another key`)
  }
  return record
}

/** A clearinghouse answered with something else than what was asked. */
export class UnexpectedClearingAnswerError extends Error {
  static override name = 'UnexpectedClearingAnswerError'
  override name = UnexpectedClearingAnswerError.name

  constructor(message = 'A clearinghouse answered with something else than what was asked', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_UNEXPECTED_ANSWER'
}
