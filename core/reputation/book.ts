// Reputation kept up to date from a stream of chain facts (a node's chain follower feeds it), incrementally: what
// the matcher and the job creator's ban policy read. The interface they need is small:
//   score(provider)    0..1,000,000 (500,000 unknown)   — the matcher ranks equal prices by it
//   standing(provider) 'ok' | 'demoted' | 'banned'       — demoted providers are asked last, banned ones not at all
//   scores()           a map for the matcher's `reputation` option
// It is the source of core/policy/ban.ts's BanList (`new BanList(policy, book)`): the job creator's one standing per
// provider is the worse of its own lapsing memory of failures (declined, unreachable) and this chain record, which
// does not lapse. Whatever order the facts arrive in, the records equal `chainRecords` over them (tested).
import type { CanaryRecord, DealOutcome, DealParties, FinalState } from '../../protocols/incentives/outcomes.ts'
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

const FINAL_STATES: ReadonlySet<string> = new Set<FinalState>(['Settled', 'MediatedCorrect', 'MediatedWrong', 'TimedOutResult', 'TimedOutMediation'])

/** What the book keeps of a counted deal: enough to take it back out when a canary report names it. */
type Counted = Pick<DealOutcome, 'provider' | 'jobCreator' | 'state' | 'audited'>

/** A book's whole state as plain JSON (`snapshot()` / `ReputationBook.restore`): a node keeps it between runs. */
export interface ReputationBookState {
  v: 1
  records: Array<[string, ChainRecord]>
  settledBy: Array<[string, Array<[string, number]>]>
  outcomes: Array<[string, Counted]>
  canaryDeals: string[]
  reports: string[]
}

export class ReputationBookStateError extends Error {
  static override name = 'ReputationBookStateError'
  override name = ReputationBookStateError.name
}

export class ReputationBook implements Reputation {
  readonly #policy: StandingPolicy
  readonly #weights: ReputationWeights
  readonly #max: number
  readonly #records = new Map<string, ChainRecord>()
  readonly #settledBy = new Map<string, Map<string, number>>()
  readonly #outcomes = new Map<string, Counted>()
  readonly #canaryDeals = new Set<string>()
  readonly #reports = new Set<string>()
  /** one string per address, shared by every remembered outcome naming it (two fewer strings per deal) */
  readonly #addresses = new Map<string, string>()
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
    this.#outcomes.set(id, this.#counted(o.provider, o.jobCreator, o.state, o.audited))
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

  /** The whole state, for `ReputationBook.restore` (policy and weights are not part of it). */
  snapshot (): ReputationBookState {
    // per-provider maps in address order: the same book gives the same snapshot however its events came in
    // (a book read block range by block range and one read whole insert providers in different orders)
    const byKey = <T>(entries: Iterable<[string, T]>): Array<[string, T]> => [...entries].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    return {
      v: 1,
      records: byKey(this.#records).map(([p, r]) => [p, { ...r }]),
      settledBy: byKey(this.#settledBy).map(([p, by]) => [p, byKey(by)]),
      outcomes: [...this.#outcomes],
      canaryDeals: [...this.#canaryDeals],
      reports: [...this.#reports]
    }
  }

  /** A book with a snapshot's state; throws ReputationBookStateError when `state` is not one. */
  static restore (state: unknown, init: ReputationBookInit = {}): ReputationBook {
    const s = state as Partial<ReputationBookState> | null
    const pairs = (x: unknown): x is Array<[string, unknown]> => Array.isArray(x) && x.every(e => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string')
    const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every(e => typeof e === 'string')
    if (s === null || typeof s !== 'object' || s.v !== 1 || !pairs(s.records) || !pairs(s.settledBy) || !pairs(s.outcomes) || !strings(s.canaryDeals) || !strings(s.reports)) {
      throw new ReputationBookStateError('not a reputation book snapshot (version 1)')
    }
    const book = new ReputationBook(init)
    const count = (x: unknown): number => { if (typeof x !== 'number' || !Number.isSafeInteger(x)) throw new ReputationBookStateError(`a count in the snapshot is not an integer: ${String(x)}`); return x }
    for (const [p, r] of s.records) {
      const rec = emptyChainRecord()
      for (const k of Object.keys(rec) as Array<keyof ChainRecord>) rec[k] = count((r as Partial<ChainRecord>)[k] ?? 0)
      book.#records.set(p, rec)
    }
    for (const [p, by] of s.settledBy) {
      if (!pairs(by)) throw new ReputationBookStateError('settledBy is not a list of pairs')
      book.#settledBy.set(p, new Map(by.map(([jc, n]) => [jc, count(n)])))
    }
    for (const [id, o] of s.outcomes) {
      const c = o as Partial<Counted>
      if (typeof c.provider !== 'string' || typeof c.jobCreator !== 'string' || !FINAL_STATES.has(c.state as string) || typeof c.audited !== 'boolean') throw new ReputationBookStateError(`outcome ${id} is not a counted deal`)
      book.#outcomes.set(id, book.#counted(c.provider, c.jobCreator, c.state as FinalState, c.audited))
    }
    for (const id of s.canaryDeals) book.#canaryDeals.add(id)
    for (const id of s.reports) book.#reports.add(id)
    return book
  }

  #apply (o: Counted, sign: 1 | -1): void {
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

  #counted (provider: string, jobCreator: string, state: FinalState, audited: boolean): Counted {
    return { provider: this.#address(provider), jobCreator: this.#address(jobCreator), state, audited }
  }

  #address (a: string): string {
    const k = a.toLowerCase()
    const known = this.#addresses.get(k)
    if (known !== undefined) return known
    // only addresses of remembered outcomes need sharing: once the table holds twice as many as those can name,
    // it is rebuilt from them (at most 2 × maxRemembered remain, so a rebuild comes at most every 2 × maxRemembered
    // new addresses), and addresses of forgotten outcomes go with it
    if (this.#addresses.size >= 4 * this.#max) {
      this.#addresses.clear()
      for (const c of this.#outcomes.values()) {
        this.#addresses.set(c.provider, c.provider)
        this.#addresses.set(c.jobCreator, c.jobCreator)
      }
    }
    this.#addresses.set(k, k)
    return k
  }

  /** How many outcomes, canary deals, reports and shared address strings the book holds (each bounded). */
  sizes (): { outcomes: number, canaryDeals: number, reports: number, addresses: number, providers: number } {
    return { outcomes: this.#outcomes.size, canaryDeals: this.#canaryDeals.size, reports: this.#reports.size, addresses: this.#addresses.size, providers: this.#records.size }
  }

  #trim (c: Set<string> | Map<string, unknown>): void {
    while (c.size > this.#max) c.delete(c.keys().next().value as string)
  }
}
