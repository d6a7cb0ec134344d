// What the chain says about a deal, as the roles' lifecycles read it. The node fills it from the chain follower
// (events) and the Market's deal record; the simulator from its Market model.
import type { DealStateName } from '../../protocols/settlement/index.ts'

export type { DealStateName }

export interface DealFacts {
  state: DealStateName
  /** chain time (unix seconds) of the deal's last transition; 0 while it does not exist */
  since: number
  /** the CID the provider submitted (from its ResultSubmitted event) */
  resultCid?: string
  /**
   * a submission whose audit draw nobody has made yet (the deal has audits): anyone may draw it from the block after
   * the submission's (Market.drawAudit; protocols/settlement `auditDrawDue`). Past 256 blocks an undrawn one is audited.
   */
  auditDue?: boolean
  /** the single mediator the Market drew for the deal's dispute (its MediatorDrawn event) */
  mediator?: string
  /**
   * a single mediator's dispute whose mediator nobody has drawn yet (Market.drawMediator): anyone may, from the block
   * after the dispute's to 256 blocks after it; the mediator's window counts from the draw (docs/mediation.md,
   * "Unbiasable draws"). Never drawn, the dispute times out as a silent mediator's would.
   */
  mediatorDrawDue?: boolean
  /** a committee's dispute (docs/mediation.md, "Committees"): who was drawn and how far its vote has come */
  committee?: CommitteeFacts
  /**
   * a committee's dispute before its draw (docs/mediation.md, "Unbiasable draws"): the parties' seed reveals. Present
   * instead of `committee` until both have revealed, or the phase was closed.
   */
  seedPhase?: SeedPhaseFacts
}

/** A committee dispute's seed phase as the chain tells it (unix seconds). */
export interface SeedPhaseFacts {
  jobCreatorRevealed: boolean
  providerRevealed: boolean
  /**
   * the last second a reveal is accepted: the dispute's start (`since`) + the reveal window, or earlier when the
   * phase's 256 blocks ran out first (the node reads the block number; the lifecycle only the clock). From then
   * anyone closes the phase with finalizeCommittee, and a party that withheld its reveal loses.
   */
  deadline: number
}

/** A committee's vote as the chain tells it, with the Market's vote windows (seconds). */
export interface CommitteeFacts {
  /** in draw order */
  members: string[]
  /** unix seconds: when the Market drew the committee (the second seed reveal); the commit window counts from it */
  drawnAt: number
  /** unix seconds: when the last member committed (the reveal phase opened then), else null */
  allCommittedAt: number | null
  /** the members that committed, and those that revealed */
  committed: string[]
  revealed: string[]
  commitWindow: number
  revealWindow: number
}

/**
 * When a committee's vote is over at the latest (ms): the commit window from the draw (`drawnAt`: the second seed
 * reveal, not the challenge), or the moment every member committed, then the reveal window. From then anyone may
 * finalize the dispute (Market.finalizeCommittee), as anyone may time out a lone mediator's.
 */
export function committeeVoteEnd (c: CommitteeFacts): number {
  return ((c.allCommittedAt ?? c.drawnAt + c.commitWindow) + c.revealWindow) * 1000
}

/**
 * When a committee dispute is over at the latest if nobody ends it (ms): before the draw, the seed phase's deadline
 * (finalizeCommittee then closes it: the party that withheld loses); after it, the vote's end.
 */
export function committeeCloseAt (facts: Pick<DealFacts, 'committee' | 'seedPhase'>): number | undefined {
  if (facts.seedPhase !== undefined) return facts.seedPhase.deadline * 1000
  if (facts.committee !== undefined) return committeeVoteEnd(facts.committee)
  return undefined
}

export const NO_DEAL: DealFacts = { state: 'None', since: 0 }

export const FINAL_STATES: readonly DealStateName[] = ['Settled', 'MediatedCorrect', 'MediatedWrong', 'TimedOutResult', 'TimedOutMediation']

export function isFinalState (s: DealStateName): boolean {
  return FINAL_STATES.includes(s)
}

/** A lifecycle action: something the shell does, retried until `deadline` (ms) when it fails transiently. */
export interface ActionBase<K extends string> { kind: K, deadline: number }

/** One step's result: the next record, the actions that should be under way, and when to step again at the latest. */
export interface Step<R, A> {
  record: R
  actions: A[]
  /** ms; the shell steps the record again then (a deadline to check), or never when undefined */
  wakeAt?: number
}

/** An action that failed for good (a revert that will not change) or whose deadline passed. */
export interface ActionFailure { reason: string }
