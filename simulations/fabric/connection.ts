import type { AbortOptions, Logger } from '@libp2p/interface'
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/** What libp2p hands a connection to send (a list of buffers). */
type Outgoing = Parameters<AbstractMultiaddrConnection['sendData']>[0]

/** What a connection end needs from the fabric: the wire in one direction. */
export interface Wire {
  /** Put bytes on the wire; answers whether the sender's buffer has room for more (else wait for 'drain'). */
  send(bytes: Uint8Array): boolean
  /** Send a FIN after the data already sent; resolves when it reached the other end (or the wire was dropped). */
  finish(options?: AbortOptions): Promise<void>
  /** Send a reset: the other end's connection fails when it arrives. Data not yet delivered is dropped. */
  reset(): void
}

export interface SimConnectionInit {
  remoteAddr: Multiaddr
  direction: 'inbound' | 'outbound'
  log: Logger
  /** Largest chunk handed to the wire at once (a socket write, more or less). */
  maxChunkBytes: number
}

/**
 * One end of a simulated connection: a libp2p `MultiaddrConnection` (`AbstractMultiaddrConnection` from
 * `@libp2p/utils`, the public base class transports build on) whose bytes go through the fabric's wire. The fabric
 * calls `arrive`, `arriveFin` and `arriveReset` when what the other end sent reaches this one.
 */
export class SimConnection extends AbstractMultiaddrConnection {
  #wire: Wire | null = null
  readonly #maxChunkBytes: number

  constructor(init: SimConnectionInit) {
    super({ ...init, maxMessageSize: init.maxChunkBytes })
    this.#maxChunkBytes = init.maxChunkBytes
  }

  /** Connect this end to its wire (done once by the fabric, before any byte moves). */
  attach(wire: Wire): void {
    this.#wire = wire
  }

  override sendData(data: Outgoing): SendResult {
    const wire = this.#wire
    if (wire == null) throw new Error('simulated connection used before the fabric attached its wire')
    // What libp2p hands over at once is one socket write: Noise's two-byte length prefix and its ciphertext, often
    // several frames. TCP sends them together; so does the wire, as one chunk. Sent buffer by buffer, every frame
    // was two chunks (the prefix alone), each a fabric event, a loss draw and a decode attempt at the other end.
    if (data.byteLength <= this.#maxChunkBytes)
      return { sentBytes: data.byteLength, canSendMore: wire.send(data.subarray()) }
    let canSendMore = true
    for (const chunk of data) canSendMore = wire.send(chunk)
    return { sentBytes: data.byteLength, canSendMore }
  }

  override async sendClose(options?: AbortOptions): Promise<void> {
    await this.#wire?.finish(options)
  }

  override sendReset(): void {
    this.#wire?.reset()
  }

  override sendPause(): void {
    // Read back-pressure is not modelled: what arrives waits in the read buffer (bounded by libp2p).
  }

  override sendResume(): void {}

  /** The fabric delivers bytes the other end sent. */
  arrive(bytes: Uint8Array): void {
    if (this.status === 'open' || this.status === 'closing') this.onData(bytes)
  }

  /** The other end's FIN arrived: no more data will come (TCP's 'end'). */
  arriveFin(): void {
    if (this.status === 'open' || this.status === 'closing') this.onTransportClosed()
  }

  /** The other end's reset arrived (TCP's ECONNRESET). */
  arriveReset(): void {
    if (this.status === 'open' || this.status === 'closing') this.onRemoteReset()
  }

  /** The wire has room again after a send answered false. */
  drained(): void {
    this.safeDispatchEvent('drain')
  }
}
