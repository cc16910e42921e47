import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { Command } from 'commander'
import { createNodeKeys, loadNodeKeys, readNodePublicKeys, saveNodeKeys } from '../../../keys/keystore.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { dataDirPaths } from '../../data-dir.ts'
import { createNetworkRecord, readNetworkFile, writeNetworkFile } from '../../network-file.ts'
import { CliError, collect, EXIT, passphraseFrom, print } from '../output.ts'
import { dataDirOf, withDataDir, withJson } from './common.ts'

async function anchorFrom(dir: string) {
  const file = dataDirPaths(resolve(dir)).keys
  if (!existsSync(file))
    throw new CliError(`${dir}: no node keys (run consort init --data-dir ${dir} first)`, EXIT.usage)
  const keys = await readNodePublicKeys(file)
  return { name: dir.split('/').filter(Boolean).pop() ?? dir, key: keys.signingKey, sealingKey: keys.sealingKey }
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
      .option('--registrar-from <dir>', 'data dir of a registration manager node (repeatable; at least one)', collect)
      .option('--reference-from <dir>', 'data dir of a reference service node (repeatable)', collect)
      .option('--clearinghouse-from <dir>', 'data dir of a clearinghouse node (repeatable)', collect)
      .option('--bootstrap <multiaddr>', 'bootstrap address every node dials (repeatable)', collect)
      .option('--genesis-key <file>', 'the genesis key (default: genesis.key next to --out; created if absent)')
      .option('--seq <n>', 'sequence number; a higher one supersedes an earlier record of the same network', '0')
      .option('--passphrase-file <file>', 'passphrase protecting the genesis key (or CONSORT_PASSPHRASE)'),
  ).action(async (options) => {
    const registrars = await Promise.all((options.registrarFrom ?? []).map(anchorFrom))
    if (registrars.length === 0)
      throw new CliError('--registrar-from: a network needs at least one registration manager', EXIT.usage)
    const references = (await Promise.all((options.referenceFrom ?? []).map(anchorFrom))).map(({ name, key }) => ({
      name,
      key,
    }))
    const clearinghouses = await Promise.all((options.clearinghouseFrom ?? []).map(anchorFrom))
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
        bootstrap: options.bootstrap ?? [],
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
