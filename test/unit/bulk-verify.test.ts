// Bulk WebCrypto signature checks in front of the engine (SPEC S6): valid blocks skip the
// engine's own check, a bad signature still gets the engine's typed rejection, and nothing
// already stored changes.
import { describe, it, expect } from 'vitest'
import { verifyBlockSignatures } from '../../src/peer/bulk-verify.ts'
import { LedgerService } from '../../src/peer/ledger-service.ts'
import { createMemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import { inThreadMiner } from '../../src/peer/miner.ts'
import { key, NOW, validatorChain as chainOf, withBadSig } from '../fixtures/ledger-helpers.ts'

describe('bulk signature verification', () => {
  it('tells valid, invalid and undecodable blocks apart', async () => {
    const { blocks } = chainOf(3)
    const verdicts = await verifyBlockSignatures([...blocks, withBadSig(blocks[1]), new Uint8Array([1, 2, 3])])
    expect(verdicts).toEqual(['valid', 'valid', 'valid', 'invalid', 'unknown'])
  })

  it('[S6] a batch with a forged signature: the forged block is rejected with ERR_BAD_SIGNATURE, the valid ones are stored', async () => {
    const { ctx, blocks } = chainOf(6)
    const store = createMemoryLedgerStore()
    const me = key(9)
    const service = await LedgerService.open({ ctx, store, did: me.did, seed: () => me.seed, miner: inThreadMiner, now: () => NOW })
    // blocks 0..3 valid, then block 4 with a broken signature, then block 5 (its child, parked)
    const batch = [...blocks.slice(0, 4), withBadSig(blocks[4]), blocks[5]]
    const result = await service.ingest(batch)
    expect(result.results.slice(0, 4).map((r) => r.kind)).toEqual(['inserted', 'inserted', 'inserted', 'inserted'])
    const bad = result.results[4]
    expect(bad.kind).toBe('rejected')
    expect(bad.kind === 'rejected' ? bad.error.code : '').toBe('ERR_BAD_SIGNATURE')
    expect(result.results[5].kind).toBe('orphan')
    expect(service.stats().rejectedInputs).toEqual({ ERR_BAD_SIGNATURE: 1 })
    expect(await store.blockCount()).toBe(4)

    // The genuine block 4 later arrives: block 5 leaves the orphan pool, nothing was lost.
    await service.ingest([blocks[4]])
    expect(await store.blockCount()).toBe(6)
    await service.stop()
  })
})
