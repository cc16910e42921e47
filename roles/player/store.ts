import type { RoleComponents } from '../role.ts'
import { codecs, defineLayout, type RoleStore, repository } from '../store.ts'
import { STORE_VERSION } from './constants.ts'

/**
 * The player's store: its keys and encodings as they have always been (README.md, "The local store"), declared.
 *
 * | repository | key | value |
 * | --- | --- | --- |
 * | (version) | `meta!version` | the layout version as decimal text |
 * | `entries` | `log!<seq, 16 digits>` | one entry of the tamper-evident log: signed, hash-chained bytes that the log verifies itself (`log.ts`), so that a bad one is a `StoreTamperedError` naming its seq, the player's answer to a tampered store |
 * | `head` | `meta!head` | the log's signed head |
 * | `manifests` | `cat!m!<ISRC>` | the newest manifest known of a recording |
 * | `releases` | `cat!r!<content id>` | the newest release known of a product |
 * | `deliveries` | `deliveries!<key>` | the delivery receipts outbox (`deliveries.ts`): receipts kept until a clearinghouse settles them |
 */
export const PLAYER_LAYOUT = defineLayout({
  role: 'player',
  version: STORE_VERSION,
  versionKey: 'meta!version',
  versionCodec: codecs.decimal,
  repositories: {
    entries: repository('log!', codecs.bytes),
    head: repository('meta!head', codecs.bytes),
    manifests: repository('cat!m!', codecs.record('consort/manifest')),
    releases: repository('cat!r!', codecs.record('consort/release')),
    deliveries: repository('deliveries!', codecs.bytes),
  },
})

export type PlayerRoleStore = RoleStore<(typeof PLAYER_LAYOUT)['repositories']>

/** What the player takes from the node: these components and its store. */
export type PlayerComponents = Pick<
  RoleComponents,
  | 'libp2p'
  | 'helia'
  | 'keys'
  | 'clock'
  | 'random'
  | 'network'
  | 'topics'
  | 'trust'
  | 'records'
  | 'credentials'
  | 'metrics'
  | 'dataDir'
> & { store: PlayerRoleStore }
