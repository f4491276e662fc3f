// When the service writes its full snapshot (SPEC P9): not inside a bulk ingest's write
// chain, but once the writes have been idle; forced once `maxLag` blocks are unsnapshotted;
// never while a block waits for its store write. Fake timers: no timed assertion.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SnapshotTiming } from '../../src/peer/snapshot-timing.ts'

function setup (): { t: SnapshotTiming, state: { blocks: number, busy: boolean, written: number[] } } {
  const state = { blocks: 0, busy: false, written: [] as number[] }
  let chain: Promise<void> = Promise.resolve()
  const t = new SnapshotTiming({
    every: 10,
    maxLag: 40,
    idleMs: 100,
    write: async () => { state.written.push(state.blocks) },
    enqueue: async (task) => { const run = chain.then(task); chain = run.catch(() => {}); await run },
    busy: () => state.busy,
    blocks: () => state.blocks
  }, 0)
  return { t, state }
}

describe('snapshot timing', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('[P9] a due snapshot waits until the writes were idle for idleMs, then covers every block', async () => {
    const { t, state } = setup()
    for (let i = 0; i < 3; i++) {
      state.blocks += 8
      await t.afterWrite()
      await vi.advanceTimersByTimeAsync(50) // writes keep coming: the timer is re-armed each time
    }
    expect(state.written).toEqual([])
    await vi.advanceTimersByTimeAsync(100)
    expect(state.written).toEqual([24])
    expect(t.lag).toBe(0)
  })

  it('[P9] forced in the write chain once maxLag blocks are unsnapshotted, idle or not', async () => {
    const { t, state } = setup()
    for (let i = 0; i < 5; i++) {
      state.blocks += 10
      await t.afterWrite()
    }
    expect(state.written).toEqual([40])
  })

  it('[P9] not written while a block waits for its store write; written after', async () => {
    const { t, state } = setup()
    state.blocks = 12
    await t.afterWrite()
    state.busy = true
    await vi.advanceTimersByTimeAsync(150)
    expect(state.written).toEqual([])
    state.busy = false
    await vi.advanceTimersByTimeAsync(150)
    expect(state.written).toEqual([12])
  })

  it('[P9] nothing after stop', async () => {
    const { t, state } = setup()
    state.blocks = 12
    await t.afterWrite()
    t.stop()
    await vi.advanceTimersByTimeAsync(500)
    expect(state.written).toEqual([])
  })
})
