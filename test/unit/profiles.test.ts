// Profiles and relay configuration: which profile a tab opens and where its relays come from.
import { describe, it, expect } from 'vitest'
import { selectProfile, knownProfiles, parseProfileName, DEFAULT_PROFILE, type KeyValue } from '../../src/peer/profiles.ts'
import { resolveRelays, saveRelays, parseRelayList, relayProposal } from '../../src/peer/config.ts'

function memory (): KeyValue & { data: Map<string, string> } {
  const data = new Map<string, string>()
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => { data.set(k, v) } }
}

describe('profiles', () => {
  it('uses ?peer=NAME, then the last profile, then the default', () => {
    const store = memory()
    expect(selectProfile('', store)).toBe(DEFAULT_PROFILE)
    expect(selectProfile('?peer=alice', store)).toBe('alice')
    expect(selectProfile('', store)).toBe('alice')
    expect(selectProfile('?peer=bob', store)).toBe('bob')
    expect(knownProfiles(store)).toEqual([DEFAULT_PROFILE, 'alice', 'bob'])
  })

  it('ignores invalid names in the URL and rejects them when parsed', () => {
    const store = memory()
    expect(selectProfile('?peer=../../etc', store)).toBe(DEFAULT_PROFILE)
    expect(() => parseProfileName('a b')).toThrowError(expect.objectContaining({ code: 'ERR_BAD_PROFILE' }))
    expect(parseProfileName('carol_2')).toBe('carol_2')
  })
})

describe('relay configuration', () => {
  const served = async (): Promise<{ relays: string[] }> => ({ relays: ['/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWServed'] })
  it('[N15] prefers saved settings, then ?relay=, then the served config', async () => {
    const store = memory()
    const link = '?relay=/ip4/1.2.3.4/tcp/1/ws,/ip4/5.6.7.8/tcp/2/ws'
    expect(await resolveRelays('a', '', store, served)).toEqual(['/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWServed'])
    // nothing saved: the link's relays are used, and there is nothing to confirm
    expect(await resolveRelays('a', link, store, served)).toEqual(['/ip4/1.2.3.4/tcp/1/ws', '/ip4/5.6.7.8/tcp/2/ws'])
    expect(relayProposal('a', link, store)).toBeNull()
    saveRelays('a', ['/dns4/r.example/tcp/443/wss/p2p/12D3KooWSaved'], store)
    expect(await resolveRelays('a', '', store, served)).toEqual(['/dns4/r.example/tcp/443/wss/p2p/12D3KooWSaved'])
    // saved relays stay until the user confirms the link's
    expect(await resolveRelays('a', link, store, served)).toEqual(['/dns4/r.example/tcp/443/wss/p2p/12D3KooWSaved'])
    expect(relayProposal('a', link, store)).toEqual(['/ip4/1.2.3.4/tcp/1/ws', '/ip4/5.6.7.8/tcp/2/ws'])
    expect(relayProposal('a', '?relay=/dns4/r.example/tcp/443/wss/p2p/12D3KooWSaved', store)).toBeNull()
  })

  it('survives an unreachable config server', async () => {
    const store = memory()
    expect(await resolveRelays('a', '', store, async () => { throw new Error('offline') })).toEqual([])
    expect(parseRelayList('not-a-multiaddr\n/ip4/1.1.1.1/tcp/1/ws')).toEqual(['/ip4/1.1.1.1/tcp/1/ws'])
  })
})
