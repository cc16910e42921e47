/**
 * Errors of `protocols/identifiers/`: one class per condition a caller may handle. Each names the value that was
 * refused and why. Match them by `.name` or `.code` rather than by `instanceof`.
 */

/** Shows a refused value in a message without letting a huge or multi-line input flood a log line. */
export function quote(value: string): string {
  const shown = value.length > 64 ? `${value.slice(0, 61)}...` : value
  return JSON.stringify(shown)
}

/** A string is not an ISRC (ISO 3901: CC-XXX-YY-NNNNN). */
export class InvalidIsrcError extends Error {
  static override name = 'InvalidIsrcError'
  override name = InvalidIsrcError.name

  static readonly code = 'ERR_IDENTIFIERS_INVALID_ISRC'
  readonly code = InvalidIsrcError.code
  readonly value: string

  constructor(value: string, reason: string) {
    super(`ISRC ${quote(value)} is not valid: ${reason}`)
    this.value = value
  }
}

/** A string is not a UPC-A / EAN-13 / GTIN-14 product code with a correct check digit. */
export class InvalidIcpnError extends Error {
  static override name = 'InvalidIcpnError'
  override name = InvalidIcpnError.name

  static readonly code = 'ERR_IDENTIFIERS_INVALID_ICPN'
  readonly code = InvalidIcpnError.code
  readonly value: string

  constructor(value: string, reason: string) {
    super(`ICPN ${quote(value)} is not valid: ${reason}`)
    this.value = value
  }
}

/** A string is not a Global Release Identifier. */
export class InvalidGridError extends Error {
  static override name = 'InvalidGridError'
  override name = InvalidGridError.name

  static readonly code = 'ERR_IDENTIFIERS_INVALID_GRID'
  readonly code = InvalidGridError.code
  readonly value: string

  constructor(value: string, reason: string) {
    super(`GRid ${quote(value)} is not valid: ${reason}`)
    this.value = value
  }
}

/** A string is neither an ISO 3166-1 alpha-2 code nor `Worldwide`. */
export class InvalidTerritoryError extends Error {
  static override name = 'InvalidTerritoryError'
  override name = InvalidTerritoryError.name

  static readonly code = 'ERR_IDENTIFIERS_INVALID_TERRITORY'
  readonly code = InvalidTerritoryError.code
  readonly value: string

  constructor(value: string) {
    super(`territory ${quote(value)} is neither an ISO 3166-1 alpha-2 code nor Worldwide`)
    this.value = value
  }
}

/** A string is not an active ISO 4217 currency code. */
export class InvalidCurrencyError extends Error {
  static override name = 'InvalidCurrencyError'
  override name = InvalidCurrencyError.name

  static readonly code = 'ERR_IDENTIFIERS_INVALID_CURRENCY'
  readonly code = InvalidCurrencyError.code
  readonly value: string

  constructor(value: string) {
    super(`currency ${quote(value)} is not an active ISO 4217 code`)
    this.value = value
  }
}

/** A decimal amount is malformed, negative, too large or more precise than its currency allows. */
export class InvalidAmountError extends Error {
  static override name = 'InvalidAmountError'
  override name = InvalidAmountError.name

  static readonly code = 'ERR_IDENTIFIERS_INVALID_AMOUNT'
  readonly code = InvalidAmountError.code
  readonly value: string
  readonly currency: string

  constructor(value: string, currency: string, reason: string) {
    super(`amount ${quote(value)} ${currency} is not valid: ${reason}`)
    this.value = value
    this.currency = currency
  }
}

/** A string is not an ISO 8601 duration this project can turn into milliseconds. */
export class InvalidDurationError extends Error {
  static override name = 'InvalidDurationError'
  override name = InvalidDurationError.name

  static readonly code = 'ERR_IDENTIFIERS_INVALID_DURATION'
  readonly code = InvalidDurationError.code
  readonly value: string

  constructor(value: string, reason: string) {
    super(`duration ${quote(value)} is not valid: ${reason}`)
    this.value = value
  }
}

/** A string is not an ISO 8601 calendar date or a date-time with a zone. */
export class InvalidDateError extends Error {
  static override name = 'InvalidDateError'
  override name = InvalidDateError.name

  static readonly code = 'ERR_IDENTIFIERS_INVALID_DATE'
  readonly code = InvalidDateError.code
  readonly value: string

  constructor(value: string, reason: string) {
    super(`date ${quote(value)} is not valid: ${reason}`)
    this.value = value
  }
}

/** A string is not a content id (`isrc:…`, `icpn:…`, `grid:…`, or a bare ISRC, UPC/EAN or GRid). */
export class InvalidContentIdError extends Error {
  static override name = 'InvalidContentIdError'
  override name = InvalidContentIdError.name

  static readonly code = 'ERR_IDENTIFIERS_INVALID_CONTENT_ID'
  readonly code = InvalidContentIdError.code
  readonly value: string

  constructor(value: string, reason: string) {
    super(`content id ${quote(value)} is not valid: ${reason}`)
    this.value = value
  }
}
