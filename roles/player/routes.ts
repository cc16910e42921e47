import path from 'node:path'
import { z } from 'zod'
import { isTerritory } from '../../protocols/identifiers/territories.ts'
import { MAX_SHARE_LINK_TEXT } from '../common/share-links.ts'
import type { ControlRequest, ControlRoute } from '../role.ts'
import type { Buying } from './buying.ts'
import type { accountBalance } from './clearinghouse.ts'
import type { Copies } from './copies.ts'
import type { DeviceRegistration } from './device.ts'
import type { ContentDirectory } from './directory.ts'
import { BadPlayerRequestError } from './errors.ts'
import type { Licences } from './licences.ts'
import type { Market } from './market.ts'
import type { Playback } from './playback.ts'
import type { Resynchroniser } from './resynchronise.ts'
import type { Shares } from './shares.ts'
import type { StreamSessions } from './streams.ts'
import type { PlayerStatus } from './types.ts'
import type { UsageReporter } from './usage.ts'

/**
 * The player's control routes, mounted at `/v1/player/…` (see README.md for each). The CLI and the web player use
 * them; bodies are JSON, checked strictly, and a bad field is answered 400 naming it.
 */

const territory = z.string().refine(isTerritory, 'not an ISO 3166-1 alpha-2 code or Worldwide')
/** A share link as pasted (its form and signature are the share reader's to check). */
const shareLinkText = z.string().min(1).max(MAX_SHARE_LINK_TEXT)
const absolutePath = z.string().min(1).max(4096).refine(path.isAbsolute, 'must be an absolute path')

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value ?? {})
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  const field = [what, ...issue.path.map(String)].join('.')
  const message = issue.code === 'unrecognized_keys' ? `unexpected field(s) ${issue.keys.join(', ')}` : issue.message
  throw new BadPlayerRequestError(`${field}: ${message}`)
}

/** The `Range` header when the control API passes headers on, else `?range=`. */
function rangeOf(request: ControlRequest): string | undefined {
  const headers = (request as ControlRequest & { headers?: Record<string, string | string[] | undefined> }).headers
  const header = headers?.range
  if (typeof header === 'string') return header
  return request.query.range
}

const playBody = z
  .object({
    content: z.string().min(1).max(256),
    out: absolutePath.optional(),
    seconds: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600)
      .optional(),
    preview: z.boolean().optional(),
  })
  .strict()
const copyBody = z.object({ content: z.string().min(1).max(256), out: absolutePath.optional() }).strict()

/**
 * What the routes call: the player's collaborators, each route reaching only the one it needs (never the role, so
 * that the role may import this file without a cycle).
 */
export interface RouteTargets {
  status(): PlayerStatus
  balance(options: { signal?: AbortSignal }): ReturnType<typeof accountBalance>
  directory: Pick<ContentDirectory, 'search'>
  market: Pick<Market, 'offers' | 'quote'>
  buying: Pick<Buying, 'buy'>
  shares: Pick<Shares, 'create' | 'read' | 'view' | 'open'>
  licences: Pick<Licences, 'list' | 'fetch' | 'purchaseIds' | 'transfer'>
  resync: Pick<Resynchroniser, 'resync'>
  playback: Pick<Playback, 'play'>
  copies: Pick<Copies, 'copy'>
  usage: Pick<UsageReporter, 'list' | 'flush'>
  device: Pick<DeviceRegistration, 'reloadAccount'>
  streams: Pick<StreamSessions, 'open' | 'info' | 'read' | 'close'>
}

export function playerRoutes(player: RouteTargets): ControlRoute[] {
  return [
    { method: 'GET', path: '/status', handler: async () => player.status() },
    {
      method: 'GET',
      path: '/search',
      handler: async ({ query, signal }) => {
        const q = parse(z.string().max(256), query.q ?? '', 'q')
        const limit =
          query.limit === undefined ? 20 : parse(z.coerce.number().int().min(1).max(100), query.limit, 'limit')
        return await player.directory.search(q, { limit, signal })
      },
    },
    {
      method: 'GET',
      path: '/market',
      handler: async ({ query, signal }) => {
        const content = parse(z.string().min(1).max(256), query.content, 'content')
        const where = query.territory === undefined ? undefined : parse(territory, query.territory, 'territory')
        return await player.market.offers(content, { ...(where !== undefined ? { territory: where } : {}), signal })
      },
    },
    {
      method: 'GET',
      path: '/quote',
      handler: async ({ query }) => player.market.quote(parse(z.string().min(1).max(256), query.offer, 'offer')),
    },
    {
      method: 'POST',
      path: '/buy',
      handler: async ({ body, signal }) => {
        const b = parse(
          z
            .object({
              offer: z.string().min(1).max(256),
              purchaseId: z.string().min(1).max(128).optional(),
              again: z.boolean().optional(),
              share: shareLinkText.optional(),
            })
            .strict(),
          body,
          'body',
        )
        return await player.buying.buy(b.offer, {
          signal,
          ...(b.purchaseId !== undefined ? { purchaseId: b.purchaseId } : {}),
          ...(b.again === true ? { again: true } : {}),
          ...(b.share !== undefined ? { share: b.share } : {}),
        })
      },
    },
    {
      method: 'POST',
      path: '/shares',
      handler: async ({ body }) => {
        const b = parse(
          z
            .object({
              content: z.string().min(1).max(256),
              offer: z.string().min(1).max(256).optional(),
              expiresInMs: z.number().int().positive().optional(),
            })
            .strict(),
          body,
          'body',
        )
        return await player.shares.create(b.content, {
          ...(b.offer !== undefined ? { offer: b.offer } : {}),
          ...(b.expiresInMs !== undefined ? { ttlMs: b.expiresInMs } : {}),
        })
      },
    },
    {
      method: 'GET',
      path: '/shares/read',
      handler: async ({ query }) => player.shares.view(player.shares.read(parse(shareLinkText, query.link, 'link'))),
    },
    {
      method: 'POST',
      path: '/shares/open',
      handler: async ({ body, signal }) => {
        const b = parse(
          z.object({ link: shareLinkText, out: absolutePath.optional(), preview: z.boolean().optional() }).strict(),
          body,
          'body',
        )
        return await player.shares.open(b.link, {
          signal,
          ...(b.out !== undefined ? { out: b.out } : {}),
          ...(b.preview !== undefined ? { preview: b.preview } : {}),
        })
      },
    },
    { method: 'GET', path: '/licences', handler: async () => player.licences.list() },
    {
      method: 'POST',
      path: '/licences/resync',
      handler: async () => await player.resync.resync(),
    },
    {
      method: 'POST',
      path: '/licences/transfer',
      handler: async ({ body }) => {
        const b = parse(
          z
            .object({
              purchaseId: z.string().min(1).max(128),
              to: z.string().regex(/^[0-9a-f]{64}$/, 'an account key in hex (64 characters)'),
              transferId: z
                .string()
                .min(1)
                .max(128)
                .regex(/^[A-Za-z0-9._:/-]+$/)
                .optional(),
              gift: z.boolean().optional(),
            })
            .strict(),
          body,
          'body',
        )
        return await player.licences.transfer(
          b.purchaseId,
          Buffer.from(b.to, 'hex'),
          b.transferId ?? `transfer:${b.purchaseId}:${b.to.slice(0, 16)}`,
          b.gift === true,
        )
      },
    },
    {
      method: 'POST',
      path: '/licences/fetch',
      handler: async ({ body }) => {
        const { purchaseId } = parse(z.object({ purchaseId: z.string().min(1).max(128) }).strict(), body, 'body')
        return await player.licences.fetch(purchaseId)
      },
    },
    {
      method: 'POST',
      path: '/play',
      handler: async ({ body, signal }) => {
        const b = parse(playBody, body, 'body')
        return await player.playback.play(b.content, {
          ...(b.out !== undefined ? { out: b.out } : {}),
          ...(b.seconds !== undefined ? { seconds: b.seconds } : {}),
          ...(b.preview !== undefined ? { preview: b.preview } : {}),
          signal,
        })
      },
    },
    {
      method: 'POST',
      path: '/export',
      handler: async ({ body, signal }) => {
        const b = parse(copyBody, body, 'body')
        return await player.copies.copy('export', b.content, { ...(b.out !== undefined ? { out: b.out } : {}), signal })
      },
    },
    {
      method: 'POST',
      path: '/burn',
      handler: async ({ body, signal }) => {
        const b = parse(copyBody, body, 'body')
        return await player.copies.copy('burn', b.content, { ...(b.out !== undefined ? { out: b.out } : {}), signal })
      },
    },
    { method: 'GET', path: '/usage', handler: async () => player.usage.list() },
    { method: 'POST', path: '/usage/flush', handler: async ({ signal }) => await player.usage.flush({ signal }) },
    { method: 'GET', path: '/balance', handler: async ({ signal }) => await player.balance({ signal }) },
    { method: 'POST', path: '/account/reload', handler: async () => await player.device.reloadAccount() },
    { method: 'GET', path: '/account/purchases', handler: async () => ({ purchases: player.licences.purchaseIds() }) },
    {
      method: 'POST',
      path: '/streams',
      handler: async ({ body }) => {
        const b = parse(
          z.object({ content: z.string().min(1).max(256), preview: z.boolean().optional() }).strict(),
          body,
          'body',
        )
        return await player.streams.open(b.content, b.preview !== undefined ? { preview: b.preview } : {})
      },
    },
    { method: 'GET', path: '/streams/:id', handler: async ({ params }) => player.streams.info(params.id ?? '') },
    {
      method: 'GET',
      path: '/streams/:id/range',
      handler: async (request) => {
        const range = await player.streams.read(request.params.id ?? '', rangeOf(request), request.signal)
        return { ...range, body: Buffer.from(range.body).toString('base64') }
      },
    },
    {
      method: 'DELETE',
      path: '/streams/:id',
      handler: async ({ params }) => await player.streams.close(params.id ?? ''),
    },
  ]
}
