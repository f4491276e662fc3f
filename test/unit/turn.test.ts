// TURN REST credentials and the ICE config from the environment (src/relay/turn.ts).
import { describe, expect, it } from 'vitest'
import { createHmac } from 'node:crypto'
import { iceConfigFromEnv, turnCredentials } from '../../src/relay/turn.ts'

describe('TURN REST credentials', () => {
  it('[N4] username is <expiry>:<name>, password base64(HMAC-SHA1(secret, username))', () => {
    const c = turnCredentials('north', 'alice', 3600, 1_700_000_000_500)
    expect(c.username).toBe('1700003600:alice')
    expect(c.credential).toBe(createHmac('sha1', 'north').update('1700003600:alice').digest('base64'))
    expect(c.expiresAt).toBe(1_700_003_600_000)
    expect(() => turnCredentials('', 'a', 60)).toThrow(RangeError)
    expect(() => turnCredentials('s', 'a:b', 60)).toThrow(RangeError)
  })

  it('[N4] the served list always holds STUN, and TURN with a fresh credential', () => {
    const ice = iceConfigFromEnv({ ALLIANCE_TURN_URLS: 'turn:t.example:3478?transport=udp,turns:t.example:5349', ALLIANCE_TURN_SECRET: 's3', ALLIANCE_TURN_TTL: '600' })
    expect(ice).not.toBeNull()
    const a = ice!()
    expect(a.iceServers[0]).toEqual({ urls: ['stun:t.example:3478'] })
    const turn = a.iceServers[1]
    expect(turn.urls).toEqual(['turn:t.example:3478?transport=udp', 'turns:t.example:5349'])
    expect(turn.credential).toBe(createHmac('sha1', 's3').update(turn.username!).digest('base64'))
    expect(a.iceExpiresAt! - Date.now()).toBeGreaterThan(500_000)
    expect(ice!().iceServers[1].username).not.toBe(turn.username)
  })

  it('[N4] refuses settings that would silently not work', () => {
    expect(iceConfigFromEnv({})).toBeNull()
    expect(iceConfigFromEnv({ ALLIANCE_STUN: 'stun:s:3478' })!()).toEqual({ iceServers: [{ urls: ['stun:s:3478'] }] })
    expect(() => iceConfigFromEnv({ ALLIANCE_TURN_URLS: 'turn:t:3478' })).toThrow(/SECRET/)
    expect(() => iceConfigFromEnv({ ALLIANCE_STUN: 'http://x' })).toThrow(RangeError)
    expect(() => iceConfigFromEnv({ ALLIANCE_STUN: 'stun:s', ALLIANCE_TURN_TTL: '5' })).toThrow(RangeError)
  })
})
