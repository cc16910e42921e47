import { formatMinorUnits, minorUnits } from '../../protocols/identifiers/currencies.ts'

/**
 * A price as a listener reads it before paying: in money (`0.99 EUR`) and in words (`ninety-nine euro cents`), so
 * that a misplaced point or a currency one did not expect is seen before the charge (issue 11, finding 5). Names of
 * the currencies a listener most often pays in; any other is said as its code.
 */

const ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
]
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety']
const SCALES: Array<[bigint, string]> = [
  [1_000_000_000_000n, 'trillion'],
  [1_000_000_000n, 'billion'],
  [1_000_000n, 'million'],
  [1000n, 'thousand'],
]

/** A whole number in English words (`1234` → `one thousand two hundred thirty-four`). */
export function numberInWords(n: bigint): string {
  if (n < 0n) return `minus ${numberInWords(-n)}`
  if (n < 20n) return ONES[Number(n)]!
  if (n < 100n) {
    const tens = TENS[Number(n / 10n)]!
    return n % 10n === 0n ? tens : `${tens}-${ONES[Number(n % 10n)]}`
  }
  if (n < 1000n) {
    const rest = n % 100n
    return `${ONES[Number(n / 100n)]} hundred${rest === 0n ? '' : ` ${numberInWords(rest)}`}`
  }
  for (const [scale, name] of SCALES) {
    if (n >= scale) {
      const rest = n % scale
      return `${numberInWords(n / scale)} ${name}${rest === 0n ? '' : ` ${numberInWords(rest)}`}`
    }
  }
  return n.toString()
}

/** Major and minor unit names, singular and plural. */
const NAMES: Record<string, { major: [string, string]; minor: [string, string] | null }> = {
  EUR: { major: ['euro', 'euros'], minor: ['euro cent', 'euro cents'] },
  USD: { major: ['US dollar', 'US dollars'], minor: ['cent', 'cents'] },
  GBP: { major: ['pound sterling', 'pounds sterling'], minor: ['penny', 'pence'] },
  JPY: { major: ['yen', 'yen'], minor: null },
  INR: { major: ['rupee', 'rupees'], minor: ['paisa', 'paise'] },
  CHF: { major: ['Swiss franc', 'Swiss francs'], minor: ['centime', 'centimes'] },
  CAD: { major: ['Canadian dollar', 'Canadian dollars'], minor: ['cent', 'cents'] },
  AUD: { major: ['Australian dollar', 'Australian dollars'], minor: ['cent', 'cents'] },
  SEK: { major: ['Swedish krona', 'Swedish kronor'], minor: ['öre', 'öre'] },
  NOK: { major: ['Norwegian krone', 'Norwegian kroner'], minor: ['øre', 'øre'] },
  DKK: { major: ['Danish krone', 'Danish kroner'], minor: ['øre', 'øre'] },
  BRL: { major: ['real', 'reais'], minor: ['centavo', 'centavos'] },
}

const counted = (n: bigint, [one, many]: [string, string]) => `${numberInWords(n)} ${n === 1n ? one : many}`

/** `ninety-nine euro cents`, `one euro and five euro cents`, `five hundred yen`, `3 XYZ and 25/100`. */
export function priceInWords(amount: bigint, currency: string): string {
  const exponent = minorUnits(currency)
  const unit = 10n ** BigInt(exponent)
  const major = amount / unit
  const minor = amount % unit
  const names = NAMES[currency]
  if (names === undefined) {
    return `${numberInWords(major)} ${currency}${minor === 0n ? '' : ` and ${minor}/${unit}`}`
  }
  if (names.minor === null || minor === 0n) return counted(major, names.major)
  if (major === 0n) return counted(minor, names.minor)
  return `${counted(major, names.major)} and ${counted(minor, names.minor)}`
}

/** The price in money and in words, as a checkout shows it: `0.99 EUR (ninety-nine euro cents)`. */
export function priceForHumans(amount: bigint, currency: string): string {
  return `${formatMinorUnits(amount, currency)} ${currency} (${priceInWords(amount, currency)})`
}
