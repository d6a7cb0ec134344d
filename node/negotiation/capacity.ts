// The provider's own view of its capacity slots. Reservation is synchronous, so two proposals for one slot
// can never both succeed (JavaScript runs one to completion before the other). A reservation lapses after
// its TTL unless confirmed (e.g. once the deal is agreed on chain); release() frees a slot when the job ends.
// Time comes from an injected clock, so the simulator runs the same capacity in simulated time.
import { systemClock, type Clock, type Timer } from '../../core/clock.ts'

export interface CapacityProvider {
  /** Reserves `slot` for `dealId`; true also when this deal already holds it (idempotent retries). */
  tryReserve: (slot: number, dealId: string, ttlMs: number) => boolean
  freeSlots: () => number[]
}

type ChangeListener = (free: number[]) => void

export class SlotCapacity implements CapacityProvider {
  private readonly slots: Set<number>
  private readonly held = new Map<number, { dealId: string, timer: Timer | undefined }>()
  private readonly listeners = new Set<ChangeListener>()
  private readonly clock: Clock

  constructor (slots: Iterable<number>, opts: { clock?: Clock } = {}) {
    this.slots = new Set(slots)
    this.clock = opts.clock ?? systemClock
  }

  freeSlots (): number[] {
    return [...this.slots].filter(s => !this.held.has(s)).sort((a, b) => a - b)
  }

  tryReserve (slot: number, dealId: string, ttlMs: number): boolean {
    if (!this.slots.has(slot)) return false
    const h = this.held.get(slot)
    if (h !== undefined) return h.dealId === dealId
    const timer = this.clock.setTimeout(() => { this.release(dealId) }, ttlMs)
    this.held.set(slot, { dealId, timer })
    this.emit()
    return true
  }

  /** Keeps the reservation until release() (the deal was agreed). */
  confirm (dealId: string): boolean {
    for (const h of this.held.values()) {
      if (h.dealId === dealId) { h.timer?.cancel(); h.timer = undefined; return true }
    }
    return false
  }

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

  /** Clears every timer (the node is stopping). */
  stop (): void {
    for (const h of this.held.values()) h.timer?.cancel()
  }

  private emit (): void {
    const free = this.freeSlots()
    for (const fn of this.listeners) fn(free)
  }
}
