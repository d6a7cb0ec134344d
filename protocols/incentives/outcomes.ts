// What the chain says about providers, reduced to plain facts: each deal's final outcome (from the Market's events)
// and each canary report recorded in the Rewards contract. Reputation and rewards are pure functions of these, so
// any node reading the same blocks computes the same records and the same roots. The shell that reads the chain maps
// the contracts' events onto `MarketFact`s; nothing here knows of ethers or RPCs.
import type { CanaryOutcomeValue } from './canary-report.ts'

export type MarketFact = { dealId: string, block: number } & (
  | { kind: 'DealAgreed', jobCreator: string, resourceProvider: string, price: bigint, collateral: bigint, mediationFee: bigint,
    /** from the agree call's calldata; null when the deal was agreed through another contract and could not be read */
    auditPpm: number | null }
  | { kind: 'ResultSubmitted' }
  | { kind: 'DealChallenged', audit: boolean }
  | { kind: 'DealMediated', resultCorrect: boolean }
  | { kind: 'DealSettled' }
  | { kind: 'DealTimedOut', which: 'result' | 'mediation' }
  /** a committee's end (docs/mediation.md, "Committees"): noCase, bit i: the i-th member never obtained the case */
  | { kind: 'CommitteeFinalized', noCase: number }
  /** a committee dispute's seed phase ended without both parties' reveals: no committee was drawn to judge it */
  | { kind: 'SeedWithheld' }
)

export type FinalState = 'Settled' | 'MediatedCorrect' | 'MediatedWrong' | 'TimedOutResult' | 'TimedOutMediation'

/** A deal that reached its final state. Addresses and ids are lower-case. */
export interface DealOutcome {
  dealId: string
  provider: string
  jobCreator: string
  price: bigint
  auditPpm: number | null
  /** the Market drew a random audit of the submission (from its block's hash) */
  audited: boolean
  /** the job creator challenged the result */
  challenged: boolean
  state: FinalState
  /** block of the final event */
  closedBlock: number
  /**
   * A committee could not judge it: it ended without a quorum and a member said the parties never gave it the case.
   * The result stands (the provider is paid), but it is not verified work: a cartel that keeps the case from its own
   * deal's audit lands here. So does a committee dispute whose seed phase ended without both parties' reveals
   * (docs/mediation.md, "Unbiasable draws"): nobody was drawn to judge it, whichever way the withholding decided it.
   * Absent: judged, or no committee.
   */
  unjudged?: true
}

/** A canary report as the Rewards contract recorded it (`CanaryRecorded`). Lower-case addresses and ids. */
export interface CanaryRecord {
  reportId: string
  epoch: number
  provider: string
  validator: string
  dealId: string
  outcome: CanaryOutcomeValue
  units: number
  observedAt: number
}

/** The provider (and job creator) of a deal, from its `DealAgreed`: what canary reports are checked against. */
export interface DealParties { provider: string, jobCreator: string }

/** Deals are paid in these final states (the result stood). */
export const PAID_STATES: ReadonlySet<FinalState> = new Set(['Settled', 'MediatedCorrect', 'TimedOutMediation'])

interface Partial { agreed?: Extract<MarketFact, { kind: 'DealAgreed' }>, audited: boolean, challenged: boolean, noCase: boolean, withheld: boolean, final?: { state: FinalState, at: number } }

/**
 * Folds Market facts (any order; duplicates harmless) into the outcomes of the deals that reached a final state.
 * A final state without the deal's `DealAgreed` among the facts is left out: its price and parties are unknown.
 * Sorted by deal id.
 */
export function dealOutcomes (facts: Iterable<MarketFact>): DealOutcome[] {
  const byDeal = new Map<string, Partial>()
  for (const f of facts) {
    const id = f.dealId.toLowerCase()
    let p = byDeal.get(id)
    if (p === undefined) { p = { audited: false, challenged: false, noCase: false, withheld: false }; byDeal.set(id, p) }
    switch (f.kind) {
      case 'DealAgreed': p.agreed = f; break
      case 'DealChallenged': if (f.audit) p.audited = true; else p.challenged = true; break
      case 'DealMediated': p.final = { state: f.resultCorrect ? 'MediatedCorrect' : 'MediatedWrong', at: f.block }; break
      case 'DealSettled': p.final = { state: 'Settled', at: f.block }; break
      case 'DealTimedOut': p.final = { state: f.which === 'result' ? 'TimedOutResult' : 'TimedOutMediation', at: f.block }; break
      case 'CommitteeFinalized': if (f.noCase !== 0) p.noCase = true; break
      case 'SeedWithheld': p.withheld = true; break
    }
  }
  const out: DealOutcome[] = []
  for (const [dealId, p] of byDeal) {
    if (p.agreed === undefined || p.final === undefined) continue
    out.push({
      dealId,
      provider: p.agreed.resourceProvider.toLowerCase(),
      jobCreator: p.agreed.jobCreator.toLowerCase(),
      price: p.agreed.price,
      auditPpm: p.agreed.auditPpm,
      audited: p.audited,
      challenged: p.challenged,
      state: p.final.state,
      closedBlock: p.final.at,
      ...((p.final.state === 'TimedOutMediation' && p.noCase) || p.withheld ? { unjudged: true as const } : {})
    })
  }
  return out.sort((a, b) => a.dealId < b.dealId ? -1 : a.dealId > b.dealId ? 1 : 0)
}
