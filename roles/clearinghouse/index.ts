/** The Financial Clearinghouse role (`--roles clearinghouse`): its definition and exports (the class: clearinghouse.ts). */
import { defineRole } from '../role.ts'
import { ClearinghouseRole } from './clearinghouse.ts'
import { clearinghouseInit } from './engine.ts'
import { CLEARINGHOUSE_LAYOUT } from './store.ts'

export { ACCOUNTING_COLUMNS, checkAccountingCsv, toAccountingCsv } from './accounting.ts'
export { type AuditReport, auditClearinghouse, auditStopped } from './audit.ts'
export { type ClearinghouseComponents, ClearinghouseRole } from './clearinghouse.ts'
export { BYTES_PER_GB, DeliveryKeys, deliveryAmount, trackBytes } from './delivery.ts'
export { checkDsr, type DsrCheck } from './dsr/read.ts'
export { ClearingEngine, type ClearinghouseInit, clearinghouseInit, type EngineComponents } from './engine.ts'
export { isTestNetwork, type PaymentGateway, TEST_GATEWAY_NAME, TestPaymentGateway } from './gateway.ts'
export * from './participants.ts'
export { feeOf, planSale, referralCredit, withReferral } from './pricing.ts'
export { REFERRAL_REASONS, ReferralKeys, type ReferralReason, type ReferralRow } from './referrals.ts'
export { periodOf, type StoredEvent } from './state.ts'
export {
  checkLineProof,
  checkStatement,
  formatAmount,
  type LineProof,
  type Statement,
  Statements,
} from './statements.ts'
export { CLEARINGHOUSE_LAYOUT, type StateLevel } from './store.ts'
export type { IngestStats, ReportAck, ReportStatus } from './usage/ingest.ts'
export { type DeviceInfo, ReportVerifier, type VerifiedReport, type VerifyContext } from './usage/verify.ts'

export const clearinghouse = defineRole({
  name: 'clearinghouse',
  options: clearinghouseInit,
  components: ['libp2p', 'keys', 'clock', 'network', 'topics', 'trust', 'records', 'metrics'],
  layout: CLEARINGHOUSE_LAYOUT,
  create: (components, options) => new ClearinghouseRole(components, options),
})
