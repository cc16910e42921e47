import { InvalidParametersError, NotFoundError } from '@libp2p/interface'
import { z } from 'zod'
import type { ControlRoute } from '../role.ts'
import type { ProductionRole } from './index.ts'
import type { Job } from './jobs.ts'

/**
 * The role's control routes, under `/v1/production` (README.md lists them). An import answers with its result
 * when `wait` is true (the default), or at once with its job, which `GET /jobs/:id` follows (the CLI's progress).
 */

const publishRequest = z.strictObject({
  /** An ERN message file on the daemon's machine, or `xml`, the message itself. */
  ern: z.string().min(1).max(4096).optional(),
  xml: z.string().min(1).optional(),
  audioDir: z.string().min(1).max(4096).nullable().optional(),
  /** A JSON release description; relative track files are resolved against `baseDir`. */
  release: z.unknown().optional(),
  baseDir: z.string().min(1).max(4096).nullable().optional(),
  synthesizeMissing: z.boolean().default(false),
  /** Refuse an ERN message for warnings too. */
  strict: z.boolean().default(false),
  wait: z.boolean().default(true),
})

const sampleRequest = z.strictObject({
  audioFile: z.string().min(1).max(4096).nullable().optional(),
  wait: z.boolean().default(true),
})

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {})
  if (!result.success) {
    const issue = result.error.issues[0]!
    const message = issue.code === 'unrecognized_keys' ? `unexpected field(s) ${issue.keys.join(', ')}` : issue.message
    throw new InvalidParametersError(`${issue.path.join('.') || 'body'}: ${message}`)
  }
  return result.data
}

function view(job: Job) {
  return {
    job: job.id,
    kind: job.kind,
    status: job.status,
    created: job.created,
    finished: job.finished,
    progress: job.progress,
    result: job.result,
    error: job.error,
  }
}

async function answer(started: { job: Job; done: Promise<unknown> }, wait: boolean): Promise<unknown> {
  if (!wait) {
    started.done.catch(() => {})
    return view(started.job)
  }
  return started.done
}

const limitOf = (value: string | undefined) => (value == null ? undefined : Number.parseInt(value, 10))

export function productionRoutes(role: ProductionRole): ControlRoute[] {
  return [
    {
      method: 'POST',
      path: '/publish',
      handler: async ({ body }) => {
        const request = parse(publishRequest, body)
        const sources = [request.ern ?? request.xml, request.release].filter((s) => s != null).length
        if (sources !== 1) throw new InvalidParametersError('give exactly one of ern (or xml) and release')
        if (request.release != null) {
          return answer(
            role.submitDescription({
              release: request.release,
              baseDir: request.baseDir ?? null,
              synthesizeMissing: request.synthesizeMissing,
            }),
            request.wait,
          )
        }
        return answer(
          role.submitErn({
            ...(request.ern != null ? { ern: request.ern } : {}),
            ...(request.xml != null ? { xml: request.xml } : {}),
            audioDir: request.audioDir ?? null,
            synthesizeMissing: request.synthesizeMissing,
            strict: request.strict,
          }),
          request.wait,
        )
      },
    },
    {
      method: 'POST',
      path: '/sample',
      handler: async ({ body }) => {
        const request = parse(sampleRequest, body)
        return answer(role.submitSample({ audioFile: request.audioFile ?? null }), request.wait)
      },
    },
    {
      method: 'GET',
      path: '/jobs/:id',
      handler: async ({ params }) => {
        const job = role.jobs.get(params.id ?? '')
        if (job == null) throw new NotFoundError(`no job ${params.id}`)
        return view(job)
      },
    },
    {
      method: 'POST',
      path: '/takedown',
      handler: async ({ body }) => {
        const request = parse(
          z.strictObject({ release: z.string().min(1).max(256), reason: z.string().min(1).max(512).optional() }),
          body,
        )
        return role.takedown(request.release, request.reason)
      },
    },
    {
      method: 'GET',
      path: '/releases',
      handler: async ({ query }) =>
        role.releases({ ...(query.after != null ? { after: query.after } : {}), limit: limitOf(query.limit) }),
    },
    {
      method: 'GET',
      path: '/releases/show',
      handler: async ({ query }) => role.release(query.key ?? ''),
    },
    {
      method: 'POST',
      path: '/contracts',
      handler: async ({ body }) => role.createContract(body),
    },
    {
      method: 'GET',
      path: '/contracts',
      handler: async ({ query }) => {
        const list = await role.contracts({
          ...(query.after != null ? { after: query.after } : {}),
          limit: limitOf(query.limit),
        })
        return query.status == null ? list : list.filter((c) => c.status === query.status)
      },
    },
    {
      method: 'GET',
      path: '/contracts/show',
      handler: async ({ query }) => {
        const { state, record } = await role.contract(query.id ?? '')
        return { ...state, id: record.id, body: record.body }
      },
    },
    {
      method: 'POST',
      path: '/contracts/update',
      handler: async ({ body }) => {
        const request = parse(z.strictObject({ contractId: z.string().min(1).max(128), changes: z.unknown() }), body)
        return role.updateContract(request.contractId, request.changes)
      },
    },
    {
      method: 'POST',
      path: '/contracts/revoke',
      handler: async ({ body }) => {
        const request = parse(
          z.strictObject({ contractId: z.string().min(1).max(128), reason: z.string().min(1).max(512).optional() }),
          body,
        )
        return role.revokeContract(request.contractId, request.reason == null ? {} : { reason: request.reason })
      },
    },
    { method: 'GET', path: '/escrow', handler: async () => role.pendingEscrow() },
    { method: 'POST', path: '/escrow/retry', handler: async () => role.flushEscrow() },
    { method: 'POST', path: '/reannounce', handler: async () => role.reannounce() },
  ]
}
