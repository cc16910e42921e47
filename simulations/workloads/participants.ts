import { toHex } from '../../keys/hex.ts'
import type { NodeKeys } from '../../keys/keystore.ts'
import type { SimNode } from '../cluster.ts'
import { SimulationSetupError } from '../errors.ts'

/** A player node's account keys (the wallet it pays from and is credited to), if it has one. */
export function accountOf(sim: SimNode): NodeKeys | undefined {
  return (sim.spec.roleOptions?.player as { account?: NodeKeys } | undefined)?.account
}

/** A player node's account keys; a node without them is a mistake of the simulation's set-up. */
export function accountKeysOf(sim: SimNode): NodeKeys {
  const account = accountOf(sim)
  if (account == null) throw new SimulationSetupError(`${sim.name} has no account key`)
  return account
}

/**
 * A clearinghouse participant in words, by the node it belongs to: `retailer:<key>` → `retailer retailer-0`,
 * `wallet:<key>` → `wallet of player-3`, the fee account → `clearing fee (registrar-0)`; others by their own id.
 */
export function participantLabel(nodes: readonly SimNode[], participant: string): string {
  const colon = participant.indexOf(':')
  const [kind, id] = [participant.slice(0, colon), participant.slice(colon + 1)]
  for (const n of nodes) {
    const account = accountOf(n)
    if (kind === 'wallet' && account != null && toHex(account.signer.publicKey) === id) return `wallet of ${n.name}`
    if (toHex(n.keys.signer.publicKey) === id) return kind === 'fee' ? `clearing fee (${n.name})` : `${kind} ${n.name}`
  }
  return participant
}
