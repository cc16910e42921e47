import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { Level } from 'level'
import { auditStopped } from '../../../roles/clearinghouse/audit.ts'
import { accountIdOf, rightsholderParticipant, walletParticipant } from '../../../roles/clearinghouse/participants.ts'
import type { StateLevel } from '../../../roles/clearinghouse/store.ts'
import { Market, tempLevel } from './market.ts'

const ENC = { keyEncoding: 'utf8', valueEncoding: 'view' } as const

/** A clearinghouse with sales and plays on disk, closed; returns where. */
async function populated(m: Market): Promise<Awaited<ReturnType<typeof tempLevel>> & { wallet: string }> {
  const t = await tempLevel()
  const role = t.db.sublevel('role-clearinghouse', { valueEncoding: 'view' }) as unknown as StateLevel
  const { engine } = await m.engine({}, role)
  const buyer = await m.buyer()
  await engine.account(m.fundRequest(buyer, 1000n))
  const contract = m.contract({ unit: 70n, play: 3n })
  await engine.learnContract(contract)
  const { licence } = await m.purchase(engine, buyer, contract, m.offer(contract))
  m.clock.advance(3_600_000)
  const r = m.usage(buyer.devices[0]!, buyer.account, [m.play(licence, m.clock.now() - 1_800_000)])
  await engine.report(r.usage, r.device)
  await engine.close()
  await t.db.close()
  return { ...t, wallet: accountIdOf(walletParticipant(buyer.account.signer.publicKey), 'EUR') }
}

function roleOf(db: Level<string, Uint8Array>): StateLevel {
  return db.sublevel('role-clearinghouse', { valueEncoding: 'view' }) as unknown as StateLevel
}

describe('clearinghouse audit', () => {
  it('passes on books kept by the clearinghouse, and finds a balance changed by hand', async () => {
    const m = await Market.create()
    const t = await populated(m)
    try {
      let db = new Level<string, Uint8Array>(t.dir, { valueEncoding: 'view' })
      await db.open()
      const clean = await auditStopped(roleOf(db), m.clock)
      assert.equal(
        clean.ok,
        true,
        JSON.stringify(clean, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)),
      )
      assert.ok(clean.counts.reports === 1 && clean.counts.purchases === 1)
      // Someone gives the wallet 100 more by editing its balance row.
      const ledger = roleOf(db).sublevel('ledger', { valueEncoding: 'view' })
      const key = `b/${t.wallet}`
      const row = dagCbor.decode((await ledger.get(key, ENC)) as Uint8Array) as Record<string, unknown>
      row.creditsPosted = BigInt(row.creditsPosted as number) + 100n
      await ledger.put(key, dagCbor.encode(row), ENC)
      await db.close()
      db = new Level<string, Uint8Array>(t.dir, { valueEncoding: 'view' })
      await db.open()
      const report = await auditStopped(roleOf(db), m.clock)
      assert.equal(report.ok, false)
      assert.ok(report.ledger.some((v) => v.code === 'balance_mismatch' && v.accountId === t.wallet))
      assert.ok(report.ledger.some((v) => v.code === 'unbalanced_currency'))
      assert.ok(report.clearing.some((v) => v.code === 'lines_mismatch' && v.accountId === t.wallet))
      await db.close()
    } finally {
      await t.dispose()
    }
  })

  it('finds a transfer deleted by hand and a statement line changed by hand', async () => {
    const m = await Market.create()
    const t = await populated(m)
    try {
      const db = new Level<string, Uint8Array>(t.dir, { valueEncoding: 'view' })
      await db.open()
      const ledger = roleOf(db).sublevel('ledger', { valueEncoding: 'view' })
      const transfers: string[] = []
      for await (const key of ledger.keys({ gte: 't/', lt: 't0', keyEncoding: 'utf8' })) transfers.push(key as string)
      const royalty = transfers.find((k) => k.endsWith('.s0'))!
      await ledger.del(royalty, ENC)
      const state = roleOf(db).sublevel('state', { valueEncoding: 'view' })
      const label = rightsholderParticipant('label:acme')
      let lineKey: string | undefined
      for await (const [key, value] of state.iterator({ gte: 'L/', lt: 'L0', ...ENC })) {
        const row = dagCbor.decode(value as unknown as Uint8Array) as { participant: string; amount: number }
        if (row.participant === label) lineKey = key as string
      }
      assert.ok(lineKey !== undefined)
      const line = dagCbor.decode((await state.get(lineKey, ENC)) as unknown as Uint8Array) as Record<string, unknown>
      line.amount = 1_000_000
      await state.put(lineKey, dagCbor.encode(line), ENC)
      const report = await auditStopped(roleOf(db), m.clock)
      assert.equal(report.ok, false)
      assert.ok(report.ledger.some((v) => v.code === 'transfer_missing'))
      assert.ok(report.clearing.some((v) => v.code === 'lines_mismatch' && v.message.includes('label:acme')))
      await db.close()
    } finally {
      await t.dispose()
    }
  })
})
