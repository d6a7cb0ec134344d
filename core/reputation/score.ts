// A provider's reputation: one number from what it did. The chain part is reproducible — every node reading the same
// blocks gets the same record and the same score (deals settled, upheld by a mediator, random audits passed, results
// mediated wrong, result timeouts, canaries passed and failed). This node's own experience (proposals declined,
// providers unreachable) is not here: it is core/policy/ban.ts's BanList, which lapses, and which takes this record's
// standing as its source, so a job creator has one standing per provider.
//
// score = (good + 1) / (good + bad + 2) in parts per million: the mean of a Beta(1, 1) prior updated by weighted
// outcomes, so a provider nothing is known of sits at 500,000, a canary pass lifts a provider that has run nothing
// else, and bad outcomes weigh more than good ones (a slash four, a timeout or a failed canary two).
// Settled deals count at most ten per distinct job creator, so deals with one's own job creator build little.
import type { CanaryRecord, DealOutcome, DealParties } from '../../protocols/incentives/outcomes.ts'
import { CanaryOutcome } from '../../protocols/incentives/canary-report.ts'

export interface ChainRecord {
  /** deals closed as Settled (accepted, or unchallenged through the judge window) */
  settled: number
  /** deals a mediator upheld, challenged or audited */
  upheld: number
  /** of those, random audits drawn by the Market */
  auditsPassed: number
  /** results mediated wrong: collateral slashed */
  slashed: number
  /** deals closed by a result timeout */
  timedOut: number
  canaryPassed: number
  canaryFailed: number
  /** distinct job creators of its settled deals */
  jobCreators: number
}

import type { Standing } from '../policy/ban.ts'
export type { Standing }

export interface ReputationWeights {
  slashed: number
  timedOut: number
  canaryFailed: number
  settledPerJobCreator: number
}

export const defaultReputationWeights: ReputationWeights = { slashed: 4, timedOut: 2, canaryFailed: 2, settledPerJobCreator: 10 }

export interface StandingPolicy {
  /** below this score (ppm) a provider is asked after the others */
  demoteBelow: number
  /** below this score, with at least `banEvidence` weight of bad outcomes, it is not asked at all */
  banBelow: number
  banEvidence: number
}

export const defaultStandingPolicy: StandingPolicy = { demoteBelow: 450_000, banBelow: 250_000, banEvidence: 4 }

export const UNKNOWN_SCORE = 500_000

export function emptyChainRecord (): ChainRecord {
  return { settled: 0, upheld: 0, auditsPassed: 0, slashed: 0, timedOut: 0, canaryPassed: 0, canaryFailed: 0, jobCreators: 0 }
}

function goodBad (c: ChainRecord, w: ReputationWeights): { good: number, bad: number } {
  const settled = Math.min(c.settled, w.settledPerJobCreator * Math.max(1, c.jobCreators))
  const good = settled + c.upheld + c.auditsPassed + c.canaryPassed
  const bad = w.slashed * c.slashed + w.timedOut * c.timedOut + w.canaryFailed * c.canaryFailed
  return { good, bad }
}

/** The score in parts per million (integer), from the chain record. */
export function reputationScore (chain: ChainRecord, w: ReputationWeights = defaultReputationWeights): number {
  const { good, bad } = goodBad(chain, w)
  return Math.floor((good + 1) * 1_000_000 / (good + bad + 2))
}

export function standingOf (chain: ChainRecord, p: StandingPolicy = defaultStandingPolicy, w: ReputationWeights = defaultReputationWeights): Standing {
  const score = reputationScore(chain, w)
  if (score < p.banBelow && goodBad(chain, w).bad >= p.banEvidence) return 'banned'
  return score < p.demoteBelow ? 'demoted' : 'ok'
}

/**
 * Every provider's chain record from deal outcomes and canary reports. A canary report naming a deal counts only if
 * `canaryDeals` shows that deal is the provider's (a report about someone else's deal is ignored); canary deals are
 * not counted again as ordinary deals. Keys are lower-case addresses.
 */
export function chainRecords (deals: Iterable<DealOutcome>, canaries: Iterable<CanaryRecord> = [], canaryDeals: ReadonlyMap<string, DealParties> = new Map()): Map<string, ChainRecord> {
  const out = new Map<string, ChainRecord>()
  const jcs = new Map<string, Set<string>>()
  const rec = (p: string): ChainRecord => {
    let r = out.get(p)
    if (r === undefined) { r = emptyChainRecord(); out.set(p, r) }
    return r
  }
  const canaryDealIds = new Set<string>()
  for (const c of canaries) {
    const provider = c.provider.toLowerCase()
    if (c.outcome !== CanaryOutcome.Unreachable) {
      canaryDealIds.add(c.dealId.toLowerCase())
      if (canaryDeals.get(c.dealId.toLowerCase())?.provider.toLowerCase() !== provider) continue
    }
    const r = rec(provider)
    if (c.outcome === CanaryOutcome.Passed) r.canaryPassed++
    else r.canaryFailed++
  }
  for (const d of deals) {
    if (canaryDealIds.has(d.dealId.toLowerCase())) continue
    const p = d.provider.toLowerCase()
    const r = rec(p)
    switch (d.state) {
      case 'Settled': {
        r.settled++
        let s = jcs.get(p)
        if (s === undefined) { s = new Set(); jcs.set(p, s) }
        s.add(d.jobCreator.toLowerCase())
        r.jobCreators = s.size
        break
      }
      case 'MediatedCorrect': r.upheld++; if (d.audited) r.auditsPassed++; break
      case 'MediatedWrong': r.slashed++; break
      case 'TimedOutResult': r.timedOut++; break
      case 'TimedOutMediation': break // the mediator's fault, not the provider's
    }
  }
  return out
}
