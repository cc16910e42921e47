import { depositRequest, ESCROW_OPS } from '../../protocols/escrow/index.ts'
import {
  issueRequest,
  LICENCE_OPS,
  reissueRequest,
  transferRequest,
  withdrawRequest,
} from '../../protocols/licence/index.ts'
import { parseMessage } from '../../protocols/messages.ts'
import {
  certStatusRequest,
  lookupCertRequest,
  REGISTER_OPS,
  registerDeviceRequest,
  requestCertRequest,
  rotateCertRequest,
} from '../../protocols/register/index.ts'
import type { RpcHandler } from '../../protocols/rpc/server.ts'
import type { CertificateDesk } from './certs.ts'
import type { DeviceRegistry } from './devices.ts'
import type { EscrowVault } from './escrow.ts'
import type { LicenceIssuer } from './licences.ts'
import type { Registrar } from './registrar.ts'
import type { CertificateRotation } from './rotation.ts'

/**
 * The registration manager's protocol handlers: each decodes and validates its request body and dispatches to
 * the part of the role that owns the operation. Errors carry their `ERR_` code to the caller.
 */

export function registerHandlers(parts: {
  certs: CertificateDesk
  devices: DeviceRegistry
  rotations: CertificateRotation
}): Record<string, RpcHandler> {
  return {
    [REGISTER_OPS.requestCert]: async (body) => parts.certs.request(parseMessage(requestCertRequest, body, 'request')),
    [REGISTER_OPS.certStatus]: async (body) =>
      parts.certs.status(parseMessage(certStatusRequest, body, 'request').requestId),
    [REGISTER_OPS.registerDevice]: async (body) => {
      const device = await parts.devices.register(parseMessage(registerDeviceRequest, body, 'request'))
      return { device: device.bytes }
    },
    [REGISTER_OPS.rotateCert]: async (body) => parts.rotations.rotate(parseMessage(rotateCertRequest, body, 'request')),
    [REGISTER_OPS.lookupCert]: async (body) => {
      const cert = await parts.certs.lookup(parseMessage(lookupCertRequest, body, 'request').subject)
      return { cert: cert?.bytes ?? null }
    },
  }
}

export function escrowHandlers(parts: { escrow: EscrowVault }): Record<string, RpcHandler> {
  return {
    [ESCROW_OPS.deposit]: async (body) => ({
      stored: await parts.escrow.deposit(parseMessage(depositRequest, body, 'request')),
    }),
  }
}

export function licenceHandlers(parts: {
  licences: LicenceIssuer
  withdraw: Registrar['withdraw']
  transfer: Registrar['transfer']
}): Record<string, RpcHandler> {
  return {
    [LICENCE_OPS.issue]: async (body, context) => {
      const licence = await parts.licences.issue(parseMessage(issueRequest, body, 'request'), context.signal)
      return { licence: licence.bytes }
    },
    [LICENCE_OPS.reissue]: async (body) => {
      const licence = await parts.licences.reissue(parseMessage(reissueRequest, body, 'request'))
      return { licence: licence.bytes }
    },
    [LICENCE_OPS.transfer]: async (body) => parts.transfer(parseMessage(transferRequest, body, 'request')),
    [LICENCE_OPS.withdraw]: async (body, context) => {
      const request = parseMessage(withdrawRequest, body, 'request')
      return parts.withdraw(request.purchaseId, request.reason, request.receipt, context.remotePeer)
    },
  }
}
