import assert from 'node:assert/strict'
import path from 'node:path'
import { parseRunbook, readRunbook } from '../../e2e/hosts/runbook.ts'
import { PROJECT_ROOT } from '../../helpers/cli.ts'

/**
 * The runbook in docs/operations.md is executed by test/e2e/hosts (as root). This checks, everywhere, that its marks
 * parse and that every step the multi-host test runs is there for every host it runs on.
 */
describe('the runbook (docs/operations.md)', () => {
  it('has a block for every step on every host the multi-host test runs it on', () => {
    const blocks = readRunbook(path.join(PROJECT_ROOT, 'docs', 'operations.md'))
    const hosts = ['registrar', 'reference', 'reference2', 'clearinghouse', 'label', 'shop', 'listener1', 'listener2']
    const wanted: Array<[string, string[]]> = [
      ['init', hosts],
      ['genesis', ['registrar']],
      ['join', hosts],
      ['daemon', hosts],
      ['register', ['label', 'shop']],
      ['approve', ['registrar']],
      ['certified', ['label', 'shop']],
      ['publish', ['label']],
      ['offers', ['shop']],
      ['listen', ['listener1', 'listener2']],
      ['settle', ['clearinghouse']],
    ]
    for (const [step, on] of wanted) {
      for (const host of on) {
        const found = blocks.filter((b) => b.step === step && (b.hosts.includes(host) || b.hosts.includes('all')))
        assert.equal(found.length, 1, `one ${step} block for ${host}`)
      }
    }
    assert.ok(blocks.find((b) => b.step === 'daemon')!.daemon, 'the daemon block is marked daemon')
    for (const block of blocks) assert.ok(!/--data-dir/.test(block.script), `${block.step}: uses $CONSORT_DATA_DIR`)
  })

  it('refuses a mark without its block and a malformed mark, naming the line', () => {
    assert.throws(() => parseRunbook('x\n<!-- runbook: a host=b -->\n\ntext\n', 'r.md'), /r\.md:2: .* not followed/)
    assert.throws(() => parseRunbook('<!-- runbook: a -->\n```sh\nx\n```\n', 'r.md'), /r\.md:1: malformed/)
    assert.throws(() => parseRunbook('<!-- runbook: a host=b -->\n```sh\nx\n', 'r.md'), /does not close/)
    assert.deepEqual(parseRunbook('<!-- runbook: a host=b,c daemon -->\n\n```sh\nrun\n```\n'), [
      { step: 'a', hosts: ['b', 'c'], daemon: true, script: 'run', line: 1 },
    ])
  })
})
