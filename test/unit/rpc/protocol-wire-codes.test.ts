import assert from 'node:assert/strict'
import { InvalidParametersError, NotFoundError } from '@libp2p/interface'
import { isError } from '../../../protocols/errors.ts'
import { ESCROW_ERRORS, EscrowInvalidError } from '../../../protocols/escrow/errors.ts'
import { ESCROW_CODES, ESCROW_PROTOCOL } from '../../../protocols/escrow/index.ts'
import { DeviceLimitError, DeviceRevokedError } from '../../../protocols/licence/errors.ts'
import { REFERENCE_ERRORS, ReferenceNotRunningError } from '../../../protocols/reference/errors.ts'
import { REFERENCE_CODES, REFERENCE_PROTOCOL } from '../../../protocols/reference/index.ts'
import {
  DeviceTakenError,
  REGISTER_ERRORS,
  RequestStaleError,
  RequestUnauthorisedError,
  RotationConflictError,
  RotationInvalidError,
  TooManyPendingError,
} from '../../../protocols/register/errors.ts'
import { REGISTER_CODES, REGISTER_PROTOCOL } from '../../../protocols/register/index.ts'
import {
  isRefusal,
  RPC_CODES,
  RpcRemoteError,
  RpcTimeoutError,
  type WireErrors,
  wireCodeOf,
} from '../../../protocols/rpc/errors.ts'

const remote = (protocol: string, code: string) =>
  new RpcRemoteError(`/consort/test/${protocol}/1`, code, 'refused here')

/**
 * Every code of `codes` is what the RPC server sends for the class `expected` names for it, and decodes through
 * `table` back to that class, by name, with the peer's refusal as its cause.
 */
function assertEveryCodeDecodes(
  protocol: string,
  codes: Readonly<Record<string, string>>,
  table: WireErrors,
  expected: Readonly<Record<string, { readonly name: string; readonly prototype: Error; new (): Error }>>,
): void {
  assert.deepEqual(Object.keys(expected).sort(), Object.keys(codes).sort(), 'a class for every code')
  for (const [key, code] of Object.entries(codes)) {
    const type = expected[key]!
    assert.equal(wireCodeOf(new type()), code, `the server sends ${type.name} as ${code}`)
    const err = table.decode(remote(protocol, code))
    assert.ok(isError(err, type), `${code} decodes to ${type.name}, got ${(err as Error).name}`)
    assert.equal((err as Error & { code: string }).code, code, `${type.name} goes on the wire as ${code}`)
    assert.ok(isError((err as Error).cause, RpcRemoteError), `${type.name} keeps the peer's refusal as its cause`)
    assert.match((err as Error).message, /refused here/)
    assert.ok(isRefusal(err), `${type.name} is a refusal`)
  }
}

describe('/register/1, /escrow/1 and /reference/1: wire codes, one constant each, and back to their classes', () => {
  it('keeps every wire code of /register/1 as it was', () => {
    assert.deepEqual(REGISTER_CODES, {
      unauthorised: 'ERR_UNAUTHORISED',
      staleRequest: 'ERR_STALE_REQUEST',
      deviceTaken: 'ERR_DEVICE_TAKEN',
      deviceRevoked: 'ERR_DEVICE_REVOKED',
      deviceLimit: 'ERR_DEVICE_LIMIT',
      tooManyPending: 'ERR_TOO_MANY_PENDING',
      rotationInvalid: 'ERR_ROTATION_INVALID',
      rotationConflict: 'ERR_ROTATION_CONFLICT',
    })
  })

  it('keeps the wire code of /escrow/1 as it was', () => {
    assert.deepEqual(ESCROW_CODES, { escrowInvalid: 'ERR_ESCROW_INVALID' })
  })

  it('keeps the wire code of /reference/1 as it was', () => {
    assert.deepEqual(REFERENCE_CODES, { notRunning: 'ERR_REFERENCE_NOT_RUNNING' })
  })

  it('decodes every /register/1 code to its own class (device checks shared with /licence/1 as one class)', () => {
    assertEveryCodeDecodes(REGISTER_PROTOCOL, REGISTER_CODES, REGISTER_ERRORS, {
      unauthorised: RequestUnauthorisedError,
      staleRequest: RequestStaleError,
      deviceTaken: DeviceTakenError,
      deviceRevoked: DeviceRevokedError,
      deviceLimit: DeviceLimitError,
      tooManyPending: TooManyPendingError,
      rotationInvalid: RotationInvalidError,
      rotationConflict: RotationConflictError,
    })
  })

  it('decodes the /escrow/1 code to EscrowInvalidError', () => {
    assertEveryCodeDecodes(ESCROW_PROTOCOL, ESCROW_CODES, ESCROW_ERRORS, { escrowInvalid: EscrowInvalidError })
  })

  it('decodes the /reference/1 code to ReferenceNotRunningError', () => {
    assertEveryCodeDecodes(REFERENCE_PROTOCOL, REFERENCE_CODES, REFERENCE_ERRORS, {
      notRunning: ReferenceNotRunningError,
    })
  })

  it('leaves a code none lists as the RpcRemoteError; the shared codes decode as everywhere', () => {
    for (const table of [REGISTER_ERRORS, ESCROW_ERRORS, REFERENCE_ERRORS]) {
      const unknown = remote(REGISTER_PROTOCOL, 'ERR_SOMETHING_NEW')
      assert.equal(table.decode(unknown), unknown)
      assert.ok(isRefusal(table.decode(unknown)))
      assert.ok(isError(table.decode(remote(REGISTER_PROTOCOL, RPC_CODES.notFound)), NotFoundError))
      assert.ok(isError(table.decode(remote(REGISTER_PROTOCOL, RPC_CODES.badRequest)), InvalidParametersError))
    }
    // /escrow/1 lists none of /register/1's codes: a device refusal on the wrong protocol stays unknown.
    const taken = remote(ESCROW_PROTOCOL, REGISTER_CODES.deviceTaken)
    assert.equal(ESCROW_ERRORS.decode(taken), taken)
    // A record refusal on /reference/1 keeps the records layer's code and stays the peer's RpcRemoteError.
    const malformed = remote(REFERENCE_PROTOCOL, 'ERR_MALFORMED_RECORD')
    assert.equal(REFERENCE_ERRORS.decode(malformed), malformed)
  })

  it('tells a refusal (final) from a failure to get an answer (worth asking another registrar)', () => {
    assert.equal(isRefusal(new RpcTimeoutError()), false)
    assert.equal(isRefusal(new DeviceTakenError()), false, 'thrown here, not decoded from a peer')
    assert.equal(isRefusal(new Error('x', { cause: new Error('y') })), false)
    assert.equal(isRefusal(undefined), false)
  })
})
