import type { AbortOptions, PeerId } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { RpcUnreachableError } from './errors.ts'

/**
 * What a node needs to find where a service listens: its peer store (filled by identify with the addresses each
 * peer announces), its peer routing (the DHT) and its events. A connection's remote address is never used: for an
 * inbound connection it is the other side's ephemeral source port, where nothing listens.
 */
export interface AddressBook {
  peerStore: { get(peer: PeerId, options?: AbortOptions): Promise<{ addresses: Array<{ multiaddr: Multiaddr }> }> }
  peerRouting?: {
    findPeer(peer: PeerId, options?: AbortOptions & { useCache?: boolean }): Promise<{ multiaddrs: Multiaddr[] }>
  }
  addEventListener(type: string, listener: (event: Event) => void): void
  removeEventListener(type: string, listener: (event: Event) => void): void
}

export function isAddressBook(value: unknown): value is AddressBook {
  const v = value as Partial<AddressBook> | null
  return v != null && typeof v.peerStore?.get === 'function' && typeof v.addEventListener === 'function'
}

/** `address` with `/p2p/<peer>` at its end, as a dial to a known peer wants it. */
export function withPeerId(address: Multiaddr, peer: PeerId): Multiaddr {
  const last = address.getComponents().at(-1)
  return last?.name === 'p2p' ? address : address.encapsulate(multiaddr(`/p2p/${peer.toString()}`))
}

async function storedAddresses(book: AddressBook, peer: PeerId, options: AbortOptions): Promise<Multiaddr[]> {
  try {
    return (await book.peerStore.get(peer, options)).addresses.map((a) => a.multiaddr)
  } catch (err) {
    if ((err as Error).name === 'NotFoundError') return []
    throw err
  }
}

async function routedAddresses(
  book: AddressBook,
  peer: PeerId,
  options: AbortOptions & { useCache?: boolean },
): Promise<Multiaddr[]> {
  if (book.peerRouting == null) return []
  try {
    return (await book.peerRouting.findPeer(peer, options)).multiaddrs
  } catch (err) {
    if (options.signal?.aborted === true) throw err
    return []
  }
}

/**
 * How long after the first peer-routing query the next may start while a lookup waits; each pause after that is
 * twice the one before, up to `ROUTING_RETRY_MAX_MS`. Every identified peer re-reads the peer store (cheap), but a
 * routing query crosses the network: on a busy node peers are identified many times a second, and a query per
 * identify (or per second) would flood the DHT for nothing while a service is down: within a 10 s deadline a lookup
 * asks at most four times (at 0, 1, 3 and 7 s).
 */
export const ROUTING_RETRY_MS = 1_000
export const ROUTING_RETRY_MAX_MS = 8_000

/**
 * The addresses `peer` announces, with its peer id. Known ones come from the peer store at once; otherwise this
 * asks the peer routing, again after `ROUTING_RETRY_MS` and after pauses twice as long each time while it finds
 * nothing, and reads the peer store again each time the node identifies a peer (the peer itself arrived), until an
 * answer comes or `signal` aborts: a node that has just started learns of the network's services within moments,
 * and waiting on those events replaces any guess of how long that takes. Throws `RpcUnreachableError` naming
 * `service` when the signal aborts first.
 *
 * The routing is always asked past its cache: the peer store has just been read, and Kad-DHT's cache is that same
 * peer store, which answers a peer it holds without addresses (a failed dial leaves such an entry, and its addresses
 * expire an hour after first seen) as found with none: the lookup would never reach the network (decision 0017).
 */
export async function announcedAddresses(
  book: AddressBook,
  peer: PeerId,
  options: AbortOptions & {
    service?: string
    /**
     * Addresses that did not answer (the peer restarted elsewhere since it announced them): they count as unknown,
     * and the peer routing is asked past its cache.
     */
    stale?: readonly string[]
  } = {},
): Promise<Multiaddr[]> {
  const service = options.service ?? 'peer'
  const found = (list: Multiaddr[]) => {
    const unique = new Map(list.map((a) => withPeerId(a, peer)).map((a) => [a.toString(), a]))
    return [...unique.values()]
  }
  const stale = new Set(options.stale ?? [])
  const fresh = (list: Multiaddr[]) => list.filter((a) => !stale.has(withPeerId(a, peer).toString()))
  const known = fresh(await storedAddresses(book, peer, options))
  if (known.length > 0) return found(known)
  const signal = options.signal
  return new Promise<Multiaddr[]>((resolve, reject) => {
    let settled = false
    let asking = false
    let askAgain = false
    // A routing query was made less than `pauseMs` ago: the next waits until that has passed.
    let routingPaused = false
    let routingWanted = false
    let pause: ReturnType<typeof setTimeout> | undefined
    let pauseMs = ROUTING_RETRY_MS
    const finish = (error: Error | null, list: Multiaddr[] = []) => {
      if (settled) return
      settled = true
      clearTimeout(pause)
      book.removeEventListener('peer:identify', onIdentify)
      signal?.removeEventListener('abort', onAbort)
      if (error != null) reject(error)
      else resolve(found(list))
    }
    const onAbort = () =>
      finish(
        new RpcUnreachableError(
          service,
          peer.toString(),
          [],
          'no address known: it has not announced itself to this node, and the peer routing did not find it',
        ),
      )
    const ask = async () => {
      if (asking) {
        askAgain = true
        return
      }
      asking = true
      try {
        do {
          askAgain = false
          const stored = fresh(await storedAddresses(book, peer, { signal }))
          if (stored.length > 0) return finish(null, stored)
          if (routingPaused) {
            routingWanted = true
            continue
          }
          routingPaused = true
          pause = setTimeout(() => {
            routingPaused = false
            if (routingWanted && !settled) {
              routingWanted = false
              void ask()
            }
          }, pauseMs)
          pauseMs = Math.min(ROUTING_RETRY_MAX_MS, pauseMs * 2)
          const routed = fresh(
            await routedAddresses(book, peer, { ...(signal != null ? { signal } : {}), useCache: false }),
          )
          if (routed.length > 0) return finish(null, routed)
          // Not found (yet): the routing is asked again once the pause is over, identified peers or not.
          routingWanted = true
        } while (askAgain && !settled)
      } catch (err) {
        if (signal?.aborted === true) return onAbort()
        finish(err as Error)
      } finally {
        asking = false
      }
    }
    const onIdentify = () => {
      if (!settled) void ask()
    }
    if (signal?.aborted === true) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    book.addEventListener('peer:identify', onIdentify)
    void ask()
  })
}

/** The most telling reason a dial failed: an OS error code (`ECONNREFUSED`) when one is inside, else its message. */
export function dialFailureReason(err: unknown): string {
  const seen = new Set<unknown>()
  const codes: string[] = []
  const visit = (e: unknown) => {
    if (e == null || typeof e !== 'object' || seen.has(e)) return
    seen.add(e)
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && !codes.includes(code)) codes.push(code)
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) visit(inner)
    visit((e as { cause?: unknown }).cause)
  }
  visit(err)
  if (codes.length > 0) return codes.join(', ')
  return (err as Error)?.message ?? String(err)
}
