import type { Connection, IdentifyResult, Libp2p } from '@libp2p/interface'
import { SEAL_SESSION_VERSION, SEAL_VERSION, type SealBoxVersion } from '../../keys/seal.ts'
import type { NetworkContext } from '../network.ts'
import { peerIdOfKey } from '../peers.ts'
import { localRpcServer } from '../rpc/server.ts'
import { CLEARING_PROTOCOL } from './index.ts'

/**
 * Which usage boxes a clearinghouse opens, as it announces them (decision 0518): by the versions of
 * `/consort/<net>/clearing/<v>` it serves. Both versions have the same ops and bodies; a clearinghouse serving version 2
 * also opens, in a `report`, boxes sealed in a session (seal version 2, decision 0515). One released before 0515 serves
 * only version 1 and refuses a box of version 2 (`ERR_REPORT_INVALID`, "sealed box version is 2, only 1 is known").
 *
 * The announcement travels inside the connection's encryption, which is authenticated to the clearinghouse's own key
 * (its peer id): identify's protocol list on each connection, and the protocol multistream-select agreed on for each
 * report's stream (the player offers version 2 first). A relay or anyone else on the path can neither add nor remove
 * a version; only the clearinghouse itself can, and announcing less than it opens costs nobody but itself CPU.
 */

/** Versions of the clearing protocol, newest first, each with the newest usage box version its `report` opens. */
export const CLEARING_VERSIONS: ReadonlyArray<{ protocol: number; opens: SealBoxVersion }> = [
  { protocol: 2, opens: SEAL_SESSION_VERSION },
  { protocol: 1, opens: SEAL_VERSION },
]

/** The clearing protocol ids, newest first: what a player offers for a report, in order. */
export function clearingProtocols(network: NetworkContext): string[] {
  return CLEARING_VERSIONS.map((v) => network.protocol(CLEARING_PROTOCOL, v.protocol))
}

/** The clearing protocol ids a clearinghouse that opens the box versions `opens` serves, newest first. */
export function servedClearingProtocols(network: NetworkContext, opens: readonly SealBoxVersion[]): string[] {
  return CLEARING_VERSIONS.filter((v) => opens.includes(v.opens)).map((v) =>
    network.protocol(CLEARING_PROTOCOL, v.protocol),
  )
}

/** The newest box version that `protocols` (a peer's protocol ids) say it opens; undefined when none is clearing's. */
export function announcedSealVersion(
  network: NetworkContext,
  protocols: readonly string[],
): SealBoxVersion | undefined {
  for (const v of CLEARING_VERSIONS) {
    if (protocols.includes(network.protocol(CLEARING_PROTOCOL, v.protocol))) return v.opens
  }
  return undefined
}

export type SealVersionsLibp2p = Pick<Libp2p, 'peerId' | 'getConnections' | 'addEventListener' | 'removeEventListener'>

/**
 * The box version to seal a usage report's box in for each clearinghouse: the newest it announced on a connection open
 * to it now, else version 1, which every clearinghouse ever released opens. What a connection announced is forgotten
 * with the connection: a clearinghouse restarted on an older release is heard anew on its new connection (and by what
 * it negotiates), so a box is sealed in version 2 only to the process that said it opens it. A report is built once
 * and sent as the same bytes until acknowledged (its box versions cannot change after), so a report built in the
 * moment between a clearinghouse's restart on an older release and the player's next word with it is refused there
 * until the clearinghouse opens version 2 again; the player keeps it meanwhile (decision 0518).
 */
export class ClearinghouseSealVersions {
  readonly #libp2p: SealVersionsLibp2p
  readonly #network: NetworkContext
  readonly #announced = new WeakMap<Connection, SealBoxVersion>()
  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>) => {
    this.learn(evt.detail.connection, evt.detail.protocols)
  }

  constructor(libp2p: SealVersionsLibp2p, network: NetworkContext) {
    this.#libp2p = libp2p
    this.#network = network
  }

  /** Listen to identify (on every connection, and again when a peer pushes a change of its protocols). */
  start(): void {
    this.#libp2p.addEventListener('peer:identify', this.#onIdentify)
  }

  stop(): void {
    this.#libp2p.removeEventListener('peer:identify', this.#onIdentify)
  }

  /**
   * What the peer at the other end of `connection` said it serves: identify's whole list, or the one protocol
   * negotiated for a stream (the latest word wins: a clearinghouse may stop serving a version while connected).
   */
  learn(connection: Connection, protocols: readonly string[]): void {
    const version = announcedSealVersion(this.#network, protocols)
    if (version !== undefined) this.#announced.set(connection, version)
  }

  /** The box version to seal to the clearinghouse whose signing key is `clearinghouse`. */
  sealVersion(clearinghouse: Uint8Array): SealBoxVersion {
    const peer = peerIdOfKey(clearinghouse)
    if (peer.equals(this.#libp2p.peerId)) {
      // A clearinghouse on this very node: what it serves here says what it opens.
      const served = clearingProtocols(this.#network).filter((p) => localRpcServer(this.#libp2p, p) !== undefined)
      return announcedSealVersion(this.#network, served) ?? SEAL_VERSION
    }
    let newest: SealBoxVersion = SEAL_VERSION
    for (const connection of this.#libp2p.getConnections(peer)) {
      if (connection.status !== 'open') continue
      const version = this.#announced.get(connection)
      if (version !== undefined && version > newest) newest = version
    }
    return newest
  }
}
