/** Frame format version of requests and responses. */
export const RPC_VERSION = 1
/** Default cap on one request or response, in bytes: a manifest-sized record plus headroom. */
export const DEFAULT_MAX_MESSAGE_BYTES = 2 * 1024 * 1024
/** Default time a whole exchange (dial, request, handler, response) may take. */
export const DEFAULT_DEADLINE_MS = 10_000
/** Streams one peer may have open on one protocol at once; more are refused by libp2p. */
export const DEFAULT_MAX_INBOUND_STREAMS = 64
/** Longest operation name. */
export const MAX_OP_CHARS = 64
/** Longest error message sent back to a peer: enough to explain, too short to leak much. */
export const MAX_ERROR_MESSAGE_CHARS = 2048

/** `/consort/<network>/<name>/<version>`: every Consort protocol lives under its network's prefix. */
export function protocolId(network: string, name: string, version = 1): string {
  return `/consort/${network}/${name}/${version}`
}

/** Which service answers each protocol, so that an error can say who was unreachable. */
export const SERVICE_OF_PROTOCOL: Readonly<Record<string, string>> = {
  register: 'registration manager',
  licence: 'registration manager',
  escrow: 'registration manager',
  reference: 'reference service',
  catalog: 'catalog',
  purchase: 'retailer',
  clearing: 'clearinghouse',
  segments: 'delivery peer',
}

/** The service that answers `protocol` (`/consort/devnet/clearing/1` → `clearinghouse`), else `peer`. */
export function serviceOfProtocol(protocol: string): string {
  const name = protocol.split('/').at(-2) ?? ''
  return SERVICE_OF_PROTOCOL[name] ?? 'peer'
}
