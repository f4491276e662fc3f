/**
 * Which alliance a profile belongs to, kept per profile (SPEC A1): joined by invitation link
 * (`?invite=…`), founded in the app, or — for the zero-setup demo — the operator's alliance
 * that `npm start` serves in `/alliance-config.json` (its founding validator runs in Node and
 * admits everyone who asks). Nothing here trusts the server beyond the demo: a genesis is
 * always parsed and checked, and an invitation's signature is checked by the validator.
 */
import { decodeGenesis, encodeGenesis, genesisId } from '../core/ledger/index.ts'
import type { Genesis } from '../core/ledger/index.ts'
import { invitationFromText } from '../core/invitation.ts'
import type { InvitationToken } from '../core/invitation.ts'
import { fromBase64url, toBase64url } from '../core/bytes.ts'
import { decode, encode } from '../core/codec.ts'
import type { KeyValue } from './profiles.ts'

export interface AllianceChoice {
  readonly genesis: Genesis
  readonly allianceId: string
  /** The invitation this profile came with, if any (goes into its join requests). */
  readonly token: InvitationToken | null
  /** Relays the invitation named. */
  readonly relays: readonly string[]
  readonly source: 'invitation' | 'founded' | 'demo'
}

const keyOf = (profile: string): string => `alliance:${profile}:alliance`

export function savedAlliance (profile: string, store: KeyValue): AllianceChoice | null {
  const text = store.getItem(keyOf(profile))
  if (text == null) return null
  try {
    const v = decode<{ genesis: Uint8Array, token: InvitationToken | null, relays: string[], source: AllianceChoice['source'] }>(fromBase64url(text), 64 * 1024)
    const genesis = decodeGenesis(v.genesis)
    return { genesis, allianceId: genesisId(genesis), token: v.token ?? null, relays: v.relays ?? [], source: v.source }
  } catch {
    // an unreadable record (an older version): forget it, the profile chooses again
    store.removeItem?.(keyOf(profile))
    return null
  }
}

export function saveAlliance (profile: string, store: KeyValue, choice: Omit<AllianceChoice, 'allianceId'>): AllianceChoice {
  const record = { genesis: encodeGenesis(choice.genesis), token: choice.token, relays: [...choice.relays], source: choice.source }
  store.setItem(keyOf(profile), toBase64url(encode(record)))
  return { ...choice, allianceId: genesisId(choice.genesis) }
}

export function forgetAlliance (profile: string, store: KeyValue): void {
  store.removeItem?.(keyOf(profile))
}

/** From an invitation link or its text; throws InvitationError when it is damaged. */
export function choiceFromInvitation (text: string): Omit<AllianceChoice, 'allianceId'> {
  const inv = invitationFromText(text)
  return { genesis: inv.genesis, token: inv.token, relays: inv.relays, source: 'invitation' }
}

/** The demo operator's alliance, if the server offers one. */
export async function servedDemoAlliance (fetchJson: () => Promise<unknown>): Promise<Omit<AllianceChoice, 'allianceId'> | null> {
  const body = await fetchJson().catch(() => null)
  const demo = (body as { alliance?: { genesis?: unknown } } | null)?.alliance
  if (demo == null || typeof demo.genesis !== 'string') return null
  try {
    return { genesis: decodeGenesis(fromBase64url(demo.genesis)), token: null, relays: [], source: 'demo' }
  } catch {
    return null
  }
}

/**
 * The alliance of a profile at start-up: an invitation in the URL wins (and is saved), then
 * the saved one, then the served demo alliance (saved too, so the profile stays in it).
 */
export async function resolveAlliance (profile: string, search: string, store: KeyValue, fetchJson: () => Promise<unknown>): Promise<AllianceChoice | null> {
  const invite = new URLSearchParams(search).get('invite')
  if (invite != null) {
    try {
      const choice = choiceFromInvitation(invite)
      const saved = savedAlliance(profile, store)
      if (saved == null || saved.allianceId !== genesisId(choice.genesis) || saved.token == null) return saveAlliance(profile, store, choice)
      return saved
    } catch {
      // a damaged link: fall through to what the profile had
    }
  }
  const saved = savedAlliance(profile, store)
  if (saved != null) return saved
  const demo = await servedDemoAlliance(fetchJson)
  return demo == null ? null : saveAlliance(profile, store, demo)
}
