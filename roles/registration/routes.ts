import { InvalidParametersError } from '@libp2p/interface'
import { z } from 'zod'
import { isTerritory } from '../../protocols/identifiers/territories.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { ControlRoute } from '../role.ts'
import { keyFromHex } from './certs.ts'
import { MAX_LIST_ENTRIES } from './constants.ts'
import { REVOCATION_KINDS, type Registrar } from './registrar.ts'

/** Longest an operator may make a certificate valid for: ten years. */
const MAX_CERT_DAYS = 3650
const DAY_MS = 24 * 3600_000

const approveBody = z
  .object({ days: z.number().int().min(1).max(MAX_CERT_DAYS).optional() })
  .strict()
  .nullable()
const rejectBody = z.object({ reason: z.string().min(1).max(512) }).strict()
const territoryBody = z
  .object({ territory: z.string().refine(isTerritory, 'not an ISO 3166-1 alpha-2 code or Worldwide') })
  .strict()
const revokeBody = z
  .object({
    kind: z.enum(REVOCATION_KINDS),
    target: z.string().min(1).max(256),
    reason: z.string().min(1).max(512),
  })
  .strict()

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  throw new InvalidParametersError(`${issue.path.join('.') || 'body'}: ${issue.message}`)
}

function certSummary(cert: SignedRecord<'consort/cert'>) {
  return {
    id: cert.id,
    serial: cert.body.serial,
    subject: cert.body.subject,
    name: cert.body.name,
    roles: cert.body.roles,
    notAfter: cert.body.notAfter,
  }
}

/** `consort registration …`: the operator's commands, mounted under `/v1/registration`. */
export function registrationRoutes(registrar: Registrar, attachments: () => SignedRecord[]): ControlRoute[] {
  return [
    {
      method: 'GET',
      path: '/requests',
      handler: async () => ({ requests: await registrar.certs.pending(MAX_LIST_ENTRIES) }),
    },
    {
      method: 'POST',
      path: '/requests/:id/approve',
      handler: async ({ params, body }) => {
        const options = parse(approveBody, body)
        const cert = await registrar.certs.approve(
          params.id ?? '',
          options?.days != null ? options.days * DAY_MS : undefined,
        )
        return { requestId: params.id, status: 'approved', cert: certSummary(cert) }
      },
    },
    {
      method: 'POST',
      path: '/requests/:id/reject',
      handler: async ({ params, body }) => {
        await registrar.certs.reject(params.id ?? '', parse(rejectBody, body).reason)
        return { requestId: params.id, status: 'rejected' }
      },
    },
    {
      method: 'POST',
      path: '/revoke',
      handler: async ({ body }) => {
        const { kind, target, reason } = parse(revokeBody, body)
        const result = await registrar.revoke(kind, target, reason, attachments())
        return {
          revocation: result.revocation.id,
          targets: result.revocation.body.targets,
          reason,
          recipients: result.recipients,
        }
      },
    },
    {
      method: 'GET',
      path: '/accounts/:account/devices',
      handler: async ({ params }) => {
        const account = keyFromHex(params.account ?? '')
        if (account == null) throw new InvalidParametersError('account: expected a 32-byte key in hex')
        return { devices: await registrar.devices.list(account) }
      },
    },
    {
      method: 'POST',
      path: '/accounts/:account/territory',
      handler: async ({ params, body }) => {
        const account = keyFromHex(params.account ?? '')
        if (account == null) throw new InvalidParametersError('account: expected a 32-byte key in hex')
        const attested = await registrar.devices.attestTerritory(account, parse(territoryBody, body).territory)
        return { account: params.account, ...attested }
      },
    },
    {
      method: 'GET',
      path: '/purchases/:purchaseId/licences',
      handler: async ({ params }) => ({
        licences: (await registrar.licences.licencesOf(params.purchaseId ?? '')).map((l) => ({
          id: l.id,
          licenceId: l.body.licenceId,
          device: l.body.device,
          content: l.body.content,
          notAfter: l.body.notAfter,
        })),
      }),
    },
  ]
}
