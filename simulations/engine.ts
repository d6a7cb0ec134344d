// The discrete-event engine: a clock and a queue of callbacks. Simulated time is in seconds (a float).
import { EventQueue } from './queue.ts'

export type Action = () => void

export class Engine {
  now = 0
  processed = 0
  private readonly queue = new EventQueue<Action>()
  private stopped = false

  /** Runs `fn` at absolute time `at` (never before now). */
  at (at: number, fn: Action): void {
    this.queue.push(at < this.now ? this.now : at, fn)
  }

  /** Runs `fn` after `delay` seconds. */
  after (delay: number, fn: Action): void {
    this.at(this.now + delay, fn)
  }

  get pending (): number { return this.queue.size }

  stop (): void { this.stopped = true }

  /** Processes events in time order up to and including `until`; the clock ends at `until`. */
  run (until: number): void {
    this.stopped = false
    while (!this.stopped && this.queue.peekTime() <= until) {
      this.now = this.queue.peekTime()
      const fn = this.queue.pop() as Action
      this.processed++
      fn()
    }
    if (!this.stopped) this.now = Math.max(this.now, until)
  }
}
