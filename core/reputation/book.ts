// Reputation kept up to date from a stream of chain facts (a node's chain follower feeds it), incrementally: what
// the matcher and the job creator's ban policy read. The interface they need is small:
//   score(provider)    0..1,000,000 (500,000 unknown)   — the matcher ranks equal prices by it
//   standing(provider) 'ok' | 'demoted' | 'banned'       — demoted providers are asked last, banned ones not at all
//   scores()           a map for the matcher's `reputation` option
// It is the source of core/policy/ban.ts's BanList (`new BanList(policy, book)`): the job creator's one standing per
// provider is the worse of its own lapsing memory of failures (declined, unreachable) and this chain record, which
// does not lapse. Whatever order the facts arrive in, the records equal `chainRecords` over them (tested).
import type { CanaryRecord, DealOutcome, DealParties } from '../../protocols/incentives/outcomes.ts'
import { CanaryOutcome } from '../../protocols/incentives/canary-report.ts'
import type { StandingSource } from '../policy/ban.ts'
import { emptyChainRecord, reputationScore, standingOf, defaultStandingPolicy, defaultReputationWeights, UNKNOWN_SCORE, type ChainRecord, type Standing, type StandingPolicy, type ReputationWeights } from './score.ts'

export interface Reputation extends StandingSource {
  score: (provider: string) => number
  /** every known provider's score (the matcher's `reputation`) */
  scores: () => ReadonlyMap<string, number>
}

export interface ReputationBookInit {
  policy?: StandingPolicy
  weights?: ReputationWeights
  /**
   * Deal outcomes and ids remembered, to drop facts delivered twice (a follower re-delivers after a reorg) and to take
   * a deal back out of the ordinary counts when a canary report later reveals it was a canary. Beyond this many the
   * oldest are forgotten.
   */
  maxRemembered?: number
}

export class ReputationBook implements Reputation {
  readonly #policy: StandingPolicy
  readonly #weights: ReputationWeights
  readonly #max: number
  readonly #records = new Map<string, ChainRecord>()
  readonly #settledBy = new Map<string, Map<string, number>>()
  readonly #outcomes = new Map<string, DealOutcome>()
  readonly #canaryDeals = new Set<string>()
  readonly #reports = new Set<string>()
  #scores: Map<string, number> | undefined
  #banned: number | undefined

  constructor (init: ReputationBookInit = {}) {
    this.#policy = init.policy ?? defaultStandingPolicy
    this.#weights = init.weights ?? defaultReputationWeights
    this.#max = init.maxRemembered ?? 100_000
  }

  /** A deal that reached its final state. Returns false when it was already counted. */
  addOutcome (o: DealOutcome): boolean {
    const id = o.dealId.toLowerCase()
    if (this.#outcomes.has(id)) return false
    this.#outcomes.set(id, o)
    this.#trim(this.#outcomes)
    if (!this.#canaryDeals.has(id)) this.#apply(o, 1)
    return true
  }

  /** A recorded canary report, with the parties of the deal it names (from its DealAgreed) when it names one. */
  addCanary (c: CanaryRecord, parties?: DealParties): boolean {
    const rid = c.reportId.toLowerCase()
    if (this.#reports.has(rid)) return false
    this.#reports.add(rid)
    this.#trim(this.#reports)
    const provider = c.provider.toLowerCase()
    if (c.outcome !== CanaryOutcome.Unreachable) {
      const id = c.dealId.toLowerCase()
      if (!this.#canaryDeals.has(id)) {
        this.#canaryDeals.add(id)
        this.#trim(this.#canaryDeals)
        const counted = this.#outcomes.get(id)
        if (counted !== undefined) this.#apply(counted, -1)
      }
      if (parties === undefined || parties.provider.toLowerCase() !== provider) return true
    }
    const r = this.#rec(provider)
    if (c.outcome === CanaryOutcome.Passed) r.canaryPassed++
    else r.canaryFailed++
    this.#scores = undefined
    this.#banned = undefined
    return true
  }

  record (provider: string): ChainRecord {
    return { ...(this.#records.get(provider.toLowerCase()) ?? emptyChainRecord()) }
  }

  score (provider: string): number {
    const r = this.#records.get(provider.toLowerCase())
    return r === undefined ? UNKNOWN_SCORE : reputationScore(r, this.#weights)
  }

  standing (provider: string): Standing {
    const r = this.#records.get(provider.toLowerCase())
    return r === undefined ? 'ok' : standingOf(r, this.#policy, this.#weights)
  }

  /** Every known provider's score; the same Map object until something changes (the matcher caches on identity). */
  scores (): ReadonlyMap<string, number> {
    if (this.#scores === undefined) {
      this.#scores = new Map([...this.#records].map(([p, r]) => [p, reputationScore(r, this.#weights)]))
    }
    return this.#scores
  }

  /** Providers whose record bans them (cached until something changes). */
  bannedCount (): number {
    if (this.#banned === undefined) {
      let n = 0
      for (const r of this.#records.values()) if (standingOf(r, this.#policy, this.#weights) === 'banned') n++
      this.#banned = n
    }
    return this.#banned
  }

  providers (): string[] {
    return [...this.#records.keys()].sort()
  }

  #rec (p: string): ChainRecord {
    let r = this.#records.get(p)
    if (r === undefined) { r = emptyChainRecord(); this.#records.set(p, r) }
    return r
  }

  #apply (o: DealOutcome, sign: 1 | -1): void {
    const p = o.provider.toLowerCase()
    const r = this.#rec(p)
    switch (o.state) {
      case 'Settled': {
        r.settled += sign
        let by = this.#settledBy.get(p)
        if (by === undefined) { by = new Map(); this.#settledBy.set(p, by) }
        const jc = o.jobCreator.toLowerCase()
        const n = (by.get(jc) ?? 0) + sign
        if (n === 0) by.delete(jc)
        else by.set(jc, n)
        r.jobCreators = by.size
        break
      }
      case 'MediatedCorrect': r.upheld += sign; if (o.audited) r.auditsPassed += sign; break
      case 'MediatedWrong': r.slashed += sign; break
      case 'TimedOutResult': r.timedOut += sign; break
      case 'TimedOutMediation': break
    }
    this.#scores = undefined
    this.#banned = undefined
  }

  #trim (c: Set<string> | Map<string, unknown>): void {
    while (c.size > this.#max) c.delete(c.keys().next().value as string)
  }
}
