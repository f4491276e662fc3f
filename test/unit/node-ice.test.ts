// node-datachannel folds TURN credentials into the URL; the Node entry percent-encodes them (SPEC N7).
import { describe, expect, it } from 'vitest'
import { encodeIceServer, nodeIceServers } from '../../src/net/node-ice.ts'

describe('Node ICE servers', () => {
  it('[N7] percent-encodes a TURN REST username (expiry:name) and a base64 credential; STUN entries pass as they are', async () => {
    const turn = { urls: ['turn:198.51.100.1:3478?transport=udp'], username: '1796198377:a95bcf8a43e1b', credential: 'ab+c/d=' }
    expect(encodeIceServer(turn)).toEqual({ urls: turn.urls, username: '1796198377%3Aa95bcf8a43e1b', credential: 'ab%2Bc%2Fd%3D' })
    const stun = { urls: ['stun:198.51.100.1:3478'] }
    expect(encodeIceServer(stun)).toBe(stun)
    const asked = nodeIceServers(async () => [stun, turn])
    expect(typeof asked).toBe('function')
    expect(await (asked as () => Promise<RTCIceServer[]>)()).toEqual([stun, encodeIceServer(turn)])
    expect(nodeIceServers(undefined)).toBeUndefined()
  })
})
