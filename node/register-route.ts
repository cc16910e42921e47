import { setTimeout as sleep } from 'node:timers/promises'
import { InvalidParametersError } from '@libp2p/interface'
import { z } from 'zod'
import type { SignedRecord } from '../protocols/records/envelope.ts'
import { ROLE_NAMES } from '../protocols/records/types/common.ts'
import { type CertRequestResult, certStatus, requestCert } from '../protocols/register/client.ts'
import type { ControlRoute } from '../roles/role.ts'
import type { ConsortNode } from './consort-node.ts'

/** How often `consort register --wait` asks whether an operator has decided. */
export const REGISTER_POLL_INTERVAL_MS = 1000
/** Longest `--wait`: an operator may take a while, the CLI's own request times out at two minutes. */
export const MAX_REGISTER_WAIT_MS = 110_000
/** One request to a registrar (dial, ask, answer), on top of the wait. */
export const REGISTER_EXCHANGE_TIMEOUT_MS = 10_000

const registerBody = z
  .object({
    roles: z.array(z.enum(ROLE_NAMES)).min(1).max(8),
    name: z.string().min(1).max(128).optional(),
    waitMs: z.number().int().min(0).max(MAX_REGISTER_WAIT_MS).optional(),
  })
  .strict()

function summary(cert: SignedRecord<'consort/cert'> | undefined) {
  if (cert == null) return null
  return {
    id: cert.id,
    serial: cert.body.serial,
    name: cert.body.name,
    roles: cert.body.roles,
    notBefore: cert.body.notBefore,
    notAfter: cert.body.notAfter,
  }
}

/**
 * `consort register`: the node asks a registration manager for a role certificate signed by its own key, and
 * stores the certificate when it is granted. Asking again with the same roles and name picks up a certificate an
 * operator approved meanwhile (the request id does not change). `GET /v1/register` shows the current one.
 */
export function registerRoutes(node: ConsortNode): ControlRoute[] {
  return [
    { method: 'GET', path: '/register', handler: async () => ({ cert: summary(node.credentials.cert()) }) },
    {
      method: 'POST',
      path: '/register',
      handler: async ({ body }) => {
        const parsed = registerBody.safeParse(body)
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!
          throw new InvalidParametersError(`${issue.path.join('.') || 'body'}: ${issue.message}`)
        }
        const { roles, name, waitMs } = parsed.data
        // The control API's own signal fires as soon as a POST body has been read (the request stream closes),
        // so this route bounds itself: the wait asked for plus one exchange.
        const signal = AbortSignal.timeout((waitMs ?? 0) + REGISTER_EXCHANGE_TIMEOUT_MS)
        let result: CertRequestResult = await requestCert(
          node.libp2p,
          node.network,
          {
            signer: node.keys.signer,
            sealingKey: node.keys.sealing.publicKey,
            roles,
            name: name ?? node.peerId.toString(),
            now: node.clock.now(),
          },
          { signal },
        )
        const deadline = Date.now() + (waitMs ?? 0)
        while (result.status === 'pending' && Date.now() + REGISTER_POLL_INTERVAL_MS <= deadline) {
          await sleep(REGISTER_POLL_INTERVAL_MS, undefined, { signal })
          result = await certStatus(
            node.libp2p,
            node.network,
            result.registrar,
            result.requestId,
            node.keys.signer.publicKey,
            node.clock.now(),
            { signal },
          )
        }
        const registrar = result.registrar.toString()
        if (result.status === 'approved') {
          await node.credentials.setCert(result.cert)
          return { status: 'approved', registrar, cert: summary(result.cert) }
        }
        if (result.status === 'pending') return { status: 'pending', registrar, requestId: result.requestId }
        return { status: 'rejected', registrar, reason: result.reason }
      },
    },
  ]
}
