import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import { verifyCertRequest, verifyCertRotation } from '../../protocols/register/client.ts'
import type { RotateCertRequest } from '../../protocols/register/index.ts'
import { assignedPartyId } from '../../protocols/register/party-id.ts'
import type { CertificateDesk } from './certs.ts'
import { MAX_REQUEST_AGE_MS } from './constants.ts'
import { bytesEqual, decodeOptions, type RegistrarContext, readStored, requestAgeProblem } from './context.ts'
import { RequestStaleError, RequestUnauthorisedError, RotationConflictError, RotationInvalidError } from './errors.ts'
import { del, KEYS, put, type RotationState, type StoreKey } from './store.ts'

const log = logger('consort:registration:rotation')

/** Rotations whose old certificate is revoked per round (the rest wait for the next round). */
const MAX_REVOCATIONS_PER_ROUND = 64

/**
 * Key rotation of certified participants: a node proves it holds both its old key (endorsing) and its new one
 * (requesting); the new key is certified at once for the same name and roles, and the old certificate stays valid
 * for the grace period asked for, so that what the node signed with it (offers, contracts) can be re-signed, and is
 * then revoked like an operator's revocation (signed, kept, gossiped). Whoever holds the old key can rotate it: a
 * stolen key is revoked by an operator (`consort registration revoke cert`), which also ends its rotations' grace.
 */
export class CertificateRotation {
  readonly #ctx: RegistrarContext
  readonly #certs: CertificateDesk
  readonly #revoke: (certId: CID, reason: string) => Promise<unknown>

  constructor(
    ctx: RegistrarContext,
    certs: CertificateDesk,
    revoke: (certId: CID, reason: string) => Promise<unknown>,
  ) {
    this.#ctx = ctx
    this.#certs = certs
    this.#revoke = revoke
  }

  /** `rotate-cert`: certify the new key, schedule the old certificate's revocation. A retry answers the same. */
  async rotate(message: RotateCertRequest): Promise<{ cert: Uint8Array; revokeOldAt: number }> {
    const { request } = message
    const problem = requestAgeProblem(this.#ctx, request, MAX_REQUEST_AGE_MS)
    if (problem != null) throw new RequestStaleError(problem)
    if (!verifyCertRequest(message)) throw new RequestUnauthorisedError('sig: the request is not signed by its subject')
    let old: SignedRecord<'consort/cert'>
    try {
      old = decodeRecordAs('consort/cert', message.predecessor, decodeOptions(this.#ctx))
    } catch (err) {
      throw new RotationInvalidError(`predecessor: ${(err as Error).message}`)
    }
    if (!this.#ctx.trust.isRegistrar(old.signer)) {
      throw new RotationInvalidError('predecessor: not issued by a registration manager of this network')
    }
    if (!verifyCertRotation(request, old.body.subject, message.predecessorSig)) {
      throw new RequestUnauthorisedError('predecessorSig: the old key did not endorse this request')
    }
    if (bytesEqual(old.body.subject, request.subject))
      throw new RotationInvalidError('request.subject: the key is the same')
    const sameRoles = [...old.body.roles].sort().join(',') === [...request.roles].sort().join(',')
    if (request.name !== old.body.name || !sameRoles) {
      throw new RotationInvalidError('request: a rotation keeps the name and roles of the old certificate')
    }
    const oldId = old.id.toString()
    return this.#ctx.locks.run(`rotation:${oldId}`, async () => {
      const known = await this.#ctx.store.get(KEYS.rotation(oldId))
      if (known != null) {
        if (!bytesEqual(known.newSubject, request.subject)) {
          throw new RotationConflictError(`predecessor: certificate ${oldId} was already rotated to another key`)
        }
        return { cert: known.cert, revokeOldAt: known.revokeOldAt }
      }
      // Checked under the lock: a revoked or expired certificate cannot hand its roles on.
      const now = this.#ctx.clock.now()
      if (this.#ctx.trust.isRevoked(old.id))
        throw new RotationInvalidError(`predecessor: certificate ${oldId} is revoked`)
      if (now < old.body.notBefore || now >= old.body.notAfter) {
        throw new RotationInvalidError(`predecessor: certificate ${oldId} is not valid now`)
      }
      const revokeOldAt = now + message.graceMs
      const state = (cert: SignedRecord<'consort/cert'>): RotationState => ({
        newSubject: request.subject,
        cert: cert.bytes,
        revokeOldAt,
        revoked: false,
      })
      // The certificate and the rotation are one batch: a crash leaves both or neither.
      // The party stays the same party under its new key: DDEX reports keep naming it by its old party id.
      const partyId = old.body.partyId ?? assignedPartyId(old.body.subject)
      const cert = await this.#certs.issue(
        request,
        message.sig,
        (issued) => [put(KEYS.rotation(oldId), state(issued)), put(KEYS.rotationDue(revokeOldAt, oldId), oldId)],
        partyId,
      )
      log('certificate %c rotated to %s; the old one is revoked at %d', old.id, toHex(request.subject), revokeOldAt)
      return { cert: cert.bytes, revokeOldAt }
    })
  }

  /** Revoke the old certificates whose grace period is over; returns how many. */
  async revokeDue(): Promise<number> {
    const now = this.#ctx.clock.now()
    const due: Array<{ key: StoreKey<'rotationsDue'>; oldId: string }> = []
    for await (const [key] of this.#ctx.store.entries(KEYS.rotationDuePrefix, { limit: MAX_REVOCATIONS_PER_ROUND })) {
      const [at, oldId] = key.split('!')
      if (Number(at) > now) break
      due.push({ key: KEYS.rotationDue(Number(at), oldId!), oldId: oldId! })
    }
    for (const { key, oldId } of due) {
      await this.#ctx.locks.run(`rotation:${oldId}`, async () => {
        const state = await this.#ctx.store.get(KEYS.rotation(oldId))
        const id = CID.parse(oldId)
        if (state != null && !state.revoked && !this.#ctx.trust.isRevoked(id)) {
          const successor = readStored(this.#ctx, 'consort/cert', state.cert)
          await this.#revoke(id, `key rotated to ${toHex(successor.body.subject)}`)
        }
        await this.#ctx.store.batch([
          ...(state != null ? [put(KEYS.rotation(oldId), { ...state, revoked: true })] : []),
          del(key),
        ])
      })
    }
    return due.length
  }
}
