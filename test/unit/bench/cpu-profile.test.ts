import assert from 'node:assert/strict'
import { type CpuProfile, frames, summariseProfile } from '../../../bench/lib/cpu-profile.ts'

/** A call tree root → decode → verify, root → settle → write; samples every 100 µs. */
function profile(samples: number[]): CpuProfile {
  const frame = (functionName: string, url = 'file:///x/a.ts') => ({ functionName, url, lineNumber: 0 })
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 6, 7] },
      { id: 2, callFrame: frame('decodeRecord'), children: [3] },
      { id: 3, callFrame: frame('verifyOneShot', 'node:internal/crypto/sig') },
      { id: 4, callFrame: frame('settle'), children: [5] },
      { id: 5, callFrame: frame('write', 'file:///x/node_modules/classic-level/index.js') },
      { id: 6, callFrame: frame('(idle)', '') },
      { id: 7, callFrame: frame('(garbage collector)', '') },
    ],
    startTime: 0,
    endTime: samples.length * 100,
    samples,
    timeDeltas: samples.map(() => 100),
  }
}

describe('bench: CPU profile summaries', () => {
  it('puts each sample in the first category any frame of its stack matches, idle apart', () => {
    // 4 signature samples, 2 in decodeRecord itself, 3 LevelDB, 1 in settle, 5 idle, 1 GC (the last delta is not counted).
    const summary = summariseProfile(profile([3, 3, 3, 3, 2, 2, 5, 5, 5, 4, 6, 6, 6, 6, 6, 7, 1]), [
      { name: 'signature', match: frames(['verifyOneShot']) },
      { name: 'decode', match: frames(['decodeRecord']) },
      { name: 'leveldb', match: frames([], 'classic-level') },
    ])
    assert.equal(summary.busyMs, 1.1)
    assert.equal(summary.idleMs, 0.5)
    const shares = Object.fromEntries(summary.categories.map((c) => [c.name, c.ms]))
    assert.deepEqual(shares, { signature: 0.4, decode: 0.2, leveldb: 0.3, other: 0.1, 'garbage collection': 0.1 })
    assert.equal(summary.categories[0]!.name, 'signature')
    assert.equal(summary.functions[0]!.name, 'verifyOneShot crypto/sig:1')
  })
})
