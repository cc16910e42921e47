import assert from 'node:assert/strict'
import { ControlApi } from '../../../node/control-api.ts'
import { ControlClient } from '../../../node/control-client.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll } from '../../helpers/nodes.ts'

describe('control API', function () {
  this.timeout(30_000)

  it('does not abort a POST route once its body is read (regression: connect was aborted at once)', async () => {
    const net = await createTestNetwork(systemClock)
    const a = await startMemoryNode({ network: net, clock: systemClock })
    const b = await startMemoryNode({ network: net, clock: systemClock })
    const api = new ControlApi(a)
    try {
      const client = new ControlClient(await api.start())
      const result = await client.request<{ peerId: string }>('POST', '/v1/connect', { address: b.addresses()[0] })
      assert.equal(result.peerId, b.peerId.toString())
    } finally {
      await api.stop()
      await stopAll([a, b])
    }
  })

  it('refuses a request without the token', async () => {
    const net = await createTestNetwork(systemClock)
    const a = await startMemoryNode({ network: net, clock: systemClock })
    const api = new ControlApi(a)
    try {
      const info = await api.start()
      const response = await fetch(`${info.url}/v1/id`)
      assert.equal(response.status, 401)
      const wrong = await fetch(`${info.url}/v1/id`, { headers: { authorization: 'Bearer nope' } })
      assert.equal(wrong.status, 401)
    } finally {
      await api.stop()
      await a.stop()
    }
  })

  it('answers a route no role of this node serves by naming the role, never with the raw route', async () => {
    const net = await createTestNetwork(systemClock)
    const a = await startMemoryNode({ network: net, clock: systemClock, roles: ['player'] })
    const api = new ControlApi(a)
    try {
      const client = new ControlClient(await api.start())
      await assert.rejects(client.request('GET', '/v1/production/contracts?limit=100'), (err: Error) => {
        assert.match(err.message, /this node does not run the production role \(its roles: player\)/)
        assert.doesNotMatch(err.message, /Route GET/)
        return true
      })
      await assert.rejects(client.request('GET', '/v1/nothing-here'), /this node has no command GET \/v1\/nothing-here/)
    } finally {
      await api.stop()
      await a.stop()
    }
  })
})
