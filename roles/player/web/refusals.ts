/**
 * Refusals in words a buyer understands: a purchase refused by the retailer, the clearinghouse or this player is
 * shown by its innermost error code (relayed refusals carry the chain), with the technical message kept as detail.
 */

/** What a refusal means for the buyer, by the innermost error code (the rest of the chain stays as detail). */
const REFUSALS: Record<string, string> = {
  ERR_INSUFFICIENT_FUNDS: 'Your account does not hold enough money for this price. Top it up, then try again.',
  ERR_PAYMENT_DECLINED: 'The payment was declined by the payment service.',
  ERR_OFFER_REVOKED: 'This offer has been withdrawn: it is no longer on sale.',
  ERR_CERTIFICATION_EXPIRED: 'The offer’s certification has lapsed; the store has to renew it before it can be sold.',
  ERR_CERTIFICATION_REVOKED: 'The offer’s certification was revoked: it is no longer on sale.',
  ERR_DEVICE_NOT_REGISTERED: 'This player is not registered as a device of your account yet.',
  ERR_ALREADY_OWNED:
    'You already own this: a licence on this player gives at least what this offer would. Nothing was charged.',
  ERR_TERRITORY:
    'This offer is not sold in your territory (as your registration manager attests it). Nothing was charged.',
}

/** The innermost `ERR_…` code of a (possibly relayed) refusal, and the message without protocol prefixes. */
export function explainRefusal(err: unknown): { code: string; reason: string; detail: string } {
  const message = (err as Error).message ?? String(err)
  const codes = message.match(/ERR_[A-Z_]+/g) ?? []
  const code = codes.at(-1) ?? codeOf(err)
  const detail = message.replace(/\/consort\/[^\s:]+: /g, '')
  return { code, reason: REFUSALS[code] ?? detail, detail }
}

/** The error's own code: a relayed refusal's remote code, else its `code`, else `ERR_UNKNOWN`. */
export function codeOf(err: unknown): string {
  const e = err as { remoteCode?: unknown; code?: unknown }
  if (typeof e.remoteCode === 'string') return e.remoteCode
  return typeof e.code === 'string' ? e.code : 'ERR_UNKNOWN'
}
