import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { NotFoundError } from '@libp2p/interface'
import { HTTP_STATUS_OF_CODE, httpStatusOf } from '../../../protocols/http-status.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** The repository's TypeScript files under `folders`, tracked or new, with their text. */
function sources(...folders: string[]): Array<{ file: string; text: string }> {
  const listed = execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', ...folders],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  )
  return listed
    .split('\0')
    .filter((file) => file.endsWith('.ts'))
    .map((file) => ({ file, text: readFileSync(path.join(ROOT, file), 'utf8') }))
}

function lines(files: Array<{ file: string; text: string }>, pattern: RegExp): string[] {
  return files.flatMap(({ file, text }) =>
    text.split('\n').flatMap((line, i) => (pattern.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
  )
}

describe('one shape for roles and errors', () => {
  it('no error under roles/ carries an HTTP status: protocols/http-status.ts maps codes for the HTTP surfaces', () => {
    assert.deepEqual(lines(sources('roles'), /\bstatusCode\b/), [])
  })

  it('no caller downcasts a role taken from node.roles: node.role(name) is typed', () => {
    assert.deepEqual(lines(sources('.'), /\broles\.get\([^)]*\)\s*as\b|\bas\s+(unknown\s+as\s+)?\w+Role\b/), [])
  })

  it('maps only codes that some error carries', () => {
    const all = sources('roles', 'protocols', 'node', 'keys').map((s) => s.text)
    const unused = Object.keys(HTTP_STATUS_OF_CODE).filter(
      (code) => !all.some((text) => text.includes(`'${code}'`) && !text.includes('HTTP_STATUS_OF_CODE')),
    )
    assert.deepEqual(unused, [])
  })

  it("answers a status for any error: a library's statusCode, by its code, 409 for another code, else the fallback", () => {
    assert.equal(httpStatusOf(Object.assign(new Error('x'), { code: 'ERR_NOT_LOGGED_IN' })), 401)
    assert.equal(
      httpStatusOf(new NotFoundError('no such thing')),
      404,
      "a reused @libp2p/interface error, by its name's code",
    )
    assert.equal(
      httpStatusOf(Object.assign(new Error('x'), { status: 401 })),
      500,
      'an error carries no status of its own',
    )
    assert.equal(
      httpStatusOf(Object.assign(new Error('x'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' })),
      413,
    )
    assert.equal(httpStatusOf(Object.assign(new Error('x'), { code: 'ERR_NO_LICENCE' })), 403)
    assert.equal(httpStatusOf(Object.assign(new Error('x'), { code: 'ERR_SOMETHING_ELSE' })), 409)
    assert.equal(httpStatusOf(new Error('x')), 500)
    assert.equal(httpStatusOf(null, 502), 502)
  })
})
