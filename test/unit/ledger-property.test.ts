// Adversarial property test of the ledger's finality (SPEC.md L23–L26, L30, L31): n validators
// with f < n/3 byzantine (equivocating, approving both sides, or silent), an equivocating
// member, fresh keys forging junk, random delivery order, delays and a partition that heals;
// in some runs the validator set changes by vote half-way (L46–L48).
// Seeded: LEDGER_SEED=<n> replays a run; the seed is printed on failure.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { runAdversary } from '../fixtures/ledger-adversary.ts'
import type { Byzantine } from '../fixtures/ledger-adversary.ts'

const SEED = process.env.LEDGER_SEED != null ? Number(process.env.LEDGER_SEED) : 20261202
const RUNS = process.env.LEDGER_RUNS != null ? Number(process.env.LEDGER_RUNS) : undefined

function check (name: string, property: fc.IProperty<[number, ...unknown[]]>, numRuns: number): void {
  console.log(`${name}: fast-check seed ${SEED}`)
  try {
    fc.assert(property, { seed: SEED, numRuns: RUNS ?? numRuns })
  } catch (err) {
    console.error(`${name} failed with fast-check seed ${SEED}; replay: LEDGER_SEED=${SEED} npx vitest run --project unit test/unit/ledger-property.test.ts`)
    throw err
  }
}

describe('ledger finality under attack (property)', () => {
  it('[L23][L24][L25][L31][L30][L47][L48] no confirmed transaction reverts on any honest peer; honest peers converge; credits are conserved', () => {
    check('finality', fc.property(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.constantFrom<Byzantine>('equivocate', 'double-vote', 'silent'),
      fc.constantFrom(4, 7),
      fc.boolean(),
      fc.boolean(),
      (seed, byzantine, validators, equivocatingMember, validatorChange) => {
        const o = runAdversary({ seed, validators, byzantine, members: 4, rounds: 70, equivocatingMember, validatorChange })
        expect(o.reverted).toEqual([])
        // one epoch on every honest peer (whether the change got through a split vote is liveness, tested below)
        expect(new Set(o.epochs).size).toBe(1)
        if (!validatorChange) expect(o.epochs[0]).toBe(0)
        expect(new Set(o.hashes).size).toBe(1)
        for (const t of o.totals) expect(t).toBe(o.supply)
        expect(o.junkStored).toBe(0)
        // evidence names only byzantine validators, never an honest one
        for (const d of o.doubleVoters) expect(o.byzantineValidators).toContain(d)
      }
    ), 8)
  }, 240_000)

  it('[L52][L31][L30] under the v3 state rules (taken claims deleted) honest peers converge on one state hash and credits are conserved', () => {
    check('v3 rules', fc.property(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.constantFrom<Byzantine>('equivocate', 'double-vote', 'silent'),
      fc.boolean(),
      (seed, byzantine, equivocatingMember) => {
        const o = runAdversary({ seed, validators: 4, byzantine, members: 4, rounds: 70, equivocatingMember, stateRules: 3 })
        expect(o.reverted).toEqual([])
        expect(new Set(o.hashes).size).toBe(1)
        for (const t of o.totals) expect(t).toBe(o.supply)
        expect(o.forgotten).toBeGreaterThan(0)
      }
    ), 4)
  }, 240_000)

  it('[L23][L48] with f validators silent and no equivocation, every honest transfer is decided, across a validator change too', () => {
    check('liveness', fc.property(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.constantFrom(4, 7),
      fc.boolean(),
      (seed, validators, validatorChange) => {
        const o = runAdversary({ seed, validators, byzantine: 'silent', members: 4, rounds: 40, equivocatingMember: false, validatorChange })
        expect(new Set(o.epochs)).toEqual(new Set([validatorChange ? 1 : 0]))
        expect(o.honestTransfers.length).toBeGreaterThan(4)
        expect(o.unconfirmedHonest).toEqual([])
        expect(o.reverted).toEqual([])
      }
    ), 3)
  }, 240_000)
})
