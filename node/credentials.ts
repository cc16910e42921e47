import type { DecodeOptions, SignedRecord } from '../protocols/records/envelope.ts'
import { decodeRecordAs } from '../protocols/records/envelope.ts'
import { UntrustedSignerError } from '../protocols/trust/errors.ts'
import type { CertificateTrust } from '../protocols/trust/trust.ts'
import type { Credentials, RoleDb } from '../roles/role.ts'

/** The node's certificate and device registration, persisted in the node's own sublevel. */
export class NodeCredentials implements Credentials {
  readonly #db: RoleDb
  readonly #trust: CertificateTrust
  #cert: SignedRecord<'consort/cert'> | undefined
  #device: SignedRecord<'consort/device'> | undefined

  constructor(db: RoleDb, trust: CertificateTrust) {
    this.#db = db
    this.#trust = trust
  }

  /** Read back what was stored; a record that no longer decodes (network changed) is dropped. */
  async load(options: DecodeOptions): Promise<void> {
    const cert = await this.#db.get('cert')
    if (cert != null) {
      try {
        this.#cert = decodeRecordAs('consort/cert', cert, options)
        this.#trust.learnCert(this.#cert)
      } catch {
        this.#cert = undefined
      }
    }
    const device = await this.#db.get('device')
    if (device != null) {
      try {
        this.#device = decodeRecordAs('consort/device', device, options)
        this.#trust.learnDevice(this.#device)
      } catch {
        this.#device = undefined
      }
    }
  }

  cert(): SignedRecord<'consort/cert'> | undefined {
    return this.#cert
  }

  device(): SignedRecord<'consort/device'> | undefined {
    return this.#device
  }

  attachments(): SignedRecord[] {
    return [this.#cert, this.#device].filter((r): r is NonNullable<typeof r> => r != null)
  }

  async setCert(cert: SignedRecord<'consort/cert'>): Promise<void> {
    const verdict = this.#trust.learnCert(cert)
    if (!verdict.ok)
      throw new UntrustedSignerError(verdict.code, `refusing an untrusted certificate: ${verdict.reason}`)
    await this.#db.put('cert', cert.bytes)
    this.#cert = cert
  }

  async setDevice(device: SignedRecord<'consort/device'>): Promise<void> {
    const verdict = this.#trust.learnDevice(device)
    if (!verdict.ok)
      throw new UntrustedSignerError(verdict.code, `refusing an untrusted device registration: ${verdict.reason}`)
    await this.#db.put('device', device.bytes)
    this.#device = device
  }
}
