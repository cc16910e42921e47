import type { RoleFactory } from '../role.ts'
import type { PlayerInit } from './player.ts'
import { WebPlayerRole } from './web/index.ts'

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
  PlayerEvents,
  PlayerInit,
  PlayerStatus,
  PlayOptions,
  PlayResult,
  PurchaseQuote,
  ResyncResult,
} from './player.ts'
export { PlayerRole } from './player.ts'
export { type AudioSink, FileSink, MemorySink, NullSink } from './sinks.ts'

/** The role factory `node/roles.ts` registers. */
export const player: RoleFactory = (components, init) => new WebPlayerRole(components, init as PlayerInit)
