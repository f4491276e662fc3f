/**
 * Typed errors shared by every layer. Each error has a stable `code` that tests, the UI and
 * wire-level rejections rely on; messages are for people and may change.
 */

export class AllianceError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Input that does not decode or does not have the expected shape. */
export class InvalidInputError extends AllianceError {
  constructor (message: string, code = 'ERR_INVALID_INPUT', options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** A signature that does not verify against the claimed key. */
export class BadSignatureError extends AllianceError {
  constructor (message = 'signature does not verify', code = 'ERR_BAD_SIGNATURE') {
    super(code, message)
  }
}

/** A message or payload over its size limit. */
export class TooLargeError extends AllianceError {
  constructor (message: string, code = 'ERR_TOO_LARGE') {
    super(code, message)
  }
}

export function isAllianceError (err: unknown): err is AllianceError {
  return err instanceof AllianceError
}
