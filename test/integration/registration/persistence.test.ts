import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toString as bytesToHex } from 'uint8arrays/to-string'
import { createNodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { isError } from '../../../protocols/errors.ts'
import { DeviceRevokedError } from '../../../protocols/licence/errors.ts'
import { lookupCert, registerDevice, requestCert } from '../../../protocols/register/client.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'

describe('registration: state survives a restart of the registrar', function () {
  this.timeout(120_000)
  let dir: string
  const nodes: ConsortNode[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'consort-registration-'))
  })

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps devices, certificates and its own revocations', async () => {
    const clock = new FakeClock()
    const registrarKeys = await createNodeKeys()
    const net = await createTestNetwork(clock, { registrar: registrarKeys })
    const start = () =>
      startMemoryNode({ network: net, clock, keys: registrarKeys, roles: ['registration'], dataDir: dir })
    const player = await startMemoryNode({ network: net, clock })
    nodes.push(player)

    let registrar = await start()
    await player.libp2p.dial(registrar.libp2p.getMultiaddrs()[0]!)
    const account = await createNodeKeys()
    const device = await createNodeKeys()
    const register = () =>
      registerDevice(player.libp2p, player.network, {
        account: account.signer,
        device: device.signer,
        sealingKey: device.sealing.publicKey,
        name: 'phone',
        now: clock.now(),
      })
    const record = await register()
    const cert = await requestCert(player.libp2p, player.network, {
      signer: player.keys.signer,
      sealingKey: player.keys.sealing.publicKey,
      roles: ['player'],
      name: 'listener',
      now: clock.now(),
    })
    assert.equal(cert.status, 'approved')
    const role = registrar.role('registration')
    await role.registrar.revoke('device', bytesToHex(device.signer.publicKey, 'base16'), 'stolen')
    await registrar.stop()

    registrar = await start()
    nodes.push(registrar)
    await player.libp2p.dial(registrar.libp2p.getMultiaddrs()[0]!)
    assert.ok(registrar.trust.isRevoked(record.id), 'its own revocation is applied again after the restart')
    await assert.rejects(register(), (err) => isError(err, DeviceRevokedError))
    const found = await lookupCert(player.libp2p, player.network, player.keys.signer.publicKey, clock.now())
    assert.ok(cert.status === 'approved' && found?.id.equals(cert.cert.id))
  })
})
