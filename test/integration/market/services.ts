import type { NodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import {
  authoriseRequest,
  CLEARING_CODES,
  CLEARING_OPS,
  CLEARING_PROTOCOL,
  captureRequest,
  refundRequest,
  voidRequest,
} from '../../../protocols/clearing/index.ts'
import type { Clock } from '../../../protocols/clock.ts'
import {
  issueRequest,
  LICENCE_CODES,
  LICENCE_OPS,
  LICENCE_PROTOCOL,
  withdrawRequest,
} from '../../../protocols/licence/index.ts'
import { parseMessage } from '../../../protocols/messages.ts'
import { verifyPurchaseOrder } from '../../../protocols/purchase/index.ts'
import { decodeRecordAs, signRecord } from '../../../protocols/records/envelope.ts'
import { RpcHandlerError } from '../../../protocols/rpc/errors.ts'
import { registerRpc } from '../../../protocols/rpc/server.ts'

/**
 * Minimal stand-ins for the clearinghouse's and the registrar's purchase ops, speaking the protocols exactly as
 * `protocols/clearing/` and `protocols/licence/` define them, idempotent by purchase id, and counting what they
 * did, so that the retailer's side of a purchase can be tested before (and besides) the real services. The
 * end-to-end test with the real roles is `purchase-e2e.test.ts`.
 */
export interface StandInClearinghouse {
  authorisations: Map<
    string,
    {
      authorisation: string
      state: 'pending' | 'captured' | 'voided' | 'refunded'
      amount: bigint
      payment?: Uint8Array
    }
  >
  calls: { authorise: number; capture: number; void: number; refund: number }
  /** Answer the next authorise with this error code. */
  refuseNext: string | null
  /** Stop serving (the retailer's calls then fail without an answer); start again with `serve()`. */
  unplug(): Promise<void>
  serve(): Promise<void>
}

export async function standInClearinghouse(node: ConsortNode, clock: Clock): Promise<StandInClearinghouse> {
  const protocol = node.network.protocol(CLEARING_PROTOCOL)
  let unregister: (() => Promise<void>) | undefined
  const state: StandInClearinghouse = {
    authorisations: new Map(),
    calls: { authorise: 0, capture: 0, void: 0, refund: 0 },
    refuseNext: null,
    async unplug() {
      await unregister?.()
      unregister = undefined
    },
    async serve() {
      if (unregister != null) return
      unregister = await registerRpc(node.libp2p, protocol, handlers)
    },
  }
  const handlers = {
    [CLEARING_OPS.authorise]: async (body: unknown) => {
      state.calls.authorise++
      const request = parseMessage(authoriseRequest, body, 'request')
      if (!verifyPurchaseOrder(request.order)) throw new RpcHandlerError(CLEARING_CODES.orderInvalid, 'bad order')
      const purchaseId = request.order.order.purchaseId
      const known = state.authorisations.get(purchaseId)
      if (known?.state === 'voided') throw new RpcHandlerError(CLEARING_CODES.alreadyVoided, 'voided')
      if (known != null) return { authorisation: known.authorisation, expiresAt: clock.now() + 600_000 }
      if (state.refuseNext != null) {
        const code = state.refuseNext
        state.refuseNext = null
        throw new RpcHandlerError(code, 'refused by the stand-in clearinghouse')
      }
      const authorisation = `auth-${state.authorisations.size + 1}`
      state.authorisations.set(purchaseId, {
        authorisation,
        state: 'pending',
        amount: request.order.order.price.amount,
      })
      return { authorisation, expiresAt: clock.now() + 600_000 }
    },
    [CLEARING_OPS.capture]: async (body: unknown) => {
      state.calls.capture++
      const request = parseMessage(captureRequest, body, 'request')
      const known = state.authorisations.get(request.purchaseId)
      if (known == null) throw new RpcHandlerError(CLEARING_CODES.authorisationUnknown, 'unknown')
      if (known.state === 'voided') throw new RpcHandlerError(CLEARING_CODES.alreadyVoided, 'voided')
      if (known.state === 'refunded') throw new RpcHandlerError(CLEARING_CODES.alreadyRefunded, 'refunded')
      if (known.payment == null) {
        const receipt = decodeRecordAs('consort/receipt', request.receipt, {
          network: node.network.name,
          now: clock.now(),
        })
        known.payment = signRecord(
          'consort/payment',
          {
            network: node.network.name,
            created: clock.now(),
            purchaseId: request.purchaseId,
            receipt: receipt.id,
            offer: receipt.body.offer,
            retailer: receipt.signer,
            account: receipt.body.account,
            device: receipt.body.device,
            price: receipt.body.price,
            authorisation: receipt.body.authorisation,
          },
          node.keys.signer,
        ).bytes
      }
      known.state = 'captured'
      return { captured: true, payment: known.payment }
    },
    [CLEARING_OPS.refund]: async (body: unknown) => {
      state.calls.refund++
      const request = parseMessage(refundRequest, body, 'request')
      const known = state.authorisations.get(request.purchaseId)
      if (known == null) throw new RpcHandlerError(CLEARING_CODES.authorisationUnknown, 'unknown')
      const withdrawal = decodeRecordAs('consort/revocation', request.withdrawal, {
        network: node.network.name,
        now: clock.now(),
      })
      if (!withdrawal.body.targets.some((t) => t.kind === 'receipt'))
        throw new RpcHandlerError(CLEARING_CODES.withdrawalInvalid, 'no receipt revoked')
      known.state = 'refunded'
      return { refunded: true }
    },
    [CLEARING_OPS.void]: async (body: unknown) => {
      state.calls.void++
      const request = parseMessage(voidRequest, body, 'request')
      const known = state.authorisations.get(request.purchaseId)
      if (known == null) throw new RpcHandlerError(CLEARING_CODES.authorisationUnknown, 'unknown')
      if (known.state === 'captured') throw new RpcHandlerError(CLEARING_CODES.alreadyCaptured, 'captured')
      known.state = 'voided'
      return { voided: true }
    },
  }
  await state.serve()
  return state
}

export interface StandInRegistrar {
  issued: Map<string, Uint8Array>
  calls: number
  /** Refuse licences for these purchase ids with this code. */
  refuse: Map<string, string>
  /** Purchase ids withdrawn, with the revocation signed for each. */
  withdrawn: Map<string, Uint8Array>
}

export async function standInRegistrar(node: ConsortNode, keys: NodeKeys, clock: Clock): Promise<StandInRegistrar> {
  const state: StandInRegistrar = { issued: new Map(), calls: 0, refuse: new Map(), withdrawn: new Map() }
  const options = () => ({ network: node.network.name, now: clock.now() })
  await registerRpc(node.libp2p, node.network.protocol(LICENCE_PROTOCOL), {
    [LICENCE_OPS.issue]: async (body) => {
      state.calls++
      const request = parseMessage(issueRequest, body, 'request')
      const receipt = decodeRecordAs('consort/receipt', request.receipt, options())
      const offer = decodeRecordAs('consort/offer', request.offer, options())
      const purchaseId = receipt.body.purchaseId
      const refusal = state.refuse.get(purchaseId)
      if (refusal != null) throw new RpcHandlerError(refusal, 'refused by the stand-in registrar')
      // Money before keys: no payment proof for this receipt, no licence.
      const payment = decodeRecordAs('consort/payment', request.payment, options())
      if (!payment.body.receipt.equals(receipt.id))
        throw new RpcHandlerError(LICENCE_CODES.paymentUnproven, 'the payment is for another receipt')
      const known = state.issued.get(purchaseId)
      if (known != null) return { licence: known }
      if (!receipt.body.offer.equals(offer.id)) throw new RpcHandlerError(LICENCE_CODES.receiptInvalid, 'offer')
      const licence = signRecord(
        'consort/licence',
        {
          network: node.network.name,
          created: clock.now(),
          licenceId: `licence-${purchaseId}`,
          purchaseId,
          receipt: receipt.id,
          offer: offer.id,
          contract: offer.body.contract,
          content: offer.body.content,
          useType: offer.body.useType,
          rules: offer.body.rules,
          account: receipt.body.account,
          device: receipt.body.device,
          notAfter: null,
          keys: [{ isrc: 'USRC17607839', keyId: new Uint8Array(16).fill(1), sealedKey: new Uint8Array(92).fill(7) }],
        },
        keys.signer,
      )
      state.issued.set(purchaseId, licence.bytes)
      return { licence: licence.bytes }
    },
    [LICENCE_OPS.withdraw]: async (body) => {
      const request = parseMessage(withdrawRequest, body, 'request')
      const receipt = decodeRecordAs('consort/receipt', request.receipt, options())
      const known = state.withdrawn.get(request.purchaseId)
      if (known != null) return { revoked: state.issued.has(request.purchaseId), revocation: known }
      const revocation = signRecord(
        'consort/revocation',
        {
          network: node.network.name,
          created: clock.now(),
          targets: [{ kind: 'receipt', id: receipt.id }],
          reason: request.reason,
        },
        keys.signer,
      ).bytes
      state.withdrawn.set(request.purchaseId, revocation)
      return { revoked: state.issued.has(request.purchaseId), revocation }
    },
  })
  return state
}
