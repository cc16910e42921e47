import { InvalidParametersError } from '@libp2p/interface'
import { RangeNotSatisfiableError } from './errors.ts'

/**
 * One byte range of a `Range: bytes=…` header against a resource of `size` bytes (`a-b`, `a-`, or the suffix
 * `-n`); null without a header. Several ranges are not supported: a browser's `<audio>` asks for one at a time.
 */
export function parseByteRange(header: string | undefined, size: number): { start: number; end: number } | null {
  if (header == null || header === '') return null
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (match == null) throw new InvalidParametersError(`Range: ${JSON.stringify(header)} is not one byte range`)
  const [, a = '', b = ''] = match
  if (a === '' && b === '') throw new InvalidParametersError('Range: names no bytes')
  if (a === '') {
    const suffix = Number(b)
    if (suffix === 0) throw new RangeNotSatisfiableError(size, 'Range: a suffix of 0 bytes')
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(a)
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1)
  if (!Number.isSafeInteger(start) || start >= size || end < start) {
    throw new RangeNotSatisfiableError(size, `Range: bytes ${a}-${b} lie outside the ${size} bytes`)
  }
  return { start, end }
}
