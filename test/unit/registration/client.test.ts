import assert from 'node:assert/strict'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import {
  certRequestId,
  reissuePayload,
  signCertRequest,
  signDeviceRequest,
  verifyCertRequest,
  verifyDeviceRequest,
  verifyReissueRequest,
} from '../../../protocols/register/client.ts'
import type { CertRequestFields } from '../../../protocols/register/index.ts'

describe('registration client: signed requests', () => {
  let subject: NodeKeys
  let other: NodeKeys
  let fields: CertRequestFields

  before(async () => {
    subject = await createNodeKeys()
    other = await createNodeKeys()
    fields = {
      network: 'testnet',
      subject: subject.signer.publicKey,
      name: 'Corner Records',
      roles: ['retailer', 'catalog'],
      sealingKey: subject.sealing.publicKey,
      created: 1_000,
    }
  })

  it('verifies a certificate request signed by its subject and nothing else', () => {
    assert.equal(verifyCertRequest(signCertRequest(fields, subject.signer)), true)
    assert.equal(verifyCertRequest(signCertRequest(fields, other.signer)), false)
    const signed = signCertRequest(fields, subject.signer)
    assert.equal(verifyCertRequest({ ...signed, request: { ...fields, name: 'Other Records' } }), false)
  })

  it('gives a request the same id whenever it is sent and whatever the order of its roles', () => {
    const id = certRequestId(fields)
    assert.match(id, /^cr-[0-9a-f]{32}$/)
    const later: CertRequestFields = { ...fields, created: 2_000 }
    assert.equal(certRequestId(later), id)
    assert.equal(certRequestId({ ...fields, roles: ['catalog', 'retailer'] }), id)
    assert.notEqual(certRequestId({ ...fields, roles: ['retailer'] }), id)
    assert.notEqual(certRequestId({ ...fields, name: 'Other' }), id)
  })

  it('needs both the account and the device to sign a device registration', () => {
    const device = {
      network: 'testnet',
      account: subject.signer.publicKey,
      device: other.signer.publicKey,
      sealingKey: other.sealing.publicKey,
      name: 'phone',
      created: 1_000,
    }
    assert.deepEqual(verifyDeviceRequest(signDeviceRequest(device, subject.signer, other.signer)), {
      account: true,
      device: true,
    })
    assert.deepEqual(verifyDeviceRequest(signDeviceRequest(device, other.signer, other.signer)), {
      account: false,
      device: true,
    })
  })

  it('keeps each kind of signature to its own domain', () => {
    const reissue = { network: 'testnet', purchaseId: 'p-1', created: 1_000 }
    const sig = subject.signer.sign(reissuePayload(reissue))
    assert.equal(verifyReissueRequest(reissue, subject.signer.publicKey, sig), true)
    assert.equal(verifyReissueRequest({ ...reissue, purchaseId: 'p-2' }, subject.signer.publicKey, sig), false)
    // A certificate request's signature over the same bytes does not pass as a reissue.
    const certSig = signCertRequest(fields, subject.signer).sig
    assert.equal(verifyReissueRequest(reissue, subject.signer.publicKey, certSig), false)
  })
})
