/**
 * Wide WebRTC messages for the sync and checkpoint streams (SPEC.md S41, N18). libp2p's
 * WebRTC stream cuts every write into 16 KiB data-channel messages; a sync reply of 256
 * blocks (~150 KiB) went as ten of them, each with its own send, message event and protobuf
 * decode on both main threads. The patched stream (patches/README.md) reports its SCTP
 * association's limit (`transportMaxMessageSize`: 256 KiB in Chromium and libdatachannel):
 * a sync stream writes messages up to that (at most SYNC_MESSAGE_MAX_BYTES), so a reply is
 * one message. Streams without a message limit (yamux, in-memory) are left alone, as are
 * transports that do not report one (they keep libp2p's default).
 */
import type { MessageStream } from '@libp2p/interface'

/** Widest message a sync stream writes (Chromium and libdatachannel accept 256 KiB). */
export const SYNC_MESSAGE_MAX_BYTES = 256 * 1024
/** Room for libp2p's protobuf and length prefix around a message's payload. */
const MESSAGE_OVERHEAD = 32

/** Raises `stream`'s message size to what its transport accepts; returns the payload a message may carry, or null when unchanged. */
export function widenSyncMessages (stream: MessageStream): number | null {
  const s = stream as MessageStream & { maxMessageSize?: number, transportMaxMessageSize?: number }
  const transport = s.transportMaxMessageSize
  if (typeof s.maxMessageSize !== 'number' || typeof transport !== 'number') return null
  const widest = Math.min(transport, SYNC_MESSAGE_MAX_BYTES) - MESSAGE_OVERHEAD
  if (s.maxMessageSize >= widest) return null
  s.maxMessageSize = widest
  return widest
}
