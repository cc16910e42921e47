import { existsSync, linkSync, readFileSync, renameSync, unlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { InvalidParametersError } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { fromHex, toHex } from '../keys/hex.ts'
import { readNodePublicKeys } from '../keys/keystore.ts'
import type { NetworkContext } from '../protocols/network.ts'
import { decodeRecordAs, type SignedRecord } from '../protocols/records/envelope.ts'
import { rotateCert } from '../protocols/register/client.ts'
import { type CertRequestFields, MAX_ROTATION_GRACE_MS } from '../protocols/register/index.ts'
import type { ControlRoute } from '../roles/role.ts'
import type { ConsortNode } from './consort-node.ts'
import { dataDirPaths, writeFileAtomic } from './data-dir.ts'
import { KeyRotationError } from './errors.ts'

const log = logger('consort:keys:rotation')

/**
 * Rotating a certified node's key, in three steps that each survive a crash:
 *
 * 1. `consort keys rotate` makes the new keystore `keys/node.next.key` (or reuses it: a retry rotates to the same
 *    key), asks the daemon for the request to sign, signs it with the new key, and has the daemon endorse it with
 *    the current key and send it to a registrar (`rotate-cert`). The new certificate is written to
 *    `keys/node.next.cert`. The daemon keeps running on the old key.
 * 2. At its next start, before anything opens, the daemon retires the old keystore (hard link
 *    `keys/node.<old peer id>.retired.key`) and renames the new one over `keys/node.key`.
 * 3. Once the node runs on the new key, the new certificate becomes its own and `node.next.cert` is removed.
 *
 * The registrar revokes the old certificate when the grace period ends; until then records the old key signed
 * stay trusted, so that they can be re-signed with the new key.
 */

export function rotationPaths(dataDir: string) {
  const keys = dirname(dataDirPaths(dataDir).keys)
  return {
    next: join(keys, 'node.next.key'),
    cert: join(keys, 'node.next.cert'),
    retired: (peerId: string) => join(keys, `node.${peerId}.retired.key`),
  }
}

/**
 * Step 2, at start, with the data dir locked: switch to the new keystore when a certificate for it is there.
 * Returns that certificate (to be made the node's own once it runs), or null when no rotation is in progress.
 */
export async function switchToRotatedKey(
  dataDir: string,
  decode: { network: string; now: number; caps?: NetworkContext['caps'] },
): Promise<SignedRecord<'consort/cert'> | null> {
  const paths = rotationPaths(dataDir)
  const current = dataDirPaths(dataDir).keys
  if (!existsSync(paths.cert)) return null
  let cert: SignedRecord<'consort/cert'>
  try {
    cert = decodeRecordAs('consort/cert', readFileSync(paths.cert), decode)
  } catch (err) {
    throw new KeyRotationError(
      `${paths.cert}: not a usable certificate (${(err as Error).message}); remove it and rotate again`,
    )
  }
  const now = await readNodePublicKeys(current)
  if (toHex(now.signingKey) === toHex(cert.body.subject)) return cert // switched already; the certificate is not yet applied
  if (!existsSync(paths.next)) {
    throw new KeyRotationError(`${paths.cert} certifies a key that is neither ${current} nor ${paths.next}`)
  }
  const next = await readNodePublicKeys(paths.next)
  if (toHex(next.signingKey) !== toHex(cert.body.subject)) {
    throw new KeyRotationError(`${paths.cert} does not certify the key in ${paths.next}; remove both and rotate again`)
  }
  const retired = paths.retired(now.peerId)
  if (!existsSync(retired)) linkSync(current, retired)
  renameSync(paths.next, current)
  log('switched from %s to %s; the old keystore is kept as %s', now.peerId, next.peerId, retired)
  return cert
}

/** Step 3: the node runs on the new key; its certificate becomes the node's own. */
export async function adoptRotatedCert(node: ConsortNode, cert: SignedRecord<'consort/cert'>): Promise<void> {
  if (toHex(cert.body.subject) !== toHex(node.keys.signer.publicKey)) {
    throw new KeyRotationError('the rotated certificate does not name the key this node runs with')
  }
  await node.credentials.setCert(cert)
  if (node.dataDir != null) unlinkSync(rotationPaths(node.dataDir).cert)
  log('running on the rotated key with certificate %c', cert.id)
}

function keyFromHex(value: unknown, field: string): Uint8Array {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) {
    throw new InvalidParametersError(`${field}: 32 bytes in lower-case hex expected`)
  }
  return fromHex(value, field)
}

/**
 * Step 1 on the daemon: `POST /v1/keys/rotate` with `{ subject, sealingKey }` answers the request to sign (the
 * node's certificate's name and roles, for the new key); with `{ request, sig, graceMs }` too, endorses it with
 * the node's key, has a registrar certify it, and writes the certificate to `keys/node.next.cert`.
 */
export function keyRotationRoutes(node: ConsortNode): ControlRoute[] {
  return [
    {
      method: 'POST',
      path: '/keys/rotate',
      handler: async ({ body, signal }) => {
        const input = (body ?? {}) as Record<string, unknown>
        const cert = node.credentials.cert()
        if (cert == null) {
          throw new KeyRotationError('this node holds no certificate: there is nothing to rotate')
        }
        if (node.dataDir == null) throw new KeyRotationError('this node keeps nothing on disk')
        const request: CertRequestFields = {
          network: node.network.name,
          subject: keyFromHex(input.subject, 'subject'),
          name: cert.body.name,
          roles: cert.body.roles,
          sealingKey: keyFromHex(input.sealingKey, 'sealingKey'),
          created: typeof input.created === 'number' ? input.created : node.clock.now(),
        }
        if (input.sig == null)
          return { request: { ...request, subject: toHex(request.subject), sealingKey: toHex(request.sealingKey) } }
        const graceMs = input.graceMs
        if (
          typeof graceMs !== 'number' ||
          !Number.isSafeInteger(graceMs) ||
          graceMs < 0 ||
          graceMs > MAX_ROTATION_GRACE_MS
        ) {
          throw new InvalidParametersError(`graceMs: an integer from 0 to ${MAX_ROTATION_GRACE_MS} expected`)
        }
        if (typeof input.sig !== 'string' || !/^[0-9a-f]{128}$/.test(input.sig)) {
          throw new InvalidParametersError('sig: 64 bytes in lower-case hex expected')
        }
        const answer = await rotateCert(
          node.libp2p,
          node.network,
          {
            request,
            sig: fromHex(input.sig, 'sig'),
            old: node.keys.signer,
            cert,
            graceMs,
            now: node.clock.now(),
          },
          { signal },
        )
        writeFileAtomic(rotationPaths(node.dataDir).cert, answer.cert.bytes, 0o600)
        log('certificate %c issued for the next key; the old one is revoked at %d', answer.cert.id, answer.revokeOldAt)
        return {
          cert: answer.cert.id.toString(),
          subject: toHex(answer.cert.body.subject),
          revokeOldAt: answer.revokeOldAt,
          registrar: answer.registrar.toString(),
        }
      },
    },
  ]
}
