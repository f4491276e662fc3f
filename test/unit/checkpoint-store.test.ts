// The checkpoint package store (SPEC S19): the shared acceptance suite against memory and
// IndexedDB (fake-indexeddb), plus what only IndexedDB shows: the database name, alliances
// apart in one database, persistence across a reopen, a damaged record typed.
import { describe, expect, it } from 'vitest'
import { IDBFactory } from 'fake-indexeddb'
import { openDB } from 'idb'
import { MemoryCheckpointStore } from '../../src/store/checkpoints.ts'
import { CHECKPOINTS_DB_VERSION, checkpointsDbName, openIdbCheckpointStore } from '../../src/store/checkpoints-idb.ts'
import { runCheckpointStoreTests, storedPackage, SUITE_ALLIANCE } from '../fixtures/checkpoint-store-suite.ts'

runCheckpointStoreTests('memory', async (alliance) => ({ store: new MemoryCheckpointStore(alliance) }))
runCheckpointStoreTests('IndexedDB', async (alliance) => ({ store: await openIdbCheckpointStore('suite', { alliance, indexedDB: new IDBFactory() }) }))

describe('IdbCheckpointStore', () => {
  it('[S19] one database per profile (alliance/<profile>/checkpoints), alliances apart, kept across a reopen', async () => {
    const factory = new IDBFactory()
    const a = await openIdbCheckpointStore('alice', { alliance: SUITE_ALLIANCE, indexedDB: factory })
    const other = await openIdbCheckpointStore('alice', { alliance: 'bafyreiother', indexedDB: factory })
    await a.put(storedPackage(7))
    await other.put(storedPackage(9, 4, 'bafyreiother'))
    await a.close()
    await other.close()
    const b = await openIdbCheckpointStore('alice', { alliance: SUITE_ALLIANCE, indexedDB: factory })
    expect((await b.list()).map(m => m.at)).toEqual([7])
    await b.close()
    expect(checkpointsDbName('alice')).toBe('alliance/alice/checkpoints')
  })

  it('[S19] a damaged stored record comes out as ERR_STORE_CORRUPT', async () => {
    const s = await openIdbCheckpointStore('damaged', { alliance: SUITE_ALLIANCE })
    await s.put(storedPackage(3))
    await s.close()
    const raw = await openDB(checkpointsDbName('damaged'), CHECKPOINTS_DB_VERSION)
    await raw.put('packages', new Uint8Array(2), [SUITE_ALLIANCE, 3])
    raw.close()
    const again = await openIdbCheckpointStore('damaged', { alliance: SUITE_ALLIANCE })
    await expect(again.newest()).rejects.toMatchObject({ code: 'ERR_STORE_CORRUPT' })
    await again.close()
  })
})
