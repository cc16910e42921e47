import type { Command } from 'commander'
import { ControlClient } from '../../node/control-client.ts'
import type { Devnet } from '../../node/devnet.ts'
import { print } from '../output.ts'
import { clientFor, withDataDir, withJson } from './common.ts'

interface LoginLink {
  path: string
  expiresAt: number
}

/**
 * `consort ui`: a one-time login link to the web player of the daemon on this data dir. The control API's bearer
 * token stays in the data dir; the link's token works once, for ten minutes, and starts a browser session.
 */
export function registerUiCommands(program: Command): void {
  withJson(
    withDataDir(
      program
        .command('ui')
        .description("print a one-time login link to this player's web pages (library, web player, checkout)"),
    ),
  ).action(async (options) => {
    const client = clientFor(options)
    const link = await client.request<LoginLink>('POST', '/v1/player/ui/login-link')
    const url = `${client.url}${link.path}`
    print({ url, player: client.url, expiresAt: link.expiresAt }, options, () =>
      [
        `Open this link in your browser (it works once, until ${new Date(link.expiresAt).toISOString()}):`,
        '',
        `  ${url}`,
        '',
        `Stores send you to this player at ${client.url}`,
      ].join('\n'),
    )
  })
}

/** The URLs a person opens on a devnet: the storefront with the listener's player filled in, and its login link. */
export async function devnetWebLinks(devnet: Devnet): Promise<{ storefront: string | null; login: string | null }> {
  const retailerNode = devnet.daemons.get('retailer')?.node
  const retailer = retailerNode?.roles.has('retailer') === true ? retailerNode.role('retailer') : undefined
  const listener = devnet.daemons.get('listener')
  let login: string | null = null
  if (listener?.node.roles.has('player') === true) {
    const link = await new ControlClient(listener.api).request<LoginLink>('POST', '/v1/player/ui/login-link')
    login = `${listener.api.url}${link.path}`
  }
  const store = retailer?.storefront?.url ?? null
  const storefront =
    store == null ? null : listener == null ? store : `${store}/?player=${encodeURIComponent(listener.api.url)}`
  return { storefront, login }
}
