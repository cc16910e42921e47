import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { fromHex, toHex } from '../../keys/hex.ts'
import { changeKeystorePassphrase, loadNodeKeys, loadOrCreateNodeKeys } from '../../keys/keystore.ts'
import { dataDirPaths } from '../../node/data-dir.ts'
import { rotationPaths } from '../../node/key-rotation.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { signCertRequest } from '../../protocols/register/client.ts'
import type { CertRequestFields } from '../../protocols/register/index.ts'
import { MAX_ROTATION_GRACE_MS } from '../../protocols/register/index.ts'
import { CliError, EXIT, passphraseFrom, print } from '../output.ts'
import { clientFor, dataDirOf, withDataDir, withJson } from './common.ts'

/** How long the old certificate stays valid after a rotation unless the operator says otherwise: a week. */
const DEFAULT_GRACE_HOURS = 7 * 24

const KEY_FILES = { node: 'node.key', account: 'account.key' } as const

/** A new passphrase from a file (one line; a final newline is not part of it). */
function newPassphraseFrom(file: string): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
  } catch (err) {
    throw new CliError(`--new-passphrase-file: cannot read ${file}: ${(err as Error).message}`, EXIT.usage)
  }
  if (text.length === 0) throw new CliError(`--new-passphrase-file: ${file} is empty`, EXIT.usage)
  return text
}

/** `consort keys rotate` and `consort keys passphrase`. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description("the node's keystore")
  registerRotateCommand(keys)
  withJson(
    withDataDir(
      keys
        .command('passphrase')
        .description(
          'set, change or remove the passphrase of a keystore (a running daemon keeps its keys; it needs the new passphrase at its next start)',
        )
        .option('--key <name>', `which keystore: ${Object.keys(KEY_FILES).join(' or ')}`, 'node')
        .option(
          '--passphrase-file <file>',
          'its passphrase now (or set CONSORT_PASSPHRASE); none for an unencrypted one',
        )
        .option('--new-passphrase-file <file>', 'the new passphrase')
        .option('--remove', 'store the keys unencrypted'),
    ),
  ).action(async (options) => {
    const name = KEY_FILES[options.key as keyof typeof KEY_FILES]
    if (name == null)
      throw new CliError(`--key: expected ${Object.keys(KEY_FILES).join(' or ')}, got ${options.key}`, EXIT.usage)
    if ((options.newPassphraseFile == null) === (options.remove !== true)) {
      throw new CliError('give exactly one of --new-passphrase-file FILE and --remove', EXIT.usage)
    }
    const file = join(dataDirOf(options), 'keys', name)
    const passphrase = passphraseFrom(options)
    const newPassphrase = options.remove === true ? undefined : newPassphraseFrom(options.newPassphraseFile)
    const changed = await changeKeystorePassphrase(file, {
      ...(passphrase !== undefined ? { passphrase } : {}),
      ...(newPassphrase !== undefined ? { newPassphrase } : {}),
    })
    const result = { file, peerId: changed.privateKey.publicKey.toString(), encrypted: newPassphrase !== undefined }
    print(
      result,
      options,
      () =>
        `${file}: ${result.encrypted ? 'encrypted with the new passphrase' : 'stored unencrypted'} (same keys, ${result.peerId})`,
    )
  })
}

/** `consort keys rotate`: certify a new node key with a registrar; the daemon switches to it at its next start. */
function registerRotateCommand(keys: Command): void {
  withJson(
    withDataDir(
      keys
        .command('rotate')
        .description(
          'move this node to a new key: a registrar certifies it at once; the daemon switches to it at its next start; the old certificate is revoked after the grace period',
        )
        .option(
          '--grace-hours <hours>',
          'how long records signed with the old key stay trusted',
          String(DEFAULT_GRACE_HOURS),
        )
        .option(
          '--passphrase-file <file>',
          "the keystore's passphrase (or set CONSORT_PASSPHRASE); the new key gets the same",
        ),
    ),
  ).action(async (options) => {
    const dataDir = dataDirOf(options)
    const hours = Number(options.graceHours)
    const graceMs = Math.round(hours * 3600_000)
    if (!Number.isFinite(hours) || graceMs < 0 || graceMs > MAX_ROTATION_GRACE_MS) {
      throw new CliError(`--grace-hours: a number from 0 to ${MAX_ROTATION_GRACE_MS / 3600_000} expected`, EXIT.usage)
    }
    const paths = rotationPaths(dataDir)
    if (existsSync(paths.cert)) {
      throw new CliError(`a rotation is done and waits for the daemon to restart (${paths.cert}); restart it first`)
    }
    const passphrase = passphraseFrom(options)
    const keyOptions = passphrase !== undefined ? { passphrase } : {}
    // The passphrase must open the current keystore: the new one is saved under the same.
    const current = await loadNodeKeys(dataDirPaths(dataDir).keys, keyOptions)
    const next = await loadOrCreateNodeKeys(paths.next, keyOptions)
    const client = clientFor(options)
    const keysOfNext = { subject: toHex(next.signer.publicKey), sealingKey: toHex(next.sealing.publicKey) }
    const prepared = await client.request<{ request: Record<string, unknown> }>('POST', '/v1/keys/rotate', keysOfNext)
    const request: CertRequestFields = {
      ...(prepared.request as unknown as CertRequestFields),
      subject: fromHex(prepared.request.subject as string, 'subject'),
      sealingKey: fromHex(prepared.request.sealingKey as string, 'sealingKey'),
    }
    if (toHex(request.subject) !== keysOfNext.subject)
      throw new CliError('the daemon prepared a request for another key')
    const { sig } = signCertRequest(request, next.signer)
    const done = await client.request<{ cert: string; revokeOldAt: number; registrar: string }>(
      'POST',
      '/v1/keys/rotate',
      {
        ...keysOfNext,
        created: request.created,
        sig: toHex(sig),
        graceMs,
      },
    )
    const result = {
      oldPeerId: peerIdOfKey(current.signer.publicKey).toString(),
      newPeerId: peerIdOfKey(next.signer.publicKey).toString(),
      cert: done.cert,
      registrar: done.registrar,
      revokeOldAt: done.revokeOldAt,
    }
    print(result, options, () =>
      [
        `new key     ${result.newPeerId} (certified by ${result.registrar}: ${result.cert})`,
        `old key     ${result.oldPeerId}, trusted until ${new Date(result.revokeOldAt).toISOString()}`,
        'restart the daemon to switch to the new key (systemctl restart consort@NAME, or stop and start it);',
        're-sign what the old key signed (contracts, offers) before the old certificate is revoked.',
      ].join('\n'),
    )
  })
}
