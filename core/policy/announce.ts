// When a provider announces and withdraws its slots' offers. One offer per free slot on every heartbeat; when
// capacity changes, a slot that was taken is withdrawn at once and the free ones are announced at once; a
// slot is never re-announced within `minGapMs` of its last announcement (the deferred announcement goes out
// when the gap has passed), so a peer toggling its subscription, or capacity flapping, cannot make the provider
// sign and gossip in a loop. A booked slot stays visible as busy: the heartbeat re-announces it as busy (a fresh
// offer followed by a withdrawal, which order books read as "this slot exists and is taken"), so a job creator can
// tell "busy" from "none" and wait in a queue. It also remembers the offers issued, so the provider recognises its
// own offers by id. Pure and synchronous: every call takes `now`; the node's announcer signs and publishes what it plans, the
// simulator delivers it into simulated order books.

export interface AnnouncePolicy {
  /** heartbeat: every free slot is re-announced this often */
  intervalMs: number
  /** a slot is re-announced at most once per this span (capacity changes, subscribers joining) */
  minGapMs: number
}

export const defaultAnnouncePolicy: AnnouncePolicy = { intervalMs: 10_000, minGapMs: 1_000 }

export interface AnnouncePlan {
  /** slots to announce now (sign a fresh offer for each) */
  announce: number[]
  /** slots to withdraw now (they were free and no longer are) */
  withdraw: number[]
  /** booked slots to re-announce as busy now (a fresh offer, then its withdrawal); absent when none */
  busy?: number[]
}

interface Issued<T> { slot: number, expiry: bigint, payload: T }

export class AnnounceSchedule<T> {
  readonly policy: AnnouncePolicy
  #free: number[]
  /** booked slots (taken by a deal or a reservation), refreshed as busy on the heartbeat */
  #busy: number[] = []
  readonly #last = new Map<number, number>()
  /** slots whose announcement waits for the gap to pass */
  readonly #deferred = new Set<number>()
  #nextHeartbeat: number
  readonly #issued = new Map<string, Issued<T>>()

  constructor (freeSlots: number[], now: number, policy: Partial<AnnouncePolicy> = {}) {
    this.policy = { ...defaultAnnouncePolicy, ...policy }
    this.#free = [...freeSlots].sort((a, b) => a - b)
    this.#nextHeartbeat = now
  }

  get free (): readonly number[] { return this.#free }

  /** The booked slots, refreshed as busy on the heartbeat. */
  get busy (): readonly number[] { return this.#busy }

  /**
   * Capacity changed: withdraw what was taken, announce the free slots (rate-limited). `busy` names the slots that
   * are booked (a withdrawn slot that is not booked — the engine down, no deposit — is not kept visible).
   */
  setFree (slots: number[], now: number, busy: number[] = []): AnnouncePlan {
    const next = [...new Set(slots)].sort((a, b) => a - b)
    const withdraw = this.#free.filter(s => !next.includes(s))
    this.#free = next
    this.#busy = [...new Set(busy)].filter(s => !next.includes(s)).sort((a, b) => a - b)
    for (const s of withdraw) this.#deferred.delete(s)
    return { announce: this.#announceable(next, now), withdraw }
  }

  /** Someone asked (a peer subscribed, an operator forced it): the free slots, rate-limited. */
  request (now: number): AnnouncePlan {
    return { announce: this.#announceable(this.#free, now), withdraw: [] }
  }

  /** Whatever is due at `now`: the heartbeat's full round, or deferred announcements whose gap has passed. */
  due (now: number): AnnouncePlan {
    if (now >= this.#nextHeartbeat) {
      this.#nextHeartbeat = now + this.policy.intervalMs
      // the heartbeat refreshes every free slot, except one announced within the gap (it is fresh already), and
      // keeps every booked slot visible as busy (the same gap applies)
      const busy = this.#busy.filter(s => { const last = this.#last.get(s); if (last !== undefined && now < last + this.policy.minGapMs) return false; this.#last.set(s, now); return true })
      return { announce: this.#announceable(this.#free, now, false), withdraw: [], ...(busy.length > 0 ? { busy } : {}) }
    }
    const ready = [...this.#deferred].filter(s => (this.#last.get(s) ?? -Infinity) + this.policy.minGapMs <= now)
    return { announce: this.#announceable(ready, now), withdraw: [] }
  }

  /** Every free slot at once, ignoring the gap (an explicit announce()). */
  force (now: number): AnnouncePlan {
    for (const s of this.#free) { this.#last.set(s, now); this.#deferred.delete(s) }
    return { announce: [...this.#free], withdraw: [] }
  }

  /** When `due` next has something to do. */
  nextWakeAt (): number {
    let at = this.#nextHeartbeat
    for (const s of this.#deferred) at = Math.min(at, (this.#last.get(s) ?? 0) + this.policy.minGapMs)
    return at
  }

  /** Remembers an offer issued for `slot` (its id, its expiry in chain seconds). */
  issue (id: string, slot: number, expiry: bigint, payload: T): void {
    this.#issued.set(id, { slot, expiry, payload })
  }

  /** An offer this provider issued that has not expired. */
  own (id: string, nowSec: bigint): T | undefined {
    const o = this.#issued.get(id)
    return o !== undefined && o.expiry > nowSec ? o.payload : undefined
  }

  /** The slot an issued offer was for, expired or not (a deal names the offer it was made from). */
  slotOf (id: string): number | undefined {
    return this.#issued.get(id)?.slot
  }

  /** The newest unexpired offer of each free slot; `newer(a, b)` says whether a is newer than b. */
  live (nowSec: bigint, newer: (a: T, b: T) => boolean): T[] {
    const best = new Map<number, T>()
    for (const o of this.#issued.values()) {
      if (o.expiry <= nowSec || !this.#free.includes(o.slot)) continue
      const cur = best.get(o.slot)
      if (cur === undefined || newer(o.payload, cur)) best.set(o.slot, o.payload)
    }
    return [...best.values()]
  }

  /** Forgets expired offers (bounded memory: at most a few per slot per TTL). */
  expire (nowSec: bigint): void {
    for (const [id, o] of this.#issued) if (o.expiry <= nowSec) this.#issued.delete(id)
  }

  /** The free slots among `slots` that may be announced now; the rest wait for their gap. */
  #announceable (slots: readonly number[], now: number, defer = true): number[] {
    const out: number[] = []
    for (const s of slots) {
      if (!this.#free.includes(s)) continue
      const last = this.#last.get(s)
      if (last !== undefined && now < last + this.policy.minGapMs) { if (defer) this.#deferred.add(s); continue }
      this.#deferred.delete(s)
      this.#last.set(s, now)
      out.push(s)
    }
    return out
  }
}
