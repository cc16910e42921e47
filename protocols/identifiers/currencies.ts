import { InvalidAmountError, InvalidCurrencyError } from './errors.ts'

/**
 * ISO 4217 list one: the active alphabetic codes and their minor-unit exponents (the number of decimal places of the
 * currency's minor unit), as published up to the ISO 4217 amendments of 2025. Left out on purpose: codes without a
 * minor unit (precious metals XAU/XAG/XPT/XPD, the SDR XDR, bond units XBA-XBD, XSU, XUA, testing XTS, no currency
 * XXX) and codes withdrawn from use (ANG replaced by XCG in 2025, BGN after Bulgaria joined the euro on 2026-01-01,
 * CUC in 2021, HRK in 2023, SLL by SLE, ZWL by ZWG in 2024). When ISO publishes an amendment, edit this table.
 */
export const ISO_4217_MINOR_UNITS = {
  AED: 2,
  AFN: 2,
  ALL: 2,
  AMD: 2,
  AOA: 2,
  ARS: 2,
  AUD: 2,
  AWG: 2,
  AZN: 2,
  BAM: 2,
  BBD: 2,
  BDT: 2,
  BHD: 3,
  BIF: 0,
  BMD: 2,
  BND: 2,
  BOB: 2,
  BOV: 2,
  BRL: 2,
  BSD: 2,
  BTN: 2,
  BWP: 2,
  BYN: 2,
  BZD: 2,
  CAD: 2,
  CDF: 2,
  CHE: 2,
  CHF: 2,
  CHW: 2,
  CLF: 4,
  CLP: 0,
  CNY: 2,
  COP: 2,
  COU: 2,
  CRC: 2,
  CUP: 2,
  CVE: 2,
  CZK: 2,
  DJF: 0,
  DKK: 2,
  DOP: 2,
  DZD: 2,
  EGP: 2,
  ERN: 2,
  ETB: 2,
  EUR: 2,
  FJD: 2,
  FKP: 2,
  GBP: 2,
  GEL: 2,
  GHS: 2,
  GIP: 2,
  GMD: 2,
  GNF: 0,
  GTQ: 2,
  GYD: 2,
  HKD: 2,
  HNL: 2,
  HTG: 2,
  HUF: 2,
  IDR: 2,
  ILS: 2,
  INR: 2,
  IQD: 3,
  IRR: 2,
  ISK: 0,
  JMD: 2,
  JOD: 3,
  JPY: 0,
  KES: 2,
  KGS: 2,
  KHR: 2,
  KMF: 0,
  KPW: 2,
  KRW: 0,
  KWD: 3,
  KYD: 2,
  KZT: 2,
  LAK: 2,
  LBP: 2,
  LKR: 2,
  LRD: 2,
  LSL: 2,
  LYD: 3,
  MAD: 2,
  MDL: 2,
  MGA: 2,
  MKD: 2,
  MMK: 2,
  MNT: 2,
  MOP: 2,
  MRU: 2,
  MUR: 2,
  MVR: 2,
  MWK: 2,
  MXN: 2,
  MXV: 2,
  MYR: 2,
  MZN: 2,
  NAD: 2,
  NGN: 2,
  NIO: 2,
  NOK: 2,
  NPR: 2,
  NZD: 2,
  OMR: 3,
  PAB: 2,
  PEN: 2,
  PGK: 2,
  PHP: 2,
  PKR: 2,
  PLN: 2,
  PYG: 0,
  QAR: 2,
  RON: 2,
  RSD: 2,
  RUB: 2,
  RWF: 0,
  SAR: 2,
  SBD: 2,
  SCR: 2,
  SDG: 2,
  SEK: 2,
  SGD: 2,
  SHP: 2,
  SLE: 2,
  SOS: 2,
  SRD: 2,
  SSP: 2,
  STN: 2,
  SVC: 2,
  SYP: 2,
  SZL: 2,
  THB: 2,
  TJS: 2,
  TMT: 2,
  TND: 3,
  TOP: 2,
  TRY: 2,
  TTD: 2,
  TWD: 2,
  TZS: 2,
  UAH: 2,
  UGX: 0,
  USD: 2,
  USN: 2,
  UYI: 0,
  UYU: 2,
  UYW: 4,
  UZS: 2,
  VED: 2,
  VES: 2,
  VND: 0,
  VUV: 0,
  WST: 2,
  XAF: 0,
  XCD: 2,
  XCG: 2,
  XOF: 0,
  XPF: 0,
  YER: 2,
  ZAR: 2,
  ZMW: 2,
  ZWG: 2,
} as const

export type CurrencyCode = keyof typeof ISO_4217_MINOR_UNITS

/** Every active code in the table, sorted. */
export const CURRENCY_CODES: readonly CurrencyCode[] = Object.freeze(
  Object.keys(ISO_4217_MINOR_UNITS).sort() as CurrencyCode[],
)

/**
 * The largest amount accepted, in major units: 10^15 - 1. No price, royalty or ledger total comes near it, and
 * the bound keeps hostile input from building huge bigints.
 */
export const MAX_AMOUNT_INTEGER_DIGITS = 15

/** True when `s` is an active ISO 4217 code (upper case) in the table. */
export function isCurrency(s: string): s is CurrencyCode {
  return Object.hasOwn(ISO_4217_MINOR_UNITS, s)
}

/** The number of decimal places of the currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD). */
export function minorUnits(code: string): number {
  if (!isCurrency(code)) throw new InvalidCurrencyError(code)
  return ISO_4217_MINOR_UNITS[code]
}

const DECIMAL = /^([0-9]+)(?:\.([0-9]+))?$/

/**
 * Parses a non-negative decimal amount written as in DDEX messages and price lists (`0.99`, `12`, `1.5`) into
 * integer minor units of `currency` (`0.99` EUR -> 99n, `500` JPY -> 500n). Refused with `InvalidAmountError`:
 * a sign, exponent notation, separators, white space, a missing integer or fraction part (`.5`, `1.`), more decimal
 * places than the currency has (even trailing zeros: `0.990` EUR), or more than `MAX_AMOUNT_INTEGER_DIGITS` digits
 * before the point. An unknown currency throws `InvalidCurrencyError`.
 */
export function parseDecimalAmount(amount: string, currency: string): bigint {
  const exponent = minorUnits(currency)
  if (amount.startsWith('-')) throw new InvalidAmountError(amount, currency, 'negative amounts are not accepted')
  const parts = DECIMAL.exec(amount)
  if (parts === null) {
    throw new InvalidAmountError(amount, currency, 'expected digits with an optional decimal point and fraction')
  }
  const whole = parts[1]!.replace(/^0+(?=[0-9])/, '')
  const fraction = parts[2] ?? ''
  if (whole.length > MAX_AMOUNT_INTEGER_DIGITS) {
    throw new InvalidAmountError(amount, currency, `more than ${MAX_AMOUNT_INTEGER_DIGITS} digits before the point`)
  }
  if (fraction.length > exponent) {
    throw new InvalidAmountError(
      amount,
      currency,
      exponent === 0 ? `${currency} has no minor unit` : `${currency} has only ${exponent} decimal places`,
    )
  }
  return BigInt(whole + fraction.padEnd(exponent, '0'))
}

/**
 * Writes integer minor units as a decimal amount with exactly the currency's number of decimal places
 * (`99n` EUR -> `0.99`, `500n` JPY -> `500`, `-150n` EUR -> `-1.50`). Inverse of `parseDecimalAmount` for
 * non-negative amounts.
 */
export function formatMinorUnits(amount: bigint, currency: string): string {
  const exponent = minorUnits(currency)
  const negative = amount < 0n
  const digits = (negative ? -amount : amount).toString().padStart(exponent + 1, '0')
  const whole = digits.slice(0, digits.length - exponent)
  const text = exponent === 0 ? whole : `${whole}.${digits.slice(digits.length - exponent)}`
  return negative ? `-${text}` : text
}
