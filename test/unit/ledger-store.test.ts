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

async function rawOpen (name: string, version?: number, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return await new Promise<IDBDatabase>((resolve, reject) => {
    const r = version == null ? indexedDB.open(name) : indexedDB.open(name, version)
    r.onupgradeneeded = () => { upgrade?.(r.result) }
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error)
  })
}

describe('IndexedDB ledger store', () => {
  const s = new Script(ctxOf())
  s.issuer('a', 1, 'home'); s.issuer('b', 2, 'home')
  s.issue('a1', ['G', 'G']); s.issue('b1', ['a1', 'G']); s.issue('a2', ['b1', 'a1'])

  afterEach(async () => {
    for (const p of opened.splice(0)) await deleteDB(ledgerDbName(p))
  })

  it('[L37] database alliance/<profile>/ledger, version 2: blocks in segments with an id index', async () => {
    const p = profile()
    const store = await openIdbLedgerStore(p)
    await store.close()
    const raw = await rawOpen(`alliance/${p}/ledger`)
    try {
      expect(raw.version).toBe(LEDGER_DB_VERSION)
      expect(LEDGER_DB_VERSION).toBe(2)
      expect([...raw.objectStoreNames].sort()).toEqual(['checkpoints', 'meta', 'orphans', 'segmentBytes', 'segmentIds', 'tips'])
      const tx = raw.transaction(['segmentIds', 'segmentBytes'])
      expect([...tx.objectStore('segmentIds').indexNames]).toEqual(['id'])
      expect([...tx.objectStore('segmentBytes').indexNames]).toEqual([])
    } finally {
      raw.close()
    }
    expect(() => ledgerDbName('../x')).toThrow()
  })

  it('[L37] a version 1 database is moved to segments on open: blocks, order, tips, orphans, checkpoints kept', async () => {
    const p = profile()
    const name = ledgerDbName(p)
    const blocks = s.order
    // the version 1 schema and records, as the v1 store wrote them
    const v1 = await rawOpen(name, 1, (db) => {
      const b = db.createObjectStore('blocks', { keyPath: 'id' })
      b.createIndex('n', 'n', { unique: true }); b.createIndex('slot', ['issuer', 'seq']); b.createIndex('refs', 'refs', { multiEntry: true })
      db.createObjectStore('tips', { keyPath: 'id' })
      db.createObjectStore('orphans', { keyPath: 'id' }).createIndex('missing', 'missing', { multiEntry: true })
      db.createObjectStore('checkpoints', { keyPath: 'blockCount' })
      db.createObjectStore('meta')
    })
    await new Promise<void>((resolve, reject) => {
      const tx = v1.transaction(['blocks', 'tips', 'meta', 'checkpoints', 'orphans'], 'readwrite')
      blocks.forEach((b, n) => tx.objectStore('blocks').put({ id: b.id, n, issuer: b.block.issuer, seq: b.block.seq, refs: [...new Set([...b.block.parents, ...(b.block.prev != null ? [b.block.prev] : [])])], bytes: b.bytes }))
      tx.objectStore('tips').put({ id: blocks[blocks.length - 1].id })
      tx.objectStore('meta').put(blocks.length, 'count')
      tx.objectStore('checkpoints').put({ blockCount: 2, data: new Uint8Array([7]), stateHash: 'h2' })
      tx.objectStore('orphans').put({ id: 'bafyorphan', missing: ['bafymissing'], bytes: new Uint8Array([1]) })
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error)
    })
    v1.close()
    const store = await openIdbLedgerStore(p)
    try {
      expect(await store.blockCount()).toBe(blocks.length)
      expect(await store.blockIdsFrom(0, 100)).toEqual(blocks.map(b => b.id))
      const all: string[] = []
      for await (const b of store.iterateBlocks({ pageSize: 2 })) all.push(b.id)
      expect(all).toEqual(blocks.map(b => b.id))
      expect(await store.getBlocksBytes([blocks[2].id])).toEqual([blocks[2].bytes])
      expect(await store.getBlock(blocks[1].id)).toMatchObject({ n: 1, issuer: blocks[1].block.issuer, seq: blocks[1].block.seq })
      expect(await store.tips()).toEqual([blocks[blocks.length - 1].id])
      expect(await store.getCheckpoint()).toMatchObject({ blockCount: 2, stateHash: 'h2' })
      expect((await store.listOrphans()).map(o => o.id)).toEqual(['bafyorphan'])
      // and it goes on from there: the next block gets the next position, a re-put is skipped
      await store.putBlocks([blocks[0]])
      expect(await store.blockCount()).toBe(blocks.length)
    } finally {
      await store.close()
    }
    const raw = await rawOpen(name)
    expect([...raw.objectStoreNames]).not.toContain('blocks')
    raw.close()
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
