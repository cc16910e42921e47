/**
 * The DDEX DSR flat-file records Consort writes: the Basic Audio Profile (multi-record-block variant) as DSR Part 1
 * (architecture) and Part 8 (record type definitions) define them. Each record is one line of tab-separated cells;
 * the first cell names the record type, and every record of a type has exactly the cells listed here, in this order
 * (empty where Consort has nothing to say). The cell names are the standard's; which of them Consort fills and
 * from what is documented in docs/decisions/0510-clearinghouse-dsr-basic-audio-profile.md.
 */

/** `HEAD` MessageVersion: `dsrf/<Part 1 version>/<allowed-value-set version>/<Part 8 version>`. */
export const DSR_MESSAGE_VERSION = 'dsrf/1.4/6/1.5'
export const DSR_PROFILE = 'BasicAudioProfile'
/** The Basic Audio Profile version whose record versions are the ones below (SY01.03, RE01.03, AS01.03, SU01.03, SU02.03). */
export const DSR_PROFILE_VERSION = '1.4'

export const DSR_CELLS = {
  HEAD: [
    'RecordType',
    'MessageVersion',
    'Profile',
    'ProfileVersion',
    'MessageId',
    'MessageCreatedDateTime',
    'FileNumber',
    'NumberOfFiles',
    'UsageStartDate',
    'UsageEndDate',
    'SenderPartyId',
    'SenderName',
    'ServiceDescription',
    'RecipientPartyId',
    'RecipientName',
    'RepresentedRepertoire',
  ],
  'SY01.03': [
    'RecordType',
    'SummaryRecordId',
    'DistributionChannel',
    'DistributionChannelDPID',
    'CommercialModelType',
    'UseType',
    'Territory',
    'ServiceDescription',
    'TotalUsages',
    'Subscribers',
    'CurrencyOfReporting',
    'NetRevenue',
    'IndirectValue',
    'CurrencyOfTransaction',
    'ExchangeRate',
    'ExchangeRateSource',
    'DateOfCurrencyExchange',
    'TotalPlaybackDuration',
  ],
  'RE01.03': [
    'RecordType',
    'BlockId',
    'ReleaseReference',
    'DspReleaseId',
    'ProprietaryReleaseId',
    'ReleaseCatalogNumber',
    'ReleaseIcpn',
    'ReleaseDisplayArtistName',
    'ReleaseDisplayArtistPartyId',
    'ReleaseTitle',
    'ReleaseSubTitle',
    'ReleaseType',
    'ReleaseLabelName',
    'ReleasePLine',
    'ReleaseDataProviderName',
    'ReleaseDate',
    'ReleaseDisplayArtist',
  ],
  'AS01.03': [
    'RecordType',
    'BlockId',
    'ResourceReference',
    'DspResourceId',
    'ResourceIsrc',
    'ResourceTitle',
    'ResourceSubTitle',
    'ResourceDisplayArtistName',
    'ResourceDisplayArtistPartyId',
    'ResourceDuration',
    'ResourceType',
    'IsMasterRecording',
    'IsSubjectToOwnershipConflict',
    'LastConflictCheck',
    'ResourceDisplayArtist',
  ],
  RE02: ['RecordType', 'BlockId', 'ReleaseReference', 'DspSubReleaseId', 'ProprietarySubReleaseId', 'UsedResources'],
  'SU01.03': [
    'RecordType',
    'BlockId',
    'SummaryRecordId',
    'SalesTransactionId',
    'TransactedReleaseReference',
    'TransactedResourceReference',
    'IsRoyaltyBearing',
    'SalesUpgrade',
    'Usages',
    'Returns',
    'PriceEndUserPaidExcSalesTax',
    'PromotionalActivity',
    'UseType',
  ],
  'SU02.03': [
    'RecordType',
    'BlockId',
    'SummaryRecordId',
    'SalesTransactionId',
    'TransactedReleaseReference',
    'TransactedResourceReference',
    'IsRoyaltyBearing',
    'NumberOfStreams',
    'PriceEndUserPaidExcSalesTax',
    'PromotionalActivity',
    'UseType',
    'PlaybackDuration',
  ],
  FOOT: [
    'RecordType',
    'NumberOfLinesInFile',
    'NumberOfLinesInReport',
    'NumberOfSummaryRecords',
    'NumberOfBlocksInFile',
    'NumberOfBlocksInReport',
  ],
} as const

export type DsrRecordType = keyof typeof DSR_CELLS

/** Use types of downloads: their sales go in `SU01.03`, every other use type's usage in `SU02.03`. */
export const DOWNLOAD_USE_TYPES: ReadonlySet<string> = new Set([
  'PermanentDownload',
  'ConditionalDownload',
  'TetheredDownload',
])

/** Consort's commercial models (contracts) as DDEX `CommercialModelType` values. */
export const DDEX_COMMERCIAL_MODEL = {
  'pay-as-you-go': 'PayAsYouGoModel',
  subscription: 'SubscriptionModel',
  'ad-supported': 'AdvertisementSupportedModel',
  free: 'FreeOfChargeModel',
} as const

/** Cells that may hold several values separated by `|` (Part 8's "Multiple …" data types); every other holds one. */
export const DSR_MULTI_VALUED: Readonly<Partial<Record<DsrRecordType, readonly string[]>>> = {
  HEAD: ['RepresentedRepertoire'],
  'RE01.03': ['ProprietaryReleaseId', 'ReleaseDisplayArtistPartyId', 'ReleaseDisplayArtist'],
  'AS01.03': ['ResourceIsrc', 'ResourceDisplayArtistPartyId', 'ResourceDisplayArtist'],
  RE02: ['ProprietarySubReleaseId', 'UsedResources'],
}
