import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { isError } from '../../../protocols/errors.ts'
import { type ErnIssue, ErnValidationError } from '../../../roles/production/ddex/index.ts'
import { fixturePath } from '../../fixtures.ts'

/** Reads a DDEX fixture in place. */
export function readDdexFixture(name: string): string {
  return readFileSync(fixturePath('ddex', name), 'utf8')
}

/** Counts opening tags `<Name>` / `<Name attr...>` in raw XML text, independently of the parser under test. */
export function countTags(xml: string, name: string): number {
  return xml.match(new RegExp(`<${name}[\\s>]`, 'g'))?.length ?? 0
}

/** Texts of simple elements `<Name ...>text</Name>` in document order, read with a regular expression. */
export function tagTexts(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}(?:\\s[^>]*)?>([^<]*)</${name}>`, 'g'))].map((m) => m[1]!.trim())
}

/** Runs `fn`, asserts it throws `ErnValidationError`, and returns its issues. */
export function issuesOf(fn: () => unknown): ErnIssue[] {
  try {
    fn()
  } catch (err) {
    assert.equal((err as Error).name, 'ErnValidationError', (err as Error).message)
    assert.ok(isError(err, ErnValidationError))
    return err.issues
  }
  assert.fail('expected ErnValidationError')
}

/** Finds the issue at `path`, failing with the list of paths found when there is none. */
export function issueAt(issues: ErnIssue[], path: string): ErnIssue {
  const issue = issues.find((i) => i.path === path)
  assert.ok(issue, `no issue at ${path}; issues at:\n${issues.map((i) => i.path).join('\n')}`)
  return issue
}
