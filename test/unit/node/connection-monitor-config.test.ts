import assert from 'node:assert/strict'
import { defaultFileConfig, parseFileConfig } from '../../../node/config.ts'
import { ConfigError } from '../../../node/errors.ts'
import { DEFAULT_PING_INTERVAL_MS, MUXER_KEEP_ALIVE_MS } from '../../../node/libp2p-options.ts'
import { isError } from '../../../protocols/errors.ts'

describe('the connection monitor setting of config.json (decision 0019)', () => {
  it('defaults to one ping a minute per connection, with yamux keeping connections alive every 30 s', () => {
    assert.equal(DEFAULT_PING_INTERVAL_MS, 60_000)
    assert.deepEqual(defaultFileConfig().connectionMonitor, { pingIntervalMs: DEFAULT_PING_INTERVAL_MS })
    // The keep-alive must stay well within @libp2p/tcp's 120 s inactivity time-out and a 4-minute NAT.
    assert.ok(MUXER_KEEP_ALIVE_MS * 4 <= 120_000)
  })

  it('takes an interval from 1 s to 1 h and refuses others by their field', () => {
    const config = parseFileConfig({ version: 1, connectionMonitor: { pingIntervalMs: 10_000 } })
    assert.equal(config.connectionMonitor.pingIntervalMs, 10_000)
    for (const bad of [500, 3_600_001, 1.5, '60000']) {
      assert.throws(
        () => parseFileConfig({ version: 1, connectionMonitor: { pingIntervalMs: bad } }),
        (err: Error) => isError(err, ConfigError) && err.field === 'config.connectionMonitor.pingIntervalMs',
      )
    }
    assert.throws(
      () => parseFileConfig({ version: 1, connectionMonitor: { abortOnPingFailure: true } }),
      (err: Error) => isError(err, ConfigError) && /unknown setting\(s\) abortOnPingFailure/.test(err.message),
    )
  })
})
