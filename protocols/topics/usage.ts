import type { SignedRecord } from '../records/envelope.ts'
import { keyHex } from './knowledge.ts'
import { ATTACHMENT_TYPES } from './names.ts'
import { ACCEPT, reject, type TopicSpec } from './spec.ts'

/** A usage report is bounded by the record cap (1 MiB by default): the topic takes the largest message the network allows. */
export const USAGE_MESSAGE_BYTES = 1024 * 1024

export const USAGE_CODES = {
  notOwnDevice: 'ERR_NOT_OWN_DEVICE',
  wrongAccount: 'ERR_WRONG_ACCOUNT',
} as const

/**
 * `/usage`: `consort/usage`, signed by a registered device with its registration attached. Rejected: a report that
 * names another device than its signer, or another account than the one its device is registered to. Reports are
 * not versions of each other (a clearinghouse follows each device's chain), so there is no sequence rule here.
 */
export const usageTopic: TopicSpec = {
  name: 'usage',
  leads: ['consort/usage'],
  attachments: ATTACHMENT_TYPES,
  maxMessageBytes: USAGE_MESSAGE_BYTES,
  // Gossip is the second path of a report: its device sends it to every clearinghouse until one acknowledges it.
  // Passing reports on matters more than this node's own use of them, so when full the oldest waiting one goes.
  queue: { maxItems: 4096, maxBytes: 64 * 1024 * 1024, concurrency: 8, whenFull: 'drop-oldest' },
  validate(delivery, { trust }) {
    const report = delivery.record as SignedRecord<'consort/usage'>
    if (keyHex(report.body.device) !== keyHex(report.signer)) {
      return reject(
        USAGE_CODES.notOwnDevice,
        `report ${report.id} names device ${keyHex(report.body.device)}, not its signer`,
      )
    }
    const registration = trust.deviceOf(report.signer)
    if (registration != null && keyHex(registration.body.account) !== keyHex(report.body.account)) {
      return reject(
        USAGE_CODES.wrongAccount,
        `report ${report.id} names account ${keyHex(report.body.account)}; its device is registered to ${keyHex(registration.body.account)}`,
      )
    }
    return ACCEPT
  },
}
