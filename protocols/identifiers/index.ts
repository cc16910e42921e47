/**
 * Identifiers of the music industry and the ISO codes Consort records carry: pure functions, no I/O.
 * See README.md for what each accepts and refuses.
 */
export {
  CONTENT_SCHEMES,
  type ContentScheme,
  canonicalContentId,
  canonicalIcpn,
  isCanonicalContentId,
  tryCanonicalContentId,
} from './content-id.ts'
export {
  CURRENCY_CODES,
  type CurrencyCode,
  formatMinorUnits,
  ISO_4217_MINOR_UNITS,
  isCurrency,
  MAX_AMOUNT_INTEGER_DIGITS,
  minorUnits,
  parseDecimalAmount,
} from './currencies.ts'
export { dpidOf, isDpid } from './dpid.ts'
export {
  InvalidAmountError,
  InvalidContentIdError,
  InvalidCurrencyError,
  InvalidDateError,
  InvalidDurationError,
  InvalidGridError,
  InvalidIcpnError,
  InvalidIsrcError,
  InvalidTerritoryError,
} from './errors.ts'
export { gridCheckCharacter, isGrid, normaliseGrid } from './grid.ts'
export { ICPN_LENGTHS, icpnCheckDigit, icpnKey, isIcpn } from './icpn.ts'
export {
  type DatePrecision,
  formatDuration,
  parseDate,
  parseDateOrDateTime,
  parseDateTime,
  parseDuration,
  parseReducedDate,
} from './iso8601.ts'
export { isIsrc, normaliseIsrc } from './isrc.ts'
export {
  COUNTRY_CODES,
  type CountryCode,
  expandTerritories,
  ISO_3166_ALPHA2,
  isCountryCode,
  isTerritory,
  type Territory,
  type TerritorySet,
  territoryCovers,
  territorySetWithin,
  WORLDWIDE,
} from './territories.ts'
