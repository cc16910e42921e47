import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Command } from 'commander'
import { restoreBackup, verifyBackup } from '../../node/backup.ts'
import { fsyncDirectory } from '../../node/data-dir.ts'
import { print } from '../output.ts'
import { clientFor, dataDirOf, withDataDir, withJson } from './common.ts'

/** `consort backup` (from a running daemon) and `consort restore` (into a new data dir). */
export function registerBackupCommands(program: Command): void {
  withJson(
    withDataDir(
      program
        .command('backup')
        .description(
          'write an online backup of the running node: its database (one consistent snapshot), config, network and keys',
        )
        .requiredOption('--out <file>', 'the backup file to write (mode 0600: it holds the keystore)')
        .option('--blocks', 'include the blockstore (encrypted segments and records)'),
    ),
  ).action(async (options) => {
    const out = resolve(options.out as string)
    const tmp = `${out}.${process.pid}.tmp`
    const stream = await clientFor(options).stream(`/v1/backup${options.blocks === true ? '?blocks=true' : ''}`)
    // Written beside its name, synced, checked through, then renamed: a crash or a broken stream leaves no backup
    // file that looks whole.
    const fd = openSync(tmp, 'w', 0o600)
    try {
      try {
        for await (const chunk of stream) writeSync(fd, chunk)
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      const checked = await verifyBackup(tmp)
      renameSync(tmp, out)
      fsyncDirectory(dirname(out))
      const result = { file: out, bytes: statSync(out).size, entries: checked.entries, ...checked.header }
      print(
        result,
        options,
        () =>
          `backup of ${result.peerId} (${result.network}) written to ${out}: ${result.entries} entries, ${result.bytes} bytes${result.blocks ? ', with blocks' : ''}`,
      )
    } catch (err) {
      try {
        unlinkSync(tmp)
      } catch {
        // not written
      }
      throw err
    }
  })

  withJson(
    withDataDir(
      program
        .command('restore')
        .description('restore a backup file into a new (absent or empty) data directory; check it first with --check')
        .argument('<file>', 'the backup file')
        .option('--check', 'only check the file (version, framing, checksum); write nothing'),
    ),
  ).action(async (file: string, options) => {
    if (options.check === true) {
      const checked = await verifyBackup(resolve(file))
      print(
        { ok: true, ...checked },
        options,
        () => `${file}: a sound backup of ${checked.header.peerId} (${checked.entries} entries)`,
      )
      return
    }
    const dataDir = dataDirOf(options)
    const summary = await restoreBackup(resolve(file), dataDir)
    print({ dataDir, ...summary }, options, () =>
      [
        `restored ${summary.header.peerId} (${summary.header.network}) into ${dataDir}`,
        `files    ${summary.files.join(', ')}`,
        `database ${summary.dbEntries} entries`,
        ...(summary.header.blocks ? [`blocks   ${summary.blocks}`] : []),
        `start it: consort daemon --data-dir ${dataDir}`,
      ].join('\n'),
    )
  })
}
