import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createNodeKeys, saveNodeKeys } from '../../../keys/keystore.ts'
import { DEFAULT_LISTEN, defaultFileConfig } from '../../../node/config.ts'
import { describeIdentity, dialableAddress, parseIdentity } from '../../../node/identity.ts'
import { announcesOnlyPublicly } from '../../../node/libp2p-options.ts'
import { runConsort } from '../../helpers/cli.ts'

async function identityOf() {
  const keys = await createNodeKeys()
  const peerId = keys.privateKey.publicKey.toString()
  return {
    keys,
    peerId,
    identity: describeIdentity({ signingKey: keys.signer.publicKey, sealingKey: keys.sealing.publicKey }, peerId, [
      '/ip4/198.18.0.2/tcp/4150',
      '/ip4/0.0.0.0/tcp/4150',
    ]),
  }
}

describe('node identity and listen defaults', () => {
  it('listens on every interface on port 4150 by default', () => {
    assert.deepEqual(defaultFileConfig().listen, ['/ip4/0.0.0.0/tcp/4150'])
    assert.deepEqual(DEFAULT_LISTEN, ['/ip4/0.0.0.0/tcp/4150'])
  })

  it('shares private addresses in the DHT unless the node announces only public ones', () => {
    assert.equal(announcesOnlyPublicly([]), false)
    assert.equal(announcesOnlyPublicly(['/ip4/10.1.2.3/tcp/4150']), false)
    assert.equal(announcesOnlyPublicly(['/ip4/198.18.0.2/tcp/4150']), false, 'the benchmarking range is not public')
    assert.equal(announcesOnlyPublicly(['/ip4/8.8.8.8/tcp/4150', '/ip4/192.168.1.2/tcp/4150']), false)
    assert.equal(announcesOnlyPublicly(['/ip4/8.8.8.8/tcp/4150']), true)
    assert.equal(announcesOnlyPublicly(['/dns4/node.example.org/tcp/4150']), true)
  })

  it('describes an identity with dialable addresses only, each ending in the peer id', async () => {
    const { identity, peerId } = await identityOf()
    assert.deepEqual(identity.addresses, [`/ip4/198.18.0.2/tcp/4150/p2p/${peerId}`])
    assert.equal(dialableAddress('/ip6/::/tcp/1', peerId), null)
    assert.equal(dialableAddress(`/ip4/1.2.3.4/tcp/1/p2p/${peerId}`, peerId), `/ip4/1.2.3.4/tcp/1/p2p/${peerId}`)
  })

  it('parses `consort id --json` output; names it after the file unless it says its name', async () => {
    const { identity, keys } = await identityOf()
    const parsed = parseIdentity(JSON.stringify(identity), '/tmp/registrar-1.json')
    assert.equal(parsed.name, 'registrar-1')
    assert.deepEqual(parsed.signingKey, keys.signer.publicKey)
    assert.deepEqual(parsed.sealingKey, keys.sealing.publicKey)
    assert.equal(parseIdentity(JSON.stringify({ ...identity, name: 'reg-eu' }), 'x.json').name, 'reg-eu')
  })

  it('refuses identities that do not hold together, naming the field', async () => {
    const { identity } = await identityOf()
    const other = (await identityOf()).identity
    const cases: Array<[unknown, RegExp]> = [
      ['not json', /not JSON/],
      [{ ...identity, peerId: other.peerId }, /peerId .* is not the signing key's/],
      [{ ...identity, signingKey: 'abcd' }, /signingKey: expected 32 bytes in hex/],
      [{ ...identity, sealingKey: undefined }, /sealingKey: expected 32 bytes/],
      [{ ...identity, addresses: ['/ip4/1.2.3.4/tcp/1', 'nonsense'] }, /addresses\.1: not a multiaddr/],
      [{ ...identity, addresses: [`/ip4/1.2.3.4/tcp/1/p2p/${other.peerId}`] }, /addresses\.0: .* not a dialable/],
      [{ ...identity, name: 'no spaces please' }, /name: 1 to 64/],
    ]
    for (const [value, pattern] of cases) {
      const text = typeof value === 'string' ? value : JSON.stringify(value)
      assert.throws(() => parseIdentity(text, 'id.json'), pattern)
    }
  })

  describe('on the command line', function () {
    this.timeout(120_000)
    let dir: string

    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'consort-identity-'))
    })

    after(async () => {
      await rm(dir, { recursive: true, force: true })
    })

    it('init --port/--announce/--storefront write the config; id works without a daemon', async () => {
      const node = path.join(dir, 'retailer')
      const init = await runConsort([
        'init',
        '--data-dir',
        node,
        '--port',
        '4999',
        '--announce',
        '/dns4/shop.example.org/tcp/4999',
        '--storefront',
        '0.0.0.0:8080',
        '--storefront-url',
        'https://shop.example.org/',
        '--json',
      ])
      assert.equal(init.code, 0, init.stderr)
      const config = JSON.parse(await readFile(path.join(node, 'config.json'), 'utf8'))
      assert.deepEqual(config.listen, ['/ip4/0.0.0.0/tcp/4999'])
      assert.deepEqual(config.announce, ['/dns4/shop.example.org/tcp/4999'])
      assert.deepEqual(config.roleOptions.retailer.storefront, {
        host: '0.0.0.0',
        port: 8080,
        publicUrl: 'https://shop.example.org/',
      })
      const id = await runConsort(['id', '--data-dir', node, '--json'])
      assert.equal(id.code, 0, id.stderr)
      const identity = JSON.parse(id.stdout)
      assert.equal(identity.running, false)
      assert.deepEqual(identity.addresses, [`/dns4/shop.example.org/tcp/4999/p2p/${identity.peerId}`])
      assert.equal(parseIdentity(id.stdout, 'retailer.json').peerId, identity.peerId)
    })

    it('init --websocket/--relay-server/--behind-nat/--no-hole-punching write the listen and nat settings', async () => {
      const node = path.join(dir, 'relay')
      const init = await runConsort(['init', '--data-dir', node, '--websocket', '--relay-server', '--json'])
      assert.equal(init.code, 0, init.stderr)
      const config = JSON.parse(await readFile(path.join(node, 'config.json'), 'utf8'))
      assert.deepEqual(config.listen, ['/ip4/0.0.0.0/tcp/4150', '/ip4/0.0.0.0/tcp/4151/ws'])
      assert.deepEqual(config.nat, { autonat: true, relayServer: true, reserveRelay: false, holePunching: true })
      const home = path.join(dir, 'home')
      const homeInit = await runConsort(['init', '--data-dir', home, '--behind-nat', '--no-hole-punching', '--json'])
      assert.equal(homeInit.code, 0, homeInit.stderr)
      const homeConfig = JSON.parse(await readFile(path.join(home, 'config.json'), 'utf8'))
      assert.deepEqual(homeConfig.nat, { autonat: true, relayServer: false, reserveRelay: true, holePunching: false })
    })

    it('refuses a bad --storefront or --port, naming the option', async () => {
      for (const [args, pattern] of [
        [['--storefront', 'nohostport'], /--storefront: expected HOST:PORT/],
        [['--port', '70000'], /--port: not a TCP port/],
        [['--storefront-url', 'ftp://x'], /--storefront-url: not an http\(s\) URL/],
      ] as const) {
        const result = await runConsort(['init', '--data-dir', path.join(dir, 'bad'), ...args])
        assert.equal(result.code, 2, result.stderr)
        assert.match(result.stderr, pattern)
      }
    })

    it('network create takes public identities, never a keystore', async () => {
      const { identity } = await identityOf()
      const idFile = path.join(dir, 'reg-a.json')
      await writeFile(idFile, JSON.stringify(identity))
      const out = path.join(dir, 'net', 'network.json')
      const created = await runConsort([
        'network',
        'create',
        '--name',
        'hosts',
        '--out',
        out,
        '--registrar',
        idFile,
        '--clearinghouse',
        idFile,
        '--bootstrap-from',
        idFile,
        '--json',
      ])
      assert.equal(created.code, 0, created.stderr)
      const summary = JSON.parse(await readFile(out, 'utf8')).summary
      assert.deepEqual(summary.bootstrap, identity.addresses)
      assert.equal(summary.registrars[0].key, identity.signingKey)

      const keystore = path.join(dir, 'node.key')
      const keys = await createNodeKeys()
      await saveNodeKeys(keystore, keys)
      const refused = await runConsort([
        'network',
        'create',
        '--name',
        'hosts',
        '--out',
        path.join(dir, 'net2', 'network.json'),
        '--registrar',
        keystore,
      ])
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /is a keystore, not a public identity/)
    })
  })
})
