/**
 * Boundary guards shared by the market, contract and session modules. Everything that reaches
 * these modules from a peer is untrusted (CONVENTIONS §8): these helpers check plain-object
 * shape, exact key sets, safe integers and bounded strings without ever reading prototype keys.
 * They return booleans or throw the error the caller builds, so each module keeps its own codes.
 */
import { isDid } from '../identity.ts'
import type { Did } from '../identity.ts'

export type Fail = (message: string) => never

/** A plain object (dag-cbor maps decode to these), not an array, bytes, null or a class instance. */
export function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/**
 * Checks that `value` is a plain object whose own keys are all in `required` ∪ `optional` and
 * that every `required` key is present; calls `fail` otherwise. Values are not inspected.
 */
export function expectRecord (value: unknown, what: string, required: readonly string[], optional: readonly string[], fail: Fail): Record<string, unknown> {
  if (!isPlainObject(value)) fail(`${what} must be a map`)
  const allowed = new Set([...required, ...optional])
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) fail(`${what} has an unknown field "${key.slice(0, 40)}"`)
  }
  for (const key of required) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) fail(`${what} lacks the field "${key}"`)
  }
  return value
}

export function has (obj: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key)
}

export function isSafeInt (value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max
}

/** A string of 1..max UTF-16 code units without control characters. */
export function isBoundedString (value: unknown, max: number, min = 1): value is string {
  // eslint-disable-next-line no-control-regex
  return typeof value === 'string' && value.length >= min && value.length <= max && !/[\u0000-\u001f\u007f]/.test(value)
}

export function isDidString (value: unknown): value is Did {
  return typeof value === 'string' && value.length <= 128 && isDid(value)
}

/** `a * b` when both are safe non-negative integers and so is the product; otherwise Infinity. */
export function safeMul (a: number, b: number): number {
  const p = a * b
  return Number.isSafeInteger(p) ? p : Number.POSITIVE_INFINITY
}
