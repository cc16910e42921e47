import assert from 'node:assert/strict'
import { InvalidParametersError, NotFoundError } from '@libp2p/interface'
import { AlreadyRefundedError, CLEARING_ERRORS, InsufficientFundsError } from '../../../protocols/clearing/errors.ts'
import { CLEARING_CODES } from '../../../protocols/clearing/index.ts'
import { isError } from '../../../protocols/errors.ts'
import { ConsumptionRequiredError, LICENCE_ERRORS } from '../../../protocols/licence/errors.ts'
import { LICENCE_CODES } from '../../../protocols/licence/index.ts'
import {
  isPurchaseRefusal,
  OfferRevokedError,
  PaymentRefusedError,
  purchaseRefusal,
  TerritoryRefusedError,
} from '../../../protocols/purchase/errors.ts'
import { PURCHASE_CODES } from '../../../protocols/purchase/index.ts'
import { RPC_CODES, RpcRemoteError, UnknownOpError, WireErrors, wireCodeOf } from '../../../protocols/rpc/errors.ts'

const remote = (code: string) => new RpcRemoteError('/consort/test/clearing/1', code, 'refused')

describe('wire codes, once per protocol, and back', () => {
  it("decodes a code the protocol lists into its error class, by name, with the peer's refusal as cause", () => {
    const err = CLEARING_ERRORS.decode(remote(CLEARING_CODES.alreadyRefunded))
    assert.ok(isError(err, AlreadyRefundedError))
    assert.equal(err.code, CLEARING_CODES.alreadyRefunded)
    assert.ok(isError(err.cause, RpcRemoteError))
    assert.match(err.message, /ERR_ALREADY_REFUNDED: refused/)
    assert.ok(isError(LICENCE_ERRORS.decode(remote(LICENCE_CODES.consumptionRequired)), ConsumptionRequiredError))
    assert.ok(isError(LICENCE_ERRORS.decode(remote(LICENCE_CODES.territory)), TerritoryRefusedError))
  })

  it('leaves a code it does not list as the RpcRemoteError; shared codes decode everywhere', () => {
    const unknown = remote('ERR_SOMETHING_NEW')
    assert.equal(CLEARING_ERRORS.decode(unknown), unknown)
    assert.ok(isError(WireErrors.shared.decode(remote(RPC_CODES.notFound)), NotFoundError))
    assert.ok(isError(WireErrors.shared.decode(remote(RPC_CODES.badRequest)), InvalidParametersError))
    assert.ok(isError(CLEARING_ERRORS.decode(remote(RPC_CODES.unknownOp)), UnknownOpError))
  })

  it('refuses a table that lists one code twice', () => {
    assert.throws(() => new WireErrors([AlreadyRefundedError, AlreadyRefundedError]), /listed twice/)
  })

  it("sends an error's own code, or the one listed for a reused @libp2p/interface error, else none", () => {
    assert.equal(wireCodeOf(new InsufficientFundsError()), 'ERR_INSUFFICIENT_FUNDS')
    assert.equal(wireCodeOf(new NotFoundError('no such thing')), RPC_CODES.notFound)
    assert.equal(wireCodeOf(new InvalidParametersError('bad')), RPC_CODES.badRequest)
    assert.equal(wireCodeOf(new Error('internal')), undefined)
    assert.equal(wireCodeOf(Object.assign(new Error('x'), { code: 'EACCES' })), undefined)
  })

  it('rebuilds a stored purchase refusal from its code, and knows the family by name', () => {
    const again = purchaseRefusal(PURCHASE_CODES.offerRevoked, 'offer o-1 is revoked')
    assert.ok(isError(again, OfferRevokedError))
    assert.equal(again.message, 'offer o-1 is revoked')
    assert.ok(isError(purchaseRefusal('ERR_UNLISTED', 'x'), PaymentRefusedError))
    assert.ok(isPurchaseRefusal(again))
    assert.equal(isPurchaseRefusal(new InsufficientFundsError()), false)
  })
})
