/**
 * `/consort/<net>/sync/1`: catch-up after an absence. Names, limits and intervals, each with its reason; the wire
 * format is in `README.md`.
 */
import type { TopicName } from '../topics/names.ts'

/** Protocol name under the network prefix: `/consort/<net>/sync/1`. */
export const SYNC_PROTOCOL = 'sync'
export const SYNC_OPS = { pull: 'pull' } as const
/*
 * `/sync/1` has no refusal of its own, so no codes constant and no table (decision 0014): a malformed pull is the
 * shared `ERR_BAD_REQUEST`; the puller passes `WireErrors.shared`, which decodes it to `InvalidParametersError`.
 */

/**
 * Topics whose messages a node that was away must not miss: releases, contracts, offers (with their certifications)
 * and revocations (withdrawals, takedowns, revoked certifications). Usage reports are not here: a device delivers
 * each to the clearinghouses itself until they acknowledge it.
 */
export const SYNC_TOPICS: readonly TopicName[] = ['catalog', 'contracts', 'offers', 'revocations']

/**
 * Messages one node keeps in its catch-up log. A network's live records (every release, contract and offer version
 * and every revocation) fit many times over; at the gossip cap of 1 MiB a message the log is bounded, and in
 * practice (records of a few KiB) it is a few hundred MiB at most. The oldest are dropped first.
 */
export const SYNC_LOG_MAX_ENTRIES = 100_000

/** Messages in one answer: enough to move a backlog quickly, few enough to check them within the deadline. */
export const SYNC_PAGE_MESSAGES = 256
/**
 * Bytes of messages in one answer (one message is always sent, however large: it is at most the gossip cap of
 * 1 MiB). Below the client's cap on the whole response, which adds framing.
 */
export const SYNC_PAGE_BYTES = 3 * 1024 * 1024
/** The largest answer a client reads. */
export const SYNC_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
/** Largest request: a few topic names and a cursor. */
export const SYNC_MAX_REQUEST_BYTES = 4 * 1024
/** One exchange: the peer reads at most one page from its log. */
export const SYNC_DEADLINE_MS = 10_000
/** Pages pulled from one peer in one run; a larger backlog continues in the next run, so one peer cannot hold us. */
export const SYNC_MAX_PAGES_PER_RUN = 64

/**
 * Every node pulls from a few of its peers this often, besides on every new connection: a link that came back
 * without its connections being closed (a short outage) brings nothing new by itself, since gossip does not repeat.
 */
export const SYNC_INTERVAL_MS = 15_000
/** Peers pulled from in one periodic round. */
export const SYNC_PEERS_PER_ROUND = 3
/** Peers whose cursor a node remembers (one entry each); the least recently used are forgotten first. */
export const SYNC_MAX_CURSORS = 4_096

/**
 * A peer whose pull went unanswered for `SYNC_DEADLINE_MS` is behind a dead or wedged connection: a link that was
 * cut keeps its TCP connections open (decision 0009: no abort on late pings), and after the link comes back TCP only
 * retransmits at its next back-off, tens of seconds later. The node closes that peer's connections and dials it
 * afresh this often until it answers: the first dial after the link is back reconnects, and the new connection's
 * identify starts a pull at once.
 */
export const SYNC_REDIAL_INTERVAL_MS = 2_000
/** One such dial. */
export const SYNC_REDIAL_TIMEOUT_MS = 5_000
/** Peers redialled at once; how long one is tried before it is left to the connection keeper. */
export const SYNC_MAX_SUSPECTS = 64
export const SYNC_SUSPECT_GIVE_UP_MS = 10 * 60_000
