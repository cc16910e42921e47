/**
 * A child process of the `offers` benchmark holding one `OfferShard` (25 + 25 nodes on TCP over loopback), driven
 * by its parent over the IPC channel: `start` → its addresses, `dial`, `meshes`, `cpu`, `abandon`, `stop`. Arrivals
 * go to the parent as they complete (`arrivals`). Started by `bench/benchmarks/offers.ts` only.
 */
import { FakeClock } from '../../protocols/clock.ts'
import { decodeRecordAs } from '../../protocols/records/envelope.ts'
import { OfferShard } from './offers-shard.ts'

export type ShardRequest =
  | { op: 'start'; network: Uint8Array; networkName: string; now: number; ours: number; plain: number; seed: string }
  | { op: 'dial'; targets: { ours: string[][]; plain: string[][] } }
  | { op: 'meshes'; all: { ours: string[]; plain: string[] } }
  | { op: 'cpu' }
  | { op: 'abandon'; key: string }
  | { op: 'stop' }

export type ShardMessage =
  | { op: 'reply'; id: number; value?: unknown; error?: string }
  | { op: 'arrivals'; key: string; times: number[] }

let shard: OfferShard | undefined

function send(message: ShardMessage): void {
  process.send?.(message)
}

async function handle(request: ShardRequest): Promise<unknown> {
  switch (request.op) {
    case 'start': {
      const clock = new FakeClock(request.now)
      const network = decodeRecordAs('consort/network', request.network, {
        network: request.networkName,
        now: request.now,
      })
      shard = await OfferShard.start({
        network,
        clock,
        transport: 'tcp',
        ours: request.ours,
        plain: request.plain,
        seed: request.seed,
        onArrivals: (arrivals) => send({ op: 'arrivals', ...arrivals }),
        log: (message) => process.stderr.write(`[offers shard ${request.seed}] ${message}\n`),
      })
      return shard.addresses()
    }
    case 'dial':
      return await shard!.dial(request.targets)
    case 'meshes':
      return await shard!.meshes(request.all)
    case 'cpu':
      return shard!.cpuMs()
    case 'abandon':
      return shard!.abandon(request.key)
    case 'stop':
      await shard?.stop()
      shard = undefined
      setImmediate(() => process.disconnect?.())
      return undefined
  }
}

process.on('message', (raw: { id: number; request: ShardRequest }) => {
  handle(raw.request).then(
    (value) => send({ op: 'reply', id: raw.id, value }),
    (err: Error) => send({ op: 'reply', id: raw.id, error: err.stack ?? err.message }),
  )
})
// The parent going away ends the shard (a killed benchmark leaves no nodes behind).
process.on('disconnect', () => {
  void shard?.stop().finally(() => process.exit(0))
  if (shard == null) process.exit(0)
})
