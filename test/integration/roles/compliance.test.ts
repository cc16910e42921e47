import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import type { AbstractIterator, AbstractKeyIterator, AbstractValueIterator } from 'abstract-level'
import { Level } from 'level'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { SeededRandom } from '../../../keys/random.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { ROLE_DEFINITIONS } from '../../../node/roles.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import type { Metrics } from '../../../protocols/metrics.ts'
import { ROLE_NAMES, type RoleName } from '../../../protocols/records/types/common.ts'
import type { TopicBus } from '../../../protocols/topics/bus.ts'
import type { RoleComponents, RoleDb } from '../../../roles/role.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'

/**
 * The role compliance test (after libp2p's interface-compliance-tests): every role this build lists starts and
 * stops twice on one real node — libp2p on the memory transport, Helia, the topic bus, a real LevelDB on disk —
 * and after each stop holds none of what it took: no protocol handler, no topic subscription, no metrics collector
 * and no open iterator on its store. Each start registers the same handlers and subscriptions again, a second
 * `start()` or `stop()` in a row changes nothing, and an unknown option is refused naming the field.
 */

/** Options that keep a role from waiting on peers this lone node does not have; every other default stays. */
function quietOptions(name: RoleName, account: NodeKeys): Record<string, unknown> {
  switch (name) {
    case 'player':
      return { account, registerDevice: false, flushIntervalMs: 0 }
    case 'catalog':
      return { catchUp: false }
    case 'delivery':
      return { reprovide: false }
    case 'clearinghouse':
      return { sync: false }
    default:
      return {}
  }
}

/** What a role holds on the node at one moment. */
interface Holdings {
  protocols: string[]
  subscriptions: number
  collectors: number
  iterators: number
}

/** Counts what the role takes through its components: topic subscriptions, metrics collectors, store iterators. */
class Ledger {
  readonly subscriptions = new Set<object>()
  readonly collectors = new Set<object>()
  readonly iterators = new Set<object>()

  /** The node's bus, its `subscribe` counted (patched on the instance: the bus keeps its state in private fields). */
  topics(bus: TopicBus): TopicBus {
    const subscribe = bus.subscribe.bind(bus)
    bus.subscribe = (name, subscriber) => {
      const token = {}
      this.subscriptions.add(token)
      const unsubscribe = subscribe(name, subscriber)
      return () => {
        this.subscriptions.delete(token)
        unsubscribe()
      }
    }
    return bus
  }

  metrics(): Metrics {
    return {
      increment: () => {},
      collect: () => {
        const token = {}
        this.collectors.add(token)
        return () => {
          this.collectors.delete(token)
        }
      },
    }
  }

  /** A root LevelDB whose iterators (every sublevel's go through the root) are counted until closed. */
  track(root: Level<string, Uint8Array>): void {
    type AnyIterator =
      | AbstractIterator<typeof root, string, Uint8Array>
      | AbstractKeyIterator<typeof root, string>
      | AbstractValueIterator<typeof root, string, Uint8Array>
    const counted = <I extends AnyIterator>(iterator: I): I => {
      this.iterators.add(iterator)
      const close = iterator.close.bind(iterator)
      iterator.close = async () => {
        this.iterators.delete(iterator)
        await close()
      }
      return iterator
    }
    const iterator = root.iterator.bind(root)
    const keys = root.keys.bind(root)
    const values = root.values.bind(root)
    root.iterator = ((options: object = {}) => counted(iterator(options))) as typeof root.iterator
    root.keys = ((options: object = {}) => counted(keys(options))) as typeof root.keys
    root.values = ((options: object = {}) => counted(values(options))) as typeof root.values
  }
}

describe('role compliance: every role starts and stops twice and releases what it took', function () {
  this.timeout(120_000)
  let dir: string
  let node: ConsortNode
  let keys: NodeKeys
  let account: NodeKeys
  let root: Level<string, Uint8Array>
  const ledger = new Ledger()
  let topics: TopicBus
  const clock = new FakeClock(Date.UTC(2026, 11, 7, 9))

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `consort-compliance-${process.pid}-`))
    keys = await createNodeKeys()
    account = await createNodeKeys()
    // One node with the keys of every service the network names, so that each role finds itself trusted.
    const net = await createTestNetwork(clock, { registrar: keys, references: [keys], clearinghouses: [keys] })
    node = await startMemoryNode({ network: net, clock, keys, dataDir: join(dir, 'node'), certRoles: [...ROLE_NAMES] })
    root = new Level<string, Uint8Array>(join(dir, 'roles-db'), { valueEncoding: 'view' })
    await root.open()
    ledger.track(root)
    topics = ledger.topics(node.topics)
  })

  after(async () => {
    await node?.stop()
    await root?.close()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  function componentsFor(name: RoleName): RoleComponents {
    return {
      peerId: node.peerId,
      libp2p: node.libp2p,
      helia: node.helia,
      db: root.sublevel(`role-${name}`, { valueEncoding: 'view' }) as unknown as RoleDb,
      keys: node.keys,
      clock: node.clock,
      random: new SeededRandom(7),
      network: node.network,
      topics,
      trust: node.trust,
      records: node.records,
      credentials: node.credentials,
      metrics: ledger.metrics(),
      dataDir: node.dataDir,
    }
  }

  function holdings(): Holdings {
    return {
      protocols: [...node.libp2p.getProtocols()].sort(),
      subscriptions: ledger.subscriptions.size,
      collectors: ledger.collectors.size,
      iterators: ledger.iterators.size,
    }
  }

  it('lists every role name in the node’s role map', () => {
    assert.deepEqual(Object.keys(ROLE_DEFINITIONS).sort(), [...ROLE_NAMES].sort())
    for (const [name, definition] of Object.entries(ROLE_DEFINITIONS)) assert.equal(definition.name, name)
  })

  for (const name of ROLE_NAMES) {
    describe(name, () => {
      it('refuses an unknown option, naming it, and a wrong type, naming the field', () => {
        const definition = ROLE_DEFINITIONS[name]
        assert.throws(
          () => definition.create(componentsFor(name), { ...quietOptions(name, account), noSuchOption: 1 }),
          (err: Error) => err.name === 'RoleOptionsError' && err.message.includes(`roleOptions.${name}.noSuchOption`),
        )
        assert.throws(() => definition.parseOptions([]), { name: 'RoleOptionsError' })
      })

      it('declares the components it needs, and is refused by name when made without one', function () {
        const definition = ROLE_DEFINITIONS[name]
        if (definition.components == null) this.skip()
        assert.ok(definition.components.length > 0)
        for (const missing of definition.components) {
          const { [missing]: _left, ...rest } = componentsFor(name)
          assert.throws(
            () => definition.create(rest, quietOptions(name, account)),
            (err: Error) =>
              err.name === 'MissingComponentError' &&
              err.message.startsWith(`role ${name} needs the ${missing} component`),
          )
        }
      })

      it('checks its store’s layout version before it starts: another one is refused, naming role and versions', async function () {
        const definition = ROLE_DEFINITIONS[name]
        const layout = definition.layout
        if (layout == null) this.skip()
        const db = root.sublevel(`role-${name}-from-the-future`, { valueEncoding: 'view' }) as unknown as RoleDb
        // In the layout's own encoding of its version (the player's is decimal text).
        const encode = (version: number) => layout.versionCodec?.encode(version) ?? dagCbor.encode(version)
        await db.put(layout.versionKey, encode(layout.version + 1))
        const before = holdings()
        const role = definition.create({ ...componentsFor(name), db }, quietOptions(name, account))
        await assert.rejects(role.start(), (err: Error) => {
          assert.equal(err.name, 'StoreLayoutVersionError')
          assert.equal(
            err.message,
            `role ${name}: the store has layout version ${layout.version + 1}, this code reads version ${layout.version}`,
          )
          return true
        })
        assert.deepEqual(holdings(), before, 'a role refused at its store takes nothing')
        assert.deepEqual(
          [...((await db.get(layout.versionKey)) ?? [])],
          [...encode(layout.version + 1)],
          'and writes nothing',
        )
      })

      it('starts and stops twice, taking the same each time and releasing all of it', async () => {
        const definition = ROLE_DEFINITIONS[name]
        const before = holdings()
        const role = definition.create(componentsFor(name), quietOptions(name, account))
        assert.equal(role.name, name)
        assert.deepEqual(holdings(), before, 'creating a role takes nothing: it runs only from start()')
        let running: Holdings | undefined
        for (const round of [1, 2]) {
          await role.start()
          const now = holdings()
          // Work a start leaves running in the background (a first scan of the store) may still hold an iterator.
          const taken = { ...now, iterators: 0 }
          if (running === undefined) running = taken
          else assert.deepEqual(taken, running, `round ${round}: start() took something else than the first time`)
          await role.start()
          assert.deepEqual(
            { ...holdings(), iterators: 0 },
            running,
            `round ${round}: a second start() changed what it holds`,
          )

          await role.stop()
          assert.deepEqual(holdings(), before, `round ${round}: stop() left something behind`)
          await role.stop()
          assert.deepEqual(holdings(), before, `round ${round}: a second stop() changed something`)
        }
        // Roles that serve the network take handlers and topics; the check above would pass vacuously otherwise.
        if (name === 'registration' || name === 'clearinghouse' || name === 'retailer' || name === 'reference') {
          assert.ok(running!.protocols.length > before.protocols.length, `${name} registered no protocol handler`)
        }
        if (name === 'catalog' || name === 'reference' || name === 'clearinghouse') {
          assert.ok(running!.subscriptions > before.subscriptions, `${name} subscribed to no topic`)
        }
      })
    })
  }

  it('serialises start() and stop() called at once, and stops after a start still running', async () => {
    const role = ROLE_DEFINITIONS.registration.create(componentsFor('registration'))
    const before = holdings()
    await Promise.all([role.start(), role.start(), role.stop(), role.start()])
    assert.ok(holdings().protocols.length > before.protocols.length, 'the last call, a start, left it running')
    await Promise.all([role.stop(), role.start(), role.stop()])
    assert.deepEqual(holdings(), before)
  })

  it('registration: stop() returns only once the round of rotated-certificate revocations that start() began has ended', async () => {
    // The round reads the store through an iterator; a stop() that returned before it ended left one open (seen once
    // in CI as "round 2: stop() left something behind", iterators 1). Here the round is held until stop() has done
    // everything else it does, so the verdict does not depend on timing.
    const role = ROLE_DEFINITIONS.registration.create(componentsFor('registration'))
    const before = holdings()
    const rotations = role.registrar.rotations
    const revokeDue = rotations.revokeDue.bind(rotations)
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let roundEnded = false
    rotations.revokeDue = async () => {
      await held
      const revoked = await revokeDue()
      roundEnded = true
      return revoked
    }
    await role.start()
    let stopped = false
    const stopping = role.stop().then(() => {
      stopped = true
    })
    await waitUntil(() => holdings().protocols.length === before.protocols.length, {
      message: 'stop() removed its handlers',
    })
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(stopped, false, 'stop() returned while the round still ran')
    release()
    await stopping
    assert.equal(roundEnded, true)
    assert.deepEqual(holdings(), before)
  })

  it('releases what a failed start() took before the error reaches the caller', async () => {
    const before = holdings()
    // A handler already registered for the registration protocol makes the role's own registration fail part-way.
    const role = ROLE_DEFINITIONS.registration.create(componentsFor('registration'))
    await role.start()
    const taken = holdings().protocols.filter((p) => !before.protocols.includes(p))
    await role.stop()
    const blocked = taken.at(-1)!
    await node.libp2p.handle(blocked, () => {})
    try {
      await assert.rejects(role.start())
      assert.deepEqual(
        holdings().protocols,
        [...before.protocols, blocked].sort(),
        'the handlers registered before the failure were removed',
      )
      assert.equal(holdings().subscriptions, before.subscriptions, 'the subscriptions taken before it were removed')
    } finally {
      await node.libp2p.unhandle(blocked)
    }
    await role.start()
    await role.stop()
    assert.deepEqual(holdings(), before)
  })
})
