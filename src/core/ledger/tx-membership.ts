/**
 * Built-in membership transactions (SPEC L27, L39, L46, L51): a validator's `member.admit`,
 * the new member's `member.join` naming the admissions (or carrying a membership credential),
 * and `validator.vote`. Admissions and votes write nothing: the member's join reads the
 * admissions, and the engine counts votes in each block's past cone (epochs.ts).
 */
import type { Did } from '../identity.ts'
import { fail, LedgerErrorCode } from './errors.ts'
import { expectDid, expectInt, expectRecord, expectString } from './check.ts'
import type { ValidatorVoteTx } from './epochs.ts'
import { checkMembershipCredential, MAX_CREDENTIAL_CHARS } from './membership-credential.ts'
import type { TxTypeDef } from './tx-registry.ts'
import { isFounder, NS } from './tx-records.ts'
import type { MemberRecord } from './tx-records.ts'
import { confirmedDep, expectChain, expectTxIds } from './tx-fields.ts'
import type { LedgerValue, Tx, TxId } from './types.ts'

const BAD_TX = LedgerErrorCode.BAD_TX

export interface MemberAdmitTx extends Tx {
  readonly type: 'member.admit'
  readonly member: Did
  readonly chain: string
}

export interface MemberJoinTx extends Tx {
  readonly type: 'member.join'
  /** The validators' `member.admit` transactions for this issuer and chain. */
  readonly admits: readonly TxId[]
  // with admission 'credential' it also carries `credential`: the membership JWT (L51)
}

export const memberAdmit: TxTypeDef<MemberAdmitTx> = {
  type: 'member.admit',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'member.admit', ['type', 'member', 'chain'], [], BAD_TX)
    const member = expectDid(r.member, 'member.admit.member', BAD_TX)
    const chain = expectChain(r.chain, 'member.admit.chain', ctx.genesis)
    // L27: subject control — only validators admit (the engine counts an admission only from a
    // validator of its block's epoch, L49: the set changes, so that is not a shape rule), never themselves
    if (member === ctx.issuer) fail(BAD_TX, 'no one admits itself')
    if (isFounder(ctx.genesis, member)) fail(BAD_TX, 'a validator is a member from genesis')
    return { type: 'member.admit', member, chain }
  },
  // the admission itself writes nothing: the member's own join reads it (L27)
  apply () {}
}

export const memberJoin: TxTypeDef<MemberJoinTx> = {
  type: 'member.join',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'member.join', ['type', 'admits'], ['credential'], BAD_TX)
    // with admission 'credential' the credential admits and `admits` is empty (L51)
    const admits = expectTxIds(r.admits, 'member.join.admits', Math.max(1, ctx.genesis.admitVotes) + 8, ctx.genesis.admission === 'credential' ? 0 : 1)
    if (isFounder(ctx.genesis, ctx.issuer)) fail(BAD_TX, 'a validator needs no join')
    if (r.credential === undefined) return { type: 'member.join', admits }
    if (ctx.genesis.admission !== 'credential') fail(BAD_TX, 'a credential admits only where the genesis says so')
    const credential = expectString(r.credential, 'member.join.credential', MAX_CREDENTIAL_CHARS, BAD_TX)
    const tx: MemberJoinTx = { type: 'member.join', admits }
    return { ...tx, credential }
  },
  deps (tx) { return tx.admits },
  apply (state, tx, ctx) {
    if (state.has(NS.member, ctx.issuer)) fail(BAD_TX, 'already a member')
    if (ctx.genesis.admission === 'credential') {
      // L51: the credential admits on its own, judged at the block's time (the engine checked it at insert too)
      checkMembershipCredential((tx as Tx).credential, ctx.genesis, ctx.issuer, ctx.chain, ctx.time)
      state.set(NS.member, ctx.issuer, { chain: ctx.chain, since: ctx.blockId } as unknown as LedgerValue)
      return
    }
    const voters = new Set<string>()
    for (const id of tx.admits) {
      const o = confirmedDep(ctx, id, 'member.admit')
      const admit = o.tx as MemberAdmitTx
      if (admit.member !== ctx.issuer || admit.chain !== ctx.chain) fail(BAD_TX, 'an admission names another member or chain')
      voters.add(o.issuer)
    }
    if (voters.size < ctx.genesis.admitVotes) fail(BAD_TX, `${voters.size} of ${ctx.genesis.admitVotes} validators admitted this member`)
    const record: MemberRecord = { chain: ctx.chain, since: ctx.blockId }
    state.set(NS.member, ctx.issuer, record as unknown as LedgerValue)
  }
}

/**
 * L46: a validator's vote to add or remove one validator. It writes nothing: the engine counts
 * votes in each block's past cone (epochs.ts), so the set that judges a block never depends on
 * the order peers confirmed things in.
 */
export const validatorVote: TxTypeDef<ValidatorVoteTx> = {
  type: 'validator.vote',
  decode (raw, ctx) {
    const r = expectRecord(raw, 'validator.vote', ['type', 'action', 'did', 'chain', 'epoch'], [], BAD_TX)
    if (r.action !== 'add' && r.action !== 'remove') fail(BAD_TX, 'validator.vote.action is add or remove')
    const did = expectDid(r.did, 'validator.vote.did', BAD_TX)
    const chain = expectChain(r.chain, 'validator.vote.chain', ctx.genesis)
    const epoch = expectInt(r.epoch, 'validator.vote.epoch', 0, 0x7fffffff, BAD_TX)
    return { type: 'validator.vote', action: r.action, did, chain, epoch }
  },
  apply () {}
}
