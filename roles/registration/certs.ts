import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { fromHex, toHex } from '../../keys/hex.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { RoleName } from '../../protocols/records/types/common.ts'
import { certRequestId, verifyCertRequest } from '../../protocols/register/client.ts'
import type { CertRequestFields, CertStatusResponse } from '../../protocols/register/index.ts'
import { assignedPartyId } from '../../protocols/register/party-id.ts'
import { MAX_PENDING_REQUESTS, MAX_REQUEST_AGE_MS } from './constants.ts'
import { emit, policy, type RegistrarContext, readStored, requestAgeProblem } from './context.ts'
import {
  RequestNotFoundError,
  RequestNotPendingError,
  RequestStaleError,
  RequestUnauthorisedError,
  TooManyPendingError,
} from './errors.ts'
import type { SerialSource } from './serials.ts'
import { type BatchOp, type CertRequestState, del, KEYS, put } from './store.ts'

const log = logger('consort:registration:certs')

/** Certificates one subject's history is searched through (renewals and re-requests; older ones are expired). */
const MAX_CERT_HISTORY = 64

export interface PendingRequest {
  requestId: string
  subject: Uint8Array
  name: string
  roles: RoleName[]
  received: number
}

/**
 * Role certificates: requests signed by their subject, approved by policy (players, where the network says so)
 * or by an operator, and the certificates issued, kept per subject so that `lookup-cert` can answer and a
 * revocation can reach every certificate a subject still holds.
 */
export class CertificateDesk {
  readonly #ctx: RegistrarContext
  readonly #serials: SerialSource
  #pending = 0

  constructor(ctx: RegistrarContext, serials: SerialSource) {
    this.#ctx = ctx
    this.#serials = serials
  }

  async start(): Promise<void> {
    this.#pending = 0
    for await (const _ of this.#ctx.store.entries(KEYS.pendingPrefix, { limit: MAX_PENDING_REQUESTS + 1 })) {
      this.#pending++
    }
  }

  /** `request-cert`: answer at once with a certificate (policy), or keep the request for an operator. */
  async request(message: { request: CertRequestFields; sig: Uint8Array }): Promise<CertStatusResponse> {
    const problem = requestAgeProblem(this.#ctx, message.request, MAX_REQUEST_AGE_MS)
    if (problem != null) throw new RequestStaleError(problem)
    if (!verifyCertRequest(message)) throw new RequestUnauthorisedError('sig: the request is not signed by its subject')
    const request: CertRequestFields = { ...message.request, roles: [...new Set(message.request.roles)].sort() }
    const requestId = certRequestId(request)
    return this.#ctx.locks.run(`request:${requestId}`, async () => {
      const known = await this.#ctx.store.get(KEYS.request(requestId))
      if (known != null) {
        if (known.status === 'pending') return { status: 'pending', requestId }
        if (known.status === 'rejected') return { status: 'rejected', reason: known.reason ?? 'rejected' }
        if (known.cert != null && this.#currentlyValid(readStored(this.#ctx, 'consort/cert', known.cert)))
          return { status: 'approved', cert: known.cert }
        // An approved certificate that has expired or was revoked: decide again, as for a new request.
      }
      const state: CertRequestState = {
        requestId,
        request,
        sig: message.sig,
        status: 'pending',
        received: this.#ctx.clock.now(),
        decided: null,
        cert: null,
        reason: null,
      }
      if (await this.#approvedByPolicy(request)) {
        const cert = await this.#approve(state, this.#ctx.options.certValidityMs, [])
        return { status: 'approved', cert: cert.bytes }
      }
      if (this.#pending >= MAX_PENDING_REQUESTS)
        throw new TooManyPendingError(`${this.#pending} requests already wait for an operator`)
      await this.#ctx.store.batch([put(KEYS.request(requestId), state), put(KEYS.pending(requestId), true)])
      this.#pending++
      emit(this.#ctx, 'cert:requested', { requestId, subject: request.subject, roles: request.roles })
      log('request %s for %s waits for an operator', requestId, request.roles.join(','))
      return { status: 'pending', requestId }
    })
  }

  /**
   * Certify a request at once, without an operator: for a subject whose predecessor's certificate vouches for it
   * (a key rotation, checked by the caller). `extra` joins the certificate's batch.
   */
  async issue(
    request: CertRequestFields,
    sig: Uint8Array,
    extra: (cert: SignedRecord<'consort/cert'>) => BatchOp[],
    /** The party id to carry over (a key rotation keeps the party); by default the one derived from the key. */
    partyId?: string,
  ): Promise<SignedRecord<'consort/cert'>> {
    const requestId = certRequestId(request)
    const state: CertRequestState = {
      requestId,
      request,
      sig,
      status: 'pending',
      received: this.#ctx.clock.now(),
      decided: null,
      cert: null,
      reason: null,
    }
    return this.#approve(state, this.#ctx.options.certValidityMs, extra, partyId)
  }

  /** `cert-status`: where a request stands. */
  async status(requestId: string): Promise<CertStatusResponse> {
    const known = await this.#ctx.store.get(KEYS.request(requestId))
    if (known == null) throw new RequestNotFoundError(`requestId: no request ${requestId}`)
    if (known.status === 'pending') return { status: 'pending', requestId }
    if (known.status === 'rejected') return { status: 'rejected', reason: known.reason ?? 'rejected' }
    return { status: 'approved', cert: known.cert! }
  }

  /** Requests waiting for an operator, oldest key first, at most `limit`. */
  async pending(limit: number): Promise<PendingRequest[]> {
    const out: PendingRequest[] = []
    for await (const [key] of this.#ctx.store.entries(KEYS.pendingPrefix, { limit })) {
      const state = await this.#ctx.store.get(KEYS.request(key))
      if (state == null) continue
      out.push({
        requestId: state.requestId,
        subject: state.request.subject,
        name: state.request.name,
        roles: state.request.roles,
        received: state.received,
      })
    }
    return out.sort((a, b) => a.received - b.received)
  }

  /** An operator approves a pending request. */
  async approve(
    requestId: string,
    validityMs = this.#ctx.options.certValidityMs,
  ): Promise<SignedRecord<'consort/cert'>> {
    return this.#ctx.locks.run(`request:${requestId}`, async () => {
      const state = await this.#pendingState(requestId)
      const cert = await this.#approve(state, validityMs, [del(KEYS.pending(requestId))])
      this.#pending--
      return cert
    })
  }

  /** An operator rejects a pending request, with a reason the subject is shown. */
  async reject(requestId: string, reason: string): Promise<void> {
    await this.#ctx.locks.run(`request:${requestId}`, async () => {
      const state = await this.#pendingState(requestId)
      const rejected: CertRequestState = { ...state, status: 'rejected', decided: this.#ctx.clock.now(), reason }
      await this.#ctx.store.batch([put(KEYS.request(requestId), rejected), del(KEYS.pending(requestId))])
      this.#pending--
      log('request %s rejected: %s', requestId, reason)
    })
  }

  /** `lookup-cert`: the subject's current certificate from this registrar, else one the node's trust holds. */
  async lookup(subject: Uint8Array): Promise<SignedRecord<'consort/cert'> | null> {
    for (const cert of await this.history(subject)) {
      if (this.#currentlyValid(cert)) return cert
    }
    return this.#ctx.trust.certOf(subject) ?? null
  }

  /** Certificates this registrar issued to `subject`, newest first. */
  async history(subject: Uint8Array): Promise<SignedRecord<'consort/cert'>[]> {
    const out: SignedRecord<'consort/cert'>[] = []
    for await (const [, cert] of this.#ctx.store.entries(KEYS.certPrefix(toHex(subject)), {
      limit: MAX_CERT_HISTORY,
      reverse: true,
    })) {
      out.push(cert)
    }
    return out
  }

  /** Ids of the certificates of `subject` that have not expired (what a revocation of the subject must name). */
  async unexpiredIds(subject: Uint8Array): Promise<CID[]> {
    const now = this.#ctx.clock.now()
    return (await this.history(subject)).filter((c) => c.body.notAfter > now).map((c) => c.id)
  }

  async #approvedByPolicy(request: CertRequestFields): Promise<boolean> {
    if (!policy(this.#ctx).autoApprovePlayers) return false
    if (!request.roles.every((role) => role === 'player')) return false
    // A subject whose certificate was ever revoked here goes to an operator: policy does not undo a revocation.
    return !(await this.history(request.subject)).some((c) => this.#ctx.trust.isRevoked(c.id))
  }

  async #pendingState(requestId: string): Promise<CertRequestState> {
    const state = await this.#ctx.store.get(KEYS.request(requestId))
    if (state == null) throw new RequestNotFoundError(`requestId: no request ${requestId}`)
    if (state.status !== 'pending') throw new RequestNotPendingError(`request ${requestId} is already ${state.status}`)
    return state
  }

  async #approve(
    state: CertRequestState,
    validityMs: number,
    extra: BatchOp[] | ((cert: SignedRecord<'consort/cert'>) => BatchOp[]),
    partyId: string = assignedPartyId(state.request.subject),
  ): Promise<SignedRecord<'consort/cert'>> {
    const now = this.#ctx.clock.now()
    const serial = this.#serials.next()
    const cert = signRecord(
      'consort/cert',
      {
        network: this.#ctx.network.name,
        created: now,
        serial,
        subject: state.request.subject,
        name: state.request.name,
        partyId,
        roles: state.request.roles,
        sealingKey: state.request.sealingKey,
        // Peers whose clocks run behind must accept the certificate at once.
        notBefore: Math.max(0, now - this.#ctx.network.caps.clockSkewMs),
        notAfter: now + validityMs,
      },
      this.#ctx.signer,
      this.#ctx.network.caps,
    )
    const approved: CertRequestState = { ...state, status: 'approved', decided: now, cert: cert.bytes, reason: null }
    await this.#ctx.store.batch([
      put(KEYS.request(state.requestId), approved),
      put(KEYS.cert(toHex(cert.body.subject), serial), cert),
      this.#serials.op(),
      ...(typeof extra === 'function' ? extra(cert) : extra),
    ])
    this.#ctx.trust.learnCert(cert)
    emit(this.#ctx, 'cert:issued', { cert })
    log('certificate %d for %s: %s', serial, state.request.name, state.request.roles.join(','))
    return cert
  }

  #currentlyValid(cert: SignedRecord<'consort/cert'>): boolean {
    const now = this.#ctx.clock.now()
    return !this.#ctx.trust.isRevoked(cert.id) && now >= cert.body.notBefore && now < cert.body.notAfter
  }
}

/** A subject key given as hex on the command line or the control API. */
export function keyFromHex(value: string): Uint8Array | null {
  if (!/^[0-9a-f]{64}$/i.test(value)) return null
  return fromHex(value)
}
