import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { lpStream } from '@libp2p/utils'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { isError } from '../../../protocols/errors.ts'
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  FrameError,
  MAX_ERROR_MESSAGE_CHARS,
  protocolId,
  RPC_CODES,
  RpcHandlerError,
  RpcProtocolError,
  RpcRemoteError,
  RpcTimeoutError,
  registerRpc,
  rpcCall,
} from '../../../protocols/rpc/index.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll } from '../../helpers/nodes.ts'

/** Assert that a promise rejects with an RpcRemoteError carrying `code`, and return it. */
async function remoteError(promise: Promise<unknown>, code: string): Promise<RpcRemoteError> {
  try {
    await promise
  } catch (err) {
    assert.ok(
      isError(err, RpcRemoteError),
      `expected RpcRemoteError, got ${(err as Error).name}: ${(err as Error).message}`,
    )
    assert.equal(err.code, code, err.message)
    return err
  }
  assert.fail(`expected ${code}, the call succeeded`)
}

/** Send raw frames on a fresh stream and read the one response frame. */
async function rawExchange(client: ConsortNode, server: ConsortNode, protocol: string, frames: Uint8Array[]) {
  const stream = await client.libp2p.dialProtocol(server.peerId, protocol)
  const lp = lpStream(stream)
  for (const frame of frames) await lp.write(frame)
  const reply = await lp.read()
  await stream.close()
  return decodeResponse(reply.subarray())
}

describe('protocols/rpc over two libp2p nodes', function () {
  this.timeout(30_000)
  const clock = new FakeClock()
  let server: ConsortNode
  let client: ConsortNode
  const protocol = protocolId('testnet', 'rpc-test')
  /** Handlers waiting on the test, released when it ends (no handler is left hanging). */
  const releases: Array<() => void> = []
  let unregister: (() => Promise<void>) | undefined

  before(async () => {
    const network = await createTestNetwork(clock)
    server = await startMemoryNode({ network, clock })
    client = await startMemoryNode({ network, clock })
    await client.libp2p.dial(server.libp2p.getMultiaddrs()[0]!)
  })

  after(async () => {
    await stopAll([client, server].filter((n) => n != null))
  })

  afterEach(async () => {
    for (const release of releases.splice(0)) release()
    await unregister?.()
    unregister = undefined
  })

  function blockedUntilRelease(): Promise<void> {
    return new Promise<void>((resolve) => releases.push(resolve))
  }

  it('round-trips a request and its response, with bytes, bigints and CIDs intact', async () => {
    let seenPeer = ''
    unregister = await registerRpc(server.libp2p, protocol, {
      echo: async (body, context) => {
        seenPeer = context.remotePeer.toString()
        return { echoed: body, network: 'testnet' }
      },
    })
    const body = { bytes: new Uint8Array([1, 2, 3]), amount: 2n ** 60n, id: server.network.id, text: 'hello' }
    const reply = (await rpcCall(client.libp2p, server.peerId, protocol, 'echo', body)) as {
      echoed: typeof body
      network: string
    }
    assert.equal(reply.network, 'testnet')
    assert.deepEqual(reply.echoed.bytes, body.bytes)
    assert.equal(reply.echoed.amount, 2n ** 60n)
    assert.ok(server.network.id.equals(reply.echoed.id))
    assert.equal(reply.echoed.text, 'hello')
    assert.equal(seenPeer, client.peerId.toString(), 'the handler sees the authenticated remote peer')
  })

  it('answers many concurrent requests on separate streams', async () => {
    unregister = await registerRpc(server.libp2p, protocol, { double: async (body) => (body as number) * 2 })
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => rpcCall(client.libp2p, server.peerId, protocol, 'double', i)),
    )
    assert.deepEqual(
      answers,
      Array.from({ length: 20 }, (_, i) => i * 2),
    )
  })

  it('answers an unknown op with ERR_UNKNOWN_OP', async () => {
    unregister = await registerRpc(server.libp2p, protocol, { known: async () => 'ok' })
    const err = await remoteError(rpcCall(client.libp2p, server.peerId, protocol, 'unknown', null), RPC_CODES.unknownOp)
    assert.match(err.message, /unknown/)
    // An op named after an Object.prototype member is unknown too, not a crash.
    await remoteError(rpcCall(client.libp2p, server.peerId, protocol, 'toString', null), RPC_CODES.unknownOp)
    await remoteError(rpcCall(client.libp2p, server.peerId, protocol, '__proto__', null), RPC_CODES.unknownOp)
  })

  it("passes a handler's error code and message to the client", async () => {
    unregister = await registerRpc(server.libp2p, protocol, {
      typed: async () => {
        throw new RpcHandlerError('ERR_OFFER_REVOKED', 'offer offer-1 was revoked')
      },
      coded: async () => {
        throw Object.assign(new Error('no such record'), { code: 'ERR_NOT_FOUND' })
      },
    })
    const typed = await remoteError(rpcCall(client.libp2p, server.peerId, protocol, 'typed', null), 'ERR_OFFER_REVOKED')
    assert.match(typed.message, /offer offer-1 was revoked/)
    assert.equal(typed.protocol, protocol)
    await remoteError(rpcCall(client.libp2p, server.peerId, protocol, 'coded', null), RPC_CODES.notFound)
  })

  it('turns a plain Error into ERR_INTERNAL without its message', async () => {
    unregister = await registerRpc(server.libp2p, protocol, {
      plain: async () => {
        throw new Error('secret database path /var/lib/consort')
      },
      // A code that is not one of ours (a Node system error) is internal too.
      system: async () => {
        throw Object.assign(new Error('open /etc/shadow'), { code: 'EACCES' })
      },
      // A handler may not pretend to be internal with a message of its own.
      fake: async () => {
        throw new RpcHandlerError('ERR_INTERNAL', 'stack trace here')
      },
    })
    for (const op of ['plain', 'system', 'fake']) {
      const err = await remoteError(rpcCall(client.libp2p, server.peerId, protocol, op, null), RPC_CODES.internal)
      assert.doesNotMatch(err.message, /secret|shadow|stack trace/)
      assert.match(err.message, /internal error/)
    }
  })

  it('refuses an oversized request with ERR_TOO_LARGE', async () => {
    let called = false
    unregister = await registerRpc(
      server.libp2p,
      protocol,
      {
        store: async () => {
          called = true
          return 'stored'
        },
      },
      { maxRequestBytes: 1024 },
    )
    await remoteError(
      rpcCall(client.libp2p, server.peerId, protocol, 'store', new Uint8Array(4096)),
      RPC_CODES.tooLarge,
    )
    assert.equal(called, false, 'the handler never saw the oversized request')
    // Just under the cap is fine.
    assert.equal(await rpcCall(client.libp2p, server.peerId, protocol, 'store', new Uint8Array(900)), 'stored')
  })

  it('gives up on a handler slower than the client deadline with RpcTimeoutError', async () => {
    let started = 0
    unregister = await registerRpc(server.libp2p, protocol, {
      slow: async () => {
        started++
        await blockedUntilRelease()
        return 'too late'
      },
    })
    await assert.rejects(
      rpcCall(client.libp2p, server.peerId, protocol, 'slow', null, { deadlineMs: 300 }),
      (err: Error) => isError(err, RpcTimeoutError) && err.code === 'ERR_RPC_TIMEOUT' && /300 ms/.test(err.message),
    )
    assert.equal(started, 1)
  })

  it('answers ERR_DEADLINE when a handler outlasts the server deadline, even if it ignores its signal', async () => {
    unregister = await registerRpc(
      server.libp2p,
      protocol,
      {
        // Honours its signal: rejects when the server's deadline passes.
        polite: (_body, context) =>
          new Promise((_resolve, reject) =>
            context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true }),
          ),
        // Ignores its signal: the server must answer anyway.
        stubborn: async () => {
          await blockedUntilRelease()
          return 'too late'
        },
      },
      { deadlineMs: 300 },
    )
    await remoteError(
      rpcCall(client.libp2p, server.peerId, protocol, 'polite', null, { deadlineMs: 5000 }),
      RPC_CODES.deadline,
    )
    await remoteError(
      rpcCall(client.libp2p, server.peerId, protocol, 'stubborn', null, { deadlineMs: 5000 }),
      RPC_CODES.deadline,
    )
  })

  it('answers a malformed frame with ERR_BAD_REQUEST', async () => {
    let called = false
    unregister = await registerRpc(server.libp2p, protocol, {
      op: async () => {
        called = true
        return 'ok'
      },
    })
    const malformed = [
      new Uint8Array([0xff, 0x00, 0x13]), // not DAG-CBOR
      dagCbor.encode([1, 2, 3]), // not a map
      dagCbor.encode({ v: 2, op: 'op', body: null }), // another version
      dagCbor.encode({ v: 1, op: 'op' }), // no body
      dagCbor.encode({ v: 1, op: 'op', body: null, extra: true }), // an extra field
      dagCbor.encode({ v: 1, op: 7, body: null }), // op not a string
      dagCbor.encode({ v: 1, op: '', body: null }), // empty op
      dagCbor.encode({ v: 1, op: 'x'.repeat(65), body: null }), // op too long
    ]
    for (const frame of malformed) {
      const response = await rawExchange(client, server, protocol, [frame])
      assert.equal(response.ok, false)
      assert.equal(
        response.ok === false && response.code,
        RPC_CODES.badRequest,
        `frame ${Buffer.from(frame).toString('hex')}`,
      )
    }
    assert.equal(called, false)
    // The same exchange with a well-formed frame works.
    const ok = await rawExchange(client, server, protocol, [encodeRequest({ op: 'op', body: null })])
    assert.deepEqual(ok, { ok: true, body: 'ok' })
  })

  it('refuses a response larger than the client accepts with RpcProtocolError', async () => {
    unregister = await registerRpc(server.libp2p, protocol, { big: async () => new Uint8Array(8192) })
    await assert.rejects(
      rpcCall(client.libp2p, server.peerId, protocol, 'big', null, { maxResponseBytes: 1024 }),
      (err: Error) => isError(err, RpcProtocolError) && err.code === 'ERR_RPC_PROTOCOL' && /1024/.test(err.message),
    )
    // Within the cap it arrives whole.
    const body = await rpcCall(client.libp2p, server.peerId, protocol, 'big', null, { maxResponseBytes: 16_384 })
    assert.equal((body as Uint8Array).length, 8192)
  })

  it('serves a request a node sends to itself through the same dispatch, codes and deadline', async () => {
    unregister = await registerRpc(
      server.libp2p,
      protocol,
      {
        whoami: async (_body, context) => ({
          peer: context.remotePeer.toString(),
          hasConnection: context.connection != null,
        }),
        stubborn: async () => {
          await blockedUntilRelease()
          return 'too late'
        },
      },
      { deadlineMs: 300, maxRequestBytes: 1024 },
    )
    assert.deepEqual(await rpcCall(server.libp2p, server.peerId, protocol, 'whoami', null), {
      peer: server.peerId.toString(),
      hasConnection: false,
    })
    await remoteError(rpcCall(server.libp2p, server.peerId, protocol, 'missing', null), RPC_CODES.unknownOp)
    await remoteError(
      rpcCall(server.libp2p, server.peerId, protocol, 'whoami', new Uint8Array(4096)),
      RPC_CODES.tooLarge,
    )
    await remoteError(
      rpcCall(server.libp2p, server.peerId, protocol, 'stubborn', null, { deadlineMs: 5000 }),
      RPC_CODES.deadline,
    )
  })

  it('offers several protocols newest first: the peer answers on the first it serves, and says which', async () => {
    const newer = protocolId('testnet', 'rpc-test', 2)
    unregister = await registerRpc(server.libp2p, protocol, { which: async () => 'one' })
    const chosen: Array<{ protocol: string; connection: boolean }> = []
    const onProtocol = (p: string, connection: unknown) => chosen.push({ protocol: p, connection: connection != null })
    const offered = [newer, protocol]
    assert.equal(await rpcCall(client.libp2p, server.peerId, offered, 'which', null, { onProtocol }), 'one')
    const stopNewer = await registerRpc(server.libp2p, newer, { which: async () => 'two' })
    try {
      assert.equal(await rpcCall(client.libp2p, server.peerId, offered, 'which', null, { onProtocol }), 'two')
      // A node that calls itself: the first protocol it serves, without a connection.
      assert.equal(await rpcCall(server.libp2p, server.peerId, offered, 'which', null, { onProtocol }), 'two')
    } finally {
      await stopNewer()
    }
    assert.deepEqual(chosen, [
      { protocol, connection: true },
      { protocol: newer, connection: true },
      { protocol: newer, connection: false },
    ])
  })

  it('stops serving after unregistering', async () => {
    const stop = await registerRpc(server.libp2p, protocol, { op: async () => 'ok' })
    assert.equal(await rpcCall(client.libp2p, server.peerId, protocol, 'op', null), 'ok')
    await stop()
    await assert.rejects(rpcCall(client.libp2p, server.peerId, protocol, 'op', null), (err: Error) => {
      return !isError(err, RpcRemoteError) && /protocol/i.test(`${err.name} ${err.message}`)
    })
  })
})

describe('protocols/rpc codec', () => {
  it('round-trips requests and responses', () => {
    assert.deepEqual(decodeRequest(encodeRequest({ op: 'search', body: { q: 'jazz' } })), {
      op: 'search',
      body: { q: 'jazz' },
    })
    assert.deepEqual(decodeResponse(encodeResponse({ ok: true, body: [1, 2] })), { ok: true, body: [1, 2] })
    assert.deepEqual(decodeResponse(encodeResponse({ ok: false, code: 'ERR_X', message: 'why' })), {
      ok: false,
      code: 'ERR_X',
      message: 'why',
    })
  })

  it('bounds error messages', () => {
    const response = decodeResponse(encodeResponse({ ok: false, code: 'ERR_X', message: 'x'.repeat(10_000) }))
    assert.equal(response.ok === false && response.message.length, MAX_ERROR_MESSAGE_CHARS)
  })

  it('refuses malformed responses with FrameError', () => {
    for (const frame of [
      dagCbor.encode({ v: 1 }),
      dagCbor.encode({ v: 1, ok: true }),
      dagCbor.encode({ v: 1, ok: true, body: 1, extra: 2 }),
      dagCbor.encode({ v: 1, ok: false, code: 'ERR_X' }),
      dagCbor.encode({ v: 1, ok: false, code: 5, message: 'm' }),
      dagCbor.encode({ v: 1, ok: false, code: 'ERR_X', message: 'm', extra: 1 }),
      dagCbor.encode({ v: 3, ok: true, body: null }),
      new Uint8Array([0xff]),
    ]) {
      assert.throws(() => decodeResponse(frame), FrameError)
    }
  })
})
