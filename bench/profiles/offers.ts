/**
 * Offer propagation to in-process nodes: where a network of nodes sharing one thread spends its time while offers
 * (every hop validating) and plain gossipsub messages of the same size go out alternately. The profile comes from the
 * `offers` benchmark itself (`OFFERS_BENCH_PROFILE=FILE npm run -s bench -- offers`: its measured messages only) and
 * is summarised here: `npm exec -- node bench/profile.ts offers --from FILE`.
 */
import type { Category } from '../lib/cpu-profile.ts'
import type { ProfiledPath } from '../lib/types.ts'

export const description =
  'offer propagation (validated) beside plain gossipsub messages, all nodes on one thread (from the offers benchmark)'

/** Our code (not a dependency's): the validation every hop runs, the topics, the node's gossip hooks. */
const OURS = /\/(protocols|roles|node|keys)\/[^/]+/
/** Our wrappers around a dependency's own work (noise's crypto without stack traces) count as that dependency's. */
const WRAPPERS = /\/(node\/noise-crypto|keys\/node-crypto)\.ts/
const ours = (f: { url: string }) => OURS.test(f.url) && !f.url.includes('/node_modules/') && !WRAPPERS.test(f.url)

export const categories: Category[] = [
  // A record's signature is checked through keys/ed25519.ts; gossipsub's own message signatures through @libp2p/crypto.
  { name: 'ours: Ed25519 checks of records (offer, certification)', match: (f) => f.url.includes('/keys/ed25519.ts') },
  { name: 'ours: decoding, rules, topics, catch-up log', match: ours },
  { name: 'libp2p: noise (ChaCha20-Poly1305 per hop)', match: (f) => f.url.includes('noise') },
  { name: 'libp2p: gossipsub (with its message signatures)', match: (f) => f.url.includes('gossipsub') },
  {
    name: 'libp2p: yamux, streams, framing',
    match: (f) => /yamux|abstract-message-stream|it-|uint8arraylist/.test(f.url),
  },
]

export async function prepare(): Promise<ProfiledPath> {
  throw new Error('the offers profile comes from the benchmark: OFFERS_BENCH_PROFILE=FILE, then --from FILE')
}
