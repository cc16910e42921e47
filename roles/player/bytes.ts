import { toString as bytesToHex } from 'uint8arrays/to-string'

/** The two byte helpers every part of the player uses (keys shown as hex, keys compared). */

/** A key or hash as lower-case hex, the way the player shows and matches keys. */
export const hex = (bytes: Uint8Array): string => bytesToHex(bytes, 'base16')

/** Byte equality (not constant-time: the player compares public keys and ids only). */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0
