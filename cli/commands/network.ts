import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { Command } from 'commander'
import { createNodeKeys, loadNodeKeys, readNodePublicKeys, saveNodeKeys } from '../../keys/keystore.ts'
import { dataDirPaths } from '../../node/data-dir.ts'
import { parseIdentity } from '../../node/identity.ts'
import { createNetworkRecord, readNetworkFile, writeNetworkFile } from '../../node/network-file.ts'
import { systemClock } from '../../protocols/clock.ts'
import { CliError, collect, EXIT, passphraseFrom, print } from '../output.ts'
import { dataDirOf, withDataDir, withJson } from './common.ts'

async function anchorFrom(dir: string) {
  const file = dataDirPaths(resolve(dir)).keys
  if (!existsSync(file))
    throw new CliError(`${dir}: no node keys (run consort init --data-dir ${dir} first)`, EXIT.usage)
  const keys = await readNodePublicKeys(file)
  return { name: dir.split('/').filter(Boolean).pop() ?? dir, key: keys.signingKey, sealingKey: keys.sealingKey }
}

/** A node's public identity from a `consort id --json` file: no private key leaves the node's host. */
function anchorFromIdentity(file: string) {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new CliError(`${file}: cannot read: ${(err as Error).message}`, EXIT.usage)
  }
  const id = parseIdentity(text, file)
  return { name: id.name, key: id.signingKey, sealingKey: id.sealingKey, addresses: id.addresses }
}

const LOOPBACK = /^\/(ip4\/127\.|ip6\/::1\/|dns4?\/localhost\/)/

/** The bootstrap addresses an identity offers: its announced addresses, loopback ones only when it has nothing else. */
function bootstrapFrom(file: string): string[] {
  const { addresses } = anchorFromIdentity(file)
  const reachable = addresses.filter((a) => !LOOPBACK.test(a))
  const chosen = reachable.length > 0 ? reachable : addresses
  if (chosen.length === 0)
    throw new CliError(
      `--bootstrap-from ${file}: the identity has no addresses (init the node with --announce, then consort id --json)`,
      EXIT.usage,
    )
  return chosen
}

/** `consort network create`: the genesis of a network. */
export function registerNetworkCommands(program: Command): void {
  const network = program.command('network').description('network genesis records')
  withJson(
    network
      .command('create')
      .description('write a signed network record (the genesis of a network)')
      .requiredOption('--name <name>', 'network name: lower-case letters, digits and hyphens')
      .requiredOption('--out <file>', 'where to write the network file (network.json)')
      .option(
        '--registrar <id.json>',
        "a registration manager's public identity (its consort id --json output; repeatable; at least one)",
        collect,
      )
      .option('--reference <id.json>', "a reference service's public identity (repeatable)", collect)
      .option('--clearinghouse <id.json>', "a clearinghouse's public identity (repeatable)", collect)
      .option(
        '--registrar-from <dir>',
        'data dir of a registration manager on this machine (repeatable; reads only its public keys)',
        collect,
      )
      .option('--reference-from <dir>', 'data dir of a reference service on this machine (repeatable)', collect)
      .option('--clearinghouse-from <dir>', 'data dir of a clearinghouse on this machine (repeatable)', collect)
      .option('--bootstrap <multiaddr>', 'bootstrap address every node dials (repeatable)', collect)
      .option(
        '--bootstrap-from <id.json>',
        "use a node's announced addresses (its consort id --json output) as bootstrap addresses (repeatable)",
        collect,
      )
      .option('--genesis-key <file>', 'the genesis key (default: genesis.key next to --out; created if absent)')
      .option('--seq <n>', 'sequence number; a higher one supersedes an earlier record of the same network', '0')
      .option('--passphrase-file <file>', 'passphrase protecting the genesis key (or CONSORT_PASSPHRASE)'),
  ).action(async (options) => {
    const anchors = async (files: string[] | undefined, dirs: string[] | undefined) => [
      ...(files ?? []).map(anchorFromIdentity).map(({ name, key, sealingKey }) => ({ name, key, sealingKey })),
      ...(await Promise.all((dirs ?? []).map(anchorFrom))),
    ]
    const registrars = await anchors(options.registrar, options.registrarFrom)
    if (registrars.length === 0)
      throw new CliError('--registrar: a network needs at least one registration manager', EXIT.usage)
    const references = (await anchors(options.reference, options.referenceFrom)).map(({ name, key }) => ({ name, key }))
    const clearinghouses = await anchors(options.clearinghouse, options.clearinghouseFrom)
    const bootstrap = [
      ...new Set([...(options.bootstrap ?? []), ...(options.bootstrapFrom ?? []).flatMap(bootstrapFrom)]),
    ]
    const seq = Number(options.seq)
    if (!Number.isSafeInteger(seq) || seq < 0)
      throw new CliError(`--seq: not a sequence number: ${options.seq}`, EXIT.usage)
    const out = resolve(options.out)
    const genesisFile = resolve(options.genesisKey ?? join(dirname(out), 'genesis.key'))
    const passphrase = passphraseFrom(options)
    const keyOptions = passphrase != null ? { passphrase } : {}
    const genesis = existsSync(genesisFile) ? await loadNodeKeys(genesisFile, keyOptions) : await createNodeKeys()
    if (!existsSync(genesisFile)) await saveNodeKeys(genesisFile, genesis, { ...keyOptions, exclusive: true })
    const record = createNetworkRecord(
      {
        name: options.name,
        seq,
        created: systemClock.now(),
        registrars,
        references,
        clearinghouses,
        bootstrap,
      },
      genesis.signer,
    )
    writeNetworkFile(out, record)
    print(
      { network: options.name, id: record.id, file: out, genesisKey: genesisFile },
      options,
      () =>
        `wrote ${out} (network ${options.name}, id ${record.id})\ngenesis key ${genesisFile} — keep it safe: it alone can re-issue the network record`,
    )
  })
}

/** `consort network join FILE`: put a network record into an initialised data dir (its keys are kept). */
export function registerNetworkJoinCommand(program: Command): void {
  const network = program.commands.find((c) => c.name() === 'network')!
  withJson(
    withDataDir(
      network
        .command('join')
        .description('make an initialised node a member of a network (or adopt a newer record of its network)')
        .argument('<file>', 'the network file'),
    ),
  ).action(async (file: string, options) => {
    const dir = dataDirOf(options)
    const paths = dataDirPaths(dir)
    if (!existsSync(paths.config))
      throw new CliError(`${dir} is not initialised (run consort init --data-dir ${dir})`, EXIT.usage)
    const record = readNetworkFile(resolve(file), systemClock.now())
    if (existsSync(paths.network)) {
      const current = readNetworkFile(paths.network, systemClock.now())
      if (current.body.network !== record.body.network) {
        throw new CliError(`${dir} belongs to network ${current.body.network}, not ${record.body.network}`, EXIT.failed)
      }
      if (Buffer.compare(Buffer.from(current.signer), Buffer.from(record.signer)) !== 0) {
        throw new CliError('the new network record is signed by another genesis key than the current one', EXIT.failed)
      }
      if (record.body.seq < current.body.seq) {
        throw new CliError(
          `the new record (seq ${record.body.seq}) is older than the current one (seq ${current.body.seq})`,
          EXIT.failed,
        )
      }
    }
    writeNetworkFile(paths.network, record)
    print(
      { dataDir: dir, network: record.body.network, seq: record.body.seq, id: record.id },
      options,
      () => `${dir} joined network ${record.body.network} (seq ${record.body.seq}); restart its daemon to apply`,
    )
  })
}
