/**
 * Requests signed by an account key (`fund`, `balance`, `statement` over `/clearing/1`): only the holder of an
 * account can top it up or read it. A top-up charges the payment gateway, then credits the wallet from the
 * gateway's external account through the journal; it is idempotent by (account, request id), and a top-up whose
 * charge was asked but whose credit was not written (a crash between the two) is completed at the next start.
 */
import { createHash } from 'node:crypto'
import { InvalidParametersError } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { z } from 'zod'
import { toHex } from '../../keys/hex.ts'
import { type AccountRequest, verifyAccountRequest } from '../../protocols/clearing/account.ts'
import type { balanceEntry } from '../../protocols/clearing/index.ts'
import type { Clock } from '../../protocols/clock.ts'
import { isError } from '../../protocols/errors.ts'
import { CURRENCY_CODES } from '../../protocols/identifiers/currencies.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { ACCOUNT_REQUEST_MAX_AGE_MS, MAX_STATEMENT_RESPONSE_BYTES } from './constants.ts'
import {
  AccountRequestUnauthorisedError,
  ClearingFailedError,
  NoGatewayError,
  PaymentDeclinedError,
  StatementTooLargeError,
} from './errors.ts'
import type { PaymentGateway } from './gateway.ts'
import type { Journal } from './journal.ts'
import type { Ledger } from './ledger/ledger.ts'
import type { Balance } from './ledger/types.ts'
import { accountIdOf, externalParticipant, walletParticipant } from './participants.ts'
import { type LineBook, SettlementBatch } from './settlement.ts'
import { type FundRow, fundRow, periodOf, StateKeys } from './state.ts'
import type { Statements } from './statements.ts'
import { del, put, type StateStore } from './store.ts'

const log = logger('consort:clearinghouse:accounts')

export type BalanceEntry = z.infer<typeof balanceEntry>

export interface AccountDeps {
  store: StateStore
  journal: Journal
  ledger: Ledger
  lines: LineBook
  statements: Statements
  network: NetworkContext
  clock: Clock
  gateway: PaymentGateway | null
  serial: <T>(fn: () => Promise<T>) => Promise<T>
  sync: boolean
}

export function balanceEntryOf(currency: string, b: Balance): BalanceEntry {
  const posted = b.creditsPosted - b.debitsPosted
  return {
    currency: currency as BalanceEntry['currency'],
    available: posted - b.debitsPending,
    pending: b.debitsPending,
    posted,
  }
}

export class Accounts {
  readonly #d: AccountDeps

  constructor(deps: AccountDeps) {
    this.#d = deps
  }

  /** Check a signed account request: signature, network, freshness and the fields its op needs. */
  check(request: AccountRequest): void {
    const r = request.request
    if (!verifyAccountRequest(request)) {
      throw new AccountRequestUnauthorisedError('sig: the account key did not sign this request')
    }
    if (r.network !== this.#d.network.name)
      throw new AccountRequestUnauthorisedError(`request.network: not ${this.#d.network.name}`)
    const now = this.#d.clock.now()
    if (Math.abs(r.created - now) > ACCOUNT_REQUEST_MAX_AGE_MS) {
      throw new InvalidParametersError(`request.created: more than ${ACCOUNT_REQUEST_MAX_AGE_MS / 1000} s from now`)
    }
    if (r.op === 'fund' && (r.amount === null || r.amount <= 0n || r.currency === null)) {
      throw new InvalidParametersError('request.amount: a top-up needs a positive amount and a currency')
    }
    if (r.op === 'statement' && r.period === null) throw new InvalidParametersError('request.period: required')
  }

  async handle(request: AccountRequest): Promise<unknown> {
    this.check(request)
    const r = request.request
    const account = toHex(r.account)
    switch (r.op) {
      case 'fund':
        return this.fund(account, r.amount!, r.currency!, r.paymentToken, r.requestId)
      case 'balance':
        return { balances: await this.balances(account) }
      case 'statement':
        return { statements: await this.statementRecords(account, r.period!) }
    }
  }

  /** A wallet's balances, in every currency it has. */
  async balances(account: string): Promise<BalanceEntry[]> {
    const out: BalanceEntry[] = []
    const wallet = walletParticipant(account)
    for (const currency of CURRENCY_CODES) {
      const id = accountIdOf(wallet, currency)
      if ((await this.#d.ledger.getAccount(id)) === undefined) continue
      out.push(balanceEntryOf(currency, await this.#d.ledger.balance(id)))
    }
    return out
  }

  /** Top up a wallet through the gateway. */
  async fund(
    account: string,
    amount: bigint,
    currency: string,
    paymentToken: string | null,
    requestId: string,
  ): Promise<{ transferId: string; balance: BalanceEntry }> {
    const gateway = this.#d.gateway
    if (gateway === null) throw new NoGatewayError('this clearinghouse has no payment gateway: top-ups are refused')
    const key = StateKeys.fund(account, requestId)
    const transferId = `fund:${createHash('sha256').update(`${account}/${requestId}`).digest('hex').slice(0, 40)}`
    const row = await this.#d.serial(async () => {
      const known = await this.#d.store.get(fundRow, key)
      if (known !== undefined) {
        if (known.amount !== amount || known.currency !== currency) {
          throw new InvalidParametersError(`request.requestId: ${requestId} was used for another top-up`)
        }
        return known
      }
      const fresh: FundRow = {
        v: 1,
        state: 'charging',
        amount,
        currency,
        transferId,
        gateway: gateway.name,
        reference: null,
        requestedAt: this.#d.clock.now(),
      }
      // Written before the gateway is asked: a charge is never made that this clearinghouse could forget.
      await this.#d.store.write([put(key, fresh)], { sync: true })
      return fresh
    })
    if (row.state === 'charging') await this.#charge(account, requestId, row, paymentToken)
    const balance = await this.#d.ledger.balance(accountIdOf(walletParticipant(account), currency))
    return { transferId: row.transferId, balance: balanceEntryOf(currency, balance) }
  }

  async #charge(account: string, requestId: string, row: FundRow, paymentToken: string | null): Promise<void> {
    const gateway = this.#d.gateway!
    const key = StateKeys.fund(account, requestId)
    let reference: string
    try {
      reference = (
        await gateway.charge({ account, amount: row.amount, currency: row.currency, paymentToken, requestId })
      ).reference
    } catch (err) {
      if (isError(err, PaymentDeclinedError)) {
        await this.#d.serial(() => this.#d.store.write([del(key)], { sync: true }))
        throw err
      }
      throw err
    }
    await this.#d.serial(async () => {
      const current = await this.#d.store.get(fundRow, key)
      if (current?.state === 'done') return
      const now = this.#d.clock.now()
      const wallet = walletParticipant(account)
      const external = externalParticipant(row.gateway)
      const batch = new SettlementBatch()
      const line = (participant: string, amount: bigint, counterparty: string) =>
        batch.line({
          period: periodOf(now),
          participant,
          currency: row.currency,
          kind: 'adjustment',
          ref: requestId,
          content: null,
          counterparty,
          units: 1,
          amount,
          at: now,
        })
      line(wallet, row.amount, external)
      line(external, -row.amount, wallet)
      const walletAccount = batch.account(wallet, row.currency)
      const externalAccount = batch.account(external, row.currency)
      const m = await this.#d.lines.materialise(batch)
      const { n, ops, entry } = this.#d.journal.intent(() => ({
        kind: 'fund',
        ref: `${account}/${requestId}`,
        accounts: [...batch.accounts.values()],
        transfers: [
          {
            kind: 'posted',
            id: row.transferId,
            debitAccountId: externalAccount,
            creditAccountId: walletAccount,
            amount: row.amount,
            code: 'top-up',
            reference: reference.slice(0, 256),
          },
        ],
        onSuccess: [put(key, { ...row, state: 'done', reference })],
        onFailure: [],
      }))
      try {
        await this.#d.store.write([...m.ops, ...ops], { sync: this.#d.sync })
      } catch (err) {
        this.#d.journal.rewind(n)
        throw err
      }
      this.#d.lines.commit(m)
      const result = await this.#d.journal.apply(n, entry, { sync: this.#d.sync })
      if (!result.ok) throw new ClearingFailedError(`the ledger refused top-up ${requestId}`)
      log('funded wallet %s with %s %s (%s)', account, row.amount, row.currency, reference)
    })
  }

  /** Complete the top-ups whose charge was asked before a crash. Returns how many. */
  async recover(): Promise<number> {
    if (this.#d.gateway === null) return 0
    const open: Array<[string, FundRow]> = []
    for await (const [key, row] of this.#d.store.rows(fundRow, StateKeys.fundPrefix)) {
      if (row.state === 'charging') open.push([key, row])
    }
    for (const [key, row] of open) {
      const [, account, ...rest] = key.split('/')
      try {
        await this.#charge(account!, rest.join('/'), row, null)
      } catch (err) {
        log.error('could not complete top-up %s: %e', key, err)
      }
    }
    return open.length
  }

  /** The statements of every participant an account key holds, as record bytes (bounded by the answer's size). */
  async statementRecords(account: string, period: string): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    let size = 0
    for (const participant of await this.#d.statements.participantsOfKey(account)) {
      for (const statement of await this.#d.statements.build(period, participant)) {
        for (const part of statement.parts) {
          size += part.record.bytes.length
          if (size > MAX_STATEMENT_RESPONSE_BYTES) {
            throw new StatementTooLargeError(
              `the statements of ${account} for ${period} exceed ${MAX_STATEMENT_RESPONSE_BYTES} bytes; ask the operator for an export`,
            )
          }
          out.push(part.record.bytes)
        }
      }
    }
    return out
  }
}
