import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { MemoryLevel } from 'memory-level'
import { CID } from 'multiformats/cid'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { SeededRandom } from '../../../keys/random.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { RecordType } from '../../../protocols/records/registry.ts'
import type { UsageEvent } from '../../../protocols/usage/index.ts'
import { DEFAULT_NETWORK_RULES, type UsageRules } from '../../../protocols/usage-rules/index.ts'
import { accountKeyPath, exportAccount, importAccount, loadOrCreateAccountKeys } from '../../../roles/player/account.ts'
import { ENTRY_KINDS, LibraryInconsistencyError } from '../../../roles/player/entries.ts'
import { AccountExistsError, AccountKeyError } from '../../../roles/player/errors.ts'
import { Library } from '../../../roles/player/library.ts'
import { type NewEntry, TamperEvidentLog } from '../../../roles/player/log.ts'
import { type Evidence, mergeAcknowledged, salvageEvidence } from '../../../roles/player/resync.ts'
import { PLAYER_LAYOUT } from '../../../roles/player/store.ts'
import type { RoleDb } from '../../../roles/role.ts'
import { RoleStore, storeContext } from '../../../roles/store.ts'
import { sampleRecordCid } from '../../helpers/record-samples.ts'

const NETWORK = 'testnet'

describe('player: the library folded from the log', () => {
  let registrar: NodeKeys
  let device: NodeKeys
  let clock: FakeClock
  const decode = <T extends RecordType>(type: T, bytes: Uint8Array): SignedRecord<T> =>
    decodeRecordAs(type, bytes, { network: NETWORK, now: clock.now() })

  before(async () => {
    const random = new SeededRandom('player-library')
    registrar = await createNodeKeys(random)
    device = await createNodeKeys(random)
    clock = new FakeClock()
  })

  function licence(purchaseId: string, rules: UsageRules, holder = device): SignedRecord<'consort/licence'> {
    return signRecord(
      'consort/licence',
      {
        network: NETWORK,
        created: clock.now(),
        licenceId: `lic-${purchaseId}`,
        purchaseId,
        receipt: sampleRecordCid('receipt'),
        offer: sampleRecordCid('offer'),
        contract: sampleRecordCid('contract'),
        content: ['isrc:GBAYE0601001'],
        useType: 'PermanentDownload',
        rules,
        account: new Uint8Array(32).fill(1),
        device: holder.signer.publicKey,
        notAfter: null,
        keys: [{ isrc: 'GBAYE0601001', keyId: new Uint8Array(16), sealedKey: new Uint8Array(80).fill(2) }],
      },
      registrar.signer,
    )
  }

  function playEvent(id: string, purchaseId: string): UsageEvent {
    return {
      eventId: id,
      kind: 'play',
      isrc: 'GBAYE0601001',
      purchaseId,
      licence: null,
      offer: null,
      contract: null,
      startedAt: clock.now(),
      seconds: 0,
    }
  }

  async function logWith(entries: NewEntry[]) {
    const db = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' }).sublevel('p', {
      valueEncoding: 'view',
    }) as unknown as RoleDb
    const log = new TamperEvidentLog({
      store: new RoleStore(db, PLAYER_LAYOUT, storeContext({ name: 'librarynet' })),
      signer: device.signer,
    })
    await log.open()
    const written = await log.append(entries, clock.now())
    return { log, written }
  }

  const genesis: NewEntry = {
    kind: ENTRY_KINDS.genesis,
    data: { device: new Uint8Array(32), account: new Uint8Array(32), reason: 'new', note: '' },
  }

  it('replays uses through the rules and refuses a log that records a use they deny', async () => {
    const l = licence('p-1', { plays: 1 })
    const g: NewEntry = { ...genesis, data: { ...(genesis.data as object), device: device.signer.publicKey } }
    const { written } = await logWith([
      g,
      { kind: ENTRY_KINDS.licence, data: { licence: l.bytes, receipt: null } },
      {
        kind: ENTRY_KINDS.use,
        data: { purchaseId: 'p-1', action: { kind: 'play' }, event: playEvent('e-1', 'p-1'), eventId: null },
      },
      {
        kind: ENTRY_KINDS.use,
        data: { purchaseId: 'p-1', action: { kind: 'play' }, event: playEvent('e-2', 'p-1'), eventId: null },
      },
    ])
    const library = new Library({ decode, ruleDefaults: DEFAULT_NETWORK_RULES })
    library.apply(written[0]!)
    library.apply(written[1]!)
    library.apply(written[2]!)
    assert.equal(library.licences.get('p-1')!.state.plays, 1)
    assert.throws(() => library.apply(written[3]!), LibraryInconsistencyError)
  })

  it('refuses a licence bound to another device', async () => {
    const other = await createNodeKeys(new SeededRandom('other-device'))
    const g: NewEntry = { ...genesis, data: { ...(genesis.data as object), device: device.signer.publicKey } }
    const { written } = await logWith([
      g,
      { kind: ENTRY_KINDS.licence, data: { licence: licence('p-2', {}, other).bytes, receipt: null } },
    ])
    const library = new Library({ decode, ruleDefaults: DEFAULT_NETWORK_RULES })
    library.apply(written[0]!)
    assert.throws(() => library.apply(written[1]!), /another device/)
  })

  it('salvage counts every signed use, and a play from its seconds when its start is lost', async () => {
    const g: NewEntry = { ...genesis, data: { ...(genesis.data as object), device: device.signer.publicKey } }
    const l = licence('p-3', {})
    const { log } = await logWith([
      g,
      { kind: ENTRY_KINDS.licence, data: { licence: l.bytes, receipt: null } },
      {
        kind: ENTRY_KINDS.use,
        data: { purchaseId: 'p-3', action: { kind: 'play' }, event: playEvent('e-a', 'p-3'), eventId: null },
      },
      {
        kind: ENTRY_KINDS.use,
        data: { purchaseId: 'p-3', action: { kind: 'play-seconds', seconds: 7 }, event: null, eventId: 'e-a' },
      },
      {
        kind: ENTRY_KINDS.use,
        data: { purchaseId: 'p-3', action: { kind: 'play' }, event: playEvent('e-b', 'p-3'), eventId: null },
      },
      {
        kind: ENTRY_KINDS.use,
        data: { purchaseId: 'p-3', action: { kind: 'play-seconds', seconds: 5 }, event: null, eventId: 'e-b' },
      },
      {
        kind: ENTRY_KINDS.use,
        data: {
          purchaseId: 'p-3',
          action: { kind: 'export' },
          event: { ...playEvent('e-c', 'p-3'), kind: 'export' },
          eventId: null,
        },
      },
    ])
    const all = (await log.salvage()).entries
    const full = salvageEvidence(all, decode, device.signer.publicKey)
    assert.deepEqual(
      { ...full.states.get('p-3')!, lastSyncAt: 0 },
      {
        plays: 2,
        playSeconds: 12,
        firstPlayAt: clock.now(),
        exports: 1,
        burns: 0,
        transferred: false,
        lastSyncAt: 0,
        devices: 0,
      },
    )
    // without the second play's start entry, its seconds still prove it
    const partial = salvageEvidence(
      all.filter((e) => e.seq !== 4),
      decode,
      device.signer.publicKey,
    )
    assert.equal(partial.states.get('p-3')!.plays, 2)
    assert.equal(partial.events.size, 2) // the lost start entry held the event itself: its play is counted, not reported
  })
})

describe('player: what the clearinghouses acknowledged raises the evidence', () => {
  it('raises counters to the acknowledged totals and drops reports already acknowledged', () => {
    const report = CID.parse('bafyreify5v7yn3mys4yu7mfbrxtek3xn7suft6q6x4mdzx6ecv74ik5k5i')
    const evidence: Evidence = {
      purchaseIds: new Set(['p-1']),
      receipts: new Map(),
      states: new Map([
        [
          'p-1',
          {
            plays: 1,
            playSeconds: 30,
            firstPlayAt: 5_000,
            exports: 0,
            burns: 1,
            transferred: false,
            lastSyncAt: 1_000,
            devices: 0,
          },
        ],
      ]),
      events: new Map([
        ['e-1', { event: {} as UsageEvent, report: 0 }],
        ['e-2', { event: {} as UsageEvent, report: 1 }],
      ]),
      reports: new Map([
        [0, { record: new Uint8Array(1), events: ['e-1'], createdAt: 1 }],
        [1, { record: new Uint8Array(1), events: ['e-2'], createdAt: 2 }],
      ]),
      lastReport: null,
      entries: 4,
      chained: 2,
    }
    mergeAcknowledged(evidence, [
      {
        lastReport: { seq: 0, id: report.toString() },
        licences: [
          { purchaseId: 'p-1', plays: 3, playSeconds: 20, exports: 1, burns: 0, firstPlayAt: 4_000 },
          { purchaseId: 'p-2', plays: 0, playSeconds: 0, exports: 1, burns: 0, firstPlayAt: null },
        ],
      },
    ])
    assert.deepEqual(evidence.states.get('p-1'), {
      plays: 3,
      playSeconds: 30,
      firstPlayAt: 4_000,
      exports: 1,
      burns: 1,
      transferred: false,
      lastSyncAt: 1_000,
      devices: 0,
    })
    assert.ok(evidence.purchaseIds.has('p-2'))
    assert.equal(evidence.states.get('p-2')!.exports, 1)
    assert.deepEqual([...evidence.reports.keys()], [1])
    assert.deepEqual([...evidence.events.keys()], ['e-2'])
    assert.ok(evidence.lastReport?.id.equals(report))
  })
})

describe('player: the account key and its export', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'consort-account-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('creates the account key once, mode 0600, and reloads the same one', async () => {
    const a = await loadOrCreateAccountKeys(path.join(dir, 'one'))
    const b = await loadOrCreateAccountKeys(path.join(dir, 'one'))
    assert.deepEqual(a.signer.publicKey, b.signer.publicKey)
    assert.equal((await stat(accountKeyPath(path.join(dir, 'one')))).mode & 0o777, 0o600)
  })

  it('exports with a passphrase and imports on another data dir; a wrong passphrase or another account is refused', async () => {
    const keys = await loadOrCreateAccountKeys(path.join(dir, 'phone'))
    const file = path.join(dir, 'account.export')
    await exportAccount(file, keys, { passphrase: 'correct horse', purchases: ['p-1', 'p-2'], scrypt: { N: 1024 } })
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const text = await readFile(file, 'utf8')
    // (a plain substring test: base64 holds `+` and `/`, which a regular expression would read as syntax)
    assert.ok(!text.includes(Buffer.from(keys.privateKey.raw.subarray(0, 32)).toString('base64').slice(0, 20)))
    await assert.rejects(exportAccount(file, keys, { passphrase: 'x', purchases: [] }), AccountKeyError)

    const imported = await importAccount(path.join(dir, 'laptop'), file, 'correct horse')
    assert.deepEqual(imported.keys.signer.publicKey, keys.signer.publicKey)
    assert.deepEqual(imported.purchases, ['p-1', 'p-2'])
    const onLaptop = await loadOrCreateAccountKeys(path.join(dir, 'laptop'))
    assert.deepEqual(onLaptop.signer.publicKey, keys.signer.publicKey)

    await assert.rejects(importAccount(path.join(dir, 'car'), file, 'wrong'), { name: 'WrongPassphraseError' })
    await loadOrCreateAccountKeys(path.join(dir, 'car'))
    await assert.rejects(importAccount(path.join(dir, 'car'), file, 'correct horse'), AccountExistsError)
    const replaced = await importAccount(path.join(dir, 'car'), file, 'correct horse', { replace: true })
    assert.equal(replaced.replaced, true)

    await writeFile(path.join(dir, 'junk'), '{"type":"something else"}')
    await assert.rejects(importAccount(path.join(dir, 'x'), path.join(dir, 'junk'), 'p'), AccountKeyError)
  })
})
