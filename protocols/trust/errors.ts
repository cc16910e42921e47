/** Why a signer was not trusted for a record. Gossip validators turn every one of these into Reject. */
export const TRUST_CODES = {
  noCertificate: 'ERR_NO_CERTIFICATE',
  wrongRole: 'ERR_WRONG_ROLE',
  notAnAnchor: 'ERR_NOT_AN_ANCHOR',
  expired: 'ERR_CERT_EXPIRED',
  notYetValid: 'ERR_CERT_NOT_YET_VALID',
  revoked: 'ERR_REVOKED',
  badIssuer: 'ERR_BAD_ISSUER',
  subjectMismatch: 'ERR_SUBJECT_MISMATCH',
} as const
export type TrustCode = (typeof TRUST_CODES)[keyof typeof TRUST_CODES]

export class UntrustedSignerError extends Error {
  static override name = 'UntrustedSignerError'
  override name = UntrustedSignerError.name

  readonly code: TrustCode

  constructor(code: TrustCode, message: string) {
    super(message)
    this.code = code
  }
}
