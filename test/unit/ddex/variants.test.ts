import assert from 'node:assert/strict'
import { isError } from '../../../protocols/errors.ts'
import {
  classifyErn,
  ErnValidationError,
  inspectErn,
  MAX_ERN_ISSUES,
  parseErn,
  readErn,
} from '../../../roles/production/ddex/index.ts'
import { issueAt, issuesOf, readDdexFixture } from './helpers.ts'

// Variants of the real fixtures, changed in memory to exercise what the fixtures themselves do not.
const DEAL3 = '/NewReleaseMessage/DealList/ReleaseDeal[1]/Deal[1]/DealTerms'

describe('ERN: prices, takedowns and validation on fixture variants', () => {
  let ern382: string
  let ern43: string
  before(() => {
    ern382 = readDdexFixture('ern382-choreography-1-new-release.xml')
    ern43 = readDdexFixture('ern43-classical.xml')
  })

  function withPrice(xml: string, price: string): string {
    const out = xml.replace(
      '</ValidityPeriod>',
      `</ValidityPeriod>\n<PriceInformation PriceType="WholesalePrice">${price}</PriceInformation>`,
    )
    assert.notEqual(out, xml)
    return out
  }

  describe('prices', () => {
    it('keeps the decimal string and its minor units', () => {
      const xml = withPrice(
        ern382,
        '<PriceRangeType>Front</PriceRangeType><WholesalePricePerUnit CurrencyCode="EUR">0.99</WholesalePricePerUnit><SuggestedRetailPrice CurrencyCode="EUR">1.29</SuggestedRetailPrice>',
      )
      const message = parseErn(xml)
      assert.deepEqual(message.deals[0]!.prices, [
        {
          currency: 'EUR',
          wholesale: '0.99',
          wholesaleMinorUnits: 99n,
          suggestedRetail: { currency: 'EUR', amount: '1.29', minorUnits: 129n },
          priceType: 'WholesalePrice',
          priceCode: 'Front',
        },
      ])
      assert.deepEqual(inspectErn(message).deals[0]!.prices, [{ currency: 'EUR', wholesale: '0.99' }])
      assert.doesNotThrow(() => JSON.stringify(inspectErn(message)))
    })

    it('keeps the amount exactly as written in the message', () => {
      const message = parseErn(
        withPrice(ern382, '<WholesalePricePerUnit CurrencyCode="USD">1.5</WholesalePricePerUnit>'),
      )
      assert.equal(message.deals[0]!.prices[0]!.wholesale, '1.5')
      assert.equal(message.deals[0]!.prices[0]!.wholesaleMinorUnits, 150n)
      const yen = parseErn(withPrice(ern382, '<WholesalePricePerUnit CurrencyCode="JPY">150</WholesalePricePerUnit>'))
      assert.equal(yen.deals[0]!.prices[0]!.wholesaleMinorUnits, 150n)
    })

    it('refuses fractions of a yen, unknown currencies and junk amounts, each at its path', () => {
      const yen = issuesOf(() =>
        parseErn(withPrice(ern382, '<WholesalePricePerUnit CurrencyCode="JPY">0.5</WholesalePricePerUnit>')),
      )
      assert.match(issueAt(yen, `${DEAL3}/PriceInformation[1]/WholesalePricePerUnit`).message, /JPY has no minor unit/)
      const unknown = issuesOf(() =>
        parseErn(withPrice(ern382, '<WholesalePricePerUnit CurrencyCode="XYZ">0.99</WholesalePricePerUnit>')),
      )
      assert.equal(
        issueAt(unknown, `${DEAL3}/PriceInformation[1]/WholesalePricePerUnit/@CurrencyCode`).code,
        'currency',
      )
      const junk = issuesOf(() =>
        parseErn(withPrice(ern382, '<WholesalePricePerUnit CurrencyCode="EUR">1e2</WholesalePricePerUnit>')),
      )
      assert.equal(issueAt(junk, `${DEAL3}/PriceInformation[1]/WholesalePricePerUnit`).code, 'amount')
    })
  })

  describe('several bad fields', () => {
    it('lists every one of them, not just the first', () => {
      const xml = ern382
        .replace('<ISRC>USRC12345678</ISRC>', '<ISRC>US-RC1-23-45678</ISRC>')
        .replace('<Duration>PT3M45S</Duration>', '<Duration>3:45</Duration>')
        .replace(
          '<TerritoryCode>Worldwide</TerritoryCode>\n          <ValidityPeriod>',
          '<TerritoryCode>XK</TerritoryCode>\n          <ValidityPeriod>',
        )
        .replace('<StartDate>2023-09-02</StartDate>', '<StartDate>2023-02-30</StartDate>')
        .replace('<DealReleaseReference>RL1</DealReleaseReference>', '<DealReleaseReference>RL9</DealReleaseReference>')
      const read = readErn(xml).issues.filter((i) => i.code !== 'grid')
      assert.deepEqual(read.map((i) => [i.path, i.code, i.value, i.severity]).sort(), [
        ['/NewReleaseMessage/DealList/ReleaseDeal[1]/DealReleaseReference', 'reference', 'RL9', 'error'],
        [`${DEAL3}/TerritoryCode[1]`, 'territory', 'XK', 'error'],
        [`${DEAL3}/ValidityPeriod/StartDate`, 'date', '2023-02-30', 'error'],
        ['/NewReleaseMessage/ResourceList/SoundRecording[1]/Duration', 'duration', '3:45', 'warning'],
        ['/NewReleaseMessage/ResourceList/SoundRecording[1]/SoundRecordingId/ISRC', 'isrc', 'US-RC1-23-45678', 'error'],
      ])
      assert.deepEqual(
        issuesOf(() => parseErn(xml)),
        read.filter((i) => i.severity === 'error'),
        'publishing is refused for the errors only',
      )
    })

    it('refuses a period that ends before it starts, and duplicate resource references', () => {
      const backwards = ern382.replace(
        '<StartDate>2023-09-02</StartDate>',
        '<StartDate>2023-09-02</StartDate><EndDate>2023-09-01</EndDate>',
      )
      assert.equal(
        issueAt(
          issuesOf(() => parseErn(backwards)),
          `${DEAL3}/ValidityPeriod/EndDate`,
        ).code,
        'period',
      )
      const duplicate = ern382.replace(
        '<ResourceReference>A2</ResourceReference>',
        '<ResourceReference>A1</ResourceReference>',
      )
      assert.equal(
        issueAt(
          issuesOf(() => parseErn(duplicate)),
          '/NewReleaseMessage/ResourceList/Image[1]/ResourceReference',
        ).code,
        'reference',
      )
    })

    it('keeps at most MAX_ERN_ISSUES issues and counts the rest', () => {
      const deal = '<Deal><DealTerms><TerritoryCode>XK</TerritoryCode></DealTerms></Deal>'
      const many = ern382.replace('<Deal>', `${deal.repeat(MAX_ERN_ISSUES + 200)}<Deal>`)
      try {
        parseErn(many)
        assert.fail('expected ErnValidationError')
      } catch (err) {
        assert.ok(isError(err, ErnValidationError))
        assert.equal(err.issues.length, MAX_ERN_ISSUES)
        assert.equal(err.omittedIssues, 200)
        assert.match(err.message, /1200 issues/)
        assert.ok(
          err.issues.every((i) => i.severity === 'error'),
          'the accepted GRid warning takes no place',
        )
      }
      const reading = readErn(many)
      assert.equal(reading.issues.length, MAX_ERN_ISSUES)
      assert.equal(reading.omittedIssues, 201, 'the GRid warning counts in a reading')
    })
  })

  describe('takedowns and updates', () => {
    it('ERN 3: TakeDown deals make a takedown, even of a release not seen before', () => {
      const xml = ern382.replace(/<Usage>[\s\S]*?<\/Usage>/, '<TakeDown>true</TakeDown>')
      const message = parseErn(xml)
      assert.equal(message.deals[0]!.takedown, true)
      assert.deepEqual(
        classifyErn(message, () => false).map((a) => a.action),
        ['takedown'],
      )
    })

    it('ERN 3: a takedown of some deals only is an update', () => {
      const taken = '<Deal><DealTerms><TakeDown>true</TakeDown><TerritoryCode>FR</TerritoryCode></DealTerms></Deal>'
      const message = parseErn(ern382.replace('<Deal>', `${taken}<Deal>`))
      assert.deepEqual(
        message.deals.map((d) => d.takedown),
        [true, false],
      )
      assert.deepEqual(
        classifyErn(message, () => true).map((a) => a.action),
        ['update'],
      )
    })

    it('ERN 3: UpdateIndicator UpdateMessage is an update even when the release is unknown', () => {
      const xml = ern382.replace(
        '</MessageHeader>',
        '</MessageHeader>\n<UpdateIndicator>UpdateMessage</UpdateIndicator>',
      )
      const message = parseErn(xml)
      assert.equal(message.updateIndicator, 'UpdateMessage')
      assert.deepEqual(
        classifyErn(message, () => false).map((a) => a.action),
        ['update'],
      )
    })

    it('ERN 4: a deal that ended before the message was created is a takedown deal', () => {
      const ended = ern43.replace(
        '<StartDate>2017-04-25</StartDate>',
        '<StartDate>2016-01-01</StartDate><EndDate>2017-01-31</EndDate>',
      )
      const message = parseErn(ended)
      assert.equal(message.deals[0]!.takedown, true)
      assert.equal(message.deals[0]!.periods[0]!.endMs, Date.UTC(2017, 1, 1), 'an end date counts its whole day')
      assert.deepEqual(inspectErn(message).deals[0]!.end, '2017-01-31')
      const actions = classifyErn(message, () => true)
      assert.deepEqual(
        actions.map((a) => [a.action, a.reference, a.keys]),
        [['takedown', 'R0', ['grid:A10302B0003989564F']]],
      )
      // A deal that ends in the future is not a takedown.
      const future = parseErn(
        ern43.replace(
          '<StartDate>2017-04-25</StartDate>',
          '<StartDate>2017-04-25</StartDate><EndDate>2030-01-01</EndDate>',
        ),
      )
      assert.equal(future.deals[0]!.takedown, false)
    })

    it('ERN 4: no deals at all takes down a release delivered before, and is new otherwise', () => {
      const noDeals = ern43.replace(/<DealList>[\s\S]*<\/DealList>/, '')
      const message = parseErn(noDeals)
      assert.equal(message.deals.length, 0)
      assert.deepEqual(
        classifyErn(message, (key) => key === 'grid:A10302B0003989564F').map((a) => a.action),
        ['takedown'],
      )
      assert.deepEqual(
        classifyErn(message, () => false).map((a) => a.action),
        ['new'],
      )
    })

    it('ERN 4: a re-sent release is an update, matched by any identifier', () => {
      const message = parseErn(ern43)
      assert.deepEqual(
        classifyErn(message, (key) => key === 'grid:A10302B0003989564F').map((a) => a.action),
        ['update'],
      )
    })
  })
})
