import { toHex } from '../../keys/hex.ts'
import { type Balance, fetchBalance } from './account-requests.ts'
import { sameBytes } from './bytes.ts'
import type { PlayerCore } from './core.ts'
import { ClearinghouseUnavailableError } from './errors.ts'

/**
 * The clearinghouse this account pays through: the one named by `roleOptions.player.clearinghouse` (by name or hex
 * key), else the first the network record lists. Purchase orders name it, and the account's balance is asked there.
 */

/** The key of the clearinghouse this account pays through (`ClearinghouseUnavailableError` when there is none). */
export function clearinghouseKey(core: PlayerCore): Uint8Array {
  const list = core.components.network.body.clearinghouses
  const wanted = core.init.clearinghouse
  const found =
    wanted === undefined ? list[0] : list.find((c) => c.name === wanted || toHex(c.key) === wanted.toLowerCase())
  if (found === undefined) {
    throw new ClearinghouseUnavailableError(
      wanted === undefined ? 'the network lists no clearinghouse' : `no clearinghouse ${wanted} in the network record`,
    )
  }
  return found.key
}

/** The account's balances at the clearinghouse it pays through. */
export async function accountBalance(
  core: PlayerCore,
  options: { signal?: AbortSignal } = {},
): Promise<{ clearinghouse: string; balances: Balance[] }> {
  const c = core.components
  const key = clearinghouseKey(core)
  const name = c.network.body.clearinghouses.find((ch) => sameBytes(ch.key, key))?.name ?? toHex(key)
  const balances = await fetchBalance(c.libp2p, c.network, key, core.account.signer, {
    now: core.now(),
    random: c.random,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  })
  return { clearinghouse: name, balances }
}
