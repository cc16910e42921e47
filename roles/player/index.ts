import { z } from 'zod'
import type { NodeKeys } from '../../keys/keystore.ts'
import { defineRole } from '../role.ts'
import { PlayerRole } from './player.ts'
import { PLAYER_LAYOUT } from './store.ts'
import { withWebPlayer } from './web/index.ts'

/**
 * The Consumer Player role (`roles/player`): search, offers, purchase, the tamper-evident licence store,
 * progressive playback within the rules, counted exports and burns, and usage reports. See README.md.
 */
export * from './account.ts'
export * from './errors.ts'
export type {
  BuyResult,
  CountedUseResult,
  FlushResult,
  LicenceView,
  ListedOffer,
  MarketView,
  OpenedShare,
  PlayerEvents,
  PlayerInit,
  PlayerStatus,
  PlayOptions,
  PlayResult,
  PurchaseQuote,
  ResyncResult,
  ShareOffer,
  ShareView,
} from './player.ts'
export { type AudioSink, FileSink, MemorySink, NullSink } from './sinks.ts'
export { PLAYER_LAYOUT, type PlayerComponents, type PlayerRoleStore } from './store.ts'
export { PlayerRole }

export const player = defineRole({
  name: 'player',
  options: z.strictObject({
    /** The name this device registers under (default `player`). */
    deviceName: z.string().min(1).max(128).optional(),
    /** The clearinghouse that takes the account's payments, by name or hex key (default: the first one listed). */
    clearinghouse: z.string().min(1).optional(),
    /** Flush the usage outbox this often, ms (default 60 s; 0: only when asked and after each use). */
    flushIntervalMs: z.number().int().min(0).optional(),
    /** Register this device with a registration manager at start when it has none (default true). */
    registerDevice: z.boolean().optional(),
    /** The account keys, for a node without a data dir (tests, simulations; default: `keys/account.key`). */
    account: z
      .custom<NodeKeys>((value) => typeof value === 'object' && value !== null && 'signer' in value, 'expected keys')
      .optional(),
    /** Serve the segments this node holds and announce them (default true: every player seeds). */
    seed: z.boolean().optional(),
    /** Compact the local log after this many entries (default 20,000). */
    compactAfter: z.number().int().positive().optional(),
  }),
  components: [
    'libp2p',
    'helia',
    'keys',
    'clock',
    'random',
    'network',
    'topics',
    'trust',
    'records',
    'credentials',
    'metrics',
    'dataDir',
  ],
  layout: PLAYER_LAYOUT,
  // The web player is composed onto the role (`role.ui`, `role.web`), not a subclass of it.
  create: (components, options) => withWebPlayer(new PlayerRole(components, options), components),
})
