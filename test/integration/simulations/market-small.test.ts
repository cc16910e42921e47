import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import { toJson } from '../../../protocols/json.ts'
import { retailerParticipant } from '../../../roles/clearinghouse/index.ts'
import { periodOf } from '../../../roles/clearinghouse/state.ts'
import type { Check } from '../../../simulations/report/types.ts'
import { simulateScenario } from '../../../simulations/runner.ts'
import { loadScenario } from '../../../simulations/scenario.ts'
import type { MarketMetrics } from '../../../simulations/workloads/market.ts'
import { checkDsrAgainstLedger, type DsrLedgerCheck } from '../../helpers/dsr-ledger-check.ts'
import { postStrayCent } from '../../helpers/stray-cent.ts'

/**
 * CI runs the shipped `market-small` scenario: every role, real nodes on the memory transport, the plan drawn from
 * the scenario's seed; players buy, play and report, and the clearinghouse's books are compared with the workload's
 * ground truth. One run proves both directions: the settlement invariants hold on the honest run (checked with the
 * nodes still up), and once the test breaks one on purpose — one stray minor unit posted in the clearinghouse's
 * ledger, balanced, as a bug paying a play twice would — the run fails and says which accounts differ. The message
 * names the seed that reproduces the plan (`npm run sim -- market-small --seed N`).
 */
describe('simulations: market-small', function () {
  this.timeout(300_000)

  it('runs the whole market, settles every play to the cent, and fails once an invariant is broken', async () => {
    const { scenario } = loadScenario('market-small')
    const seed = Number(process.env.CONSORT_SIM_SEED ?? scenario.seed)
    let honest: Check[] = []
    let dsr: DsrLedgerCheck | undefined
    let stray = ''
    const { metrics, failures } = await simulateScenario(scenario, {
      seed,
      beforeChecks: async ({ cluster, settlementChecks }) => {
        honest = await settlementChecks()
        // The DDEX DSR reports of every participant, read with the tests' own parser and held against the ledger.
        const node = cluster.nodes.find((n) => n.spec.roles.includes('clearinghouse'))!
        const role = node.started.role('clearinghouse')
        dsr = await checkDsrAgainstLedger(
          role.controlRoutes,
          periodOf(node.started.clock.now()),
          async (cid) => (await node.started.records.getAs('consort/offer', CID.parse(cid))).body.useType,
          // To look at the files: CONSORT_DSR_OUT=DIR npm exec -- mocha … market-small.test.ts
          process.env.CONSORT_DSR_OUT,
        )
        // Break the books: the retailer pays one cent to a rights holder for nothing.
        const retailer = cluster.nodes.find((n) => n.spec.roles.includes('retailer'))!
        stray = 'rightsholder:sim-label-1-artist'
        await postStrayCent(cluster, {
          id: 'sim-test-stray-cent',
          from: retailerParticipant(retailer.keys.signer.publicKey),
          to: stray,
          code: 'royalty',
        })
      },
    })

    // The honest run: every invariant held before the test broke one.
    assert.ok(honest.length >= 3, JSON.stringify(honest))
    for (const c of honest) assert.ok(c.ok, `seed ${seed}: ${c.name}: ${c.detail}`)
    const market = metrics.market as MarketMetrics
    assert.equal(market.tracks, 4)
    assert.ok(market.offers.certified > 0 && market.offers.certified === market.offers.expected)
    assert.ok(market.fetches.started > 0 && market.fetches.completed === market.fetches.started)
    assert.ok(market.deliveryShare > 0, 'delivery nodes served some of the bytes')
    assert.equal(metrics.gossip.reliability, 1, `seed ${seed}: every offer and release reached every honest node`)
    const purchases = market.purchases!
    assert.ok(purchases.bought > 0 && purchases.plays.licensed > 0, toJson(purchases))
    assert.ok(purchases.plays.paid > 0, 'some plays were paid per play')
    assert.equal(purchases.clearinghouse.playsSettled, purchases.plays.licensed)
    assert.ok(purchases.purchaseLatencyMs.count === purchases.bought)
    assert.ok(purchases.timeToFirstAudioMs.count === purchases.plays.licensed)

    // DDEX DSR: every report loads with no error, its sales equal the ledger to the cent, its streams are the plays
    // paid per play (the market's streams are per-play contracts).
    assert.ok(dsr !== undefined)
    assert.deepEqual(dsr.problems, [], `seed ${seed}`)
    assert.ok(dsr.files.length >= 4, `retailer, distributor and two rights holders: ${toJson(dsr.files)}`)
    for (const f of dsr.files) assert.deepEqual(f.errors, [], `seed ${seed}: ${f.fileName}`)
    const retailerTotals = [...dsr.totals].find(([p]) => p.startsWith('retailer:'))![1]
    assert.equal(retailerTotals.streams, BigInt(purchases.plays.paid))

    // The broken invariant fails the run, and only the checks it touches.
    assert.equal(metrics.ok, false)
    const failed = metrics.checks.filter((c) => !c.ok).map((c) => c.name)
    assert.ok(failed.includes('ledger equals ground truth'), failed.join(', '))
    assert.ok(
      failed.every((name) => ['ledger equals ground truth', 'clearinghouse audit clean'].includes(name)),
      `seed ${seed}: ${failures.join('; ')}`,
    )
    const ledger = failures.find((f) => f.startsWith('ledger equals ground truth'))!
    assert.match(ledger, new RegExp(`\\(${stray}\\): expected \\d+, ledger \\d+`))
    const row = market.ledger!.rows.find((r) => r.account === stray)!
    assert.equal(BigInt(row.actual) - BigInt(row.expected), 1n)
  })
})
