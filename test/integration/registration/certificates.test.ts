import assert from 'node:assert/strict'
import { toString as bytesToHex } from 'uint8arrays/to-string'
import { createNodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { registerRoutes } from '../../../node/register-route.ts'
import { isDpid } from '../../../protocols/identifiers/dpid.ts'
import type { RoleName } from '../../../protocols/records/types/common.ts'
import { certStatus, lookupCert, requestCert, signCertRequest } from '../../../protocols/register/client.ts'
import { REGISTER_OPS, REGISTER_PROTOCOL } from '../../../protocols/register/index.ts'
import { assignedPartyId } from '../../../protocols/register/party-id.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import type { ControlRoute } from '../../../roles/role.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { nextEvent } from '../../helpers/wait.ts'
import { type Market, startMarket } from './market.ts'

const hex = (bytes: Uint8Array) => bytesToHex(bytes, 'base16')

function call(routes: readonly ControlRoute[], method: ControlRoute['method'], path: string, body: unknown = null) {
  const found = routes.find(
    (r) => r.method === method && r.path === path.replace(/\/requests\/[^/]+\//, '/requests/:id/'),
  )
  assert.ok(found, `route ${method} ${path}`)
  const id = /\/requests\/([^/]+)\//.exec(path)?.[1]
  return found.handler({
    params: id != null ? { id } : {},
    query: {},
    body,
    signal: new AbortController().signal,
  })
}

describe('registration: role certificates between real nodes', function () {
  this.timeout(120_000)
  let market: Market
  const extra: ConsortNode[] = []

  async function newcomer(): Promise<ConsortNode> {
    const node = await startMemoryNode({ network: market.net, clock: market.clock })
    extra.push(node)
    await node.libp2p.dial(market.registrar.libp2p.getMultiaddrs()[0]!)
    return node
  }

  function ask(node: ConsortNode, roles: RoleName[], name = 'newcomer') {
    return requestCert(node.libp2p, node.network, {
      signer: node.keys.signer,
      sealingKey: node.keys.sealing.publicKey,
      roles,
      name,
      now: market.clock.now(),
    })
  }

  before(async () => {
    market = await startMarket()
  })

  after(async () => {
    await Promise.all(extra.map((n) => n.stop()))
    await market?.stop()
  })

  it('approves a player at once by network policy, and anyone can look the certificate up', async () => {
    const player = await newcomer()
    const result = await ask(player, ['player'], 'listener')
    assert.equal(result.status, 'approved')
    if (result.status !== 'approved') return
    assert.deepEqual(result.cert.body.subject, player.keys.signer.publicKey)
    assert.deepEqual(result.cert.body.roles, ['player'])
    assert.deepEqual(result.cert.body.sealingKey, player.keys.sealing.publicKey)
    // The participant's party id, assigned at registration: DPID-style, by which DDEX reports name it.
    assert.equal(result.cert.body.partyId, assignedPartyId(player.keys.signer.publicKey))
    assert.ok(isDpid(result.cert.body.partyId))
    await player.credentials.setCert(result.cert)
    assert.ok(player.trust.hasRole(player.keys.signer.publicKey, 'player'))

    const found = await lookupCert(
      market.retailer.libp2p,
      market.retailer.network,
      player.keys.signer.publicKey,
      market.clock.now(),
    )
    assert.ok(found?.id.equals(result.cert.id))
    const nobody = await createNodeKeys()
    assert.equal(
      await lookupCert(market.retailer.libp2p, market.retailer.network, nobody.signer.publicKey, market.clock.now()),
      null,
    )
  })

  it('keeps a retailer pending until an operator approves it', async () => {
    const shop = await newcomer()
    const first = await ask(shop, ['retailer'], 'Corner Records')
    assert.equal(first.status, 'pending')
    if (first.status !== 'pending') return
    const again = await ask(shop, ['retailer'], 'Corner Records')
    assert.deepEqual(again.status === 'pending' && again.requestId, first.requestId)
    const { requests } = (await call(market.role.controlRoutes, 'GET', '/requests')) as {
      requests: Array<{ requestId: string; name: string; roles: string[] }>
    }
    assert.deepEqual(
      requests.filter((r) => r.requestId === first.requestId).map((r) => [r.name, r.roles]),
      [['Corner Records', ['retailer']]],
    )
    assert.equal(shop.credentials.cert(), undefined)

    await call(market.role.controlRoutes, 'POST', `/requests/${first.requestId}/approve`, { days: 30 })
    const polled = await certStatus(
      shop.libp2p,
      shop.network,
      first.registrar,
      first.requestId,
      shop.keys.signer.publicKey,
      market.clock.now(),
    )
    assert.equal(polled.status, 'approved')
    const picked = await ask(shop, ['retailer'], 'Corner Records')
    assert.equal(picked.status, 'approved')
    if (picked.status !== 'approved' || polled.status !== 'approved') return
    assert.ok(picked.cert.id.equals(polled.cert.id))
    assert.equal(picked.cert.body.notAfter - picked.cert.body.created, 30 * 24 * 3600_000)
    await shop.credentials.setCert(picked.cert)
    assert.ok(shop.trust.hasRole(shop.keys.signer.publicKey, 'retailer'))
    await assert.rejects(call(market.role.controlRoutes, 'POST', `/requests/${first.requestId}/approve`, {}), {
      code: 'ERR_NOT_PENDING',
    })
  })

  it('tells a rejected requester why', async () => {
    const label = await newcomer()
    const first = await ask(label, ['production'], 'Unknown Label')
    assert.equal(first.status, 'pending')
    if (first.status !== 'pending') return
    await call(market.role.controlRoutes, 'POST', `/requests/${first.requestId}/reject`, { reason: 'no contract' })
    const answer = await ask(label, ['production'], 'Unknown Label')
    assert.deepEqual(answer.status === 'rejected' && answer.reason, 'no contract')
  })

  it('sends a player whose certificate was revoked to an operator instead of approving it again', async () => {
    const player = await newcomer()
    const result = await ask(player, ['player'], 'banned')
    assert.equal(result.status, 'approved')
    await call(market.role.controlRoutes, 'POST', '/revoke', {
      kind: 'cert',
      target: hex(player.keys.signer.publicKey),
      reason: 'fraud',
    })
    assert.equal((await ask(player, ['player'], 'banned')).status, 'pending')
    assert.equal(
      await lookupCert(
        market.retailer.libp2p,
        market.retailer.network,
        player.keys.signer.publicKey,
        market.clock.now(),
      ),
      null,
    )
  })

  it('refuses a request not signed by its subject, or stale', async () => {
    const node = await newcomer()
    const impostor = await createNodeKeys()
    const fields = {
      network: market.net.name,
      subject: node.keys.signer.publicKey,
      name: 'impostor',
      roles: ['player' as const],
      sealingKey: impostor.sealing.publicKey,
      created: market.clock.now(),
    }
    const protocol = node.network.protocol(REGISTER_PROTOCOL)
    const forged = { request: fields, sig: signCertRequest(fields, impostor.signer).sig }
    await assert.rejects(rpcCall(node.libp2p, market.registrar.peerId, protocol, REGISTER_OPS.requestCert, forged), {
      code: 'ERR_UNAUTHORISED',
    })
    const stale = signCertRequest({ ...fields, created: market.clock.now() - 3600_000 }, node.keys.signer)
    await assert.rejects(rpcCall(node.libp2p, market.registrar.peerId, protocol, REGISTER_OPS.requestCert, stale), {
      code: 'ERR_STALE_REQUEST',
    })
  })

  it('`consort register` stores the certificate, waiting for the operator when asked to', async () => {
    const player = await newcomer()
    const routes = registerRoutes(player)
    const answer = (await call(routes, 'POST', '/register', { roles: ['player'], name: 'cli player' })) as {
      status: string
    }
    assert.equal(answer.status, 'approved')
    assert.deepEqual(player.credentials.cert()?.body.roles, ['player'])
    const shown = (await call(routes, 'GET', '/register')) as { cert: { name: string } | null }
    assert.equal(shown.cert?.name, 'cli player')

    const shop = await newcomer()
    const requested = nextEvent<{ requestId: string }>(market.role.registrar, 'cert:requested')
    const waiting = call(registerRoutes(shop), 'POST', '/register', { roles: ['retailer'], waitMs: 20_000 })
    const { requestId } = await requested
    await call(market.role.controlRoutes, 'POST', `/requests/${requestId}/approve`, {})
    const decided = (await waiting) as { status: string }
    assert.equal(decided.status, 'approved')
    assert.deepEqual(shop.credentials.cert()?.body.roles, ['retailer'])

    await assert.rejects(call(routes, 'POST', '/register', { roles: ['dj'] }), { name: 'InvalidParametersError' })
  })
})
