import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNodeKeys } from '../../keys/keystore.ts'
import { type Daemon, startDaemon } from '../../node/daemon.ts'
import { initDataDir } from '../../node/init.ts'
import { createNetworkRecord } from '../../node/network-file.ts'
import { systemClock } from '../../protocols/clock.ts'
import { result } from '../lib/result.ts'
import { median, significant } from '../lib/stats.ts'
import type { BenchOptions, BenchResult } from '../lib/types.ts'

export const description =
  'wall time of `consort --version` and of one control-API command (`consort id`), run from the PATH, vs `node -e 0`'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** The Node the project pins, which the launcher runs: the baseline starts the same binary with nothing to do. */
const PINNED_NODE = join(ROOT, 'node_modules', 'node', 'bin', 'node')
const TARGET_VERSION_S = 0.5
const TARGET_CONTROL_S = 1.0

/**
 * Seconds of wall time for one run of `command`, found on `PATH` as a shell would find it. Asynchronous: the daemon
 * the command talks to runs in this process and must keep answering meanwhile.
 */
async function timed(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const start = process.hrtime.bigint()
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (status) => resolve(status))
  })
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.trim().slice(0, 500)}`)
  if (/EBADENGINE|Warning|npm warn/i.test(stderr)) {
    throw new Error(`${command} ${args.join(' ')} printed warnings: ${stderr.trim().slice(0, 500)}`)
  }
  return seconds
}

/**
 * As a user runs them: the launcher `bin/consort` linked as `consort` into a directory put first on the PATH (what
 * `npm link` or a symlink in ~/.local/bin does), run from a directory outside the project, against a daemon that
 * runs beside. Each figure is the median of its rounds; the rounds of the three commands alternate, so that a
 * burst of load elsewhere on the machine touches all three alike.
 */
export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const work = await mkdtemp(join(tmpdir(), `consort-bench-cli-${process.pid}-`))
  let daemon: Daemon | undefined
  try {
    const bin = join(work, 'bin')
    await mkdir(bin)
    await symlink(join(ROOT, 'bin', 'consort'), join(bin, 'consort'))
    // The user's PATH, not npm's: without node_modules/.bin (npm run puts the pinned Node there), with `consort`.
    const userPath = (process.env.PATH ?? '').split(':').filter((p) => !p.includes('node_modules'))
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: [bin, ...userPath].join(':') }

    const genesis = await createNodeKeys()
    const keys = await createNodeKeys()
    const network = createNetworkRecord(
      {
        name: 'bench-cli',
        created: systemClock.now(),
        registrars: [{ name: 'self', key: keys.signer.publicKey, sealingKey: keys.sealing.publicKey }],
      },
      genesis.signer,
    )
    const dataDir = join(work, 'node')
    await initDataDir(dataDir, { network, keys, listen: ['/ip4/127.0.0.1/tcp/0'] })
    daemon = await startDaemon(dataDir)
    options.log(`daemon on ${daemon.api.url}; ${options.rounds} rounds each`)

    // One warm-up of each, as a person's second command: Node's compile cache is filled by the first run.
    await timed(PINNED_NODE, ['-e', '0'], env, work)
    await timed('consort', ['--version'], env, work)
    await timed('consort', ['id', '--data-dir', dataDir], env, work)
    const baseline: number[] = []
    const version: number[] = []
    const control: number[] = []
    for (let round = 0; round < options.rounds; round++) {
      baseline.push(await timed(PINNED_NODE, ['-e', '0'], env, work))
      version.push(await timed('consort', ['--version'], env, work))
      control.push(await timed('consort', ['id', '--data-dir', dataDir], env, work))
    }
    const base = { name: 'node -e 0 (the pinned Node)', value: significant(median(baseline)) }
    options.log(`node -e 0 ${base.value} s, --version ${median(version)} s, id ${median(control)} s`)
    return [
      result({ metric: 'node_e_0_wall_s_p50', value: base.value, unit: 's' }),
      result({
        metric: 'consort_version_wall_s_p50',
        value: significant(median(version)),
        unit: 's',
        baseline: base,
        target: { op: '<=', value: TARGET_VERSION_S, of: 'value' },
      }),
      result({
        metric: 'consort_id_control_api_wall_s_p50',
        value: significant(median(control)),
        unit: 's',
        baseline: base,
        target: { op: '<=', value: TARGET_CONTROL_S, of: 'value' },
      }),
    ]
  } finally {
    await daemon?.stop()
    await rm(work, { recursive: true, force: true })
  }
}
