/**
 * Typed errors of the network layer. Each has a stable `code` (the wire-level rejection
 * reasons are listed in `REJECT_CODES`); messages are for people.
 */
import { AllianceError, TooLargeError } from '../core/errors.ts'

/** Codes under which rejected frames are counted in `stats().rejected`. */
export const REJECT_CODES = {
  frameTooLarge: 'ERR_FRAME_TOO_LARGE',
  decode: 'ERR_DECODE',
  badSignature: 'ERR_BAD_SIGNATURE',
  decrypt: 'ERR_DECRYPT',
  wrongRecipient: 'ERR_WRONG_RECIPIENT',
  stale: 'ERR_STALE',
  replay: 'ERR_REPLAY',
  senderMismatch: 'ERR_SENDER_MISMATCH',
  handler: 'ERR_HANDLER'
} as const
export type RejectCode = typeof REJECT_CODES[keyof typeof REJECT_CODES]

/** A length prefix announced more bytes than the protocol allows. */
export class FrameTooLargeError extends TooLargeError {
  constructor (message: string) {
    super(message, REJECT_CODES.frameTooLarge)
  }
}

/** A message replayed within the replay window. */
export class ReplayError extends AllianceError {
  constructor (message = 'message was already received') {
    super(REJECT_CODES.replay, message)
  }
}

/** The envelope's signer is not the peer that sent it over the authenticated connection. */
export class SenderMismatchError extends AllianceError {
  constructor (message: string) {
    super(REJECT_CODES.senderMismatch, message)
  }
}

/** No direct (non-limited) connection to the peer could be found or made. */
export class NotDirectlyConnectedError extends AllianceError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('ERR_NOT_DIRECTLY_CONNECTED', message, options)
  }
}

/** The remote peer answered a request with a rejection code. */
export class RemoteRejectedError extends AllianceError {
  readonly remoteCode: string
  constructor (remoteCode: string, message?: string) {
    super('ERR_REMOTE_REJECTED', message ?? `remote rejected the message: ${remoteCode}`)
    this.remoteCode = remoteCode
  }
}

/** The node is not started, or was stopped. */
export class NotStartedError extends AllianceError {
  constructor (message = 'alliance net is not started') {
    super('ERR_NOT_STARTED', message)
  }
}

/** A peer is on the deny-list after misbehaving. */
export class PeerDeniedError extends AllianceError {
  constructor (message: string) {
    super('ERR_PEER_DENIED', message)
  }
}
