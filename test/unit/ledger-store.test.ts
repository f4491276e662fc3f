// The LedgerStore acceptance suite against both implementations (in memory; IndexedDB through
// fake-indexeddb), plus what only IndexedDB can show: schema, request failures, quota errors.
import { afterEach, describe, expect, it } from 'vitest'
import { deleteDB } from 'idb'
import { MemoryLedgerStore } from '../../src/store/memory-ledger.ts'
import { LEDGER_DB_VERSION, ledgerDbName, openIdbLedgerStore } from '../../src/store/ledger-idb.ts'
import { runLedgerStoreTests } from '../fixtures/ledger-store-suite.ts'
import { ctxOf, Script } from '../fixtures/ledger-helpers.ts'

let counter = 0
const opened: string[] = []

function profile (): string {
  const p = `ledger-test-${process.pid}-${++counter}`
  opened.push(p)
  return p
}

runLedgerStoreTests('memory', async () => ({ store: new MemoryLedgerStore() }))

runLedgerStoreTests('IndexedDB', async () => {
  const p = profile()
  const store = await openIdbLedgerStore(p)
  return { store, reopen: async () => { await store.close(); return await openIdbLedgerStore(p) } }
})

describe('IndexedDB ledger store', () => {
  const s = new Script(ctxOf())
  s.issuer('a', 1, 'home'); s.issuer('b', 2, 'home')
  s.issue('a1', ['G', 'G']); s.issue('b1', ['a1', 'G']); s.issue('a2', ['b1', 'a1'])

  afterEach(async () => {
    for (const p of opened.splice(0)) await deleteDB(ledgerDbName(p))
  })

  it('[L37] database alliance/<profile>/ledger, version 1, with its stores and indexes', async () => {
    const p = profile()
    const store = await openIdbLedgerStore(p)
    await store.close()
    const raw = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(`alliance/${p}/ledger`)
      r.onsuccess = () => resolve(r.result)
      r.onerror = () => reject(r.error)
    })
    expect(raw.version).toBe(LEDGER_DB_VERSION)
    expect([...raw.objectStoreNames].sort()).toEqual(['blocks', 'checkpoints', 'meta', 'orphans', 'tips'])
    const tx = raw.transaction('blocks')
    expect([...tx.objectStore('blocks').indexNames].sort()).toEqual(['n', 'refs', 'slot'])
    raw.close()
    expect(() => ledgerDbName('../x')).toThrow()
  })

  it('[L37] a request failing in the middle of a batch aborts it: nothing is written (ERR_STORE, ERR_STORE_QUOTA)', async () => {
    const store = await openIdbLedgerStore(profile())
    await store.putBlocks([s.order[0]])
    const proto = globalThis.IDBObjectStore.prototype as { add: (...args: unknown[]) => IDBRequest }
    const original = proto.add
    for (const [name, code] of [['DataError', 'ERR_STORE'], ['QuotaExceededError', 'ERR_STORE_QUOTA']]) {
      let calls = 0
      proto.add = function (this: IDBObjectStore, ...args: unknown[]) {
        if (++calls === 2) throw new DOMException('injected failure', name)
        return original.apply(this, args)
      }
      try {
        let got: string | undefined
        try { await store.putBlocks(s.order.slice(1)) } catch (err) { got = (err as { code?: string }).code }
        expect(got).toBe(code)
      } finally {
        proto.add = original
      }
      expect(await store.blockCount()).toBe(1)
      expect(await store.hasBlock(s.id('b1'))).toBe(false)
      expect(await store.tips()).toEqual([s.id('a1')])
    }
    await store.putBlocks(s.order.slice(1))
    expect(await store.tips()).toEqual([s.id('a2')])
    await store.close()
  })

  it('[L37] another tab deleting the database is not blocked by an open store', async () => {
    const p = profile()
    const store = await openIdbLedgerStore(p)
    await store.putBlocks(s.order)
    await deleteDB(ledgerDbName(p))
    const fresh = await openIdbLedgerStore(p)
    expect(await fresh.blockCount()).toBe(0)
    await fresh.close()
  })
})
