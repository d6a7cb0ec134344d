// A job creator's memory of providers that failed it. Each failure adds its weight to the provider's score;
// a provider with any score is demoted (asked after the others), one whose score reaches `banAt` is skipped.
// A score lapses `ttlMs` after the provider's last failure, and the list keeps at most `maxEntries` providers
// (the least recently failed are forgotten first), so a stranger cannot grow it without bound. Pure: every
// call takes `now`; the node and the simulator keep one per job creator.
//
// One standing per provider: the list may be given a second source, the provider's record on chain
// (core/reputation's ReputationBook: slashes, result timeouts, failed canaries), which does not lapse. A provider's
// standing is the worse of the two, so `rank`, `banned` and `bannedCount` apply both, and the matcher's callers need
// nothing else.

export type ProviderFailure =
  /** declined for a reason other than a full slot (an offer it never issued, terms it refused) */
  | 'declined'
  /** could not be dialled (within the dial timeout, or at any address found) */
  | 'unreachable'
  /** countersigned but its agree never came */
  | 'no-agree'
  /** countersigned, then told us its agree reverted */
  | 'agree-reverted'
  /** agreed, then submitted no result in time */
  | 'no-result'
  /** a mediator judged its result wrong (after an audit, or our challenge of a result we could not fetch or verify) */
  | 'wrong-result'
  /**
   * a validator's canary: its signed offer still showed the slot free, yet it made no deal for the canary sent to it
   * (declined NO_CAPACITY, or did not answer) — it advertised capacity it does not have (protocols/incentives/canary.ts,
   * judgeNoDeal)
   */
  | 'false-capacity'

export type Standing = 'ok' | 'demoted' | 'banned'

/** How a proposal to a provider failed (node/negotiation's outcomes; the simulator models the same ones). */
export type ProposalFailure =
  | { outcome: 'declined', reason: string, contended?: boolean }
  | { outcome: 'no-answer', contended?: boolean }
  /** not asked: another job of this job creator was proposing on the same offer (its turn comes when that ends) */
  | { outcome: 'held' }
  | { outcome: 'unreachable' | 'no-peer' | 'bad-countersignature' | 'malformed-reply' | 'error' }

/**
 * What a failed proposal means for the job being matched and for the provider's standing. Busy (a full slot,
 * or this job creator's share of its unagreed reservations): wait for a turn, no mark. Passing (a deposit read
 * that failed there; an offer replaced or expired meanwhile; no answer from a loaded provider): it stays in this
 * job's queue, and all but its own internal fault demote it (a stranger that always answers so is banned after
 * two). Contended: a replaced offer or no answer while this job creator's own other jobs just took that
 * provider's slots (its offer was booked by us, or the provider is busy answering our other proposals) is our
 * own jobs racing each other, no mark (`contended`). Unreachable (the dial failed or timed out): demoted and
 * asked again after the others, since one slow dial through a loaded relay is no proof (an honest provider was
 * dropped for it, and a job creator with no one else failed its job); a second time within the TTL bans it. Hard
 * (it refused the job or its terms, its offer names no peer, or it answered with garbage): not asked again for
 * this job, and demoted or banned for the next ones.
 */
export function afterProposal (f: ProposalFailure): { exclude: boolean, failure?: ProviderFailure } {
  if (f.outcome === 'held') return { exclude: false }
  if (f.outcome === 'declined') {
    if (f.reason === 'NO_CAPACITY' || f.reason === 'RATE_LIMITED') return { exclude: false }
    if (f.reason === 'INTERNAL') return { exclude: false }
    if (f.reason === 'UNKNOWN_OFFER' || f.reason === 'EXPIRED') return f.contended === true ? { exclude: false } : { exclude: false, failure: 'declined' }
    return { exclude: true, failure: 'declined' }
  }
  if (f.outcome === 'no-answer') return f.contended === true ? { exclude: false } : { exclude: false, failure: 'declined' }
  if (f.outcome === 'unreachable') return { exclude: false, failure: 'unreachable' }
  if (f.outcome === 'no-peer') return { exclude: true, failure: 'unreachable' }
  return { exclude: true, failure: 'declined' }
}

export interface BanPolicy {
  ttlMs: number
  banAt: number
  weights: Record<ProviderFailure, number>
  maxEntries: number
}

export const defaultBanPolicy: BanPolicy = {
  ttlMs: 5 * 60_000,
  banAt: 2,
  // a provider that took a deal and did nothing is banned at once; one decline, one failed dial or one reverted
  // agree (possibly our own deposit's or our own network's fault) only demotes it
  // agreed, then submitted no result, or advertised a free slot and made no deal for a canary on it: banned at once
  weights: { declined: 1, unreachable: 1, 'no-agree': 2, 'agree-reverted': 1, 'no-result': 2, 'wrong-result': 2, 'false-capacity': 2 },
  maxEntries: 10_000
}

interface Entry { score: number, until: number, last: ProviderFailure }

/** A standing that comes from elsewhere than this job creator's own failures: the provider's chain record. */
export interface StandingSource {
  standing: (provider: string) => Standing
  /** how many providers it bans (for the matcher's limit) */
  bannedCount: () => number
}

const RANK: Record<Standing, number> = { ok: 0, demoted: 1, banned: 2 }

/** The worse of two standings. */
export function worse (a: Standing, b: Standing): Standing {
  return RANK[a] >= RANK[b] ? a : b
}

export class BanList {
  readonly policy: BanPolicy
  readonly #entries = new Map<string, Entry>()
  readonly #source: StandingSource | undefined

  constructor (policy: Partial<BanPolicy> = {}, source?: StandingSource) {
    this.policy = { ...defaultBanPolicy, ...policy, weights: { ...defaultBanPolicy.weights, ...policy.weights } }
    this.#source = source
  }

  get size (): number { return this.#entries.size }

  /** Counts a failure of `provider` (an address, any case) and returns its standing now. */
  record (provider: string, failure: ProviderFailure, now: number): Standing {
    const key = provider.toLowerCase()
    const cur = this.#live(key, now)
    const score = (cur?.score ?? 0) + this.policy.weights[failure]
    // re-inserted so that Map order is least recently failed first
    this.#entries.delete(key)
    this.#entries.set(key, { score, until: now + this.policy.ttlMs, last: failure })
    while (this.#entries.size > this.policy.maxEntries) this.#entries.delete(this.#entries.keys().next().value as string)
    return this.#withSource(key, this.#standingOf(score))
  }

  /** The worse of this list's standing (own failures, lapsing) and the source's (the chain record). */
  standing (provider: string, now: number): Standing {
    const key = provider.toLowerCase()
    const e = this.#live(key, now)
    return this.#withSource(key, e === undefined ? 'ok' : this.#standingOf(e.score))
  }

  banned (provider: string, now: number): boolean {
    return this.standing(provider, now) === 'banned'
  }

  /** The last failure recorded for a provider still remembered. */
  lastFailure (provider: string, now: number): ProviderFailure | undefined {
    return this.#live(provider.toLowerCase(), now)?.last
  }

  /** Drops banned providers' items and moves demoted ones after the rest, keeping each group's order. */
  rank<T> (items: readonly T[], providerOf: (item: T) => string, now: number): T[] {
    const ok: T[] = []
    const demoted: T[] = []
    for (const it of items) {
      const s = this.standing(providerOf(it), now)
      if (s === 'ok') ok.push(it)
      else if (s === 'demoted') demoted.push(it)
    }
    return demoted.length === 0 ? ok : [...ok, ...demoted]
  }

  /**
   * Providers this list demotes or bans now, plus those its source bans: how many more candidates the matcher is
   * asked for, so that providers already marked (asked last or skipped) do not fill the list the others need.
   */
  markedCount (now: number): number {
    let n = 0
    for (const [k] of this.#entries) if (this.#live(k, now) !== undefined) n++
    return n + (this.#source?.bannedCount() ?? 0)
  }

  /** Providers currently banned, by this list or its source (for the matcher's limit, logs and metrics); one banned by both counts twice, an upper bound. */
  bannedCount (now: number): number {
    let n = 0
    for (const [k] of this.#entries) {
      const e = this.#live(k, now)
      if (e !== undefined && this.#standingOf(e.score) === 'banned') n++
    }
    return n + (this.#source?.bannedCount() ?? 0)
  }

  #withSource (key: string, local: Standing): Standing {
    return this.#source === undefined || local === 'banned' ? local : worse(local, this.#source.standing(key))
  }

  #live (key: string, now: number): Entry | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    if (e.until <= now) { this.#entries.delete(key); return undefined }
    return e
  }

  #standingOf (score: number): Standing {
    return score >= this.policy.banAt ? 'banned' : score > 0 ? 'demoted' : 'ok'
  }
}
