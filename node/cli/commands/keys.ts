import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { changeKeystorePassphrase } from '../../../keys/keystore.ts'
import { CliError, EXIT, passphraseFrom, print } from '../output.ts'
import { dataDirOf, withDataDir, withJson } from './common.ts'

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

/** `consort keys passphrase`: re-encrypt a keystore of the data dir. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description("the node's keystore")
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
