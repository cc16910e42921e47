import assert from 'node:assert/strict'
import { accountIdOf } from '../../roles/clearinghouse/index.ts'
import type { Cluster } from '../../simulations/cluster.ts'

/**
 * Post one balanced EUR cent the workload never moved, straight into the clearinghouse's ledger — the footprint of a
 * bug paying something twice: the books still balance, so only a ground-truth check can see it. `from` and `to` are
 * participant ids (`retailer:<key>`, `delivery:<key>`, …).
 */
export async function postStrayCent(
  cluster: Cluster,
  cent: { id: string; from: string; to: string; code: string },
): Promise<void> {
  const house = cluster.nodes.find((n) => n.spec.roles.includes('clearinghouse'))!.started.role('clearinghouse')
  const [outcome] = await house.engine.ledger.createTransfers([
    {
      id: cent.id,
      kind: 'posted',
      debitAccountId: accountIdOf(cent.from, 'EUR'),
      creditAccountId: accountIdOf(cent.to, 'EUR'),
      amount: 1n,
      code: cent.code,
    },
  ])
  assert.ok(outcome != null)
}
