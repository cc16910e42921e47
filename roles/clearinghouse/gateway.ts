/**
 * Payment gateways: how money enters a wallet from outside (a card processor, a bank). The clearinghouse asks the
 * gateway to charge, then credits the wallet from the gateway's `external:<name>` account. A gateway must be
 * idempotent by `requestId`: asked again for the same request, it answers the same charge and charges nothing more
 * (the clearinghouse asks again after a crash between the charge and the credit).
 *
 * The built-in gateway is a test gateway: it moves no real money and approves any amount up to a cap. It runs only
 * on a network marked as a test network (see `isTestNetwork`), unless the operator sets `allowTestGateway` (see
 * docs/decisions/0504).
 */
import { TEST_GATEWAY_MAX_TOP_UP } from './constants.ts'
import { PaymentDeclinedError, TestGatewayRefusedError } from './errors.ts'
import { GATEWAY_NAME } from './participants.ts'

export interface ChargeRequest {
  /** The wallet's account key (hex). */
  account: string
  amount: bigint
  currency: string
  /** What the payer gave the gateway (a card token…); the test gateway reads `decline` as a refusal. */
  paymentToken: string | null
  /** The idempotency key of the top-up. */
  requestId: string
}

export interface ChargeResult {
  /** The gateway's reference of the charge. */
  reference: string
}

export interface PaymentGateway {
  /** Short lower-case name: the external account is `external:<name>`. */
  readonly name: string
  /** `test` gateways move no real money. */
  readonly kind: 'test' | 'live'
  /** Charge the payer; throws PaymentDeclinedError on a refusal. Idempotent by `requestId`. */
  charge(request: ChargeRequest, options?: { signal?: AbortSignal }): Promise<ChargeResult>
}

/**
 * A network counts as a test network when its name says so: `devnet`, `testnet`, `test`, `dev`, `local`, or any
 * name starting or ending with one of them and a hyphen (`devnet-3`, `consort-test`). The network record has no
 * field for it; a production network's operators choose a name that does not match.
 */
export function isTestNetwork(name: string): boolean {
  const words = ['devnet', 'testnet', 'test', 'dev', 'local', 'sim']
  return words.some((w) => name === w || name.startsWith(`${w}-`) || name.endsWith(`-${w}`))
}

export const TEST_GATEWAY_NAME = 'test-gateway'

/** The built-in gateway for devnets and tests: approves every charge up to a cap, moves no money. */
export class TestPaymentGateway implements PaymentGateway {
  readonly name = TEST_GATEWAY_NAME
  readonly kind = 'test' as const

  constructor(network: string, options: { allowOnAnyNetwork?: boolean } = {}) {
    if (!isTestNetwork(network) && options.allowOnAnyNetwork !== true) {
      throw new TestGatewayRefusedError(
        `the test payment gateway moves no real money and refuses to run on network ${JSON.stringify(network)}, ` +
          'which is not marked as a test network (set allowTestGateway to run it anyway)',
      )
    }
    if (!GATEWAY_NAME.test(this.name)) throw new TypeError('bad gateway name')
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    if (request.paymentToken === 'decline') throw new PaymentDeclinedError('the test gateway declines this token')
    if (request.amount <= 0n) throw new PaymentDeclinedError('amount: a top-up must be positive')
    if (request.amount > TEST_GATEWAY_MAX_TOP_UP) {
      throw new PaymentDeclinedError(`amount: the test gateway accepts at most ${TEST_GATEWAY_MAX_TOP_UP} minor units`)
    }
    return { reference: `test:${request.account.slice(0, 16)}:${request.requestId}` }
  }
}
