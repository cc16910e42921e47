import assert from 'node:assert/strict'
import { Command } from 'commander'
import { buildProgram, COMMAND_MODULES } from '../../../cli/main.ts'

describe('CLI command table', () => {
  it('names exactly the top-level commands each module registers', async () => {
    for (const module of COMMAND_MODULES) {
      const program = new Command('consort')
      ;(await module.load())(program)
      const registered = program.commands.map((command) => command.name()).sort()
      assert.deepEqual(registered, [...module.commands].sort(), `module of ${module.commands.join(', ')}`)
    }
  })

  it('builds, for a command word, a program that has that command', async () => {
    for (const word of new Set(COMMAND_MODULES.flatMap((module) => module.commands))) {
      const program = await buildProgram(['node', 'consort', word, '--json'])
      assert.ok(
        program.commands.some((command) => command.name() === word),
        `consort ${word}`,
      )
    }
  })

  it('registers every command for help or an unknown word', async () => {
    const all = new Set(COMMAND_MODULES.flatMap((module) => module.commands))
    for (const argv of [
      ['node', 'consort'],
      ['node', 'consort', '--help'],
      ['node', 'consort', 'no-such-command'],
    ]) {
      const names = new Set((await buildProgram(argv)).commands.map((command) => command.name()))
      assert.deepEqual(names, all)
    }
  })

  it('registers the shared account command once, with the subcommands of both modules', async () => {
    const program = await buildProgram(['node', 'consort', 'account'])
    const accounts = program.commands.filter((command) => command.name() === 'account')
    assert.equal(accounts.length, 1)
    const subcommands = accounts[0]!.commands.map((command) => command.name())
    for (const name of ['fund', 'balance', 'export', 'import']) assert.ok(subcommands.includes(name), name)
  })
})
