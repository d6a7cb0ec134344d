// Time as a component. The lifecycle core never reads a clock (its step functions take `now` as an argument); the
// shells that drive it (the node, the simulator, tests) ask a Clock for the time and for wake-ups, so a test can
// move time forward instead of sleeping.

export interface Timer { cancel: () => void }

export interface Clock {
  /** milliseconds since the Unix epoch */
  now: () => number
  /** calls `fn` once after `ms` (never before); the returned timer cancels it */
  setTimeout: (fn: () => void, ms: number) => Timer
  /** resolves after `ms`, rejects with the signal's reason when it aborts first */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>
}

export function nowSeconds (clock: Pick<Clock, 'now'>): number {
  return Math.floor(clock.now() / 1000)
}

function sleepOn (clock: Pick<Clock, 'setTimeout'>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) { reject(signal.reason); return }
    const onAbort = (): void => { timer.cancel(); reject(signal?.reason) }
    const timer = clock.setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** The process's clock. Timers are unref'd: a pending wake-up never keeps a stopping process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout (fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms))
    t.unref()
    return { cancel: () => { clearTimeout(t) } }
  },
  sleep (ms, signal) { return sleepOn(systemClock, ms, signal) }
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every timer due within that span, in time order, each
 * seeing `now()` at its own due time; timers a callback sets inside the span fire too when they fall due.
 */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  readonly #timers = new Map<number, { at: number, fn: () => void }>()

  constructor (startMs = 1_800_000_000_000) {
    this.#now = startMs
  }

  now (): number { return this.#now }

  setTimeout (fn: () => void, ms: number): Timer {
    const id = ++this.#seq
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn })
    return { cancel: () => { this.#timers.delete(id) } }
  }

  sleep (ms: number, signal?: AbortSignal): Promise<void> { return sleepOn(this, ms, signal) }

  /** timers not yet fired */
  get pending (): number { return this.#timers.size }

  /** Moves time forward by `ms`, firing due timers; awaits between them so promise chains they start can run. */
  async advance (ms: number): Promise<void> {
    const end = this.#now + ms
    for (;;) {
      let next: [number, { at: number, fn: () => void }] | undefined
      for (const e of this.#timers) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e
      if (next === undefined) break
      this.#timers.delete(next[0])
      this.#now = Math.max(this.#now, next[1].at)
      next[1].fn()
      await settle()
    }
    this.#now = end
    await settle()
  }
}

/** Lets queued promise callbacks run (a few macrotask turns). */
async function settle (): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>(resolve => { setImmediate(resolve) })
}
