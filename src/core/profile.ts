/** Profile names: one rule for every layer that names per-profile databases. */
import { InvalidInputError } from './errors.ts'

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/

export function isProfileName (name: unknown): name is string {
  return typeof name === 'string' && NAME.test(name)
}

export function parseProfileName (name: unknown): string {
  if (!isProfileName(name)) throw new InvalidInputError('a profile name is 1–32 letters, digits, "-" or "_"', 'ERR_BAD_PROFILE')
  return name
}
