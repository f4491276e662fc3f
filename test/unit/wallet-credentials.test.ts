// JWT verifiable credentials through Veramo: issue, verify (valid / tampered / expired /
// not-yet-valid / malformed), keep credentials from others, list and delete.
import { describe, expect, it } from 'vitest'
import { Wallet } from '../../src/wallet/index.ts'
import { decodeCredentialJwt, MAX_JWT_CHARS } from '../../src/wallet/credentials.ts'
import { fromBase64url, toBase64url } from '../../src/core/bytes.ts'
import { testOptions } from '../fixtures/wallet-helpers.ts'

const DAY = 86_400_000

function editPayload (jwt: string, edit: (payload: Record<string, unknown>) => void): string {
  const [h, p, s] = jwt.split('.')
  const payload = JSON.parse(new TextDecoder().decode(fromBase64url(p))) as Record<string, unknown>
  edit(payload)
  return `${h}.${toBase64url(new TextEncoder().encode(JSON.stringify(payload)))}.${s}`
}

function jwtOf (header: unknown, payload: unknown): string {
  const part = (v: unknown): string => toBase64url(new TextEncoder().encode(JSON.stringify(v)))
  return `${part(header)}.${part(payload)}.${toBase64url(new Uint8Array(64))}`
}

async function codeOf (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return (err as { code?: string }).code }
  return undefined
}

/** A wallet whose clock the test moves. */
async function clocked (profile = 'alice', opts = testOptions(profile)): Promise<{ wallet: Wallet, clock: { t: number } }> {
  const clock = { t: Date.now() }
  const wallet = await Wallet.open({ ...opts, now: () => new Date(clock.t) })
  return { wallet, clock }
}

describe('issue and verify', () => {
  it('issues a JWT VC signed by its DID that verifies as valid, and keeps it', async () => {
    const alice = await Wallet.open(testOptions())
    const c = await alice.issueCredential({ subject: alice.did, type: 'HotspotOperator', claims: { site: 'roof-7', bands: ['n78'] }, expirationDate: new Date(Date.now() + 30 * DAY) })
    expect(c.jwt.split('.')).toHaveLength(3)
    expect(c.issuer).toBe(alice.did)
    expect(c.subject).toBe(alice.did)
    expect(c.type).toBe('HotspotOperator')
    expect(c.claims).toEqual({ site: 'roof-7', bands: ['n78'] })
    expect(c.id).toMatch(/^[0-9a-f]{64}$/)
    expect(Date.parse(c.expiresAt ?? '')).toBeGreaterThan(Date.now())
    const header = JSON.parse(new TextDecoder().decode(fromBase64url(c.jwt.split('.')[0]))) as { alg: string }
    expect(header.alg).toBe('EdDSA')

    const check = await alice.verifyCredential(c.jwt)
    expect(check).toMatchObject({ status: 'valid', issuer: alice.did, subject: alice.did, type: 'HotspotOperator', expiresAt: c.expiresAt })
    expect(check.reason).toMatch(/Signed by/)
    expect((await alice.listCredentials()).map((x) => x.id)).toEqual([c.id])
    alice.close()
  })

  it('issues with no claims and no expiry (what the UI sends by default)', async () => {
    const alice = await Wallet.open(testOptions())
    const c = await alice.issueCredential({ subject: alice.did, type: 'AllianceMembership', claims: {} })
    expect(c.claims).toEqual({})
    expect(c.expiresAt).toBeUndefined()
    expect((await alice.verifyCredential(c.jwt)).status).toBe('valid')
    alice.close()
  })

  it('another wallet verifies it too (only the did:key resolver is needed)', async () => {
    const alice = await Wallet.open(testOptions('alice'))
    const bob = await Wallet.open(testOptions('bob'))
    const c = await alice.issueCredential({ subject: bob.did, type: 'AllianceMembership', claims: { alliance: 'north' } })
    expect((await bob.verifyCredential(c.jwt)).status).toBe('valid')
    alice.close(); bob.close()
  })

  it('verifies while locked (no private key is needed)', async () => {
    const opts = testOptions()
    const alice = await Wallet.open(opts)
    const c = await alice.issueCredential({ subject: alice.did, type: 'AllianceMembership' })
    await alice.setPassphrase('correct horse battery')
    alice.lock()
    expect(alice.locked).toBe(true)
    expect((await alice.verifyCredential(c.jwt)).status).toBe('valid')
    expect(await alice.listCredentials()).toHaveLength(1)
    alice.close()
  })

  it('a changed payload is "tampered"', async () => {
    const alice = await Wallet.open(testOptions())
    const c = await alice.issueCredential({ subject: alice.did, type: 'AllianceMembership', claims: { role: 'member' } })
    const forged = editPayload(c.jwt, (p) => { (p.vc as { credentialSubject: Record<string, unknown> }).credentialSubject.role = 'admin' })
    const check = await alice.verifyCredential(forged)
    expect(check.status).toBe('tampered')
    expect(check.issuer).toBe(alice.did)
    expect(check.reason).toMatch(/signature does not match/)
    alice.close()
  })

  it('a changed signature, or a payload claiming another issuer, is "tampered"', async () => {
    const alice = await Wallet.open(testOptions('alice'))
    const bob = await Wallet.open(testOptions('bob'))
    const c = await alice.issueCredential({ subject: alice.did, type: 'AllianceMembership' })
    const [h, p, s] = c.jwt.split('.')
    const sig = fromBase64url(s)
    sig[10] ^= 1
    expect((await alice.verifyCredential(`${h}.${p}.${toBase64url(sig)}`)).status).toBe('tampered')
    const impersonated = editPayload(c.jwt, (payload) => { payload.iss = bob.did })
    expect((await alice.verifyCredential(impersonated)).status).toBe('tampered')
    alice.close(); bob.close()
  })

  it('a credential past its expirationDate is "expired" (beyond the verifier\'s 5-minute skew)', async () => {
    const { wallet, clock } = await clocked()
    const c = await wallet.issueCredential({ subject: wallet.did, type: 'AllianceMembership', expirationDate: new Date(clock.t + 60_000) })
    expect((await wallet.verifyCredential(c.jwt)).status).toBe('valid')
    clock.t += 60 * 60_000
    const check = await wallet.verifyCredential(c.jwt)
    expect(check.status).toBe('expired')
    expect(check.expiresAt).toBe(c.expiresAt)
    expect(check.reason).toMatch(/expired/)
    wallet.close()
  })

  it('a tampered and expired credential reads "tampered" (the signature is checked first)', async () => {
    const { wallet, clock } = await clocked()
    const c = await wallet.issueCredential({ subject: wallet.did, type: 'AllianceMembership', claims: { a: 1 }, expirationDate: new Date(clock.t + 60_000) })
    clock.t += DAY
    expect((await wallet.verifyCredential(editPayload(c.jwt, (p) => { p.sub = 'did:key:z6Mkother' }))).status).toBe('tampered')
    wallet.close()
  })

  it('a credential issued in the future is "not-yet-valid"', async () => {
    const { wallet, clock } = await clocked()
    clock.t += DAY
    const c = await wallet.issueCredential({ subject: wallet.did, type: 'AllianceMembership' })
    clock.t -= DAY
    const check = await wallet.verifyCredential(c.jwt)
    expect(check.status).toBe('not-yet-valid')
    expect(check.reason).toMatch(/clock/)
    wallet.close()
  })

  it('garbage is "malformed" and never throws', async () => {
    const w = await Wallet.open(testOptions())
    const samples: unknown[] = [
      '', 'hello', 'a.b.c', 'e30.e30.e30', `${'x'.repeat(MAX_JWT_CHARS)}.a.b`, 42, null,
      jwtOf({ alg: 'EdDSA' }, { iss: w.did, sub: w.did, nbf: 1 }), // no vc
      jwtOf({ alg: 'EdDSA' }, { iss: 'not-a-did', vc: { type: ['VerifiableCredential'], credentialSubject: { id: w.did } }, nbf: 1 }),
      jwtOf({ alg: 'EdDSA' }, { iss: 'did:web:example.com', sub: w.did, nbf: 1, vc: { type: ['VerifiableCredential', 'X'], credentialSubject: { a: 1 } } }) // unresolvable issuer
    ]
    for (const s of samples) {
      const check = await w.verifyCredential(s as string)
      expect(check.status, String(s).slice(0, 40)).toBe('malformed')
      expect(check.reason.length).toBeGreaterThan(10)
    }
    w.close()
  })

  it('refuses bad issue arguments with typed errors and stores nothing', async () => {
    const { wallet, clock } = await clocked()
    expect(await codeOf(wallet.issueCredential({ subject: 'bob', type: 'AllianceMembership' }))).toBe('ERR_BAD_DID')
    expect(await codeOf(wallet.issueCredential({ subject: wallet.did, type: 'has space' }))).toBe('ERR_BAD_CREDENTIAL_TYPE')
    expect(await codeOf(wallet.issueCredential({ subject: wallet.did, type: 'VerifiableCredential' }))).toBe('ERR_BAD_CREDENTIAL_TYPE')
    expect(await codeOf(wallet.issueCredential({ subject: wallet.did, type: 'A', claims: { id: 'did:key:zX' } }))).toBe('ERR_BAD_CLAIMS')
    expect(await codeOf(wallet.issueCredential({ subject: wallet.did, type: 'A', claims: { big: 'x'.repeat(20_000) } }))).toBe('ERR_BAD_CLAIMS')
    expect(await codeOf(wallet.issueCredential({ subject: wallet.did, type: 'A', expirationDate: new Date(clock.t - 1) }))).toBe('ERR_BAD_DATE')
    expect(await codeOf(wallet.issueCredential({ subject: wallet.did, type: 'A', expirationDate: new Date(NaN) }))).toBe('ERR_BAD_DATE')
    expect(await wallet.listCredentials()).toEqual([])
    wallet.close()
  })
})

describe('keeping credentials', () => {
  it('saves a credential from someone else; refuses tampered and malformed ones; keeps expired ones', async () => {
    const alice = await clocked('alice')
    const bob = await Wallet.open(testOptions('bob'))
    const fromBob = await bob.issueCredential({ subject: alice.wallet.did, type: 'RelayOperator', claims: { relay: 'r1' } })
    const saved = await alice.wallet.saveCredential(fromBob.jwt)
    expect(saved).toMatchObject({ id: fromBob.id, issuer: bob.did, subject: alice.wallet.did, type: 'RelayOperator', claims: { relay: 'r1' } })

    const forged = editPayload(fromBob.jwt, (p) => { p.sub = bob.did })
    expect(await codeOf(alice.wallet.saveCredential(forged))).toBe('ERR_INVALID_CREDENTIAL')
    expect(await codeOf(alice.wallet.saveCredential('not a jwt'))).toBe('ERR_INVALID_CREDENTIAL')
    expect((await alice.wallet.listCredentials()).map((c) => c.id)).toEqual([fromBob.id])

    const short = await bob.issueCredential({ subject: alice.wallet.did, type: 'Short', expirationDate: new Date(Date.now() + 60_000) })
    alice.clock.t += DAY
    expect((await alice.wallet.verifyCredential(short.jwt)).status).toBe('expired')
    await alice.wallet.saveCredential(short.jwt)
    expect(await alice.wallet.listCredentials()).toHaveLength(2)
    alice.wallet.close(); bob.close()
  })

  it('lists oldest first, saving twice keeps one copy, and deletes by id', async () => {
    const { wallet, clock } = await clocked()
    const first = await wallet.issueCredential({ subject: wallet.did, type: 'First' })
    clock.t += 1000
    const second = await wallet.issueCredential({ subject: wallet.did, type: 'Second' })
    await wallet.saveCredential(first.jwt)
    expect((await wallet.listCredentials()).map((c) => c.type)).toEqual(['First', 'Second'])
    await wallet.deleteCredential(first.id)
    expect((await wallet.listCredentials()).map((c) => c.id)).toEqual([second.id])
    await wallet.deleteCredential('not-there')
    expect(await wallet.listCredentials()).toHaveLength(1)
    wallet.close()
  })

  it('decoding untrusted JSON cannot reach Object.prototype', () => {
    const jwt = `${toBase64url(new TextEncoder().encode('{"alg":"EdDSA"}'))}.${toBase64url(new TextEncoder().encode(
      '{"iss":"did:key:z6Mkx","sub":"did:key:z6Mky","nbf":1,"vc":{"type":["VerifiableCredential","T"],"credentialSubject":{"__proto__":{"polluted":true},"constructor":1,"ok":2}}}'
    ))}.${toBase64url(new Uint8Array(64))}`
    const decoded = decodeCredentialJwt(jwt)
    expect(decoded.claims).toEqual({ ok: 2 })
    expect(Object.getPrototypeOf(decoded.claims)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})
