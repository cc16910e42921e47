import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { SignedRecord } from '../records/envelope.ts'
import type { RecordType } from '../records/registry.ts'
import type { SignerTrust } from '../trust/trust.ts'
import type { Knowledge, TopicMemory } from './knowledge.ts'
import type { TopicName } from './names.ts'
import type { QueuePolicy } from './queue.ts'

/** gossipsub's verdicts (its `TopicValidatorResult` values). */
export type ValidationResult = 'accept' | 'ignore' | 'reject'

export interface Accept {
  result: 'accept'
}
/** Goes no further, without blame: what a node may judge differently from another that knows more or less. */
export interface Ignore {
  result: 'ignore'
  code: string
  reason: string
}
/** Invalid for every node of the network: gossipsub lowers the score of the peer that sent it. */
export interface Reject {
  result: 'reject'
  code: string
  reason: string
}
export type Verdict = Accept | Ignore | Reject

export const ACCEPT: Accept = Object.freeze({ result: 'accept' })

export function ignore(code: string, reason: string): Ignore {
  return { result: 'ignore', code, reason }
}

export function reject(code: string, reason: string): Reject {
  return { result: 'reject', code, reason }
}

/** A message that passed every check: its lead record and attachments, decoded and verified. */
export interface GossipDelivery {
  topic: TopicName
  record: SignedRecord
  attachments: SignedRecord[]
  /** The peer that forwarded it to us (not necessarily its author). */
  from: PeerId
}

/** The network's trust as a topic's rules consult it; `CertificateTrust` is the one the node passes. */
export interface TopicTrust extends SignerTrust {
  isRegistrar(key: Uint8Array): boolean
  isReferenceService(key: Uint8Array): boolean
  isAnchor(key: Uint8Array): boolean
  isRevoked(id: CID): boolean
  deviceOf(device: Uint8Array): SignedRecord<'consort/device'> | undefined
}

/** What a message is held against besides itself: the network's trust and the node's clock. */
export interface RuleContext {
  trust: TopicTrust
  now: number
}

/** ... and what this node knows of the records its topics carried (`Knowledge`). */
export interface JudgeContext extends RuleContext {
  knows: Knowledge
}

/** The key under which versions of one record supersede each other, and this version's number. */
export interface Version {
  key: string
  seq: number
}

/**
 * One gossip topic, whole: what it carries, how large a message may be, how deliveries queue, and its rule. The
 * `Topic` built from a spec runs the same checks in the same order on every node, whatever roles it plays:
 * size → decoding (lead type, attachment types, envelope) → signer trust → `validate` → `judge` → `version`
 * (the sequence rule, the same for every versioned record) → room in the queue.
 *
 * A rule that can answer `reject` sees only the message, the network's trust and the clock (`validate`), so a
 * message is invalid for every node or for none; what depends on what a node has seen (a revocation, a newer
 * version, whose record a target is) can only answer `ignore` (`judge`, `version`), so that an honest peer that had
 * not seen it yet is never punished for passing a message on. See docs/decisions/0308.
 */
export interface TopicSpec {
  readonly name: TopicName
  /** Record types that may lead a message on this topic. */
  readonly leads: readonly RecordType[]
  /** Record types a message may carry besides its lead (the signer's certificate, a device, a certification). */
  readonly attachments: readonly RecordType[]
  /** Largest message on this topic, in bytes (the network record's `messageBytes` still bounds every topic). */
  readonly maxMessageBytes: number
  /** The bounded queue between acceptance and the subscribers. */
  readonly queue: QueuePolicy
  /** The topic's own rule over the message alone: answers `reject` for what is invalid anywhere. */
  validate?(delivery: GossipDelivery, context: RuleContext): Verdict
  /** The topic's rule over what this node knows: withdrawn, or a target signed by someone else. Never rejects. */
  judge?(delivery: GossipDelivery, context: JudgeContext): Promise<Accept | Ignore>
  /** For versioned records: a higher `seq` under the same key supersedes (see `sequenceVerdict`). */
  version?(record: SignedRecord): Version | null
  /** What an accepted (or published) message teaches this node beyond its version: a revocation's targets. */
  learn?(record: SignedRecord, memory: TopicMemory): void
}
