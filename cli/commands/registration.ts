import type { Command } from 'commander'
import { ROLE_NAMES } from '../../protocols/records/types/common.ts'
import { CliError, EXIT, listOption, print, table } from '../output.ts'
import { clientFor, withDataDir, withJson } from './common.ts'

/** Longest `consort register --wait`, in seconds (the daemon caps it at 110 s). */
const MAX_WAIT_SECONDS = 110
const REVOCATION_KINDS = ['cert', 'device', 'licence'] as const

interface RegisterAnswer {
  status: 'approved' | 'pending' | 'rejected'
  registrar: string
  requestId?: string
  reason?: string
  cert?: { serial: number; roles: string[]; notAfter: number } | null
}

interface PendingRequest {
  requestId: string
  subject: string
  name: string
  roles: string[]
  received: number
}

function positiveInt(value: string, name: string, max: number): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0 || n > max)
    throw new CliError(`${name}: expected 0 to ${max}, got ${value}`, EXIT.usage)
  return n
}

/**
 * `consort register` (any node asks for a role certificate) and `consort registration …` (the operator of a
 * registration manager: pending requests, approve, reject, revoke, an account's territory and devices, a purchase's
 * licences).
 */
export function registerRegistrationCommands(program: Command): void {
  withJson(
    withDataDir(
      program
        .command('register')
        .description('ask a registration manager for a role certificate for this node')
        .requiredOption('--role <roles>', `role(s), comma-separated: ${ROLE_NAMES.join(', ')}`)
        .option('--name <name>', 'the name the certificate shows (default: the peer id)')
        .option('--wait <seconds>', 'wait this long for an operator to decide', '0'),
    ),
  ).action(async (options) => {
    const roles = listOption(options.role, ROLE_NAMES, '--role')
    if (roles.length === 0) throw new CliError('--role: name at least one role', EXIT.usage)
    const waitMs = positiveInt(options.wait, '--wait', MAX_WAIT_SECONDS) * 1000
    const answer = await clientFor(options).request<RegisterAnswer>('POST', '/v1/register', {
      roles,
      ...(options.name != null ? { name: options.name } : {}),
      waitMs,
    })
    print(answer, options, () => {
      if (answer.status === 'approved')
        return `certified for ${answer.cert?.roles.join(', ')} until ${new Date(answer.cert?.notAfter ?? 0).toISOString()}`
      if (answer.status === 'pending')
        return `request ${answer.requestId} waits for the registrar's operator; run the same command again later`
      return `refused: ${answer.reason}`
    })
    if (answer.status === 'rejected') process.exitCode = EXIT.failed
  })

  const registration = program.command('registration').description("a registration manager's operator commands")

  withJson(
    withDataDir(registration.command('pending').description('certificate requests waiting for a decision')),
  ).action(async (options) => {
    const { requests } = await clientFor(options).request<{ requests: PendingRequest[] }>(
      'GET',
      '/v1/registration/requests',
    )
    print(requests, options, () =>
      table(
        requests.map((r) => ({
          request: r.requestId,
          name: r.name,
          roles: r.roles.join(','),
          subject: r.subject,
          received: new Date(r.received).toISOString(),
        })),
        ['request', 'name', 'roles', 'subject', 'received'],
      ),
    )
  })

  withJson(
    withDataDir(
      registration
        .command('approve')
        .description('approve a certificate request')
        .argument('<request-id>', 'the request, as `consort registration pending` lists it')
        .option('--days <n>', 'validity of the certificate in days (default: a year)'),
    ),
  ).action(async (requestId: string, options) => {
    const body = options.days != null ? { days: positiveInt(options.days, '--days', 3650) } : {}
    const answer = await clientFor(options).request<{ cert: { serial: number; roles: string[] } }>(
      'POST',
      `/v1/registration/requests/${encodeURIComponent(requestId)}/approve`,
      body,
    )
    print(
      answer,
      options,
      () => `approved ${requestId}: certificate ${answer.cert.serial} for ${answer.cert.roles.join(', ')}`,
    )
  })

  withJson(
    withDataDir(
      registration
        .command('reject')
        .description('reject a certificate request')
        .argument('<request-id>', 'the request')
        .requiredOption('--reason <text>', 'why (the requester is shown it)'),
    ),
  ).action(async (requestId: string, options) => {
    const answer = await clientFor(options).request(
      'POST',
      `/v1/registration/requests/${encodeURIComponent(requestId)}/reject`,
      { reason: options.reason },
    )
    print(answer, options, () => `rejected ${requestId}`)
  })

  withJson(
    withDataDir(
      registration
        .command('revoke')
        .description('revoke a certificate, a device or a licence, and gossip the revocation')
        .argument('<kind>', `one of ${REVOCATION_KINDS.join(', ')}`)
        .argument('<target>', 'a record CID; or a subject key (cert), a device key (device), a purchase id (licence)')
        .requiredOption('--reason <text>', 'why'),
    ),
  ).action(async (kind: string, target: string, options) => {
    if (!(REVOCATION_KINDS as readonly string[]).includes(kind))
      throw new CliError(`<kind>: one of ${REVOCATION_KINDS.join(', ')}, not ${kind}`, EXIT.usage)
    const answer = await clientFor(options).request<{ revocation: string; targets: Array<{ id: string }> }>(
      'POST',
      '/v1/registration/revoke',
      { kind, target, reason: options.reason },
    )
    print(answer, options, () => `revocation ${answer.revocation}: ${answer.targets.map((t) => t.id).join(', ')}`)
  })

  withJson(
    withDataDir(
      registration
        .command('territory')
        .description(
          "attest an account's territory (checked by you: the listener's documents, the funding card's country); its devices' next registrations carry it, and purchases are sold and licensed for it only",
        )
        .argument('<account>', 'the account key in hex')
        .argument('<territory>', 'an ISO 3166-1 alpha-2 code, or Worldwide'),
    ),
  ).action(async (account: string, territory: string, options) => {
    const answer = await clientFor(options).request<{ account: string; territory: string }>(
      'POST',
      `/v1/registration/accounts/${encodeURIComponent(account)}/territory`,
      { territory },
    )
    print(answer, options, () => `account ${answer.account} attested in ${answer.territory}`)
  })

  withJson(
    withDataDir(
      registration
        .command('devices')
        .description("an account's registered devices")
        .argument('<account>', 'the account key in hex'),
    ),
  ).action(async (account: string, options) => {
    const { devices } = await clientFor(options).request<{
      devices: Array<{ device: string; name: string; status: string; notAfter: number; territory: string }>
    }>('GET', `/v1/registration/accounts/${encodeURIComponent(account)}/devices`)
    print(devices, options, () =>
      table(
        devices.map((d) => ({ ...d, notAfter: new Date(d.notAfter).toISOString() })),
        ['device', 'name', 'status', 'territory', 'notAfter'],
      ),
    )
  })

  withJson(
    withDataDir(
      registration
        .command('licences')
        .description("a purchase's licences, one per device")
        .argument('<purchase-id>', 'the purchase id'),
    ),
  ).action(async (purchaseId: string, options) => {
    const { licences } = await clientFor(options).request<{
      licences: Array<{ licenceId: string; device: string; content: string[] }>
    }>('GET', `/v1/registration/purchases/${encodeURIComponent(purchaseId)}/licences`)
    print(licences, options, () =>
      table(
        licences.map((l) => ({ licence: l.licenceId, device: l.device, content: l.content.join(' ') })),
        ['licence', 'device', 'content'],
      ),
    )
  })
}
