// The served config's STUN/TURN part (src/peer/config.ts): validated as network input, and
// asked for again before TURN credentials expire.
import { describe, expect, it } from 'vitest'
import { parseAppConfig, servedIceServers } from '../../src/peer/config.ts'
import type { AppConfig } from '../../src/peer/config.ts'

describe('served ICE servers', () => {
  it('[N4] keeps stun/turn entries with string credentials and drops anything else', () => {
    const cfg = parseAppConfig({
      relays: ['/dns4/relay.example/tcp/443/wss/p2p/12D3KooW', 7],
      iceServers: [
        { urls: 'stun:stun.example:3478' },
        { urls: ['turn:turn.example:3478?transport=udp', 'turns:turn.example:5349', 'http://evil'], username: '1700000000:alice', credential: 'c2VjcmV0' },
        { urls: 'javascript:alert(1)' },
        { urls: ['turn:x'], username: 5 },
        null, 'stun:bare-string'
      ],
      iceExpiresAt: 1_700_000_000_000,
      __proto__: { polluted: true }
    })
    expect(cfg).toEqual({
      relays: ['/dns4/relay.example/tcp/443/wss/p2p/12D3KooW'],
      iceServers: [
        { urls: ['stun:stun.example:3478'] },
        { urls: ['turn:turn.example:3478?transport=udp', 'turns:turn.example:5349'], username: '1700000000:alice', credential: 'c2VjcmV0' },
        { urls: ['turn:x'] }
      ],
      iceExpiresAt: 1_700_000_000_000
    })
    expect(parseAppConfig('nope')).toBeNull()
    expect(parseAppConfig({ iceServers: new Array(50).fill({ urls: 'stun:a' }) })?.iceServers).toHaveLength(8)
  })

  it('[N4] asks again only when the credentials are about to expire', async () => {
    let t = 1_000_000
    let fetches = 0
    const fetchConfig = async (): Promise<AppConfig> => {
      fetches++
      return { relays: [], iceServers: [{ urls: `turn:t${fetches}` }], iceExpiresAt: t + 3600_000 }
    }
    const ice = servedIceServers(fetchConfig, () => t)
    const [a, b] = await Promise.all([ice(), ice()])
    expect(fetches).toBe(1)
    expect(a).toEqual([{ urls: 'turn:t1' }])
    expect(b).toBe(a)
    t += 30 * 60_000
    expect(await ice()).toEqual([{ urls: 'turn:t1' }])
    t += 30 * 60_000 // within 5 minutes of expiry: renewed
    expect(await ice()).toEqual([{ urls: 'turn:t2' }])
  })

  it('[N4] keeps the last list when the config cannot be fetched', async () => {
    let t = 0
    let fail = false
    const ice = servedIceServers(async () => {
      if (fail) throw new Error('offline')
      return { relays: [], iceServers: [{ urls: 'stun:s' }] }
    }, () => t)
    expect(await ice()).toEqual([{ urls: 'stun:s' }])
    fail = true
    t += 11 * 60_000
    expect(await ice()).toEqual([{ urls: 'stun:s' }])
  })
})
