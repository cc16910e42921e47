import * as dagCbor from '@ipld/dag-cbor'
import type { SeededRandom } from '../../keys/random.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import { encodeGossipMessage } from '../../protocols/topics/message.ts'
import type { TopicName } from '../../protocols/topics/names.ts'
import type { SimNode } from '../cluster.ts'
import type { JunkKind } from '../scenario.ts'
import { manifestBody, offerBody, placeholderRecordCid, simIsrc } from '../workloads/records.ts'

/**
 * What a spam publisher puts on the wire. Each kind must be refused by every honest node's validators (so that
 * gossipsub's scoring punishes the sender and the junk goes no further):
 *
 * - `garbage`: bytes that are not a gossip message;
 * - `forged-signature`: a well-formed record whose signature does not verify;
 * - `uncertified-signer`: a correctly signed record by a key whose certificate grants no right to sign it (a
 *   Sybil player "selling" offers, "publishing" releases, reporting usage without a device);
 * - `wrong-network`: a correctly signed record of another network;
 * - `oversized`: a message beyond the network's message cap.
 */
export function junkMessage(
  kind: JunkKind,
  topic: TopicName,
  author: SimNode,
  network: string,
  now: number,
  n: number,
  random: SeededRandom,
  messageCap: number,
): Uint8Array {
  switch (kind) {
    case 'garbage':
      return random.bytes(64 + random.int(448))
    case 'oversized':
      return random.bytes(messageCap + 1 + random.int(1024))
    case 'forged-signature': {
      const record = recordFor(topic, author, network, now, n)
      const envelope = dagCbor.decode(record.bytes) as Record<string, unknown>
      const sig = new Uint8Array(envelope.sig as Uint8Array)
      sig[random.int(sig.length)]! ^= 1 << random.int(8)
      return encodeGossipMessage([dagCbor.encode({ ...envelope, sig }), ...attachmentBytes(author)])
    }
    case 'uncertified-signer':
      return encodeGossipMessage([recordFor(topic, author, network, now, n).bytes, ...attachmentBytes(author)])
    case 'wrong-network':
      return encodeGossipMessage([recordFor(topic, author, `${network}-other`, now, n).bytes])
  }
}

function attachmentBytes(author: SimNode): Uint8Array[] {
  return author.node == null ? [] : author.node.credentials.attachments().map((a) => a.bytes)
}

/** A schema-valid record of the topic's type, signed by the author. */
function recordFor(topic: TopicName, author: SimNode, network: string, now: number, n: number): SignedRecord {
  const signer = author.keys.signer
  switch (topic) {
    case 'catalog':
      return signRecord('consort/manifest', manifestBody(network, now, 500_000 + n, 0), signer)
    case 'revocations':
      return signRecord(
        'consort/revocation',
        {
          network,
          created: now,
          targets: [{ kind: 'offer', id: placeholderRecordCid(`victim-${n}`) }],
          reason: 'spam',
        },
        signer,
      )
    case 'usage':
      return signRecord(
        'consort/usage',
        {
          network,
          created: now,
          device: signer.publicKey,
          account: signer.publicKey,
          seq: 0,
          prev: null,
          sealed: [{ recipient: signer.publicKey, box: new Uint8Array(64).fill(n % 256) }],
        },
        signer,
      )
    default:
      return signRecord(
        'consort/offer',
        offerBody({
          network,
          now,
          offerId: `junk-${author.index}-${n}`,
          content: `isrc:${simIsrc(900_000 + n)}`,
          contract: placeholderRecordCid('junk-contract'),
          priceMinor: 1n,
        }),
        signer,
      )
  }
}
