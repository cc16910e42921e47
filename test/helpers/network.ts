import type { Signer } from '../../keys/ed25519.ts'
import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import type { Random } from '../../keys/random.ts'
import { createNetworkRecord } from '../../node/network-file.ts'
import type { Clock } from '../../protocols/clock.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { RoleName } from '../../protocols/records/types/common.ts'
import type { NetworkCaps, NetworkPolicy } from '../../protocols/records/types/network.ts'
import { assignedPartyId } from '../../protocols/register/party-id.ts'

export interface TestNetwork {
  name: string
  genesis: NodeKeys
  genesisSigner: Signer
  registrar: NodeKeys
  registrarSigner: Signer
  references: NodeKeys[]
  clearinghouses: NodeKeys[]
  record: SignedRecord<'consort/network'>
  /** Issue a certificate as the network's registration manager. */
  certify(
    subject: NodeKeys,
    roles: RoleName[],
    options?: { notAfter?: number; serial?: number },
  ): SignedRecord<'consort/cert'>
}

/**
 * A network for tests: a genesis key, one registration manager, optional reference services and
 * clearinghouses, all with real keys and a real signed network record.
 */
export async function createTestNetwork(
  clock: Clock,
  options: {
    name?: string
    references?: NodeKeys[]
    clearinghouses?: NodeKeys[]
    registrar?: NodeKeys
    caps?: Partial<NetworkCaps>
    policy?: Partial<NetworkPolicy>
    random?: Random
  } = {},
): Promise<TestNetwork> {
  const name = options.name ?? 'testnet'
  const genesis = await createNodeKeys(options.random)
  const registrar = options.registrar ?? (await createNodeKeys(options.random))
  const references = options.references ?? []
  const clearinghouses = options.clearinghouses ?? []
  const genesisSigner = genesis.signer
  const registrarSigner = registrar.signer
  const record = createNetworkRecord(
    {
      name,
      created: clock.now(),
      registrars: [{ name: 'registrar-1', key: registrarSigner.publicKey, sealingKey: registrar.sealing.publicKey }],
      references: references.map((k, i) => ({ name: `reference-${i + 1}`, key: k.signer.publicKey })),
      clearinghouses: clearinghouses.map((k, i) => ({
        name: `clearinghouse-${i + 1}`,
        key: k.signer.publicKey,
        sealingKey: k.sealing.publicKey,
      })),
      ...(options.caps != null ? { caps: options.caps } : {}),
      ...(options.policy != null ? { policy: options.policy } : {}),
    },
    genesisSigner,
  )
  let serial = 0
  return {
    name,
    genesis,
    genesisSigner,
    registrar,
    registrarSigner,
    references,
    clearinghouses,
    record,
    certify(subject, roles, certOptions = {}) {
      return signRecord(
        'consort/cert',
        {
          network: name,
          created: clock.now(),
          serial: certOptions.serial ?? ++serial,
          subject: subject.signer.publicKey,
          name: `node-${serial}`,
          partyId: assignedPartyId(subject.signer.publicKey),
          roles,
          sealingKey: subject.sealing.publicKey,
          notBefore: clock.now() - 1000,
          notAfter: certOptions.notAfter ?? clock.now() + 365 * 24 * 3600_000,
        },
        registrarSigner,
      )
    },
  }
}
