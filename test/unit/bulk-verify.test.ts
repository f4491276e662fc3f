// Bulk WebCrypto signature checks in front of the engine (SPEC S6): valid blocks skip the
// engine's own check, a bad signature still gets the engine's typed rejection, and nothing
// already stored changes.
import { describe, it, expect } from 'vitest'
import { verifyBlockSignatures, verifySignatures } from '../../src/peer/bulk-verify.ts'
import { nodeEd25519Verify } from '../../src/peer/node-ed25519.ts'
import { signingBytes, validateBlockBytes } from '../../src/core/ledger/index.ts'
import { publicKeyFromDid, verify as nobleVerify } from '../../src/core/identity.ts'
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

describe('Node Ed25519 for the bulk check (P11)', () => {
  it('[P11] node:crypto gives the verdicts of WebCrypto Ed25519 on valid, forged and mangled signatures', async () => {
    const verify = nodeEd25519Verify()
    expect(verify).not.toBeNull()
    const { ctx, blocks } = chainOf(3)
    const items = [...blocks, withBadSig(blocks[1])].map(b => validateBlockBytes(b, ctx, { now: NOW, signatureChecked: true })).map(v => ({ issuer: v.block.issuer, message: signingBytes(v.block), sig: v.block.sig }))
    // a signature with s >= L (s + L): strict RFC 8032 refuses it, as the engine's @noble check does
    const L = (1n << 252n) + 27742317777372353535851937790883648493n
    const first = items[0]
    let s = 0n
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(first.sig[32 + i])
    const sPlusL = s + L
    const malleable = first.sig.slice()
    for (let i = 0; i < 32; i++) malleable[32 + i] = Number((sPlusL >> BigInt(8 * i)) & 0xffn)
    items.push({ ...first, sig: malleable })
    const viaNode = items.map(it => verify!(it.issuer, it.message, it.sig))
    const viaWebCrypto = await Promise.all(items.map(async it => {
      const k = await crypto.subtle.importKey('raw', publicKeyFromDid(it.issuer) as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify'])
      return await crypto.subtle.verify({ name: 'Ed25519' }, k, it.sig as Uint8Array<ArrayBuffer>, it.message as Uint8Array<ArrayBuffer>)
    }))
    expect(viaNode).toEqual([true, true, true, false, false])
    expect(viaNode).toEqual(viaWebCrypto)
    expect(nobleVerify(publicKeyFromDid(first.issuer), first.message, malleable)).toBe(false)
    expect(await verifySignatures(items)).toEqual(['valid', 'valid', 'valid', 'invalid', 'invalid'])
  })
})
