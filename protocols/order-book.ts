// Live resource offers, one per (provider, slot). A newer nonce replaces an older one; offers leave when
// they expire. Memory is bounded under spam: at most `maxPerProvider` slots per provider and `maxOffers` in
// total. Eviction is deterministic: the offer expiring first goes (ties: smaller id), within the provider
// when its cap is hit, globally otherwise.
// A slot whose provider withdrew it (booked) is not forgotten: its last offer stays visible as BUSY — never a
// candidate, but proof that a provider that could serve the job exists — until the offer or the withdrawal
// expires, or a newer offer frees it. Providers re-announce busy slots (offer + withdrawal) on their heartbeat.
import { isCompatible, match, prepareOffers, type Candidate, type LiveOffer, type MatchOptions, type PreparedOffers } from './matcher.ts'
import type { JobOffer } from './eip712.ts'

/** What a sync page may be narrowed to: offers that could serve a job like this one. */
export type SyncFilter = Pick<JobOffer, 'spec' | 'maxPrice' | 'module' | 'mediators'>

export interface SyncPageOptions {
  /** resume after this provider sequence number (from the previous page's `next`) */
  after?: number
  filter?: SyncFilter
  /** offers in the page at most */
  limit: number
  /** offers per provider at most */
  perProvider: number
  /** providers looked at per page at most, so a narrow filter cannot make one request walk the whole book */
  maxScan?: number
  now: bigint
}

export interface SyncPage {
  offers: LiveOffer[]
  /** booked slots' offers with their withdrawals (a newcomer tells "busy" from "none") */
  busy: BusyOffer[]
  /** where the next page starts; undefined when this was the last */
  next?: number
}

export interface OrderBookOptions {
  maxOffers?: number
  maxPerProvider?: number
}

export type AddResult = 'added' | 'replaced' | 'busy' | 'stale' | 'expired' | 'rejected-full'

/** A withdrawal as the book holds it: enough to pass it on (sync) with the provider's signature. */
export interface HeldWithdrawal { nonce: bigint, expiry: bigint, signature?: string }

/** A booked slot's last offer, shown as busy, with the withdrawal that says so. */
export interface BusyOffer { live: LiveOffer, withdrawal: HeldWithdrawal }

interface Entry { live: LiveOffer, key: string, provider: string, expiry: bigint }

function before (a: Entry, b: Entry): boolean {
  return a.expiry < b.expiry || (a.expiry === b.expiry && a.live.id < b.live.id)
}

/** Binary min-heap on (expiry, id) with lazy deletion: entries no longer in the book are skipped. */
class ExpiryHeap {
  private readonly items: Entry[] = []
  get length (): number { return this.items.length }
  push (e: Entry): void {
    const a = this.items
    a.push(e)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(a[i], a[p])) break
      ;[a[i], a[p]] = [a[p], a[i]]
      i = p
    }
  }

  peek (): Entry | undefined { return this.items[0] }
  pop (): Entry | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last !== undefined) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && before(a[l], a[m])) m = l
        if (r < a.length && before(a[r], a[m])) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m], a[i]]
        i = m
      }
    }
    return top
  }

  rebuild (live: Iterable<Entry>): void {
    this.items.length = 0
    for (const e of live) this.push(e)
  }
}

export class OrderBook {
  readonly maxOffers: number
  readonly maxPerProvider: number
  private readonly entries = new Map<string, Entry>()
  private readonly byProvider = new Map<string, Map<string, Entry>>()
  private readonly heap = new ExpiryHeap()
  /**
   * withdrawn slots: the withdrawal's nonce keeps older copies of the offer out of the live book until it expires;
   * the slot's last offer stays attached as busy (`offer`), at most `maxPerProvider` per provider
   */
  private readonly withdrawn = new Map<string, HeldWithdrawal & { offer?: LiveOffer }>()
  private readonly busyByProvider = new Map<string, Set<string>>()
  private prepared: PreparedOffers | undefined
  /**
   * Sync index: providers in the order this book first saw them (a sequence number each, kept while they are
   * absent too, bounded). Serving sync walks it from a cursor instead of the whole book, and re-announcing never
   * moves a provider back: a flood of new keys queues behind the providers that were here before it.
   */
  private readonly seqOf = new Map<string, number>()
  private readonly order: Array<{ provider: string, seq: number }> = []
  private nextSeq = 1
  private preference: MatchOptions['prefer']

  constructor (options: OrderBookOptions = {}) {
    this.maxOffers = options.maxOffers ?? 50_000
    this.maxPerProvider = options.maxPerProvider ?? 64
  }

  get size (): number { return this.entries.size }
  providerCount (provider: string): number { return this.byProvider.get(provider.toLowerCase())?.size ?? 0 }

  /**
   * The newest offer nonce held for this provider slot (live or busy): an offer at or below it brings nothing new.
   * (An offer older than a withdrawal may still be news: it is the busy slot's offer.)
   */
  offerNonceOf (provider: string, slot: number): bigint | undefined {
    const key = `${provider.toLowerCase()}:${slot}`
    return this.entries.get(key)?.live.offer.nonce ?? this.withdrawn.get(key)?.offer?.offer.nonce
  }

  /** The newest nonce held for this provider slot, offer or withdrawal, if any. */
  nonceOf (provider: string, slot: number): bigint | undefined {
    const key = `${provider.toLowerCase()}:${slot}`
    const a = this.entries.get(key)?.live.offer.nonce
    const b = this.withdrawn.get(key)?.nonce
    return a === undefined ? b : b === undefined ? a : a > b ? a : b
  }

  /**
   * A provider withdrew a slot: drop its offer if older than the withdrawal and refuse older offers for
   * the slot until `expiry`. Returns whether an offer was removed. Withdrawals held are bounded like offers.
   */
  withdraw (provider: string, slot: number, nonce: bigint, expiry: bigint, now: bigint, signature?: string): boolean {
    const key = `${provider.toLowerCase()}:${slot}`
    const held = this.withdrawn.get(key)
    if (held === undefined || held.nonce < nonce) {
      this.dropWithdrawal(key)
      this.withdrawn.set(key, { nonce, expiry, ...(signature !== undefined ? { signature } : {}) })
      // the busy slot keeps the offer it had
      if (held?.offer !== undefined) this.attachBusy(key, held.offer)
      if (this.withdrawn.size > this.maxOffers) {
        for (const [k, w] of this.withdrawn) if (w.expiry <= now) this.dropWithdrawal(k)
        for (const k of this.withdrawn.keys()) { if (this.withdrawn.size <= this.maxOffers) break; this.dropWithdrawal(k) }
      }
    }
    const e = this.entries.get(key)
    if (e === undefined || e.live.offer.nonce >= nonce) return false
    this.remove(e)
    if (this.withdrawn.get(key)?.nonce === nonce) this.attachBusy(key, e.live)
    return true
  }

  /** Booked slots' offers still shown as busy at `now`. */
  busy (now: bigint): BusyOffer[] {
    const out: BusyOffer[] = []
    for (const w of this.withdrawn.values()) {
      if (w.offer !== undefined && w.expiry > now && w.offer.offer.expiry > now) out.push({ live: w.offer, withdrawal: { nonce: w.nonce, expiry: w.expiry, ...(w.signature !== undefined ? { signature: w.signature } : {}) } })
    }
    return out
  }

  /** Busy offers that would fit `job` (its resources, price, mediators, module, target), ignoring `exclude`d providers. */
  busyMatching (job: JobOffer, options: Pick<MatchOptions, 'now' | 'exclude'>): LiveOffer[] {
    return this.busy(options.now).map(b => b.live).filter(l => isCompatible(job, l, options.now) && options.exclude?.(l.offer.provider, l.peer) !== true)
  }

  private attachBusy (key: string, live: LiveOffer): void {
    const w = this.withdrawn.get(key)
    if (w === undefined) return
    const provider = live.offer.provider.toLowerCase()
    let mine = this.busyByProvider.get(provider)
    if (mine === undefined) { mine = new Set(); this.busyByProvider.set(provider, mine) }
    // a provider shows at most as many busy slots as it may hold live offers
    if (!mine.has(key) && mine.size >= this.maxPerProvider) return
    mine.add(key)
    w.offer = live
    this.remember(provider)
  }

  private dropWithdrawal (key: string): void {
    const w = this.withdrawn.get(key)
    if (w === undefined) return
    this.withdrawn.delete(key)
    if (w.offer === undefined) return
    const provider = w.offer.offer.provider.toLowerCase()
    const mine = this.busyByProvider.get(provider)
    mine?.delete(key)
    if (mine?.size === 0) this.busyByProvider.delete(provider)
  }

  add (live: LiveOffer, now: bigint): AddResult {
    if (live.offer.expiry <= now) return 'expired'
    const provider = live.offer.provider.toLowerCase()
    const key = `${provider}:${live.offer.slot}`
    const existing = this.entries.get(key)
    if (existing !== undefined && existing.live.offer.nonce >= live.offer.nonce) return 'stale'
    const withdrawal = this.withdrawn.get(key)
    if (withdrawal !== undefined) {
      if (withdrawal.expiry > now && withdrawal.nonce >= live.offer.nonce) {
        // the slot is booked: a newer copy of its offer is what the busy slot shows
        if (withdrawal.offer !== undefined && withdrawal.offer.offer.nonce >= live.offer.nonce) return 'stale'
        this.attachBusy(key, live)
        return withdrawal.offer === live ? 'busy' : 'stale'
      }
      this.dropWithdrawal(key)
    }
    const entry: Entry = { live, key, provider, expiry: live.offer.expiry }
    // also on replacement: every re-announcement leaves its predecessor in the heap until that one's expiry
    this.evictExpired(now)
    if (existing !== undefined) {
      this.remove(existing)
    } else {
      const mine = this.byProvider.get(provider)
      if (mine !== undefined && mine.size >= this.maxPerProvider) {
        const victim = minOf(mine.values())
        if (victim === undefined || before(entry, victim)) return 'rejected-full'
        this.remove(victim)
      }
      if (this.entries.size >= this.maxOffers) {
        const victim = this.popLive()
        if (victim === undefined) return 'rejected-full'
        if (before(entry, victim)) { this.heap.push(victim); return 'rejected-full' }
        this.remove(victim)
      }
    }
    this.entries.set(key, entry)
    let mine = this.byProvider.get(provider)
    if (mine === undefined) { mine = new Map(); this.byProvider.set(provider, mine); this.remember(provider) }
    mine.set(key, entry)
    this.heap.push(entry)
    if (this.heap.length > 4 * this.maxOffers + 1024) this.heap.rebuild(this.entries.values())
    this.prepared = undefined
    return existing !== undefined ? 'replaced' : 'added'
  }

  /** Removes one provider slot (e.g. a withdrawn offer); true when something was removed. */
  delete (provider: string, slot: number): boolean {
    const e = this.entries.get(`${provider.toLowerCase()}:${slot}`)
    if (e === undefined) return false
    this.remove(e)
    return true
  }

  get (provider: string, slot: number): LiveOffer | undefined {
    return this.entries.get(`${provider.toLowerCase()}:${slot}`)?.live
  }

  /** Drops every offer expired at `now` (and replaced offers' leftovers); returns how many offers went. */
  evictExpired (now: bigint): number {
    let n = 0
    for (;;) {
      const top = this.heap.peek()
      if (top === undefined || top.expiry > now) break
      this.heap.pop()
      if (this.entries.get(top.key) === top) { this.remove(top); n++ }
    }
    return n
  }

  /** Periodic upkeep: expired offers and expired withdrawals go. */
  sweep (now: bigint): { offers: number, withdrawals: number } {
    const offers = this.evictExpired(now)
    let withdrawals = 0
    for (const [k, w] of this.withdrawn) {
      if (w.expiry <= now) { this.dropWithdrawal(k); withdrawals++; continue }
      // a busy slot whose offer expired shows nothing any more (its provider stopped refreshing it)
      if (w.offer !== undefined && w.offer.offer.expiry <= now) {
        const provider = w.offer.offer.provider.toLowerCase()
        delete w.offer
        const mine = this.busyByProvider.get(provider)
        mine?.delete(k)
        if (mine?.size === 0) this.busyByProvider.delete(provider)
      }
    }
    return { offers, withdrawals }
  }

  /** Providers with live offers. */
  get providers (): number { return this.byProvider.size }
  /** Withdrawals remembered (each until it expires). */
  get withdrawals (): number { return this.withdrawn.size }
  /** Heap entries, live and leftover (diagnostics: stays near `size` when the book is swept). */
  get heapSize (): number { return this.heap.length }

  offers (): LiveOffer[] { return [...this.entries.values()].map(e => e.live) }

  /**
   * Candidates for a job among the live offers; the sorted index is cached until the book changes. Without a
   * `prefer` of its own, the book's preference applies (see setPreference).
   */
  match (job: JobOffer, options: MatchOptions): Candidate[] {
    this.evictExpired(options.now)
    if (this.prepared === undefined || this.prepared.reputation !== options.reputation) {
      this.prepared = prepareOffers(this.offers(), options.reputation)
    }
    return match(job, this.prepared, options.prefer === undefined && this.preference !== undefined ? { ...options, prefer: this.preference } : options)
  }

  /** The preference every match of this book uses unless it brings its own (node/offer-sync sets reachability). */
  setPreference (prefer: MatchOptions['prefer']): void {
    this.preference = prefer
  }

  /** The provider's sequence number in the sync index (first seen = smallest). */
  seqOfProvider (provider: string): number | undefined { return this.seqOf.get(provider.toLowerCase()) }

  /**
   * One page of the book for sync: providers in first-seen order after `after`, at most `perProvider` offers each
   * (cheapest first), only offers that fit `filter`. Cost: the providers looked at, not the book's size.
   */
  syncPage (opts: SyncPageOptions): SyncPage {
    const offers: LiveOffer[] = []
    const busy: BusyOffer[] = []
    const maxScan = opts.maxScan ?? opts.limit * 4
    const probe: JobOffer | undefined = opts.filter === undefined
      ? undefined
      : { ...opts.filter, jobCreator: ZERO_ADDRESS, inputs: '', target: ZERO_ADDRESS, timeout: 0, auditPpm: 0, expiry: opts.now + 1n, nonce: 0n, seedCommit: '0x' + '00'.repeat(32) }
    let i = lowerBound(this.order, (opts.after ?? 0) + 1)
    let scanned = 0
    let last: number | undefined
    for (; i < this.order.length; i++) {
      if (scanned >= maxScan) return { offers, busy, next: last ?? this.order[i - 1]?.seq }
      const { provider, seq } = this.order[i]
      const mine = this.byProvider.get(provider)
      const booked = this.busyByProvider.get(provider)
      if (mine === undefined && booked === undefined) { last = seq; continue }
      scanned++
      const byPrice = (a: LiveOffer, b: LiveOffer): number => a.offer.price < b.offer.price ? -1 : a.offer.price > b.offer.price ? 1 : a.id < b.id ? -1 : 1
      const fits = (l: LiveOffer): boolean => l.offer.expiry > opts.now && (probe === undefined || isCompatible(probe, l, opts.now))
      const fit = [...(mine?.values() ?? [])].map(e => e.live).filter(fits).sort(byPrice).slice(0, opts.perProvider)
      // busy slots fill what the provider's share of the page leaves
      const fitBusy: BusyOffer[] = []
      for (const key of booked ?? []) {
        if (fit.length + fitBusy.length >= opts.perProvider) break
        const w = this.withdrawn.get(key)
        if (w?.offer === undefined || w.expiry <= opts.now || !fits(w.offer)) continue
        fitBusy.push({ live: w.offer, withdrawal: { nonce: w.nonce, expiry: w.expiry, ...(w.signature !== undefined ? { signature: w.signature } : {}) } })
      }
      const n = offers.length + busy.length
      if (n + fit.length + fitBusy.length > opts.limit && n > 0) return { offers, busy, next: last }
      for (const l of fit) offers.push(l)
      for (const b of fitBusy) busy.push(b)
      last = seq
    }
    return { offers, busy }
  }

  private remember (provider: string): void {
    if (this.seqOf.has(provider)) return
    const seq = this.nextSeq++
    this.seqOf.set(provider, seq)
    this.order.push({ provider, seq })
    // absent providers keep their place for a while; past a bound the longest-known absent ones are forgotten
    if (this.order.length > 2 * this.maxOffers + 1024) {
      const keep = this.order.filter(o => this.byProvider.has(o.provider) || this.busyByProvider.has(o.provider) || o.seq > seq - this.maxOffers)
      const kept = new Set(keep)
      for (const o of this.order) if (!kept.has(o)) this.seqOf.delete(o.provider)
      this.order.length = 0
      for (const o of keep) this.order.push(o)
    }
  }

  private popLive (): Entry | undefined {
    for (;;) {
      const top = this.heap.pop()
      if (top === undefined) return undefined
      if (this.entries.get(top.key) === top) return top
    }
  }

  private remove (e: Entry): void {
    this.entries.delete(e.key)
    const mine = this.byProvider.get(e.provider)
    mine?.delete(e.key)
    if (mine?.size === 0) this.byProvider.delete(e.provider)
    this.prepared = undefined
  }
}

const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'

/** First index whose seq ≥ `seq` (the order is sorted by seq). */
function lowerBound (a: ReadonlyArray<{ seq: number }>, seq: number): number {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (a[mid].seq < seq) lo = mid + 1; else hi = mid
  }
  return lo
}

function minOf (it: Iterable<Entry>): Entry | undefined {
  let m: Entry | undefined
  for (const e of it) if (m === undefined || before(e, m)) m = e
  return m
}
