/**
 * Node only (node-datachannel): an initiator's `init` data channel that never reports `open`
 * or `close`. Seen in the integration tests (about one run in three of two dials to one
 * recipient): the recipient connects first, opens and closes the channel and finishes its
 * side, the initiator's RTCPeerConnection is `connected`, but libdatachannel never fires the
 * channel's open or closed callback, so `@libp2p/webrtc`'s initiator (waiting for either, as
 * patched for N1) waited until the 20 s upgrade timeout. Once the connection has been
 * `connected` for INIT_SETTLE_MS with the channel still `connecting`, this marks the channel
 * closed and fires its `close`: the initiator then finishes the handshake as in the N1 race.
 * The channel only made ICE gather; it carries nothing. (Chromium fires `close`.)
 */
import { RTCPeerConnection } from 'node-datachannel/polyfill'

/** On loopback the init channel opens within milliseconds of `connected`. */
export const INIT_SETTLE_MS = 1_000

const FLAG = Symbol.for('alliance-net.init-channel-watchdog')

export function installInitChannelWatchdog (log: (line: string) => void = () => {}): void {
  const proto = RTCPeerConnection.prototype as RTCPeerConnection & { [FLAG]?: true }
  if (proto[FLAG] === true) return
  proto[FLAG] = true
  const create = proto.createDataChannel
  proto.createDataChannel = function (this: RTCPeerConnection, label: string, init?: RTCDataChannelInit) {
    const channel = create.call(this, label, init)
    if (label !== 'init') return channel
    let timer: ReturnType<typeof setTimeout> | undefined
    const onState = (): void => {
      if (this.connectionState !== 'connected' || timer != null) return
      timer = setTimeout(() => {
        this.removeEventListener('connectionstatechange', onState)
        if (channel.readyState !== 'connecting' || this.connectionState !== 'connected') return
        log('webrtc: init channel neither opened nor closed after the connection was up; treating it as closed')
        Object.defineProperty(channel, 'readyState', { configurable: true, get: () => 'closed' })
        channel.dispatchEvent(new Event('close'))
      }, INIT_SETTLE_MS)
    }
    this.addEventListener('connectionstatechange', onState)
    channel.addEventListener('close', () => {
      clearTimeout(timer)
      this.removeEventListener('connectionstatechange', onState)
    })
    return channel
  }
}
