import type { SimProgress } from '../runner.ts'

/**
 * CPU seconds this process has spent, its resident memory and the part of it in ArrayBuffers outside V8's heap (the
 * blocks, and every buffer libraries keep): what a person watching a long run needs to judge it.
 */
function cost(): string {
  const memory = process.memoryUsage()
  return `${(process.cpuUsage().user / 1e6).toFixed(0)} s CPU, ${(memory.rss / 2 ** 30).toFixed(2)} GB RSS, ${(memory.arrayBuffers / 2 ** 30).toFixed(2)} GB buffers`
}

/** One line of progress for a person watching a run (stderr), or null for events not worth a line. */
export function progressLine(event: SimProgress): string | null {
  switch (event.phase) {
    case 'plan':
      return `plan: ${event.nodes} nodes, ${event.events} events, seed ${event.seed}, sha256 ${event.planHash.slice(0, 16)}…`
    case 'starting':
      return event.started === event.total || event.started % 100 === 0
        ? `started ${event.started}/${event.total} nodes (${(event.simulatedMs / 1000).toFixed(1)} s simulated, ${event.connectionsOpened} connections opened, ${event.connectionsOpen} open, ${(process.cpuUsage().user / 1e6).toFixed(0)} s CPU)`
        : null
    case 'mesh':
      return `gossip mesh formed (${(event.waitedMs / 1000).toFixed(1)} s of simulated time, ${cost()})`
    case 'running':
      return event.t % 10_000 < 1000
        ? `t=${(event.t / 1000).toFixed(0)}s of ${event.durationMs / 1000}s, ${event.done}/${event.events} events (${cost()})`
        : null
    case 'market':
      return `market: ${event.step} ${event.done}/${event.total} (${(event.simulatedMs / 1000).toFixed(1)} s simulated, ${cost()})`
    case 'fault':
      return `t=${(event.t / 1000).toFixed(1)}s ${event.label}`
    case 'draining':
      return `draining ${event.drainMs} ms (${cost()})`
    case 'stopping':
      return `stopping the nodes (${cost()})`
  }
}
