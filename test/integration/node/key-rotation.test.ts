import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { type Daemon, startDaemon } from '../../../node/daemon.ts'
import { type Devnet, startDevnet } from '../../../node/devnet.ts'
import { rotationPaths } from '../../../node/key-rotation.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { signRecord } from '../../../protocols/records/envelope.ts'
import { certRotationPayload, signCertRequest } from '../../../protocols/register/client.ts'
import { runConsort } from '../../helpers/cli.ts'
import { sampleBodies } from '../../helpers/record-samples.ts'
import { waitUntil } from '../../helpers/wait.ts'

const GRACE_HOURS = 1

describe('key rotation', function () {
  this.timeout(300_000)
  let dir: string
  let devnet: Devnet | undefined
  let restarted: Daemon | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `consort-rotation-${process.pid}-`))
  })

  after(async () => {
    await restarted?.stop()
    await devnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('certifies the new key at once, switches at restart, and revokes the old certificate after the grace period', async () => {
    const clock = new FakeClock(Date.now())
    devnet = await startDevnet({ dir: join(dir, 'net'), sample: false, metrics: false, clock })
    const label = devnet.daemons.get('label')!
    const reference = devnet.daemons.get('reference')!.node
    const registrar = devnet.daemons.get('registrar')!.node.role('registration').registrar
    const labelDir = label.node.dataDir!
    const oldCert = label.node.credentials.cert()!
    const oldSigner = label.node.keys.signer
    const contract = (signer: typeof oldSigner) =>
      signRecord('consort/contract', sampleBodies('devnet', clock.now())['consort/contract'], signer)
    const signedByOld = contract(oldSigner)
    assert.deepEqual(reference.trust.check(signedByOld, [oldCert]), { ok: true })

    // A player holds no certificate: its key is its device, rotated by registering a new device (account import).
    const player = await runConsort([
      'keys',
      'rotate',
      '--data-dir',
      devnet.nodes.find((n) => n.name === 'listener')!.dataDir,
    ])
    assert.equal(player.code, 1)
    assert.match(player.stderr, /holds no certificate/)

    const rotated = await runConsort([
      'keys',
      'rotate',
      '--grace-hours',
      String(GRACE_HOURS),
      '--data-dir',
      labelDir,
      '--json',
    ])
    assert.equal(rotated.code, 0, rotated.stderr)
    const answer = JSON.parse(rotated.stdout) as { oldPeerId: string; newPeerId: string; revokeOldAt: number }
    assert.equal(answer.oldPeerId, label.node.peerId.toString())
    assert.notEqual(answer.newPeerId, answer.oldPeerId)
    assert.equal(answer.revokeOldAt, clock.now() + GRACE_HOURS * 3600_000)
    assert.ok(existsSync(rotationPaths(labelDir).next) && existsSync(rotationPaths(labelDir).cert))
    // The daemon still runs on the old key, whose certificate stays trusted during the grace period.
    assert.equal(label.node.peerId.toString(), answer.oldPeerId)
    assert.deepEqual(reference.trust.check(signedByOld, [oldCert]), { ok: true })
    const again = await runConsort(['keys', 'rotate', '--data-dir', labelDir])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /waits for the daemon to restart/)

    // At restart the node runs on the new key with its new certificate; the old keystore is kept aside.
    await label.stop()
    restarted = await startDaemon(labelDir, { clock, metrics: false })
    assert.equal(restarted.node.peerId.toString(), answer.newPeerId)
    const newCert = restarted.node.credentials.cert()!
    assert.equal(
      Buffer.from(newCert.body.subject).toString('hex'),
      Buffer.from(restarted.node.keys.signer.publicKey).toString('hex'),
    )
    assert.deepEqual(newCert.body.roles, oldCert.body.roles)
    assert.equal(newCert.body.name, oldCert.body.name)
    assert.equal(newCert.body.partyId, oldCert.body.partyId, 'the party keeps its party id (DSR reports name it)')
    assert.ok(oldCert.body.partyId !== undefined)
    assert.ok(existsSync(rotationPaths(labelDir).retired(answer.oldPeerId)))
    assert.ok(!existsSync(rotationPaths(labelDir).cert) && !existsSync(rotationPaths(labelDir).next))
    const signedByNew = contract(restarted.node.keys.signer)
    assert.deepEqual(reference.trust.check(signedByNew, [newCert]), { ok: true })

    // Not before the grace period ends…
    assert.equal(await registrar.rotations.revokeDue(), 0)
    // …then the registrar revokes the old certificate, gossips it, and what only the old key signed is refused.
    clock.advance(GRACE_HOURS * 3600_000 + 1000)
    assert.equal(await registrar.rotations.revokeDue(), 1)
    await waitUntil(() => reference.trust.isRevoked(oldCert.id), {
      message: 'the reference service heard the revocation',
    })
    const refused = reference.trust.check(signedByOld, [oldCert])
    assert.equal(refused.ok, false)
    assert.match(JSON.stringify(refused), /revoked/)
    assert.deepEqual(reference.trust.check(signedByNew, [newCert]), { ok: true })
    assert.equal(await registrar.rotations.revokeDue(), 0)

    // A rotation needs the old key's endorsement, and an old certificate hands its roles on once only.
    const thief = await createNodeKeys()
    const request = {
      network: 'devnet',
      subject: thief.signer.publicKey,
      name: oldCert.body.name,
      roles: oldCert.body.roles,
      sealingKey: thief.sealing.publicKey,
      created: clock.now(),
    }
    const signed = signCertRequest(request, thief.signer)
    await assert.rejects(
      registrar.rotations.rotate({
        ...signed,
        predecessor: newCert.bytes,
        predecessorSig: thief.signer.sign(new Uint8Array(8)),
        graceMs: 0,
      }),
      { code: 'ERR_UNAUTHORISED' },
    )
    await assert.rejects(
      registrar.rotations.rotate({
        ...signed,
        predecessor: oldCert.bytes,
        predecessorSig: oldSigner.sign(certRotationPayload(request)),
        graceMs: 0,
      }),
      { code: 'ERR_ROTATION_CONFLICT' },
    )
  })
})
