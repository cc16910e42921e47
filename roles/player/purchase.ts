import type { Libp2p } from '@libp2p/interface'
import { toHex } from '../../keys/hex.ts'
import { open } from '../../keys/seal.ts'
import type { SealingKeyPair } from '../../keys/x25519.ts'
import { isError } from '../../protocols/errors.ts'
import { LICENCE_SEAL_CONTEXT } from '../../protocols/licence/index.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { purchaseRefusal } from '../../protocols/purchase/errors.ts'
import { buyResponse, PURCHASE_DEADLINE_MS, PURCHASE_OPS, PURCHASE_PROTOCOL } from '../../protocols/purchase/index.ts'
import type { PurchaseOrder } from '../../protocols/purchase/order.ts'
import { type DecodeOptions, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { RpcRemoteError } from '../../protocols/rpc/errors.ts'
import { BUY_RETRY_BASE_MS, MAX_BUY_ATTEMPTS } from './constants.ts'
import { DecryptionError, InvalidLicenceError, PurchasePendingError, PurchaseRefusedError } from './errors.ts'

/**
 * The player's side of `/consort/<net>/purchase/1`: send the signed purchase order to the offer's retailer (the
 * offer's signer key is its peer id), retry after a timeout with the same order (the same purchase id, so the
 * retailer and the clearinghouse answer the first outcome again and never charge twice), then check what comes
 * back before trusting it.
 */
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0

export interface BuyCall {
  libp2p: Libp2p
  network: NetworkContext
  order: PurchaseOrder
  device: SignedRecord<'consort/device'>
  signal?: AbortSignal
  /** Attempts (default `MAX_BUY_ATTEMPTS`) and the pause before the second (doubled for each later one). */
  attempts?: number
  retryBaseMs?: number
  deadlineMs?: number
  /** Called before each attempt (1, 2, …), for logs and tests. */
  onAttempt?: (attempt: number) => void
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })
}

/**
 * Send `buy` to the retailer until it answers. A typed refusal is final (`PurchaseRefusedError` with the
 * retailer's code); timeouts, unreachable peers and the retailer's own "pending" (`ERR_PURCHASE_PENDING`: its
 * clearinghouse or registrar did not answer in time, the purchase is saved on its side) are retried with the same
 * order; after the last attempt the purchase is left pending (`PurchasePendingError`), never failed: a buyer who took
 * the retailer's "pending" for a refusal and bought again under a new purchase id had the first order's money held at
 * the clearinghouse until the retailer abandoned it, 15 minutes later. Returns the raw receipt and licence bytes.
 */
export async function sendBuy(call: BuyCall): Promise<{ receipt: Uint8Array; licence: Uint8Array }> {
  const attempts = call.attempts ?? MAX_BUY_ATTEMPTS
  const retailer = peerIdOfKey(call.order.order.retailer)
  let last: unknown
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await pause((call.retryBaseMs ?? BUY_RETRY_BASE_MS) * 2 ** (attempt - 2), call.signal)
    call.onAttempt?.(attempt)
    try {
      const response = await rpcCall(
        call.libp2p,
        retailer,
        call.network.protocol(PURCHASE_PROTOCOL),
        PURCHASE_OPS.buy,
        { order: call.order, device: call.device.bytes },
        { deadlineMs: call.deadlineMs ?? PURCHASE_DEADLINE_MS, ...(call.signal ? { signal: call.signal } : {}) },
      )
      return parseMessage(buyResponse, response, 'response')
    } catch (err) {
      if (isError(err, RpcRemoteError) && !isError(purchaseRefusal(err.code, err.message), PurchasePendingError))
        throw new PurchaseRefusedError(err.code, err.message)
      if (call.signal?.aborted === true) throw err
      last = err
    }
  }
  throw new PurchasePendingError(
    `the retailer did not answer purchase ${call.order.order.purchaseId} after ${attempts} attempts ` +
      `(${(last as Error | undefined)?.message ?? 'no answer'}); buying the same offer again retries it`,
    { purchaseId: call.order.order.purchaseId },
  )
}

export interface VerifiedPurchase {
  receipt: SignedRecord<'consort/receipt'>
  licence: SignedRecord<'consort/licence'>
}

export interface VerifyInit {
  order: PurchaseOrder
  offer: SignedRecord<'consort/offer'>
  receiptBytes: Uint8Array
  licenceBytes: Uint8Array
  decodeOptions: DecodeOptions
  /** Is this key a registration manager of the network? */
  isRegistrar(key: Uint8Array): boolean
  sealing: SealingKeyPair
}

/**
 * Check a purchase's answer: the receipt is the retailer's for exactly this order; the licence is signed by a
 * registration manager, for this purchase, receipt, offer, account and device; and every content key in it opens
 * with this device's sealing key. Throws `InvalidLicenceError` naming what is wrong, or `DecryptionError`.
 */
export function verifyPurchase(init: VerifyInit): VerifiedPurchase {
  const o = init.order.order
  let receipt: SignedRecord<'consort/receipt'>
  let licence: SignedRecord<'consort/licence'>
  try {
    receipt = decodeRecordAs('consort/receipt', init.receiptBytes, init.decodeOptions)
    licence = decodeRecordAs('consort/licence', init.licenceBytes, init.decodeOptions)
  } catch (err) {
    throw new InvalidLicenceError(`the purchase answer does not decode: ${(err as Error).message}`)
  }
  const r = receipt.body
  const problems: string[] = []
  if (!same(receipt.signer, init.offer.signer)) problems.push('the receipt is not signed by the offer’s retailer')
  if (r.purchaseId !== o.purchaseId) problems.push(`receipt.purchaseId is ${r.purchaseId}`)
  if (!r.offer.equals(o.offer)) problems.push('receipt.offer is another offer')
  if (!r.certification.equals(o.certification)) problems.push('receipt.certification is another certification')
  if (!same(r.account, o.account) || !same(r.device, o.device)) problems.push('the receipt names another buyer')
  if (!same(r.clearinghouse, o.clearinghouse)) problems.push('the receipt names another clearinghouse than the order')
  if (r.price.amount !== o.price.amount || r.price.currency !== o.price.currency) {
    problems.push(
      `receipt.price is ${r.price.amount} ${r.price.currency}, the order ${o.price.amount} ${o.price.currency}`,
    )
  }
  const l = licence.body
  if (!init.isRegistrar(licence.signer)) problems.push('the licence is not signed by a registration manager')
  if (l.purchaseId !== o.purchaseId) problems.push(`licence.purchaseId is ${l.purchaseId}`)
  if (!l.receipt.equals(receipt.id)) problems.push('licence.receipt is another receipt')
  if (!l.offer.equals(o.offer)) problems.push('licence.offer is another offer')
  if (!same(l.device, o.device)) problems.push(`the licence is for device ${toHex(l.device)}`)
  if (!same(l.account, o.account)) problems.push('the licence is for another account')
  if (problems.length > 0) throw new InvalidLicenceError(`purchase ${o.purchaseId}: ${problems.join('; ')}`)
  checkLicenceKeys(licence, init.sealing)
  return { receipt, licence }
}

/** Every content key of the licence opens with this device's sealing key (then is wiped). */
export function checkLicenceKeys(licence: SignedRecord<'consort/licence'>, sealing: SealingKeyPair): void {
  for (const entry of licence.body.keys) {
    const key = openContentKey(licence, entry.isrc, sealing)
    key.fill(0)
  }
}

/** The content key of one track of a licence, opened with this device's sealing key. */
export function openContentKey(
  licence: SignedRecord<'consort/licence'>,
  isrc: string,
  sealing: SealingKeyPair,
): Uint8Array {
  const entry = licence.body.keys.find((k) => k.isrc === isrc)
  if (entry === undefined) throw new DecryptionError(`licence ${licence.body.licenceId} holds no key for ${isrc}`)
  try {
    return open(sealing, entry.sealedKey, LICENCE_SEAL_CONTEXT)
  } catch (err) {
    throw new DecryptionError(
      `the content key of ${isrc} in licence ${licence.body.licenceId} does not open with this device's key ` +
        `(${(err as Error).message})`,
    )
  }
}
