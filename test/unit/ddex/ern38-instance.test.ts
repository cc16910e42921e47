import assert from 'node:assert/strict'
import { type ErnIssue, parseErn, readErn } from '../../../roles/production/ddex/index.ts'
import { issueAt, issuesOf, readDdexFixture } from './helpers.ts'

const SR = '/NewReleaseMessage/ResourceList/SoundRecording[1]'
const RELEASE = '/NewReleaseMessage/ReleaseList/Release[1]'
const DEAL = '/NewReleaseMessage/DealList/ReleaseDeal[1]/Deal[1]/DealTerms'

describe('ERN 3.8 schema-generated nonsense (ern38-instance.xml)', () => {
  let xml: string
  let issues: ErnIssue[]
  before(() => {
    xml = readDdexFixture('ern38-instance.xml')
    issues = issuesOf(() => parseErn(xml, { strict: true }))
  })

  it('is recognised as ERN 3.8 and refused field by field, not at the first error', () => {
    assert.ok(issues.length >= 15, `only ${issues.length} issues`)
    assert.equal(new Set(issues.map((i) => i.path)).size, issues.length, 'one issue per field')
    for (const issue of issues) {
      assert.ok(issue.path.startsWith('/NewReleaseMessage/'), issue.path)
      assert.ok(issue.message.length > 10)
    }
  })

  it('names the bad identifiers', () => {
    assert.equal(issueAt(issues, `${SR}/SoundRecordingId/ISRC`).value, 'dFJ')
    assert.equal(issueAt(issues, `${SR}/SoundRecordingId/ISRC`).code, 'isrc')
    assert.equal(issueAt(issues, `${RELEASE}/ReleaseId/GRid`).value, 'gcAOAYWyb_')
    assert.equal(issueAt(issues, `${RELEASE}/ReleaseId/ICPN`).value, 'r')
    assert.equal(issueAt(issues, `${RELEASE}/ReleaseId/ISRC`).value, 'U90T9LCnjsVR847')
  })

  it('names the durations with years and months and the impossible dates', () => {
    assert.equal(issueAt(issues, `${SR}/Duration`).value, 'P2Y1M4DT1H10M0S')
    assert.equal(issueAt(issues, `${SR}/Duration`).code, 'duration')
    assert.equal(issueAt(issues, `${RELEASE}/Duration`).value, 'P6Y4M1DT1H10M0S')
    assert.equal(issueAt(issues, `${RELEASE}/GlobalReleaseDate`).value, '5686-70')
    assert.equal(issueAt(issues, `${RELEASE}/ReleaseDetailsByTerritory/OriginalReleaseDate`).value, '4752-22')
    const preview = `${SR}/SoundRecordingDetailsByTerritory/TechnicalSoundRecordingDetails/PreviewDetails`
    assert.equal(issueAt(issues, `${preview}/StartPoint`).value, '-775807746.713')
    assert.equal(issueAt(issues, `${preview}/Duration`).value, 'P2Y0M1DT1H10M0S')
  })

  it('names territories that are numeric or in the TIS scheme', () => {
    assert.equal(issueAt(issues, `${RELEASE}/ReleaseDetailsByTerritory/ExcludedTerritoryCode[1]`).value, '434')
    assert.equal(issueAt(issues, `${DEAL}/ExcludedTerritoryCode[1]/@IdentifierType`).value, 'TIS')
    assert.equal(
      issueAt(issues, `${SR}/SoundRecordingDetailsByTerritory/ExcludedTerritoryCode[1]/@IdentifierType`).code,
      'territory',
    )
  })

  it('names the negative and over-precise prices', () => {
    const wholesale = issueAt(issues, `${DEAL}/PriceInformation[1]/WholesalePricePerUnit`)
    assert.equal(wholesale.value, '-2018733618.998')
    assert.equal(wholesale.code, 'amount')
    const retail = issueAt(issues, `${DEAL}/PriceInformation[1]/SuggestedRetailPrice`)
    assert.equal(retail.value, '744976508.518')
    assert.match(retail.message, /CHF has only 2 decimal places/)
  })

  it('names the dangling references', () => {
    assert.equal(issueAt(issues, '/NewReleaseMessage/DealList/ReleaseDeal[1]/DealReleaseReference').value, 'R-')
    const item = `${RELEASE}/ReleaseDetailsByTerritory/ResourceGroup[1]/ResourceGroupContentItem[1]/ReleaseResourceReference`
    assert.equal(issueAt(issues, item).value, 'AU')
    assert.equal(issueAt(issues, item).code, 'reference')
  })

  it('grades each issue: identifiers, territories, prices and links are errors; display values are warnings', () => {
    const grades = Object.fromEntries(issues.map((i) => [i.path, i.severity]))
    assert.equal(grades[`${RELEASE}/ReleaseId/GRid`], 'warning')
    assert.equal(grades[`${RELEASE}/GlobalReleaseDate`], 'warning')
    assert.equal(grades[`${DEAL}/PriceInformation[1]/WholesalePricePerUnit`], 'error')
    assert.equal(grades['/NewReleaseMessage/DealList/ReleaseDeal[1]/DealReleaseReference'], 'error')
    const reading = readErn(xml)
    assert.deepEqual(reading.issues, issues, 'strict parsing refuses with the very issues readErn grades')
    const errorsOnly = issuesOf(() => parseErn(xml))
    assert.deepEqual(
      errorsOnly,
      issues.filter((i) => i.severity === 'error'),
    )
  })
})
