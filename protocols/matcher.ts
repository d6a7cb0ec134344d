// The matcher: one pure, deterministic function from (job offer, live resource offers, options) to ranked
// candidates. Ranking: price ascending, reputation descending, offer age (older first: a smaller nonce —
// announcers use millisecond timestamps as nonces), then id ascending. The comparator is total, so any input
// order gives the same ranking on every node. For throughput the offers can be prepared once (sorted with
// precomputed lower-case sets) and shared by many jobs: the scan then stops at the first offer priced above
// the job's maximum or once `limit` candidates are found. A job creator's view of each provider (`standing`: its
// reputation and its own memory of failures) applies during the scan, before the limit: banned providers are never
// candidates and demoted ones come after every other, so junk offers priced under the market cannot fill the list.
import type { JobOffer, ResourceOffer } from './eip712.ts'
import { gpuModelTokens, gpuTokensMatch } from './gpu-model.ts'

export interface LiveOffer {
  offer: ResourceOffer
  /** EIP-712 id, computed once on receipt */
  id: string
  signature: string
  /** unsigned hint: the provider's libp2p peer id */
  peer?: string
}

export interface Candidate {
  live: LiveOffer
  /** the deal's mediators: the intersection of both sides' lists, ascending */
  mediators: string[]
  price: bigint
}

export interface MatchOptions {
  /** unix seconds; offers expiring at or before it are ignored */
  now: bigint
  /** provider address (any case) → reputation score; absent = 0 */
  reputation?: ReadonlyMap<string, number>
  /** at most this many candidates (default 16) */
  limit?: number
  /** the job creator's standing of a provider (lower-case address): banned ones are skipped, demoted ones ranked last */
  standing?: (provider: string) => 'ok' | 'demoted' | 'banned'
}

interface Prepared {
  live: LiveOffer
  provider: string
  mediators: Set<string>
  modules: Set<string> | undefined
  reputation: number
  /** the offered GPU model's name tokens, split once */
  gpuTokens: string[]
}

export interface PreparedOffers {
  readonly sorted: readonly Prepared[]
  readonly reputation: ReadonlyMap<string, number> | undefined
}

const ZERO = '0x0000000000000000000000000000000000000000'

function cmpBig (a: bigint, b: bigint): number { return a < b ? -1 : a > b ? 1 : 0 }
function cmpStr (a: string, b: string): number { return a < b ? -1 : a > b ? 1 : 0 }

function lowerReputation (rep?: ReadonlyMap<string, number>): Map<string, number> | undefined {
  if (rep === undefined) return undefined
  return new Map([...rep].map(([k, v]) => [k.toLowerCase(), v]))
}

/** Sorts and indexes offers once for many `match` calls with the same reputation map. */
export function prepareOffers (offers: Iterable<LiveOffer>, reputation?: ReadonlyMap<string, number>): PreparedOffers {
  const rep = lowerReputation(reputation)
  const sorted: Prepared[] = []
  for (const live of offers) {
    const provider = live.offer.provider.toLowerCase()
    sorted.push({
      live,
      provider,
      mediators: new Set(live.offer.mediators.map(m => m.toLowerCase())),
      modules: live.offer.modules.length === 0 ? undefined : new Set(live.offer.modules),
      reputation: rep?.get(provider) ?? 0,
      gpuTokens: gpuModelTokens(live.offer.spec.gpuModel)
    })
  }
  sorted.sort((a, b) =>
    cmpBig(a.live.offer.price, b.live.offer.price) ||
    (b.reputation - a.reputation) ||
    cmpBig(a.live.offer.nonce, b.live.offer.nonce) ||
    cmpStr(a.live.id.toLowerCase(), b.live.id.toLowerCase()))
  return { sorted, reputation }
}

function isPrepared (x: Iterable<LiveOffer> | PreparedOffers): x is PreparedOffers {
  return (x as PreparedOffers).sorted !== undefined
}

/** Ranked candidates for `job` among `offers`. Pure: same inputs, same output, whatever the input order. */
export function match (job: JobOffer, offers: Iterable<LiveOffer> | PreparedOffers, options: MatchOptions): Candidate[] {
  const prepared = isPrepared(offers) && offers.reputation === options.reputation ? offers : prepareOffers(isPrepared(offers) ? offers.sorted.map(p => p.live) : offers, options.reputation)
  const limit = options.limit ?? 16
  const out: Candidate[] = []
  const demoted: Candidate[] = []
  if (job.expiry <= options.now || limit <= 0) return out
  const jobMediators = [...new Set(job.mediators.map(m => m.toLowerCase()))].sort()
  const target = job.target.toLowerCase()
  const anyTarget = target === ZERO
  const need = job.spec
  const wantModel = gpuModelTokens(need.gpuModel)
  for (const p of prepared.sorted) {
    const o = p.live.offer
    if (o.price > job.maxPrice) break // sorted by price: nothing further can fit
    if (o.expiry <= options.now) continue
    if (!anyTarget && p.provider !== target) continue
    const s = o.spec
    if (s.cpu < need.cpu || s.ramMb < need.ramMb || s.diskMb < need.diskMb || s.gpus < need.gpus) continue
    // GPU terms bind only when GPUs are asked for: an offer's GPUs do not stop it running CPU jobs.
    if (need.gpus > 0 && (s.gpuVramMb < need.gpuVramMb || s.cudaVersion < need.cudaVersion || !gpuTokensMatch(wantModel, p.gpuTokens))) continue
    if (p.modules !== undefined && !p.modules.has(job.module)) continue
    const common: string[] = []
    for (const m of jobMediators) if (p.mediators.has(m)) common.push(m)
    if (common.length === 0) continue
    const standing = options.standing?.(p.provider) ?? 'ok'
    if (standing === 'banned') continue
    const c = { live: p.live, mediators: common.map(m => checksum(o.mediators, m)), price: o.price }
    if (standing === 'demoted') { if (demoted.length < limit) demoted.push(c); continue }
    out.push(c)
    if (out.length >= limit) break
  }
  for (const c of demoted) { if (out.length >= limit) break; out.push(c) }
  return out
}

/** Returns the offer's own spelling of mediator `lower` (the deal carries the addresses as signed). */
function checksum (list: string[], lower: string): string {
  for (const m of list) if (m.toLowerCase() === lower) return m
  return lower
}

/** True when `live` satisfies every constraint of `job` (used to re-check a solver's suggestion). */
export function isCompatible (job: JobOffer, live: LiveOffer, now: bigint): boolean {
  return match(job, [live], { now, limit: 1 }).length === 1
}
