// The SessionsStore acceptance suite (CONVENTIONS §4) against both implementations — in memory,
// and IndexedDB through fake-indexeddb — plus what only IndexedDB shows: the database name and
// schema version, persistence across a reopen, and a damaged record surfacing as a typed error.
import { afterEach, describe, expect, it } from 'vitest'
import { deleteDB, openDB } from 'idb'
import { didFromPublicKey, generateKeyPair } from '../../src/core/identity.ts'
import type { Did } from '../../src/core/identity.ts'
import { MemorySessionsStore, SessionsStoreError } from '../../src/store/sessions.ts'
import type { SessionsStore, StoredSession } from '../../src/store/sessions.ts'
import { openIdbSessionsStore, SESSIONS_DB_VERSION, sessionsDbName } from '../../src/store/sessions-idb.ts'

function did (n: number): Did {
  return didFromPublicKey(generateKeyPair(new Uint8Array(32).fill(n)).publicKey)
}

const PAYER = did(1)
const PROVIDER = did(2)

function sessionRecord (over: Partial<StoredSession> = {}): StoredSession {
  return {
    id: 'bafyreisession1',
    role: 'payer',
    kind: 'hotspot',
    offer: 'bafyreioffer1',
    rev: 0,
    title: 'Library Wi-Fi',
    provider: PROVIDER,
    payer: PAYER,
    target: null,
    unit: 'seconds',
    price: 7,
    roundSize: 600,
    trial: 30,
    maxRounds: 3,
    request: new Uint8Array([1, 2, 3]),
    state: 'active',
    round: 2,
    units: 700,
    vouchers: 2,
    voucher: new Uint8Array([9, 9, 9]),
    voucherRound: 2,
    committed: 14,
    settled: 7,
    settleTxs: ['bafyreiblock/0'],
    settledRound: 1,
    closePosted: false,
    rejected: { ERR_VOUCHER_REPLAY: 1 },
    secret: null,
    openedAt: 1_700_000_000_000,
    updatedAt: 1_700_000_100_000,
    endedAt: null,
    endReason: null,
    ...over
  }
}

interface Harness {
  readonly store: SessionsStore
  /** Closes `store` and opens the same database again. */
  readonly reopen?: () => Promise<SessionsStore>
}

function runSessionsStoreTests (name: string, setup: () => Promise<Harness>): void {
  describe(`SessionsStore: ${name}`, () => {
    it('keeps a record exactly, bytes included, and replaces it on put', async () => {
      const { store } = await setup()
      const rec = sessionRecord()
      await store.put(rec)
      expect(await store.get(rec.id)).toEqual(rec)
      const later = sessionRecord({ units: 900, state: 'ended', endedAt: 1_700_000_200_000, endReason: 'completed', voucher: new Uint8Array([7]) })
      await store.put(later)
      expect(await store.get(rec.id)).toEqual(later)
      expect(await store.list()).toHaveLength(1)
      await store.close()
    })

    it('lists oldest opened first, both roles', async () => {
      const { store } = await setup()
      await store.put(sessionRecord({ id: 'c', openedAt: 30 }))
      await store.put(sessionRecord({ id: 'a', openedAt: 10, role: 'provider' }))
      await store.put(sessionRecord({ id: 'b', openedAt: 20, kind: 'relay', unit: 'bytes', target: did(3) }))
      expect((await store.list()).map((r) => r.id)).toEqual(['a', 'b', 'c'])
      await store.delete('b')
      expect((await store.list()).map((r) => r.id)).toEqual(['a', 'c'])
      expect(await store.get('b')).toBeUndefined()
      await store.close()
    })

    it('hands out copies: changing a returned record does not change the store', async () => {
      const { store } = await setup()
      await store.put(sessionRecord())
      const got = await store.get('bafyreisession1') as StoredSession
      ;(got.request as Uint8Array)[0] = 42
      expect((await store.get('bafyreisession1'))?.request[0]).toBe(1)
      await store.close()
    })

    it('refuses records of the wrong shape with ERR_SESSIONS_BAD_RECORD, writing nothing', async () => {
      const { store } = await setup()
      const bad: unknown[] = [
        null,
        { ...sessionRecord(), role: 'thief' },
        { ...sessionRecord(), units: -1 },
        { ...sessionRecord(), payer: 'did:web:nope' },
        { ...sessionRecord(), endReason: 'because' },
        { ...sessionRecord(), request: 'not bytes' },
        (() => { const { title: _t, ...rest } = sessionRecord(); return rest })()
      ]
      for (const b of bad) {
        await expect(store.put(b as StoredSession)).rejects.toMatchObject({ code: 'ERR_SESSIONS_BAD_RECORD' })
      }
      expect(await store.list()).toEqual([])
      await store.close()
    })

    it('keeps small settings (the sealed hotspot secret) beside the sessions', async () => {
      const { store } = await setup()
      expect(await store.getSetting('hotspot')).toBeUndefined()
      await store.putSetting('hotspot', new Uint8Array([5, 6, 7]))
      expect(await store.getSetting('hotspot')).toEqual(new Uint8Array([5, 6, 7]))
      await expect(store.putSetting('', new Uint8Array(1))).rejects.toBeInstanceOf(SessionsStoreError)
      await store.close()
    })

    it('refuses every call once closed (ERR_SESSIONS_CLOSED)', async () => {
      const { store } = await setup()
      await store.close()
      await expect(store.list()).rejects.toMatchObject({ code: 'ERR_SESSIONS_CLOSED' })
      await expect(store.put(sessionRecord())).rejects.toMatchObject({ code: 'ERR_SESSIONS_CLOSED' })
    })

    it('survives a reopen (when the implementation persists)', async () => {
      const h = await setup()
      if (h.reopen === undefined) return
      await h.store.put(sessionRecord())
      await h.store.putSetting('hotspot', new Uint8Array([1]))
      const again = await h.reopen()
      expect(await again.get('bafyreisession1')).toEqual(sessionRecord())
      expect(await again.getSetting('hotspot')).toEqual(new Uint8Array([1]))
      await again.close()
    })
  })
}

let counter = 0
const opened: string[] = []
function profile (): string {
  const p = `sessions-test-${process.pid}-${++counter}`
  opened.push(p)
  return p
}

runSessionsStoreTests('memory', async () => ({ store: new MemorySessionsStore() }))

runSessionsStoreTests('IndexedDB', async () => {
  const p = profile()
  const store = await openIdbSessionsStore(p)
  return { store, reopen: async () => { await store.close(); return await openIdbSessionsStore(p) } }
})

describe('IndexedDB sessions store', () => {
  afterEach(async () => {
    for (const p of opened.splice(0)) await deleteDB(sessionsDbName(p))
  })

  it('is database alliance/<profile>/sessions, version 1, with its stores', async () => {
    const p = profile()
    const store = await openIdbSessionsStore(p)
    await store.close()
    expect(sessionsDbName(p)).toBe(`alliance/${p}/sessions`)
    const db = await openDB(sessionsDbName(p))
    expect(db.version).toBe(SESSIONS_DB_VERSION)
    expect([...db.objectStoreNames].sort()).toEqual(['sessions', 'settings'])
    db.close()
  })

  it('refuses a bad profile name', async () => {
    await expect(openIdbSessionsStore('../evil')).rejects.toMatchObject({ code: 'ERR_BAD_PROFILE' })
  })

  it('a damaged record in the database comes out as ERR_SESSIONS_BAD_RECORD, not a crash later', async () => {
    const p = profile()
    const store = await openIdbSessionsStore(p)
    await store.close()
    const db = await openDB(sessionsDbName(p))
    await db.put('sessions', { ...sessionRecord(), units: 'lots' })
    db.close()
    const again = await openIdbSessionsStore(p)
    await expect(again.get('bafyreisession1')).rejects.toMatchObject({ code: 'ERR_SESSIONS_BAD_RECORD' })
    await again.close()
  })
})
