// The provider's own view of its capacity slots. Reservation is synchronous, so two proposals for one slot
// can never both succeed (JavaScript runs one to completion before the other). A reservation lapses after
// its TTL unless confirmed (once the deal is agreed on chain); release() frees a slot at once — when the job
// ends, and when the deal does not go ahead (agree failed): a proposal that came to nothing must not keep the
// provider off the market. Each reservation names its job creator, so the negotiator can cap how many slots one
// job creator holds for deals not yet agreed on chain (countersigned, but nothing paid yet) at a time. Time comes from an injected clock, so the simulator runs the same
// capacity in simulated time.
import { systemClock, type Clock, type Timer } from '../../core/clock.ts'

export interface CapacityProvider {
  /**
   * Reserves `slot` for `dealId`; true also when this deal already holds it (idempotent retries). `owner` (the job
   * creator's address) is counted by reservationsOf.
   */
  tryReserve: (slot: number, dealId: string, ttlMs: number, owner?: string) => boolean
  freeSlots: () => number[]
  /** reservations `owner` holds for deals not yet agreed on chain (absent: the provider does not count them) */
  reservationsOf?: (owner: string) => number
}

type ChangeListener = (free: number[]) => void

interface Hold { dealId: string, owner: string | undefined, timer: Timer | undefined, agreed: boolean }

export class SlotCapacity implements CapacityProvider {
  private readonly slots: Set<number>
  private readonly held = new Map<number, Hold>()
  private readonly listeners = new Set<ChangeListener>()
  private readonly clock: Clock

  constructor (slots: Iterable<number>, opts: { clock?: Clock } = {}) {
    this.slots = new Set(slots)
    this.clock = opts.clock ?? systemClock
  }

  freeSlots (): number[] {
    return [...this.slots].filter(s => !this.held.has(s)).sort((a, b) => a - b)
  }

  tryReserve (slot: number, dealId: string, ttlMs: number, owner?: string): boolean {
    if (!this.slots.has(slot)) return false
    const h = this.held.get(slot)
    if (h !== undefined) return h.dealId === dealId
    const timer = this.clock.setTimeout(() => { this.release(dealId) }, ttlMs)
    this.held.set(slot, { dealId, owner: owner?.toLowerCase(), timer, agreed: false })
    this.emit()
    return true
  }

  reservationsOf (owner: string): number {
    const o = owner.toLowerCase()
    let n = 0
    for (const h of this.held.values()) if (h.owner === o && !h.agreed) n++
    return n
  }

  /** The deal is agreed on chain: the job creator pays for the slot now, so it no longer counts against its cap. */
  agreed (dealId: string): void {
    for (const h of this.held.values()) if (h.dealId === dealId) h.agreed = true
  }

  /** Whether the deal holds a slot now. */
  holds (dealId: string): boolean {
    for (const h of this.held.values()) if (h.dealId === dealId) return true
    return false
  }

  /** Keeps the reservation until release() (the deal was agreed). */
  confirm (dealId: string): boolean {
    for (const h of this.held.values()) {
      if (h.dealId === dealId) { h.timer?.cancel(); h.timer = undefined; return true }
    }
    return false
  }

  /** Frees the deal's slot now: the job ended, or the deal will not go ahead. False when it held none. */
  release (dealId: string): boolean {
    for (const [slot, h] of this.held) {
      if (h.dealId === dealId) {
        h.timer?.cancel()
        this.held.delete(slot)
        this.emit()
        return true
      }
    }
    return false
  }

  holder (slot: number): string | undefined { return this.held.get(slot)?.dealId }

  onChange (fn: ChangeListener): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  /** Cancels every pending lapse (the node is stopping). */
  stop (): void {
    for (const h of this.held.values()) h.timer?.cancel()
  }

  private emit (): void {
    const free = this.freeSlots()
    for (const fn of this.listeners) fn(free)
  }
}
