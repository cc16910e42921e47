import { createHash, type Hash } from 'node:crypto'
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { LevelBlockstore } from 'blockstore-level'
import type { Blockstore } from 'interface-blockstore'
import { Level } from 'level'
import { CID } from 'multiformats/cid'
import { dataDirPaths, writeFileAtomic } from './data-dir.ts'
import { BackupCorruptError, BackupTargetError } from './errors.ts'

/**
 * An online backup of a node: taken from the running daemon (the LevelDB iterator reads one consistent snapshot
 * while the node goes on writing), restored into a fresh data directory. The format, version 1:
 *
 *   header   one line of JSON: { type: "consort/backup", version: 1, created, peerId, network, blocks }
 *   entries  kind (1 byte) · key length (u32 BE) · key · value length (u32 BE) · value
 *            kind 1: a file of the data dir (key: its path, `config.json`, `network.json`, `keys/NAME.key`)
 *            kind 2: a LevelDB entry (key and value as stored, bytes)
 *            kind 3: a block (key: CID bytes; value: the block)
 *   trailer  kind 0xff · entry count (u64 BE) · SHA-256 of every byte before these 32
 *
 * A restore refuses a file whose type, version, framing, count or checksum is wrong, and builds the new directory
 * beside its target, renaming it into place only once everything was checked: a crash or a bad file leaves nothing.
 */

export const BACKUP_TYPE = 'consort/backup'
export const BACKUP_VERSION = 1
/** Longest header line: a few hundred bytes in practice. */
const MAX_HEADER_BYTES = 4096
/** Longest key: LevelDB keys here are short ids; CIDs are under 100 bytes. */
const MAX_KEY_BYTES = 64 * 1024
/** Largest value: blocks are at most a segment (256 KiB by default, 4 MiB at most) plus framing. */
const MAX_VALUE_BYTES = 16 * 1024 * 1024
/** Entries are grouped into chunks of about this size on their way out. */
const CHUNK_BYTES = 256 * 1024
/** LevelDB puts per batch while restoring. */
const RESTORE_BATCH = 1000

const KIND = { file: 1, db: 2, block: 3, trailer: 0xff } as const
/** Files of the data dir a backup carries (never LOCK or api.json: those belong to a running daemon). */
const FILE_PATH = /^(config\.json|network\.json|keys\/[a-z0-9][a-z0-9-]*\.key)$/

export interface BackupHeader {
  type: typeof BACKUP_TYPE
  version: typeof BACKUP_VERSION
  created: number
  peerId: string
  network: string
  blocks: boolean
}

export interface BackupSource {
  dataDir: string
  /** The node's LevelDB, open (the daemon's own handle). */
  db: Level<string, Uint8Array>
  blockstore: Blockstore
  peerId: string
  network: string
  now: number
}

function u32(n: number): Uint8Array {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

/** The data dir's files a backup carries, by their relative paths. */
function dataDirFiles(dataDir: string): string[] {
  const files = ['config.json', 'network.json'].filter((f) => existsSync(join(dataDir, f)))
  const keysDir = join(dataDir, 'keys')
  if (existsSync(keysDir)) {
    for (const name of readdirSync(keysDir).sort()) {
      const path = `keys/${name}`
      if (FILE_PATH.test(path) && statSync(join(keysDir, name)).isFile()) files.push(path)
    }
  }
  return files
}

/**
 * The backup's bytes, chunk by chunk. The database is read through one iterator, which sees the snapshot taken
 * when it opened: what the node writes meanwhile is either wholly in (written before) or wholly out.
 */
export async function* writeBackup(
  source: BackupSource,
  options: { blocks?: boolean } = {},
): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256')
  let count = 0
  let chunk: Uint8Array[] = []
  let chunkBytes = 0
  const emit = (bytes: Uint8Array) => {
    hash.update(bytes)
    chunk.push(bytes)
    chunkBytes += bytes.byteLength
  }
  const entry = (kind: number, key: Uint8Array, value: Uint8Array) => {
    if (key.byteLength > MAX_KEY_BYTES || value.byteLength > MAX_VALUE_BYTES) {
      throw new BackupCorruptError(`an entry of kind ${kind} is larger than the format allows`)
    }
    emit(Uint8Array.of(kind))
    emit(u32(key.byteLength))
    emit(key)
    emit(u32(value.byteLength))
    emit(value)
    count++
  }
  const flush = function* () {
    if (chunkBytes === 0) return
    const out = Buffer.concat(chunk)
    chunk = []
    chunkBytes = 0
    yield out
  }
  // The iterator opens first, so that its snapshot is no older than the files copied after it.
  const iterator = source.db.iterator({ keyEncoding: 'view', valueEncoding: 'view' }) as unknown as AsyncIterable<
    [Uint8Array, Uint8Array]
  > & { close(): Promise<void> }
  try {
    const header: BackupHeader = {
      type: BACKUP_TYPE,
      version: BACKUP_VERSION,
      created: source.now,
      peerId: source.peerId,
      network: source.network,
      blocks: options.blocks === true,
    }
    emit(Buffer.from(`${JSON.stringify(header)}\n`))
    for (const path of dataDirFiles(source.dataDir)) {
      entry(KIND.file, Buffer.from(path), readFileSync(join(source.dataDir, path)))
    }
    for await (const [key, value] of iterator) {
      entry(KIND.db, key, value)
      if (chunkBytes >= CHUNK_BYTES) yield* flush()
    }
  } finally {
    await iterator.close()
  }
  if (options.blocks === true) {
    for await (const pair of source.blockstore.getAll()) {
      const parts: Uint8Array[] = []
      for await (const part of pair.bytes) parts.push(part)
      entry(KIND.block, pair.cid.bytes, Buffer.concat(parts))
      if (chunkBytes >= CHUNK_BYTES) yield* flush()
    }
  }
  const trailer = Buffer.alloc(9)
  trailer.writeUInt8(KIND.trailer, 0)
  trailer.writeBigUInt64BE(BigInt(count), 1)
  emit(trailer)
  yield* flush()
  yield new Uint8Array(hash.digest())
}

/** Reads a file exactly, chunk by chunk, hashing what it hands out. */
class ExactReader {
  readonly #chunks: AsyncIterator<Buffer>
  readonly hash: Hash = createHash('sha256')
  #buffer: Buffer = Buffer.alloc(0)
  offset = 0

  constructor(file: string) {
    this.#chunks = (createReadStream(file, { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>)[
      Symbol.asyncIterator
    ]()
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#buffer.byteLength < n) {
      const next = await this.#chunks.next()
      if (next.done === true) return false
      this.#buffer = this.#buffer.byteLength === 0 ? next.value : Buffer.concat([this.#buffer, next.value])
    }
    return true
  }

  /** `n` bytes, hashed unless `hashed` is false; throws when the file ends first. */
  async read(n: number, what: string, hashed = true): Promise<Buffer> {
    if (!(await this.#fill(n))) {
      throw new BackupCorruptError(
        `the file ends at byte ${this.offset + this.#buffer.byteLength} inside ${what}: it is truncated or corrupt`,
      )
    }
    const out = this.#buffer.subarray(0, n)
    this.#buffer = this.#buffer.subarray(n)
    this.offset += n
    if (hashed) this.hash.update(out)
    return out
  }

  /** The header line, up to its newline. */
  async line(max: number): Promise<Buffer> {
    await this.#fill(Math.min(max, 1))
    for (;;) {
      const newline = this.#buffer.indexOf(0x0a)
      if (newline >= 0) return this.read(newline + 1, 'the header')
      if (this.#buffer.byteLength >= max || !(await this.#fill(this.#buffer.byteLength + 1))) {
        throw new BackupCorruptError('the file does not start with a Consort backup header')
      }
    }
  }

  async atEnd(): Promise<boolean> {
    return !(await this.#fill(1))
  }
}

function parseHeader(line: Buffer): BackupHeader {
  let header: Partial<BackupHeader>
  try {
    header = JSON.parse(line.toString('utf8')) as Partial<BackupHeader>
  } catch {
    throw new BackupCorruptError('the file does not start with a Consort backup header')
  }
  if (header?.type !== BACKUP_TYPE)
    throw new BackupCorruptError(`not a Consort backup (type ${JSON.stringify(header?.type)})`)
  if (header.version !== BACKUP_VERSION) {
    throw new BackupCorruptError(
      `backup version ${JSON.stringify(header.version)} is not supported: this build reads version ${BACKUP_VERSION}`,
    )
  }
  if (typeof header.peerId !== 'string' || typeof header.network !== 'string' || typeof header.created !== 'number') {
    throw new BackupCorruptError('the backup header lacks peerId, network or created')
  }
  return header as BackupHeader
}

export interface RestoreSummary {
  header: BackupHeader
  files: string[]
  dbEntries: number
  blocks: number
}

/** One entry of a backup file, as read. */
interface BackupEntry {
  kind: number
  index: number
  key: Buffer
  value: Buffer
}

/**
 * Read a backup file through, checking its header, framing, entry count and checksum, and hand each entry to
 * `onEntry` as it comes (the checksum is only known at the end: a caller that writes must be able to undo).
 */
async function readBackup(
  file: string,
  onEntry: (header: BackupHeader, entry: BackupEntry) => Promise<void> | void = () => {},
): Promise<{ header: BackupHeader; entries: number; bytes: number }> {
  if (!existsSync(file)) throw new BackupTargetError(`${file} does not exist`)
  const reader = new ExactReader(file)
  const header = parseHeader(await reader.line(MAX_HEADER_BYTES))
  let count = 0
  for (;;) {
    const kind = (await reader.read(1, 'an entry kind'))[0]!
    if (kind === KIND.trailer) break
    if (kind !== KIND.file && kind !== KIND.db && !(kind === KIND.block && header.blocks)) {
      throw new BackupCorruptError(`entry ${count}: unknown kind ${kind}: the file is corrupt`)
    }
    const keyLength = (await reader.read(4, 'a key length')).readUInt32BE()
    if (keyLength > MAX_KEY_BYTES)
      throw new BackupCorruptError(`entry ${count}: a key of ${keyLength} bytes is too long: the file is corrupt`)
    const key = Buffer.from(await reader.read(keyLength, `entry ${count}'s key`))
    const valueLength = (await reader.read(4, 'a value length')).readUInt32BE()
    if (valueLength > MAX_VALUE_BYTES) {
      throw new BackupCorruptError(`entry ${count}: a value of ${valueLength} bytes is too long: the file is corrupt`)
    }
    const value = Buffer.from(await reader.read(valueLength, `entry ${count}'s value`))
    await onEntry(header, { kind, index: count, key, value })
    count++
  }
  const recorded = (await reader.read(8, 'the trailer')).readBigUInt64BE()
  if (recorded !== BigInt(count))
    throw new BackupCorruptError(`the trailer counts ${recorded} entries, the file holds ${count}: the file is corrupt`)
  const computed = reader.hash.digest()
  const checksum = await reader.read(32, 'the checksum', false)
  if (!computed.equals(checksum)) throw new BackupCorruptError('the checksum does not match: the file is corrupt')
  if (!(await reader.atEnd())) throw new BackupCorruptError('bytes follow the checksum: the file is corrupt')
  return { header, entries: count, bytes: reader.offset }
}

/** Read a backup file through without writing anything: its header, or the reason it is not a sound backup. */
export async function verifyBackup(file: string): Promise<{ header: BackupHeader; entries: number; bytes: number }> {
  return readBackup(file)
}

/**
 * Restore a backup file into `dataDir`, which must not exist or be empty. Everything is written into a sibling
 * directory first and renamed into place after the checksum matched; on any error that directory is removed.
 */
export async function restoreBackup(file: string, dataDir: string): Promise<RestoreSummary> {
  // Check the whole file first (a cheap read), so that a corrupt one is refused before anything is written.
  await verifyBackup(file)
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new BackupTargetError(`${dataDir} is not empty: restore into a new data directory`)
  }
  const staging = `${dataDir.replace(/\/+$/, '')}.restoring-${process.pid}`
  await rm(staging, { recursive: true, force: true })
  await mkdir(join(staging, 'keys'), { recursive: true, mode: 0o700 })
  const paths = dataDirPaths(staging)
  const db = new Level<string, Uint8Array>(paths.db, { valueEncoding: 'view' })
  const blockstore = new LevelBlockstore(paths.blocks)
  try {
    await db.open()
    await blockstore.open()
    let batch: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array }> = []
    const writeBatch = async () => {
      if (batch.length === 0) return
      await db.batch(batch, { keyEncoding: 'view', valueEncoding: 'view' } as never)
      batch = []
    }
    const summary: Omit<RestoreSummary, 'header'> = { files: [], dbEntries: 0, blocks: 0 }
    const { header } = await readBackup(file, async (_header, { kind, index, key, value }) => {
      if (kind === KIND.file) {
        const path = key.toString('utf8')
        if (!FILE_PATH.test(path))
          throw new BackupCorruptError(`entry ${index}: ${JSON.stringify(path)} is not a data dir file`)
        writeFileAtomic(join(staging, path), value, path.startsWith('keys/') ? 0o600 : 0o644)
        summary.files.push(path)
      } else if (kind === KIND.db) {
        batch.push({ type: 'put', key, value })
        summary.dbEntries++
        if (batch.length >= RESTORE_BATCH) await writeBatch()
      } else {
        let cid: CID
        try {
          cid = CID.decode(key)
        } catch {
          throw new BackupCorruptError(`entry ${index}: not a CID`)
        }
        await blockstore.put(cid, value)
        summary.blocks++
      }
    })
    await writeBatch()
    for (const needed of ['config.json', 'network.json', 'keys/node.key']) {
      if (!summary.files.includes(needed)) throw new BackupCorruptError(`the backup holds no ${needed}`)
    }
    await db.close()
    await blockstore.close()
    await mkdir(dirname(dataDir), { recursive: true })
    if (existsSync(dataDir)) await rm(dataDir, { recursive: true })
    await rename(staging, dataDir)
    return { header, ...summary }
  } catch (err) {
    await db.close().catch(() => {})
    await blockstore.close().catch(() => {})
    await rm(staging, { recursive: true, force: true })
    throw err
  }
}
