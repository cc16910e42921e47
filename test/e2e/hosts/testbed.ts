import { type ChildProcess, execFile, spawn } from 'node:child_process'

/**
 * Hosts for multi-host tests: Linux network namespaces on one machine, each with its own address, joined by a
 * bridge that lives in a namespace of its own (nothing of the machine's own network is touched). Some hosts sit
 * behind NAT: a router namespace between the bridge and the host masquerades the host's traffic with iptables and
 * lets in only replies, as a home router does.
 *
 * Addresses are taken from 198.18.0.0/15, the range set aside for testing network equipment (RFC 2544): the public
 * side is 198.18.0.0/24, each NAT's private side 198.19.<n>.0/24. Every name carries the test's pid, so that two
 * runs at once never collide, and `removeStale` clears what a killed run left behind.
 */

/** Namespace and interface names start with this and the owning process's pid. */
export const TESTBED_PREFIX = 'cs'

export interface HostInfo {
  name: string
  /** The network namespace the host's processes run in. */
  ns: string
  /** Its own address (a private one behind NAT). */
  ip: string
  /** The address others see: its own, or its NAT's public one. */
  publicIp: string
  behindNat: boolean
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

function run(command: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  const started = performance.now()
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const failure = err as (Error & { code?: unknown }) | null
        resolve({
          code: failure == null ? 0 : typeof failure.code === 'number' ? failure.code : null,
          stdout,
          stderr,
          ms: Math.round(performance.now() - started),
        })
      },
    )
  })
}

async function must(command: string, ...args: string[]): Promise<string> {
  const result = await run(command, args)
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`)
  return result.stdout
}

/** Why multi-host tests cannot run here, or null when they can (root, iproute2, iptables). */
export async function testbedUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'multi-host tests need root (network namespaces); CI runs them as root'
  for (const tool of ['ip', 'iptables']) {
    const found = await run('sh', ['-c', `command -v ${tool}`])
    if (found.code !== 0) return `multi-host tests need ${tool} (apt-get install -y iproute2 iptables)`
  }
  return null
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Delete namespaces left by test runs whose process is gone (a run killed before its cleanup). */
export async function removeStale(): Promise<string[]> {
  const removed: string[] = []
  const list = await must('ip', 'netns', 'list')
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? ''
    const match = new RegExp(`^${TESTBED_PREFIX}(\\d+)-`).exec(name)
    if (match == null || isAlive(Number(match[1]))) continue
    await run('ip', ['netns', 'delete', name])
    removed.push(name)
  }
  return removed
}

export class Testbed {
  readonly hosts = new Map<string, HostInfo>()
  readonly #prefix = `${TESTBED_PREFIX}${process.pid}`
  readonly #namespaces: string[] = []
  readonly #bridgePort = new Map<string, string>()
  readonly #processes = new Set<ChildProcess>()

  get wan(): string {
    return `${this.#prefix}-wan`
  }

  /** Create the bridge, the public hosts and the hosts behind NAT (each with its router). */
  static async create(publicHosts: string[], natHosts: string[]): Promise<Testbed> {
    const bed = new Testbed()
    try {
      await bed.#addNamespace(bed.wan)
      await must('ip', '-n', bed.wan, 'link', 'add', 'br0', 'type', 'bridge')
      await must('ip', '-n', bed.wan, 'link', 'set', 'br0', 'up')
      let octet = 1
      for (const name of publicHosts) {
        const ns = `${bed.#prefix}-${name}`
        const ip = `198.18.0.${octet}`
        await bed.#addNamespace(ns)
        await bed.#plugIntoBridge(ns, 'eth0', `p${octet}`, `${ip}/24`)
        bed.#bridgePort.set(name, `p${octet}`)
        bed.hosts.set(name, { name, ns, ip, publicIp: ip, behindNat: false })
        octet++
      }
      let lan = 1
      for (const name of natHosts) {
        const router = `${bed.#prefix}-nat${lan}`
        const ns = `${bed.#prefix}-${name}`
        const publicIp = `198.18.0.${100 + lan}`
        const ip = `198.19.${lan}.2`
        await bed.#addNamespace(router)
        await bed.#addNamespace(ns)
        await bed.#plugIntoBridge(router, 'wan0', `n${lan}`, `${publicIp}/24`)
        bed.#bridgePort.set(name, `n${lan}`)
        await must('ip', '-n', router, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
        await must('ip', '-n', router, 'addr', 'add', `198.19.${lan}.1/24`, 'dev', 'lan0')
        await must('ip', '-n', router, 'link', 'set', 'lan0', 'up')
        await must('ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0')
        await must('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
        await must('ip', '-n', ns, 'route', 'add', 'default', 'via', `198.19.${lan}.1`)
        const inRouter = (...args: string[]) => must('ip', 'netns', 'exec', router, ...args)
        // /proc/sys/net is per namespace: this turns forwarding on in the router only.
        await inRouter('sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward')
        await inRouter('iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan0', '-j', 'MASQUERADE')
        await inRouter('iptables', '-A', 'FORWARD', '-i', 'lan0', '-o', 'wan0', '-j', 'ACCEPT')
        await inRouter(
          'iptables',
          '-A',
          'FORWARD',
          '-i',
          'wan0',
          '-o',
          'lan0',
          '-m',
          'conntrack',
          '--ctstate',
          'RELATED,ESTABLISHED',
          '-j',
          'ACCEPT',
        )
        await inRouter('iptables', '-A', 'FORWARD', '-i', 'wan0', '-o', 'lan0', '-j', 'DROP')
        bed.hosts.set(name, { name, ns, ip, publicIp, behindNat: true })
        lan++
      }
      return bed
    } catch (err) {
      await bed.destroy()
      throw err
    }
  }

  async #addNamespace(ns: string): Promise<void> {
    await must('ip', 'netns', 'add', ns)
    this.#namespaces.push(ns)
    await must('ip', '-n', ns, 'link', 'set', 'lo', 'up')
  }

  async #plugIntoBridge(ns: string, inside: string, port: string, cidr: string): Promise<void> {
    await must('ip', '-n', ns, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', port, 'netns', this.wan)
    await must('ip', '-n', this.wan, 'link', 'set', port, 'master', 'br0')
    await must('ip', '-n', this.wan, 'link', 'set', port, 'up')
    await must('ip', '-n', ns, 'addr', 'add', cidr, 'dev', inside)
    await must('ip', '-n', ns, 'link', 'set', inside, 'up')
  }

  host(name: string): HostInfo {
    const host = this.hosts.get(name)
    if (host == null) throw new Error(`no host ${name}`)
    return host
  }

  /** Cut a host (or its NAT router) off the bridge, as a pulled cable or a dead uplink would. */
  async linkDown(name: string): Promise<void> {
    await must('ip', '-n', this.wan, 'link', 'set', this.#bridgePort.get(name)!, 'down')
  }

  async linkUp(name: string): Promise<void> {
    await must('ip', '-n', this.wan, 'link', 'set', this.#bridgePort.get(name)!, 'up')
  }

  /** Run a shell script on a host; never rejects. */
  exec(name: string, script: string, env: Record<string, string>, timeoutMs = 120_000): Promise<RunResult> {
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`)
    return run(
      'ip',
      ['netns', 'exec', this.host(name).ns, 'env', ...assignments, 'bash', '-euo', 'pipefail', '-c', script],
      timeoutMs,
    )
  }

  /** Start a long-running command on a host (a daemon); the testbed kills it on destroy if it still runs. */
  spawn(name: string, script: string, env: Record<string, string>): ChildProcess {
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`)
    const child = spawn(
      'ip',
      ['netns', 'exec', this.host(name).ns, 'env', ...assignments, 'bash', '-euo', 'pipefail', '-c', `exec ${script}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    this.#processes.add(child)
    child.once('exit', () => this.#processes.delete(child))
    return child
  }

  /** Kill every process still running and delete every namespace (and so every interface and NAT rule). */
  async destroy(): Promise<void> {
    for (const child of this.#processes) child.kill('SIGKILL')
    await Promise.all([...this.#processes].map((child) => new Promise((resolve) => child.once('exit', resolve)))).catch(
      () => {},
    )
    for (const ns of this.#namespaces.reverse()) await run('ip', ['netns', 'delete', ns])
    this.#namespaces.length = 0
  }
}
