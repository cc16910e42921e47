import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { PROJECT_ROOT } from '../../helpers/cli.ts'

const run = promisify(execFile)
const UNIT = join(PROJECT_ROOT, 'deploy', 'systemd', 'consort@.service')
/** The unit's exposure as `systemd-analyze security` rates it (0 safest, 10 least safe; "OK" is below 2). */
const MAX_EXPOSURE = 2

/** The unit as installed, with /opt/consort pointing at this checkout so that the executable exists. */
async function installed(dir: string, text?: string): Promise<string> {
  const unit = (text ?? (await readFile(UNIT, 'utf8'))).replaceAll('/opt/consort', PROJECT_ROOT)
  const path = join(dir, 'consort@test.service')
  await writeFile(path, unit)
  return path
}

async function analyze(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('systemd-analyze', args, { timeout: 60_000 })
    return { code: 0, out: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, out: (e.stdout ?? '') + (e.stderr ?? '') }
  }
}

describe('systemd unit', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `consort-systemd-${process.pid}-`))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps its hardening: a dynamic user, a read-only system with only its data dir writable, no new privileges', async () => {
    const unit = await readFile(UNIT, 'utf8')
    for (const line of [
      'DynamicUser=yes',
      'StateDirectory=consort/%i',
      'ReadWritePaths=/var/lib/consort/%i',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'NoNewPrivileges=yes',
      'CapabilityBoundingSet=',
      'PrivateTmp=yes',
      'Restart=on-failure',
      'KillSignal=SIGTERM',
    ]) {
      assert.ok(unit.split('\n').includes(line), `${line} is in the unit`)
    }
    assert.match(unit, /^ExecStart=\/opt\/consort\/node_modules\/\.bin\/node \/opt\/consort\/bin\/consort\.ts daemon /m)
  })

  it('passes systemd-analyze verify and rates OK in systemd-analyze security', async function () {
    if (!existsSync('/usr/bin/systemd-analyze') && !existsSync('/bin/systemd-analyze')) this.skip()
    const verified = await analyze(['verify', await installed(dir)])
    assert.equal(verified.code, 0, verified.out)
    assert.equal(verified.out.trim(), '', verified.out)
    const security = await analyze(['security', '--offline=true', await installed(dir)])
    const exposure = /Overall exposure level for \S+: ([\d.]+)/.exec(security.out)
    assert.ok(exposure != null, security.out)
    assert.ok(Number(exposure[1]) <= MAX_EXPOSURE, `exposure ${exposure[1]}`)
  })

  it('the check can fail: a unit with a misspelt option or a missing program is refused', async function () {
    if (!existsSync('/usr/bin/systemd-analyze') && !existsSync('/bin/systemd-analyze')) this.skip()
    const unit = await readFile(UNIT, 'utf8')
    const misspelt = await analyze([
      'verify',
      await installed(dir, unit.replace('ProtectSystem=strict', 'ProtectSytem=strict')),
    ])
    assert.match(misspelt.out, /Unknown key( name)? 'ProtectSytem'/)
    const missing = await analyze([
      'verify',
      await installed(dir, unit.replaceAll('/.bin/node ', '/.bin/no-such-node ')),
    ])
    assert.match(missing.out, /no-such-node is not executable/)
  })
})
