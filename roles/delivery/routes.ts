import { CID } from 'multiformats/cid'
import { z } from 'zod'
import { PRIORITIES } from '../../protocols/segments/constants.ts'
import type { ControlRoute } from '../role.ts'
import type { DeliveryRole } from './delivery.ts'
import { InvalidDeliveryRequestError } from './errors.ts'

const seedRequest = z.object({ cid: z.string().min(1).max(128), wait: z.boolean().optional() }).strict()
const fetchRequest = z.object({ cid: z.string().min(1).max(128), priority: z.enum(PRIORITIES).optional() }).strict()

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {})
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  throw new InvalidDeliveryRequestError(['body', ...issue.path.map(String)].join('.'), issue.message)
}

function cidOf(value: string | undefined, field: string): CID {
  try {
    return CID.parse(value ?? '')
  } catch {
    throw new InvalidDeliveryRequestError(field, `not a CID: ${value}`)
  }
}

/** The delivery role's commands on the control API, under `/v1/delivery`. */
export function deliveryRoutes(role: DeliveryRole): ControlRoute[] {
  return [
    {
      method: 'POST',
      path: '/seeds',
      handler: async ({ body }) => {
        const request = parse(seedRequest, body)
        const cid = cidOf(request.cid, 'body.cid')
        const entry = await role.seed(cid)
        return request.wait === true ? role.waitForSeed(cid) : entry
      },
    },
    { method: 'GET', path: '/seeds', handler: async () => role.seeds() },
    {
      method: 'GET',
      path: '/seeds/:cid',
      handler: async ({ params }) => {
        const cid = cidOf(params.cid, 'cid')
        return (await role.seedStatus(cid)) ?? { cid: cid.toString(), state: null }
      },
    },
    {
      method: 'DELETE',
      path: '/seeds/:cid',
      handler: async ({ params }) => {
        await role.unseed(cidOf(params.cid, 'cid'))
        return { removed: params.cid }
      },
    },
    {
      method: 'POST',
      path: '/fetches',
      handler: async ({ body }) => {
        const request = parse(fetchRequest, body)
        return role.startFetch(cidOf(request.cid, 'body.cid'), request.priority ?? 'now')
      },
    },
    { method: 'GET', path: '/fetches', handler: async () => role.fetches() },
    { method: 'GET', path: '/fetches/:id', handler: async ({ params }) => role.fetchStatus(params.id ?? '') },
    { method: 'DELETE', path: '/fetches/:id', handler: async ({ params }) => role.abortFetch(params.id ?? '') },
    {
      method: 'GET',
      path: '/stats',
      handler: async () => ({
        server: role.segments.server.stats(),
        faultInjection: role.segments.server.faultInjection,
        announcedRoots: role.segments.announcer.roots().length,
        penalties: role.segments.penalties.list(),
      }),
    },
  ]
}
