/**
 * Public surface of the network layer (browser-safe: no Node built-ins). Node callers use
 * `./node.ts`, which installs the Node 20 shims and re-exports this.
 */
export { createAllianceNet, AllianceNet } from './alliance-net.ts'
export type {
  AllianceNetOptions, AllianceServices, GossipHandler, NetStats, PeerView, ProtocolContext, ProtocolHandler, RelayView
} from './alliance-net.ts'
export type { DmMessage } from './dm.ts'
export type { RelayState } from './relay-keeper.ts'
export { MisbehaviourTracker } from './misbehaviour.ts'
export type { MisbehaviourOptions, MisbehaviourStats, Verdict } from './misbehaviour.ts'
export { closeAndReadAll, readFrames, readOneFrame, writeFrame } from './frames.ts'
export * from './constants.ts'
export * from './errors.ts'
export { RtcBudget, RtcBudgetSpentError, DuplicateDialError, HandshakeLimitError, isTooManyPeerConnections } from './rtc-budget.ts'
export type { RtcBudgetOptions, RtcBudgetState } from './rtc-budget.ts'
