/**
 * A clearinghouse in its own process for the crash test: the real engine on a LevelDB data dir (fsync on), serving
 * `/clearing/1` frames (the RPC codec: one DAG-CBOR request, one response, each length-prefixed with 4 bytes) on a
 * TCP loopback port. It loads its code, prints `LOADED`, and waits for a line on stdin before it opens the data dir (so
 * the parent can start the next process while the current one still runs: the kills are many, the loading slow);
 * then it prints `READY <port>` once it has replayed what the last kill left behind. The parent kills it with
 * SIGKILL at random points and starts the next one on the same data dir.
 *
 * Usage: node crash-child.ts CONFIG.json   ({ dataDir, network: base64 record, keys: keystore path })
 */
import { readFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { Level } from 'level'
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { loadNodeKeys } from '../../../keys/keystore.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { decodeNetworkRecord, networkContext } from '../../../protocols/network.ts'
import { decodeRequest, encodeResponse, type RpcResponse } from '../../../protocols/rpc/codec.ts'
import { CertificateTrust } from '../../../protocols/trust/trust.ts'
import { ClearingEngine } from '../../../roles/clearinghouse/engine.ts'
import type { StateLevel } from '../../../roles/clearinghouse/store.ts'

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { dataDir: string; network: string; keys: string }
process.stdout.write('LOADED\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
const record = decodeNetworkRecord(bytesFromString(config.network, 'base64'), systemClock.now())
const network = networkContext(record)
const keys = await loadNodeKeys(config.keys)
const db = new Level<string, Uint8Array>(join(config.dataDir, 'db'), { valueEncoding: 'view' })
await db.open()
const engine = await ClearingEngine.open(
  {
    db: db.sublevel('role-clearinghouse', { valueEncoding: 'view' }) as unknown as StateLevel,
    keys,
    clock: systemClock,
    network,
    trust: new CertificateTrust(network.body, systemClock),
  },
  { verifyWorkers: 0, sync: true },
)

async function handle(frame: Uint8Array): Promise<RpcResponse> {
  try {
    const request = decodeRequest(frame)
    switch (request.op) {
      case 'report':
        return { ok: true, body: await engine.reportRequest(request.body) }
      case 'balances': {
        const out: Record<string, string> = {}
        for (const id of request.body as string[]) {
          if ((await engine.ledger.getAccount(id)) === undefined) continue
          const b = await engine.ledger.balance(id)
          out[id] = `${b.creditsPosted - b.debitsPosted}`
        }
        return { ok: true, body: out }
      }
      case 'audit': {
        const report = await engine.audit()
        return {
          ok: true,
          body: {
            ok: report.ok,
            violations: [...report.ledger, ...report.clearing].map((v) => v.message),
            counts: report.counts,
          },
        }
      }
      case 'stats':
        return { ok: true, body: { ...engine.ingest.stats } }
      default:
        return { ok: false, code: 'ERR_UNKNOWN_OP', message: request.op }
    }
  } catch (err) {
    const e = err as Error & { code?: string }
    return { ok: false, code: e.code ?? 'ERR_INTERNAL', message: e.message }
  }
}

function serve(socket: Socket): void {
  let buffer = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk])
    while (buffer.length >= 4) {
      const length = buffer.readUInt32BE(0)
      if (buffer.length < 4 + length) break
      const frame = buffer.subarray(4, 4 + length)
      buffer = buffer.subarray(4 + length)
      const id = frame.readUInt32BE(0)
      void handle(new Uint8Array(frame.subarray(4))).then((response) => {
        const body = encodeResponse(response)
        const header = Buffer.alloc(8)
        header.writeUInt32BE(body.length + 4, 0)
        header.writeUInt32BE(id, 4)
        if (!socket.destroyed) socket.write(Buffer.concat([header, body]))
      })
    }
  })
  socket.on('error', () => {})
}

const server = createServer(serve)
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`READY ${typeof address === 'object' && address !== null ? address.port : 0}\n`)
})
