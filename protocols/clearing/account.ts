import * as dagCbor from '@ipld/dag-cbor'
import type { z } from 'zod'
import { ed25519Verify, type Signer } from '../../keys/ed25519.ts'
import { domainPayload } from '../records/envelope.ts'
import { ACCOUNT_REQUEST_DOMAIN, type AccountRequestFields, type accountRequest } from './index.ts'

/**
 * Signing an account request (`fund`, `balance`, `statement` over `/clearing/1`): the account key signs
 *
 *   utf8(ACCOUNT_REQUEST_DOMAIN) ‖ 0x00 ‖ dagCbor(request fields)
 *
 * so that only the holder of an account can fund or read it, and a signature made for anything else never passes
 * for an account request.
 */
export type AccountRequest = z.infer<typeof accountRequest>

export function accountRequestPayload(fields: AccountRequestFields): Uint8Array {
  return domainPayload(ACCOUNT_REQUEST_DOMAIN, dagCbor.encode(fields))
}

export function signAccountRequest(fields: AccountRequestFields, account: Signer): AccountRequest {
  return { request: fields, sig: account.sign(accountRequestPayload(fields)) }
}

export function verifyAccountRequest(request: AccountRequest): boolean {
  return ed25519Verify(request.request.account, accountRequestPayload(request.request), request.sig)
}
