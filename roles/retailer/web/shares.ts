import type { Signer } from '../../../keys/ed25519.ts'
import { toHex } from '../../../keys/hex.ts'
import type { Random } from '../../../keys/random.ts'
import type { Clock } from '../../../protocols/clock.ts'
import type { NetworkContext } from '../../../protocols/network.ts'
import {
  createShare,
  decodeShareLink,
  encodeShareLink,
  type SharedContent,
  type ShareRecord,
} from '../../../protocols/share/index.ts'
import type { SignerTrust } from '../../../protocols/trust/trust.ts'

/**
 * The storefront's shares (docs/decisions/0708-sharing-in-the-player.md): every track and release page carries a
 * share link signed with this retailer node's key (referrer kind `retailer`, recommending the store's cheapest offer
 * of it), so that a visitor can pass the page on and the store be credited for the sale as the contract's referral
 * clause allows; and the store's `/share/…` page reads any share (this store's, another's, a listener's).
 */
export interface ShareDesk {
  /** A share of `content` signed by this store, recommending `offerId`: its text form. */
  make(content: SharedContent, offerId: string | null): string
  /** A share read from its text form: decoded, signature and expiry checked (each failure names itself). */
  read(text: string): OpenedStoreShare
}

export interface OpenedStoreShare {
  record: ShareRecord
  /** Made by this store. */
  ours: boolean
  /** The name its retailer referrer's certificate gives, when known here. */
  referrerName: string | null
  /** Why the network's trust does not vouch for its referrer (a retailer without a current certificate), or null. */
  untrusted: string | null
}

export interface ShareDeskComponents {
  signer: Signer
  network: NetworkContext
  clock: Clock
  random: Random
  trust: Pick<SignerTrust, 'check'> & { certOf(key: Uint8Array): { body: { name: string } } | undefined }
}

export function shareDesk(c: ShareDeskComponents): ShareDesk {
  return {
    make: (content, offerId) =>
      encodeShareLink(
        createShare(
          { network: c.network.name, content, kind: 'retailer', offer: offerId, now: c.clock.now(), random: c.random },
          c.signer,
        ),
      ),
    read: (text) => {
      const record = decodeShareLink(text, { network: c.network.name, now: c.clock.now(), caps: c.network.caps })
      const verdict = c.trust.check(record)
      return {
        record,
        ours: toHex(record.signer) === toHex(c.signer.publicKey),
        referrerName:
          record.body.referrer.kind === 'retailer'
            ? (c.trust.certOf(record.body.referrer.key)?.body.name ?? null)
            : null,
        untrusted: verdict.ok ? null : verdict.reason,
      }
    },
  }
}
