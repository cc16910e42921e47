/**
 * Who the clearinghouse keeps accounts for, and how they are named. A participant id is what statements name
 * (`consort/statement` `participant`, at most 128 characters); a ledger account id adds the currency (one ledger per
 * currency) and must be printable ASCII without `/` (the ledger's id rule):
 *
 * | participant                         | participant id                   | ledger account id                 | kind         |
 * | ----------------------------------- | -------------------------------- | --------------------------------- | ------------ |
 * | a consumer's wallet (account key)   | `wallet:<key hex>`               | `wallet:<key hex>:<CUR>`          | wallet       |
 * | a retailer (offer signer)           | `retailer:<key hex>`             | `retailer:<key hex>:<CUR>`        | retailer     |
 * | a distributor (contract signer)     | `distributor:<key hex>`          | `distributor:<key hex>:<CUR>`     | distributor  |
 * | a rights holder (contract party)    | `rightsholder:<party>`           | `rightsholder:<sha256 40 hex>:<CUR>` | rightsholder |
 * | this clearinghouse's fee income     | `fee:<clearinghouse key hex>`    | `fee:<key hex>:<CUR>`             | fee          |
 * | a delivery node (certified key)      | `delivery:<key hex>`             | `delivery:<key hex>:<CUR>`        | delivery     |
 * | money from outside (a gateway)      | `external:<gateway name>`        | `external:<name>:<CUR>`           | external     |
 * | money reserved by authorisations    | (internal, never on a statement) | `holding:<key hex>:<CUR>`         | escrow       |
 *
 * A rights holder is named by the contract's split party id; one longer than fits is named `rightsholder#<sha256>`.
 */
import { createHash } from 'node:crypto'
import { toHex } from '../../keys/hex.ts'
import type { AccountInput, AccountKind } from './ledger/types.ts'

export const PARTICIPANT_KINDS = [
  'wallet',
  'retailer',
  'distributor',
  'rightsholder',
  'fee',
  'external',
  'delivery',
] as const
export type ParticipantKind = (typeof PARTICIPANT_KINDS)[number]

/** Longest participant id: the statement schema's `participant` field. */
export const MAX_PARTICIPANT_ID = 128
/** Gateway names are short lower-case labels, so that `external:<name>` is a valid id everywhere. */
export const GATEWAY_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/

const HEX_KEY = /^[0-9a-f]{64}$/

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** Participant keys already computed: a few thousand participants are named again and again. */
const PARTICIPANT_KEY_CACHE = 8192
const participantKeys = new Map<string, string>()

export function walletParticipant(account: Uint8Array | string): string {
  return `wallet:${typeof account === 'string' ? account : toHex(account)}`
}

export function retailerParticipant(key: Uint8Array | string): string {
  return `retailer:${typeof key === 'string' ? key : toHex(key)}`
}

export function distributorParticipant(key: Uint8Array | string): string {
  return `distributor:${typeof key === 'string' ? key : toHex(key)}`
}

export function rightsholderParticipant(party: string): string {
  const id = `rightsholder:${party}`
  return id.length <= MAX_PARTICIPANT_ID ? id : `rightsholder#${sha256Hex(party)}`
}

export function feeParticipant(clearinghouse: Uint8Array | string): string {
  return `fee:${typeof clearinghouse === 'string' ? clearinghouse : toHex(clearinghouse)}`
}

/** A node paid for delivering blocks (its certified key; decision 0511). */
export function deliveryParticipant(key: Uint8Array | string): string {
  return `delivery:${typeof key === 'string' ? key : toHex(key)}`
}

export function externalParticipant(gateway: string): string {
  return `external:${gateway}`
}

export interface ParsedParticipant {
  kind: ParticipantKind
  /** The key (hex) for keyed kinds, the party for rights holders, the gateway name for external money. */
  subject: string
}

/** Parse a participant id; `undefined` if it is not one. */
export function parseParticipant(id: string): ParsedParticipant | undefined {
  if (id.length === 0 || id.length > MAX_PARTICIPANT_ID) return undefined
  if (id.startsWith('rightsholder#')) {
    const digest = id.slice('rightsholder#'.length)
    return HEX_KEY.test(digest) ? { kind: 'rightsholder', subject: id } : undefined
  }
  const colon = id.indexOf(':')
  if (colon < 0) return undefined
  const kind = id.slice(0, colon) as ParticipantKind
  const subject = id.slice(colon + 1)
  if (!(PARTICIPANT_KINDS as readonly string[]).includes(kind) || subject.length === 0) return undefined
  if (kind === 'rightsholder') return { kind, subject }
  if (kind === 'external') return GATEWAY_NAME.test(subject) ? { kind, subject } : undefined
  return HEX_KEY.test(subject) ? { kind, subject } : undefined
}

const LEDGER_KIND: Record<ParticipantKind, AccountKind> = {
  wallet: 'wallet',
  retailer: 'retailer',
  distributor: 'distributor',
  rightsholder: 'rightsholder',
  fee: 'fee',
  external: 'external',
  delivery: 'delivery',
}

/** The ledger account of a participant in one currency. */
export function accountIdOf(participant: string, currency: string): string {
  const parsed = parseParticipant(participant)
  if (parsed === undefined) throw new TypeError(`not a participant id: ${JSON.stringify(participant)}`)
  if (parsed.kind === 'rightsholder') return `rightsholder:${sha256Hex(participant).slice(0, 40)}:${currency}`
  return `${parsed.kind}:${parsed.subject}:${currency}`
}

/** The account a participant needs in one currency: only wallets are limited (never below zero). */
export function accountInputOf(participant: string, currency: string): AccountInput {
  const parsed = parseParticipant(participant)
  if (parsed === undefined) throw new TypeError(`not a participant id: ${JSON.stringify(participant)}`)
  return {
    id: accountIdOf(participant, currency),
    currency,
    kind: LEDGER_KIND[parsed.kind],
    owner: participant,
    flags: parsed.kind === 'wallet' ? { debitsMustNotExceedCredits: true } : {},
  }
}

/** The account that holds authorised money until it is captured or released. */
export function holdingAccountInput(clearinghouse: Uint8Array, currency: string): AccountInput {
  return {
    id: `holding:${toHex(clearinghouse)}:${currency}`,
    currency,
    kind: 'escrow',
    owner: `holding:${toHex(clearinghouse)}`,
    flags: {},
  }
}

/**
 * A short, fixed-length name of a participant for state keys (96 bits of its SHA-256): participant ids may be long
 * and hold any character; keys must sort and split cleanly.
 */
export function participantKey(participant: string): string {
  let key = participantKeys.get(participant)
  if (key === undefined) {
    key = sha256Hex(participant).slice(0, 24)
    if (participantKeys.size >= PARTICIPANT_KEY_CACHE) participantKeys.clear()
    participantKeys.set(participant, key)
  }
  return key
}
