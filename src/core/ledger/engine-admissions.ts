/**
 * The ledger engine's index of admissions (L27, L49): each `member.admit` by a validator of its
 * block's own epoch, by the DID it admits, so a joining member's wallet finds the admissions
 * to name in its join in O(its admissions) instead of a scan of the DAG.
 */
import type { Did } from '../identity.ts'
import type { MemberAdmitTx } from './tx.ts'
import type { TxId, TxStatus } from './types.ts'
import { txIdOf, validatorOfOwnEpoch } from './engine-node.ts'
import type { Node } from './engine-node.ts'

export interface Admission {
  readonly txId: TxId
  readonly validator: Did
  readonly chain: string
  readonly status: TxStatus
}

export class AdmissionIndex {
  private readonly byMember = new Map<string, Array<{ node: Node, index: number }>>()

  /** Files the admissions of a block just linked (none unless its issuer validates its epoch). */
  add (node: Node): void {
    if (!validatorOfOwnEpoch(node)) return
    node.txs.forEach((tx, index) => {
      if (tx.type !== 'member.admit' || typeof tx.member !== 'string') return
      const list = this.byMember.get(tx.member) ?? []
      list.push({ node, index })
      this.byMember.set(tx.member, list)
    })
  }

  /** Every admission of `member`, with the validator's DID and the transaction's status. */
  of (member: string, validatorDid: (bit: number) => Did, status: (txId: TxId) => TxStatus | undefined): Admission[] {
    return (this.byMember.get(member) ?? []).map(({ node, index }) => {
      const txId = txIdOf(node.id, index)
      return { txId, validator: validatorDid(node.validator), chain: (node.txs[index] as MemberAdmitTx).chain, status: status(txId) ?? 'pending' }
    })
  }
}
