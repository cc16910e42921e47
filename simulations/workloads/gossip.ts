import type { Signer } from '../../keys/ed25519.ts'
import { signRecord } from '../../protocols/records/envelope.ts'
import type { SimNode } from '../cluster.ts'
import type { Scenario } from '../scenario.ts'
import { certificationOf, manifestBody, offerBody, placeholderRecordCid, simIsrc } from './records.ts'

export type GossipSpec = Scenario['workload']['gossip'][number]

/**
 * The gossip workload: honest publishers put records on a topic at a rate, and the tracker follows each to every
 * honest node. Offers carry a certification signed with a reference service's key (the workload stands in for the
 * retailer and reference roles, to measure gossip alone); catalog messages are
 * manifests, padded to the size the scenario asks for.
 */
export class GossipWorkload {
  readonly #network: string
  readonly #certifier: Signer
  #counter = 0

  /** `certifier`: a reference service's signing key (the network record lists it). */
  constructor(network: string, certifier: Signer) {
    this.#network = network
    this.#certifier = certifier
  }

  async publish(spec: GossipSpec, publisher: SimNode, now: number): Promise<void> {
    const node = publisher.started
    const n = ++this.#counter
    if (spec.topic === 'offers') {
      const offer = signRecord(
        'consort/offer',
        offerBody({
          network: this.#network,
          now,
          offerId: `sim-offer-${publisher.index}-${n}`,
          content: `isrc:${simIsrc(n)}`,
          contract: placeholderRecordCid('sim-contract'),
          priceMinor: 99n + BigInt(n % 100),
        }),
        publisher.keys.signer,
      )
      const attachments = [...node.credentials.attachments(), certificationOf(offer, this.#certifier, now)]
      await node.topics.publish('offers', offer, attachments)
      return
    }
    const manifest = signRecord(
      'consort/manifest',
      manifestBody(this.#network, now, n, spec.padBytes),
      publisher.keys.signer,
    )
    await node.topics.publish('catalog', manifest, node.credentials.attachments())
  }
}
