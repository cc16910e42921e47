import { closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { chmod, mkdir, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DataDirLockedError, DataDirPermissionError } from './errors.ts'

/**
 * What lives in a node's data directory. Every path is named here so that no module invents its own.
 *
 *   config.json     the node's settings (listen addresses, roles…)
 *   network.json    the network record this node belongs to
 *   keys/node.key   the node's identity and sealing keys (mode 0600)
 *   db/             LevelDB: one sublevel per role
 *   blocks/         Helia blockstore (encrypted segments, records)
 *   datastore/      Helia/libp2p datastore (peer store, DHT records)
 *   LOCK            held by the running daemon (its pid)
 *   api.json        the running daemon's control API address and token (mode 0600)
 */
export function dataDirPaths(dir: string) {
  return {
    root: dir,
    config: join(dir, 'config.json'),
    network: join(dir, 'network.json'),
    keys: join(dir, 'keys', 'node.key'),
    db: join(dir, 'db'),
    blocks: join(dir, 'blocks'),
    datastore: join(dir, 'datastore'),
    lock: join(dir, 'LOCK'),
    api: join(dir, 'api.json'),
  }
}
export type DataDirPaths = ReturnType<typeof dataDirPaths>

/** Mode of the data dir and of the directories that hold its state: its owner only. */
export const PRIVATE_DIR_MODE = 0o700

/**
 * Make the data dir and the directories holding its state (`db/`, `blocks/`, `datastore/`, `keys/`) private to their
 * owner, creating the missing ones: a directory that already existed keeps the mode it was made with (0755 by a
 * umask, say), which left a player's licence store and a registrar's escrowed keys readable by every local user
 * (issue 11). A directory owned by another user is refused rather than changed: whoever can write into it can read
 * and replace what the node keeps there. Called by `init` and at every start.
 */
export async function secureDataDir(dir: string): Promise<void> {
  const paths = dataDirPaths(dir)
  const uid = process.getuid?.()
  for (const path of [paths.root, paths.db, paths.blocks, paths.datastore, dirname(paths.keys)]) {
    await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE })
    const info = await stat(path)
    if (uid !== undefined && info.uid !== uid) {
      throw new DataDirPermissionError(`${path} belongs to user ${info.uid}, not to this one (${uid}): refused`)
    }
    if ((info.mode & 0o777) !== PRIVATE_DIR_MODE) await chmod(path, PRIVATE_DIR_MODE)
  }
}

/** Write a file so that a crash leaves either the old or the new content, never a mix. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.tmp`
  const fd = openSync(tmp, 'w', mode)
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  fsyncDirectory(dirname(path))
}

/** fsync a directory, so that a rename or a new file in it survives a crash. */
export function fsyncDirectory(dir: string): void {
  const dirFd = openSync(dir, 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * A lock on the data directory: a second daemon on the same directory is refused with the pid of the first.
 * A lock left by a process that no longer exists (after a crash or kill -9) is taken over.
 */
export class DataDirLock {
  readonly #path: string
  #held = false

  private constructor(path: string) {
    this.#path = path
  }

  static async acquire(dir: string): Promise<DataDirLock> {
    await mkdir(dir, { recursive: true })
    const lock = new DataDirLock(dataDirPaths(dir).lock)
    lock.#take()
    return lock
  }

  #take(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.#path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644)
        writeSync(fd, `${process.pid}\n`)
        fsyncSync(fd)
        closeSync(fd)
        this.#held = true
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        const holder = Number.parseInt(readFileSync(this.#path, 'utf8').trim(), 10)
        if (Number.isSafeInteger(holder) && holder > 0 && processIsAlive(holder)) {
          throw new DataDirLockedError(
            `data dir ${dirname(this.#path)} is in use by another Consort daemon (pid ${holder}); stop it first or use another --data-dir`,
            holder,
          )
        }
        unlinkSync(this.#path)
      }
    }
    throw new DataDirLockedError(`could not lock data dir ${dirname(this.#path)}`)
  }

  release(): void {
    if (!this.#held) return
    this.#held = false
    try {
      unlinkSync(this.#path)
    } catch {
      // already gone: nothing to release
    }
  }
}
