// The admission desk in a credential alliance (SPEC L51): a wallet holding a listed issuer's
// membership credential joins on its own with it; without one it sends nothing and says why.
import { describe, expect, it } from 'vitest'
import { createLedgerContext, LedgerEngine } from '../../src/core/ledger/index.ts'
import type { Tx } from '../../src/core/ledger/index.ts'
import { toBase64url } from '../../src/core/bytes.ts'
import { sign } from '../../src/core/identity.ts'
import { AdmissionDesk } from '../../src/peer/admission.ts'
import { key, T0, testGenesis } from '../fixtures/ledger-helpers.ts'
import type { Key } from '../fixtures/ledger-helpers.ts'

const ISSUER = key(70)
const ME = key(7)
const part = (v: object): string => toBase64url(new TextEncoder().encode(JSON.stringify(v)))
function jwt (issuer: Key, sub: string): string {
  const hp = `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part({ iss: issuer.did, sub, nbf: Math.floor(T0 / 1000) - 60, vc: { credentialSubject: { id: sub } } })}`
  return `${hp}.${toBase64url(sign(issuer.seed, new TextEncoder().encode(hp)))}`
}

function desk (held: readonly string[]): { desk: AdmissionDesk, sent: Tx[][] } {
  const ctx = createLedgerContext(testGenesis({ admission: 'credential', credentialIssuers: [ISSUER.did] }))
  const sent: Tx[][] = []
  const d = new AdmissionDesk({
    ctx, engine: new LedgerEngine(ctx), did: ME.did, now: () => T0 + 1000, seed: () => ME.seed,
    submit: async (txs) => { sent.push(txs); return ctx.allianceId }, publish: null, random: Math.random,
    token: null, openDesk: false, welcome: 0, name: 'me', credentials: async () => held
  })
  return { desk: d, sent }
}

const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve() }

describe('admission desk by credential (L51)', () => {
  it('[L51] joins with the one credential that admits it, and says what it waits for', async () => {
    const good = jwt(ISSUER, ME.did)
    const { desk: d, sent } = desk([jwt(key(71), ME.did), jwt(ISSUER, key(8).did), good])
    expect(d.state()).toEqual({ kind: 'needs-credential', issuers: [ISSUER.did] })
    d.tick()
    await settle()
    expect(sent).toEqual([[{ type: 'member.join', admits: [], credential: good }]])
  })

  it('[L51] sends nothing without a credential that admits it', async () => {
    const { desk: d, sent } = desk([jwt(key(71), ME.did)])
    d.tick()
    await settle()
    expect(sent).toEqual([])
  })
})
