/**
 * Registry of service kinds. A kind fixes how its rounds are metered and what an offer or
 * request of it must carry; adding storage or compute later is one more `KindSpec`. Registries
 * are immutable values (`with` returns a new one), so validation stays a pure function of its
 * inputs and every peer of an alliance validates with the same set.
 */
import type { RoundUnit } from '../session/terms.ts'

export interface KindSpec {
  /** Lower-case identifier, `[a-z][a-z0-9-]{0,31}`. */
  readonly name: string
  /** Round units an offer of this kind may use. */
  readonly units: readonly RoundUnit[]
  /** Offers must carry a geohash of at least `minGeohashLength` characters. */
  readonly requiresGeohash: boolean
  readonly minGeohashLength: number
  /** What a request's `target` is: a DID (relay to X) or free text (an area, a need). */
  readonly target: 'did' | 'text'
}

export const KIND_NAME = /^[a-z][a-z0-9-]{0,31}$/

export const HOTSPOT: KindSpec = { name: 'hotspot', units: ['seconds'], requiresGeohash: true, minGeohashLength: 5, target: 'text' }
export const RELAY: KindSpec = { name: 'relay', units: ['bytes'], requiresGeohash: false, minGeohashLength: 1, target: 'did' }

export class KindRegistry {
  readonly #kinds: ReadonlyMap<string, KindSpec>

  constructor (specs: readonly KindSpec[]) {
    const map = new Map<string, KindSpec>()
    for (const s of specs) {
      if (!KIND_NAME.test(s.name)) throw new RangeError(`kind name "${s.name}" must match ${KIND_NAME.source}`)
      if (s.units.length === 0) throw new RangeError(`kind ${s.name} must allow at least one round unit`)
      if (map.has(s.name)) throw new RangeError(`kind ${s.name} is registered twice`)
      map.set(s.name, Object.freeze({ ...s, units: [...s.units] }))
    }
    this.#kinds = map
  }

  get (name: string): KindSpec | undefined {
    return this.#kinds.get(name)
  }

  has (name: string): boolean {
    return this.#kinds.has(name)
  }

  names (): string[] {
    return [...this.#kinds.keys()]
  }

  /** A new registry with one more kind. */
  with (spec: KindSpec): KindRegistry {
    return new KindRegistry([...this.#kinds.values(), spec])
  }
}

/** hotspot (metered in seconds, located) and relay (metered in bytes). */
export const defaultKinds = new KindRegistry([HOTSPOT, RELAY])
