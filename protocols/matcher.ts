// The matcher: one pure, deterministic function from (job offer, live resource offers, options) to ranked
// candidates. Ranking: price ascending, reputation descending, offer age (older first: a smaller nonce —
// announcers use millisecond timestamps as nonces), then id ascending. The comparator is total, so any input
// order gives the same ranking on every node. For throughput the offers can be prepared once (sorted with
// precomputed lower-case sets) and shared by many jobs: the scan then stops at the first offer priced above
// the job's maximum or once `limit` candidates are found.
import type { JobOffer, ResourceOffer } from './eip712.ts'
import type { PeerBindingProof } from './peer-binding.ts'
import { gpuModelTokens, gpuTokensMatch } from './gpu-model.ts'

export interface LiveOffer {
  offer: ResourceOffer
  /** EIP-712 id, computed once on receipt */
  id: string
  signature: string
  /** the provider's libp2p peer id */
  peer?: string
  /** the provider's signature binding `peer` to it (verified when the offer was accepted) */
  binding?: PeerBindingProof
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
  /** at most this many candidates (default 16), counted after `exclude` and the per-provider caps */
  limit?: number
  /**
   * Providers (lower-case address) or peers to leave out — those that failed this job creator, banned ones. Applied
   * while scanning, so excluded offers never use up the limit: sixteen junk offers cannot hide the seventeenth.
   */
  exclude?: (provider: string, peer: string | undefined) => boolean
  /** candidates per provider key at most (default 2): one key's many offers cannot fill the list */
  maxPerProvider?: number
  /** candidates per peer hint at most (default 1): many keys bound to one peer cannot fill it, and a peer that never answers costs a new job creator one attempt */
  maxPerPeer?: number
  /**
   * Offers to rank ahead of all others (the usual order within each group): e.g. those whose peer this node can
   * reach — connected, or with addresses its peer signed — ahead of junk bound to peer ids nobody runs.
   */
  prefer?: (provider: string, peer: string | undefined) => boolean
}

export const DEFAULT_MAX_PER_PROVIDER = 2
export const DEFAULT_MAX_PER_PEER = 1

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
  if (job.expiry <= options.now || limit <= 0) return out
  const jobMediators = [...new Set(job.mediators.map(m => m.toLowerCase()))].sort()
  const target = job.target.toLowerCase()
  const anyTarget = target === ZERO
  const need = job.spec
  const wantModel = gpuModelTokens(need.gpuModel)
  const exclude = options.exclude
  const perProvider = options.maxPerProvider ?? DEFAULT_MAX_PER_PROVIDER
  const perPeer = options.maxPerPeer ?? DEFAULT_MAX_PER_PEER
  const byProvider = new Map<string, number>()
  const byPeer = new Map<string, number>()
  const prefer = options.prefer
  // with a preference, two passes over the same order: preferred offers first, then the rest
  const passes: Array<boolean | undefined> = prefer === undefined ? [undefined] : [true, false]
  for (const pass of passes) {
    if (out.length >= limit) break
    for (const p of prepared.sorted) {
      const o = p.live.offer
      if (o.price > job.maxPrice) break // sorted by price: nothing further can fit
      if (o.expiry <= options.now) continue
      if (!anyTarget && p.provider !== target) continue
      if ((byProvider.get(p.provider) ?? 0) >= perProvider) continue
      const peer = p.live.peer
      if (peer !== undefined && (byPeer.get(peer) ?? 0) >= perPeer) continue
      if (pass !== undefined && prefer?.(p.provider, peer) !== pass) continue
      if (exclude?.(p.provider, peer) === true) continue
      const s = o.spec
      if (s.cpu < need.cpu || s.ramMb < need.ramMb || s.diskMb < need.diskMb || s.gpus < need.gpus) continue
      // GPU terms bind only when GPUs are asked for: an offer's GPUs do not stop it running CPU jobs.
      if (need.gpus > 0 && (s.gpuVramMb < need.gpuVramMb || s.cudaVersion < need.cudaVersion || !gpuTokensMatch(wantModel, p.gpuTokens))) continue
      if (p.modules !== undefined && !p.modules.has(job.module)) continue
      const common: string[] = []
      for (const m of jobMediators) if (p.mediators.has(m)) common.push(m)
      if (common.length === 0) continue
      out.push({ live: p.live, mediators: common.map(m => checksum(o.mediators, m)), price: o.price })
      byProvider.set(p.provider, (byProvider.get(p.provider) ?? 0) + 1)
      if (peer !== undefined) byPeer.set(peer, (byPeer.get(peer) ?? 0) + 1)
      if (out.length >= limit) break
    }
  }
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
