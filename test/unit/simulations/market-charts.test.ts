import assert from 'node:assert/strict'
import { marketSharingCharts } from '../../../simulations/report/market-charts.ts'

describe('simulations: the report script of paid delivery and sharing', () => {
  it('is valid JavaScript (a syntax error there would stop every chart of the page)', () => {
    const script = marketSharingCharts()
    assert.match(script, /Delivery payments per node/)
    assert.match(script, /Purchases through referrals/)
    assert.match(script, /Referral credits per referrer/)
    // Compiles only: the page gives it M, figure, overTime, c and Chart.
    assert.doesNotThrow(() => new Function('M', 'figure', 'overTime', 'c', 'Chart', script))
  })
})
