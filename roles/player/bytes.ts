/** Byte equality (not constant-time: the player compares public keys and ids only). */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0
