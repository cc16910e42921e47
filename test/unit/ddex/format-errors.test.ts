import assert from 'node:assert/strict'
import { isError } from '../../../protocols/errors.ts'
import {
  ErnFormatError,
  type ErnFormatReason,
  MAX_ERN_MESSAGE_BYTES,
  parseErn,
  readErn,
} from '../../../roles/production/ddex/index.ts'
import { issueAt, issuesOf, readDdexFixture } from './helpers.ts'

function refusedAs(input: unknown, reason: ErnFormatReason): ErnFormatError {
  try {
    parseErn(input as string)
  } catch (err) {
    assert.equal((err as Error).name, 'ErnFormatError', (err as Error).message)
    assert.ok(isError(err, ErnFormatError))
    assert.equal(err.reason, reason, err.message)
    assert.equal(err.code, 'ERR_ERN_FORMAT')
    return err
  }
  assert.fail(`expected ErnFormatError (${reason})`)
}

describe('ERN: inputs that are not ERN messages', () => {
  let ern382: string
  let ern43: string
  before(() => {
    ern382 = readDdexFixture('ern382-choreography-1-new-release.xml')
    ern43 = readDdexFixture('ern43-classical.xml')
  })

  it('refuses text that is not XML', () => {
    refusedAs('', 'not-xml')
    refusedAs('hello', 'not-xml')
    refusedAs('{"messageType":"NewReleaseMessage"}', 'not-xml')
    refusedAs('<a><b></a>', 'not-xml')
    refusedAs('<a/><b/>', 'not-xml')
    const truncated = refusedAs(ern382.slice(0, 1000), 'not-xml')
    assert.match(truncated.message, /line \d+, column \d+/)
  })

  it('says where a file cut short ends and which elements it leaves open (regression: "line 1, column 1")', () => {
    /** Line and column just past the end of `text`, counted here independently of the parser. */
    const endOf = (text: string) => {
      const lines = text.split('\n')
      return `line ${lines.length}, column ${lines.at(-1)!.length + 1}`
    }
    // Cut right after a closing tag: every element from the root down is still open.
    const afterTag = ern43.slice(0, ern43.indexOf('</ResourceList>'))
    const open = refusedAs(afterTag, 'not-xml').message
    assert.ok(open.includes(`the document ends at ${endOf(afterTag)}`), open)
    assert.match(open, /2 elements still open \(NewReleaseMessage > ResourceList\): cut short\?/)
    assert.doesNotMatch(open, /line 1, column 1\b/)
    // Cut inside a tag or an attribute value: the validator's position, then where the document ends.
    for (const cut of [ern43.indexOf('</DealList>') + 6, ern43.indexOf('LanguageAndScriptCode="') + 25]) {
      const text = ern43.slice(0, cut)
      const message = refusedAs(text, 'not-xml').message
      assert.ok(message.includes(`the document ends at ${endOf(text)} inside a tag: cut short?`), message)
    }
    // A mismatched tag in a whole file is not called a cut.
    const mismatched = refusedAs(ern43.replace('</TitleText>', '</Title>'), 'not-xml').message
    assert.match(mismatched, /^not well-formed XML at line \d+, column \d+: Expected closing tag 'TitleText'/)
    assert.doesNotMatch(mismatched, /cut short/)
  })

  it('refuses document type declarations (no entity expansion)', () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>${ern382.slice(ern382.indexOf('<ern:'))}`
    refusedAs(bomb, 'not-xml')
  })

  it('refuses element names that could pollute prototypes, and absurd nesting', () => {
    const root = (inner: string) =>
      `<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43">${inner}</ern:NewReleaseMessage>`
    refusedAs(root('<__proto__><x>1</x></__proto__>'), 'not-xml')
    refusedAs(root('<constructor/>'), 'not-xml')
    refusedAs(root(`${'<a>'.repeat(80)}${'</a>'.repeat(80)}`), 'not-xml')
  })

  it('refuses XML that is not ERN', () => {
    refusedAs('<html><body>hi</body></html>', 'not-ern')
    refusedAs('<x:NewReleaseMessage xmlns:x="urn:example:other"/>', 'not-ern')
    refusedAs('<NewReleaseMessage MessageSchemaVersionId="dsr/30"/>', 'not-ern')
  })

  it('refuses ERN versions and message types it does not read', () => {
    const ern37 = ern382.replaceAll('ern/382', 'ern/37')
    assert.match(refusedAs(ern37, 'unsupported-version').message, /37/)
    refusedAs(ern43.replaceAll('ddex.net/xml/ern/43', 'ddex.net/xml/ern/44'), 'unsupported-version')
    const catalogList =
      '<ern:CatalogListMessage xmlns:ern="http://ddex.net/xml/ern/382" MessageSchemaVersionId="ern/382"/>'
    refusedAs(catalogList, 'unsupported-message-type')
  })

  it('refuses oversized input before parsing it, and non-strings', () => {
    refusedAs(`<a>${' '.repeat(MAX_ERN_MESSAGE_BYTES)}</a>`, 'too-large')
    // Multi-byte characters count in bytes, not characters.
    refusedAs(`<a>${'é'.repeat(MAX_ERN_MESSAGE_BYTES / 2 + 1)}</a>`, 'too-large')
    refusedAs(Buffer.from(ern382), 'not-a-string')
    refusedAs(undefined, 'not-a-string')
  })

  it('reads a root in the default namespace and a byte-order mark like a prefixed root', () => {
    const unprefixed = ern43
      .replace('<ern:NewReleaseMessage xmlns:ern=', '<NewReleaseMessage xmlns=')
      .replace('</ern:NewReleaseMessage>', '</NewReleaseMessage>')
    assert.notEqual(unprefixed, ern43)
    const a = parseErn(`\ufeff${unprefixed}`)
    const b = parseErn(ern43)
    assert.equal(a.ernVersion, '4.3')
    assert.deepEqual(a.soundRecordings, b.soundRecordings)
  })

  it('reads the version from MessageSchemaVersionId when the namespace is missing, and flags contradictions', () => {
    const noNamespace = ern382
      .replace(/<ern:NewReleaseMessage[^>]*>/, '<NewReleaseMessage MessageSchemaVersionId="ern/382">')
      .replace('</ern:NewReleaseMessage>', '</NewReleaseMessage>')
    assert.equal(parseErn(noNamespace).ernVersion, '3.8.2')
    const contradiction = ern382.replace('MessageSchemaVersionId="ern/382"', 'MessageSchemaVersionId="ern/381"')
    const issue = issueAt(parseErn(contradiction).warnings, '/NewReleaseMessage/@MessageSchemaVersionId')
    assert.equal(issue.code, 'version')
    assert.equal(issue.severity, 'warning')
  })

  it('refuses a message without its creation time and warns about a missing MessageId, naming each', () => {
    const headless = ern382
      .replace(/<MessageId>[^<]*<\/MessageId>/, '')
      .replace(/<MessageCreatedDateTime>[^<]*<\/MessageCreatedDateTime>/, '')
    const issues = readErn(headless).issues.filter((i) => i.code === 'required')
    assert.deepEqual(issues.map((i) => [i.path, i.code, i.severity]).sort(), [
      ['/NewReleaseMessage/MessageHeader/MessageCreatedDateTime', 'required', 'error'],
      ['/NewReleaseMessage/MessageHeader/MessageId', 'required', 'warning'],
    ])
    assert.deepEqual(
      issuesOf(() => parseErn(headless)).map((i) => i.path),
      ['/NewReleaseMessage/MessageHeader/MessageCreatedDateTime'],
    )
  })
})
