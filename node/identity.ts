import { basename, extname } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { fromHex, toHex } from '../keys/hex.ts'
import { peerIdOfKey } from '../protocols/peers.ts'
import { IdentityFileError } from './errors.ts'

/** Ed25519 and X25519 public keys are 32 bytes each. */
const PUBLIC_KEY_BYTES = 32
/** Largest identity file read: a few keys and addresses, never megabytes. */
export const MAX_IDENTITY_FILE_BYTES = 64 * 1024
/** Addresses one identity may carry (a node listens on a handful). */
export const MAX_IDENTITY_ADDRESSES = 16

/**
 * A node's public identity, as `consort id --json` prints it: what another operator needs to name the node in a
 * network record (its keys) and to dial it (its announced addresses), and nothing secret.
 */
export interface NodeIdentity {
  peerId: string
  signingKey: string
  sealingKey: string
  /** Addresses to dial, each ending in `/p2p/<peer id>`. */
  addresses: string[]
}

/** A parsed, checked identity: the keys as bytes, the name the network record will show. */
export interface PublicIdentity {
  name: string
  peerId: string
  signingKey: Uint8Array
  sealingKey: Uint8Array
  addresses: string[]
}

/** `address` with `/p2p/<peerId>` at its end (added when absent); `null` for an unspecified (0.0.0.0, ::) host. */
export function dialableAddress(address: string, peerId: string): string | null {
  const ma = multiaddr(address)
  const host = ma.getComponents()[0]?.value
  if (host === '0.0.0.0' || host === '::') return null
  const own = ma.getComponents().find((c) => c.name === 'p2p')?.value
  if (own != null) return own === peerId ? ma.toString() : null
  return `${ma.toString()}/p2p/${peerId}`
}

export function describeIdentity(
  keys: { signingKey: Uint8Array; sealingKey: Uint8Array },
  peerId: string,
  addresses: readonly string[],
): NodeIdentity {
  return {
    peerId,
    signingKey: toHex(keys.signingKey),
    sealingKey: toHex(keys.sealingKey),
    addresses: [...new Set(addresses.map((a) => dialableAddress(a, peerId)).filter((a): a is string => a != null))],
  }
}

function publicKeyFromHex(value: unknown, field: string, source: string): Uint8Array {
  if (typeof value !== 'string' || !/^[0-9a-f]+$/i.test(value) || value.length !== PUBLIC_KEY_BYTES * 2) {
    throw new IdentityFileError(`${source}: ${field}: expected ${PUBLIC_KEY_BYTES} bytes in hex`)
  }
  return fromHex(value, field)
}

/**
 * Read a node's public identity (`consort id --json` output). The peer id must be the signing key's, and every
 * address must be a multiaddr of that peer. The name shown in the network record is the file's `name` field, or
 * else the file's name without its extension (`registrar-1.json` → `registrar-1`).
 */
export function parseIdentity(text: string, source: string): PublicIdentity {
  if (text.length > MAX_IDENTITY_FILE_BYTES)
    throw new IdentityFileError(`${source}: larger than ${MAX_IDENTITY_FILE_BYTES} bytes`)
  let json: Record<string, unknown>
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new IdentityFileError(`${source}: not JSON (${(err as Error).message}); expected consort id --json output`)
  }
  if (json == null || typeof json !== 'object' || Array.isArray(json))
    throw new IdentityFileError(`${source}: expected an object (consort id --json output)`)
  if (json.privateKey != null || json.identity != null)
    throw new IdentityFileError(`${source}: this is a keystore, not a public identity; run consort id --json instead`)
  const signingKey = publicKeyFromHex(json.signingKey, 'signingKey', source)
  const sealingKey = publicKeyFromHex(json.sealingKey, 'sealingKey', source)
  const peerId = peerIdOfKey(signingKey).toString()
  if (json.peerId != null && json.peerId !== peerId)
    throw new IdentityFileError(`${source}: peerId ${String(json.peerId)} is not the signing key's (${peerId})`)
  const rawAddresses = json.addresses ?? []
  if (!Array.isArray(rawAddresses) || rawAddresses.length > MAX_IDENTITY_ADDRESSES)
    throw new IdentityFileError(`${source}: addresses: expected at most ${MAX_IDENTITY_ADDRESSES} multiaddrs`)
  const addresses: string[] = []
  rawAddresses.forEach((value, i) => {
    let address: string | null
    try {
      address = dialableAddress(String(value), peerId)
    } catch {
      throw new IdentityFileError(`${source}: addresses.${i}: not a multiaddr: ${String(value)}`)
    }
    if (address == null)
      throw new IdentityFileError(`${source}: addresses.${i}: ${String(value)} is not a dialable address of ${peerId}`)
    addresses.push(address)
  })
  const name = typeof json.name === 'string' && json.name.length > 0 ? json.name : basename(source, extname(source))
  if (!/^[\w.-]{1,64}$/.test(name))
    throw new IdentityFileError(`${source}: name: 1 to 64 letters, digits, dots, hyphens or underscores`)
  return { name, peerId, signingKey, sealingKey, addresses }
}
