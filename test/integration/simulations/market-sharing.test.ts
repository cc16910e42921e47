import assert from 'node:assert/strict'
import { toJson } from '../../../protocols/json.ts'
import { deliveryParticipant, distributorParticipant } from '../../../roles/clearinghouse/index.ts'
import type { Check } from '../../../simulations/report/types.ts'
import { simulateScenario } from '../../../simulations/runner.ts'
import { loadScenario } from '../../../simulations/scenario.ts'
import type { MarketMetrics } from '../../../simulations/workloads/market.ts'
import { postStrayCent } from '../../helpers/stray-cent.ts'

/**
 * CI runs the shipped `market-sharing-small` scenario (decision 0811): contracts with a delivery fee and a referral
 * clause, players receipting what each peer delivered, the clearinghouse paying delivery nodes and seeding players
 * from the distributor; players sharing what they buy along a seeded share graph, recipients buying through the
 * shares (some twice through the same one) and sharing on. The honest run must hold every invariant — each
 * deliverer's, referrer's and payer's statement lines and every balance equal to the ground truth to the cent — and
 * once the test pays a delivery node one cent more, as a bug paying a receipt twice would, the run must fail naming
 * that node.
 */
describe('simulations: market-sharing-small (paid delivery and sharing)', function () {
  this.timeout(300_000)

  it('pays every deliverer what the ground truth says to the cent, and fails once a delivery is paid twice', async () => {
    const { scenario } = loadScenario('market-sharing-small')
    const seed = Number(process.env.CONSORT_SIM_SEED ?? scenario.seed)
    let honest: Check[] = []
    let overpaid = ''
    const { metrics, failures } = await simulateScenario(scenario, {
      seed,
      beforeChecks: async ({ cluster, settlementChecks }) => {
        honest = await settlementChecks()
        // Pay the first delivery node one more cent from the label's distributor account.
        const label = cluster.nodes.find((n) => n.spec.roles.includes('production'))!
        const node = cluster.nodes.find((n) => n.spec.group === 'delivery')!
        overpaid = deliveryParticipant(node.keys.signer.publicKey)
        await postStrayCent(cluster, {
          id: 'sim-test-delivery-twice',
          from: distributorParticipant(label.keys.signer.publicKey),
          to: overpaid,
          code: 'delivery',
        })
      },
    })

    for (const name of [
      'delivery paid as ground truth',
      'no deliverer paid beyond what it served',
      'referral credits as ground truth',
      'a share used again credits nothing',
    ])
      assert.ok(
        honest.some((c) => c.name === name),
        `${name} was checked: ${honest.map((c) => c.name).join(', ')}`,
      )
    for (const c of honest) assert.ok(c.ok, `seed ${seed}: ${c.name}: ${c.detail}`)
    const market = metrics.market as MarketMetrics
    const paid = market.purchases!.paidDelivery!
    // Something was paid, to delivery nodes and to a seeding player's wallet (a check over nothing proves nothing).
    assert.ok(paid.payments > 0 && BigInt(paid.expectedMinor) > 0n, toJson(paid))
    assert.ok(
      paid.byNode.some((n) => n.participant?.startsWith('delivery:') === true),
      'delivery nodes were paid',
    )
    assert.equal(paid.receiptsPending, 0)
    for (const n of paid.byNode.filter((x) => x.participant != null)) {
      assert.equal(BigInt(n.statement!), BigInt(n.expected), `${n.node}: statement lines`)
      assert.equal(n.lines.found, n.lines.expected, `${n.node}: one line per paid receipt peer`)
      assert.ok(n.paidBytes <= n.servedToPlayersBytes, `${n.node} paid for no more than it served`)
    }
    const distributors = paid.byDistributor
    assert.ok(distributors.length > 0 && distributors.every((d) => BigInt(d.statement!) === BigInt(d.expected)))
    assert.equal(
      distributors.reduce((a, d) => a + BigInt(d.expected), 0n),
      -BigInt(paid.expectedMinor),
      'the distributors pay exactly what the deliverers earn',
    )

    // Sharing: purchases came through shares, some credited their referrer, second uses credited nothing, and every
    // referrer's and payer's referral statement lines equal the ground truth.
    const sharing = market.purchases!.sharing!
    assert.ok(sharing.purchases.throughShares > 0 && sharing.purchases.shareThroughReferrals > 0, toJson(sharing))
    assert.ok(sharing.credits.count > 0 && BigInt(sharing.credits.expectedMinor) > 0n)
    assert.ok(sharing.shares.usedAgain > 0, 'a recipient bought twice through one share')
    assert.equal(sharing.credits.byReason.replayed, sharing.shares.usedAgain, 'each second use credits nothing')
    assert.ok(sharing.shares.previewsPlayed > 0, 'recipients heard the preview before buying')
    for (const r of sharing.credits.byReferrer) {
      assert.equal(BigInt(r.statement!), BigInt(r.expected), `${r.node}: referral lines`)
      assert.equal(r.lines.found, r.lines.expected, `${r.node}: one line per credit`)
    }
    const payers = sharing.credits.byPayer
    assert.ok(
      payers.some((p) => p.participant.startsWith('distributor:')),
      'downloads credit from the distributor',
    )
    assert.ok(
      payers.some((p) => p.participant.startsWith('retailer:')),
      'streams credit from the retailer',
    )
    assert.equal(
      payers.reduce((a, p) => a + BigInt(p.expected), 0n),
      -BigInt(sharing.credits.expectedMinor),
      'the payers pay exactly what the referrers earn',
    )

    // The extra cent fails the ledger check, naming the delivery node (and the audit: the ledger no longer matches the
    // statement lines), and nothing else.
    assert.equal(metrics.ok, false)
    const failed = metrics.checks.filter((c) => !c.ok).map((c) => c.name)
    assert.ok(failed.includes('ledger equals ground truth'), failed.join(', '))
    assert.ok(
      failed.every((name) => ['ledger equals ground truth', 'clearinghouse audit clean'].includes(name)),
      failures.join('; '),
    )
    const ledger = failures.find((f) => f.startsWith('ledger equals ground truth'))!
    assert.match(ledger, new RegExp(`\\(${overpaid}\\): expected \\d+, ledger \\d+`))
  })
})
