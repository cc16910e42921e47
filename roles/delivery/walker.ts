import type { GraphNode, GraphWalkerFactory, WalkOptions } from '@helia/interface'
import * as dagCbor from '@ipld/dag-cbor'
import { createUnsafe } from 'multiformats/block'
import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { collectBlock } from '../../protocols/records/store.ts'
import { NotSeedableError } from './errors.ts'

/**
 * How pins walk what a delivery node carries: records are DAG-CBOR, segments are raw. The node's Helia is
 * assembled light, without a DAG-CBOR codec, so the role brings its own walker (depth-first, in link order)
 * rather than asking the node to load codecs for it.
 */
export const recordWalker: GraphWalkerFactory = (components) => ({
  async *walk<T = unknown>(root: CID, options: WalkOptions<T> = {}): AsyncGenerator<GraphNode<T>> {
    const maxDepth = options.depth ?? Number.POSITIVE_INFINITY
    const stack: Array<{ cid: CID; depth: number; path: CID[] }> = [{ cid: root, depth: 0, path: [root] }]
    while (stack.length > 0) {
      options.signal?.throwIfAborted()
      const next = stack.pop()!
      const codec = next.cid.code === dagCbor.code ? dagCbor : next.cid.code === raw.code ? raw : null
      if (codec == null) throw new NotSeedableError(`${next.cid} is neither a record nor a raw block`)
      const bytes = await collectBlock(components.blockstore.get(next.cid, options))
      const block = createUnsafe({
        cid: next.cid,
        bytes,
        codec: codec as typeof dagCbor,
      }) as unknown as GraphNode<T>['block']
      yield { block, depth: next.depth, path: next.path }
      if (next.depth >= maxDepth) continue
      const children = [...block.links()].map(([, cid]) => cid)
      for (let i = children.length - 1; i >= 0; i--) {
        const child = children[i]!
        if (options.includeChild?.(child, block) === false) continue
        stack.push({ cid: child, depth: next.depth + 1, path: [...next.path, child] })
      }
    }
  },
})
