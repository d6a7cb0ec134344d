// The shell around a role's pure lifecycle (core/lifecycle): it keeps the records in a DealStore, feeds each step
// the chain's facts (re-read when the chain follower reports an event for the deal), the time and what just
// happened, saves the next record, and executes the actions the step asks for. Each action is retried with the
// retry policy until its deadline — never given up early, never left hanging (every attempt is bounded) — and
// ends as an event that goes back into the step. Events for one deal are handled one at a time and never lost:
// while the chain cannot be read, they wait for the facts. Resuming after a restart is the same: every open record
// is stepped with `resume` over fresh facts.
import { EventEmitter } from 'node:events'
import type { Components } from '../components.ts'
import { reportError } from '../components.ts'
import type { Timer } from '../../core/clock.ts'
import type { Step } from '../../core/lifecycle/facts.ts'
import { attemptBudgetMs, backoffMs, defaultRetryPolicy, nextAttemptAt, type RetryPolicy } from '../../core/policy/retry.ts'
import type { DealStore, StoredRecord } from '../deal-store/deal-store.ts'
import { toJson } from '../deal-store/json.ts'

export type RoleName = 'provider' | 'job-creator' | 'mediator' | 'job-bridge'

export interface Lifecycle<R extends StoredRecord & { phase: string }, E extends { type: string }, A extends { kind: string, deadline: number }, F> {
  readonly role: RoleName
  step: (rec: R, input: { now: number, facts: F, event?: E }) => Step<R, A>
  /** the event an action ends with when it failed for good or ran out of time: one with a `reason`, except for an
   * action that cannot fail (a slot's release), which maps to its success event */
  failure: (a: A, reason: string) => E
  /** the chain's facts about the record now (throws when the chain cannot be read) */
  facts: (rec: R) => Promise<F>
  /** does one attempt of the action; returns its outcome as an event, or throws to have it retried */
  perform: (rec: R, a: A, signal: AbortSignal) => Promise<E>
  /** subscribes to chain events that concern the record; `changed` re-reads its facts */
  watch?: (rec: R, changed: () => void) => () => void
  /** a line of context for logs */
  describe?: (rec: R) => Record<string, unknown>
  /** an action bounded only by its deadline, not by the policy's per-attempt bound (running a job) */
  longRunning?: (a: A) => boolean
  /** true when a step changed what the facts are about (e.g. a job now has a deal): they are read again */
  refetch?: (prev: R, next: R) => boolean
}

interface Live<E, F> {
  facts: F | undefined
  /** the chain reported something: read the facts again before the next step */
  stale: boolean
  pending: E[]
  inflight: Map<string, AbortController>
  timer?: Timer
  refreshTimer?: Timer
  refreshFailures: number
  /** actions whose last outcome was their failure event, by kind: how many times in a row */
  failedOutcomes?: Map<string, number>
  /** when the last step asked to be woken (lifecycle time) */
  wakeAt?: number
  unwatch?: () => void
  queue: Promise<unknown>
  /** facts reads started, and the newest of them whose answer was kept: an older answer never replaces a newer one */
  reads: number
  readKept: number
  /** a re-read after a failure event is under way (outside the queue) */
  rechecking?: boolean
  /**
   * actions that ended and whose outcome is waiting for its step, by kind: until then no other step starts that
   * kind again (a provider delivered a result twice, the second refused as a duplicate, when a step on other news ran
   * between the first delivery's end and its `delivered` step)
   */
  settling?: Map<string, E>
}

export interface DriverOptions {
  retry?: RetryPolicy
  /** the time the lifecycle reasons in (ms): default the clock; a node passes its chain follower's estimate */
  now?: () => number
  /**
   * Subscribes to jumps of that time (the follower's new blocks: a chain clock moved ahead, as anvil's
   * evm_increaseTime or a node that slept moves it): records whose wake-up time has passed are stepped then,
   * not when the local timer set before the jump fires. Returns the unsubscribe.
   */
  clockMoved?: (listener: () => void) => () => void
}

/** `clockMoved` for a chain follower: its new blocks (each may move its chain clock). */
export function followClock (follower: { on: (e: 'block', l: (n: number) => void) => unknown, off: (e: 'block', l: (n: number) => void) => unknown }, listener: () => void): () => void {
  const onBlock = (): void => { listener() }
  follower.on('block', onBlock)
  return () => { follower.off('block', onBlock) }
}

/**
 * `p`, or the signal's reason if it aborts first. The abort listener is removed once either settles: a signal that
 * still has listeners, derived with AbortSignal.any() from the driver's lifelong stop signal, is kept alive by its
 * sources, so one left listener per attempt held every attempt's signal and closure for the life of the node.
 */
function unlessAborted<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(v => { signal.removeEventListener('abort', onAbort); resolve(v) }, err => { signal.removeEventListener('abort', onAbort); reject(err) })
  })
}

/** The reason a stopping driver gives its waits and the actions it aborts. */
export class LifecycleStoppingError extends Error {
  static override name = 'LifecycleStoppingError'
  override name = LifecycleStoppingError.name
}

/** The reason an attempt's signal carries once the attempt has ended (whichever way). */
class AttemptOverError extends Error {
  override name = 'AttemptOverError'
  constructor () { super('the attempt is over') }
}

const RESUME = { type: 'resume' } as const
const TICK = { type: 'tick' } as const
const CHAIN = { type: 'chain' } as const

export class LifecycleDriver<R extends StoredRecord & { phase: string }, E extends { type: string }, A extends { kind: string, deadline: number }, F> extends EventEmitter<{ change: [R, R | undefined] }> {
  readonly store: DealStore<R>
  readonly lifecycle: Lifecycle<R, E, A, F>
  readonly #c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  readonly #retry: RetryPolicy
  readonly #now: () => number
  readonly #live = new Map<string, Live<E, F>>()
  readonly #tasks = new Set<Promise<unknown>>()
  readonly #stop = new AbortController()
  /** the phase each open record is counted under in the deals gauge */
  readonly #counted = new Map<string, string>()

  constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, lifecycle: Lifecycle<R, E, A, F>, store: DealStore<R>, opts: DriverOptions = {}) {
    super()
    // every job waiting on a deal listens here: as many listeners as jobs in flight
    this.setMaxListeners(0)
    this.#c = { ...components, logger: components.logger.child({ component: lifecycle.role }) }
    this.lifecycle = lifecycle
    this.store = store
    this.#retry = opts.retry ?? defaultRetryPolicy
    this.#now = opts.now ?? (() => components.clock.now())
    if (opts.clockMoved !== undefined) this.#offClock = opts.clockMoved(() => { this.#wakeDue() })
  }

  readonly #offClock: (() => void) | undefined

  /** Steps every record whose wake-up time the lifecycle's clock has reached. */
  #wakeDue (): void {
    if (this.stopped) return
    const now = this.#now()
    for (const [id, live] of this.#live) {
      if (live.wakeAt === undefined || live.wakeAt > now) continue
      live.wakeAt = undefined
      live.timer?.cancel()
      live.timer = undefined
      this.notify(id, TICK as unknown as E, 'a step after the clock moved failed')
    }
  }

  get stopped (): boolean { return this.#stop.signal.aborted }

  /** The time the lifecycle reasons in (ms). Times put in records (countersignedAt, seenAt) must come from here. */
  now (): number { return this.#now() }

  /** Records a new deal and takes its first step (with `event`, if given). */
  async add (rec: R, opts: { event?: E, facts?: F } = {}): Promise<R | undefined> {
    await this.store.put(rec)
    const live = this.#liveOf(rec.id, rec)
    if (opts.facts !== undefined) { live.facts = opts.facts; live.stale = false }
    return await this.dispatch(rec.id, opts.event)
  }

  /** Every open record, stepped with `resume` over fresh facts (after a restart). */
  async resume (): Promise<void> {
    const open = await this.store.open()
    await Promise.all(open.map(async rec => {
      this.#liveOf(rec.id, rec)
      await this.dispatch(rec.id, RESUME as unknown as E)
    }))
  }

  /** Feeds one event (or a plain re-step) to a record. Resolves with the record after the step. */
  async dispatch (id: string, event?: E): Promise<R | undefined> {
    if (this.stopped) return await this.store.get(id)
    const live = this.#live.get(id) ?? this.#liveOf(id, await this.store.get(id))
    if (event !== undefined) live.pending.push(event)
    const run = live.queue.then(async () => await this.#drain(id, live))
    // the next event waits for this one's step, not its success: the caller of dispatch gets the error
    live.queue = run.catch(() => undefined)
    return await this.#track(run)
  }

  /** Re-reads the chain's facts about a record and steps it. */
  refresh (id: string): void {
    const live = this.#live.get(id)
    if (live === undefined || this.stopped) return
    live.stale = true
    this.notify(id, CHAIN as unknown as E, 'a step on news from the chain failed')
  }

  /**
   * A step nobody awaits (a timer, a chain event, a message from a peer): its failure is reported, never left as an unhandled rejection
   * (which ended the process before runtime.ts reported them). One that fails because the driver stopped meanwhile
   * (its store closed, its reads aborted) is the stop, not an error.
   */
  notify (id: string, event: E | undefined, what: string): void {
    this.dispatch(id, event).catch(err => {
      if (this.stopped) { this.#c.logger.debug({ id, err }, `${what} after the lifecycle stopped`); return }
      reportError(this.#c, this.lifecycle.role, err, what, { id })
    })
  }

  /** Aborts an action in flight (e.g. the run, when the deal is off). */
  abort (id: string, kind: string, reason: string): boolean {
    const ac = this.#live.get(id)?.inflight.get(kind)
    ac?.abort(new Error(reason))
    return ac !== undefined
  }

  inflight (id: string): string[] {
    return [...(this.#live.get(id)?.inflight.keys() ?? [])]
  }

  async get (id: string): Promise<R | undefined> { return await this.store.get(id) }

  /** Resolves with the record once `done(record)` holds (checked now and after every change), or rejects on abort. */
  async until (id: string, done: (r: R) => boolean, signal?: AbortSignal): Promise<R> {
    const now = await this.store.get(id)
    if (now !== undefined && done(now)) return now
    return await new Promise<R>((resolve, reject) => {
      const onChange = (r: R): void => { if (r.id === id && done(r)) { cleanup(); resolve(r) } }
      // the caller's reason, or the driver's own when it is the driver that stopped (not undefined)
      const onAbort = (): void => { cleanup(); reject(signal?.aborted === true ? signal.reason : this.#stop.signal.reason) }
      const cleanup = (): void => { this.off('change', onChange); signal?.removeEventListener('abort', onAbort); this.#stop.signal.removeEventListener('abort', onAbort) }
      if (signal?.aborted === true) { reject(signal.reason); return }
      // a driver that stopped before this wait began never fires its stop signal again: that would wait forever
      if (this.stopped) { reject(this.#stop.signal.reason); return }
      this.on('change', onChange)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#stop.signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    const role = this.lifecycle.role
    // each action in flight first, with a reason naming it: whatever an action leaves rejecting after the stop (an
    // error report, a stray rejection) says which action of which deal it was
    for (const [id, live] of this.#live) {
      for (const [kind, ac] of live.inflight) ac.abort(new LifecycleStoppingError(`${role} lifecycle stopping (${kind} of ${id})`))
    }
    this.#stop.abort(new LifecycleStoppingError(`${role} lifecycle stopping`))
    this.#offClock?.()
    for (const live of this.#live.values()) {
      live.timer?.cancel()
      live.refreshTimer?.cancel()
      live.unwatch?.()
    }
    await Promise.allSettled([...this.#tasks])
    this.#live.clear()
  }

  #track<T> (p: Promise<T>): Promise<T> {
    this.#tasks.add(p)
    void p.then(() => { this.#tasks.delete(p) }, () => { this.#tasks.delete(p) })
    return p
  }

  #liveOf (id: string, rec: R | undefined): Live<E, F> {
    let live = this.#live.get(id)
    if (live === undefined) {
      live = { facts: undefined, stale: true, pending: [], inflight: new Map(), refreshFailures: 0, queue: Promise.resolve(), reads: 0, readKept: 0 }
      this.#live.set(id, live)
    }
    // watched from the first time the record is known open: an event dispatched before `add` stored the record (a
    // provider's result that overtook it) made the entry without one, and such a deal then never heard the chain
    if (live.unwatch === undefined && rec !== undefined && !rec.terminal && this.lifecycle.watch !== undefined) live.unwatch = this.lifecycle.watch(rec, () => { this.refresh(id) })
    return live
  }

  async #drain (id: string, live: Live<E, F>): Promise<R | undefined> {
    let rec = await this.store.get(id)
    if (rec === undefined || this.stopped) return rec
    if (live.stale || live.facts === undefined) {
      try {
        live.stale = false
        const read = ++live.reads
        const facts = await this.lifecycle.facts(rec)
        if (read > live.readKept) { live.facts = facts; live.readKept = read }
        live.refreshFailures = 0
      } catch (err) {
        // the chain cannot be read now: the facts are read again with backoff; meanwhile events are stepped over
        // the last facts known, or wait for the first ones
        live.stale = true
        live.refreshFailures++
        if (live.refreshFailures === 1 || live.refreshFailures % 20 === 0) reportError(this.#c, this.lifecycle.role, err, 'cannot read the deal from the chain; retrying', { id, failures: live.refreshFailures })
        live.refreshTimer?.cancel()
        live.refreshTimer = this.#c.clock.setTimeout(() => { this.notify(id, undefined, 'a step after reading the chain again failed') }, backoffMs(this.#retry, live.refreshFailures))
        if (live.facts === undefined) return rec
      }
    }
    const events = live.pending.splice(0)
    if (events.length === 0) events.push(TICK as unknown as E)
    const facts = live.facts as F
    for (const event of events) rec = await this.#step(id, live, rec, event, facts)
    return rec
  }

  async #step (id: string, live: Live<E, F>, rec: R, event: E, facts: F): Promise<R> {
    const now = this.#now()
    const s = this.lifecycle.step(rec, { now, facts, event })
    let next = s.record
    const { updatedAt: _a, ...before } = rec
    const { updatedAt: _b, ...after } = next
    if (toJson(before) !== toJson(after)) {
      next = await this.store.put(next)
      this.#account(rec, next, event)
      this.emit('change', next, rec)
    }
    for (const a of s.actions) {
      const settling = live.settling?.get(a.kind)
      if (!live.inflight.has(a.kind) && (settling === undefined || settling === event)) this.#start(id, live, a)
    }
    // an outcome once stepped holds nothing back: the steps after it may start its kind again
    if (live.settling !== undefined) for (const [kind, e] of live.settling) if (e === event) live.settling.delete(kind)
    if (this.lifecycle.refetch?.(rec, next) === true && !next.terminal) { live.stale = true; this.notify(id, CHAIN as unknown as E, 'a step on re-read facts failed') }
    live.timer?.cancel()
    live.timer = undefined
    live.wakeAt = undefined
    if (next.terminal) {
      live.unwatch?.()
      live.unwatch = undefined
      if (live.inflight.size === 0 && live.pending.length === 0) this.#live.delete(id)
    } else if (s.wakeAt !== undefined) {
      live.wakeAt = s.wakeAt
      live.timer = this.#c.clock.setTimeout(() => { this.notify(id, TICK as unknown as E, 'a timed step failed') }, Math.max(0, s.wakeAt - this.#now()))
    }
    return next
  }

  /**
   * After an action's failure event: our view of the deal may be stale (a revert such as DealClosed: the deal ended
   * and the event that said so was missed; a lilypad run called timeoutResult on a settled deal for 45 minutes in a
   * soak), so the chain is read again and the record stepped over what it says. The read runs outside the record's
   * queue: one held by a frozen RPC must not hold up the steps and retries meanwhile (a submission waited 40 s
   * behind it), which go on over the facts known until it answers.
   */
  #recheck (id: string): void {
    const live = this.#live.get(id)
    if (live === undefined || live.rechecking === true || this.stopped) return
    live.rechecking = true
    const read = ++live.reads
    void this.#track((async () => {
      const rec = await this.store.get(id)
      if (rec === undefined || rec.terminal) return
      const facts = await this.lifecycle.facts(rec)
      if (read <= live.readKept || this.stopped) return
      live.facts = facts
      live.readKept = read
      this.notify(id, CHAIN as unknown as E, 'a step on facts read again after a failure failed')
    })().catch(err => {
      // the next watch event or timed step reads them again; nothing waits on this one
      this.#c.logger.debug({ id, err }, 'reading the deal again after a failed action failed')
    }).finally(() => { live.rechecking = false }))
  }

  #account (prev: R, next: R, event: E): void {
    const role = this.lifecycle.role
    const m = this.#c.metrics
    const was = this.#counted.get(next.id)
    if (was !== undefined) m.deals.dec({ role, state: was })
    if (next.terminal) this.#counted.delete(next.id)
    else { this.#counted.set(next.id, next.phase); m.deals.inc({ role, state: next.phase }) }
    if (prev.phase !== next.phase || (next.terminal && !prev.terminal)) {
      m.dealTransitions.inc({ role, state: next.phase })
      this.#c.logger.info({ id: next.id, from: prev.phase, to: next.phase, event: event.type, ...this.lifecycle.describe?.(next) }, `${role} deal ${next.phase}`)
    }
  }

  #start (id: string, live: Live<E, F>, a: A): void {
    const ac = new AbortController()
    live.inflight.set(a.kind, ac)
    const stop = this.#stop.signal
    const role = this.lifecycle.role
    const task = (async () => {
      let outcome: E | undefined
      // the same action ended in its failure event last time (a revert the lifecycle reports as an event, not an
      // exception): wait as a retry would before trying again, so a lifecycle that asks again at once cannot spin
      const failedBefore = live.failedOutcomes?.get(a.kind) ?? 0
      if (failedBefore > 0) {
        // a retry as much as one after a thrown error (the count showed nothing of a refund asked for 45 minutes)
        this.#c.metrics.actionRetries.inc({ action: `${role}:${a.kind}` })
        try { await this.#c.clock.sleep(backoffMs(this.#retry, failedBefore), AbortSignal.any([stop, ac.signal])) } catch { return }
      }
      for (let failures = 0; ;) {
        const budget = this.lifecycle.longRunning?.(a) === true ? a.deadline - this.#now() : attemptBudgetMs(this.#retry, this.#now(), a.deadline)
        if (budget <= 0) { outcome = this.lifecycle.failure(a, 'its deadline passed'); break }
        // each attempt is bounded by the retry policy and the deadline, on the injected clock
        const attempt = new AbortController()
        const timer = this.#c.clock.setTimeout(() => { attempt.abort(new Error(`${a.kind} attempt took longer than ${budget} ms`)) }, budget)
        const signal = AbortSignal.any([stop, ac.signal, attempt.signal])
        try {
          const rec = await this.store.get(id)
          if (rec === undefined) return
          // an attempt that ignores its signal (a chain call the RPC holds) is left behind, not waited for
          outcome = await unlessAborted(this.lifecycle.perform(rec, a, signal), signal)
          break
        } catch (err) {
          if (stop.aborted || ac.signal.aborted) return
          failures++
          this.#c.metrics.actionRetries.inc({ action: `${role}:${a.kind}` })
          const at = nextAttemptAt(this.#retry, failures, this.#now(), a.deadline)
          const e = err as Error
          if (failures === 1 || failures % 10 === 0) this.#c.logger.warn({ id, action: a.kind, failures, err: e, retryAt: at }, `${a.kind} failed; ${at === undefined ? 'its deadline passed' : 'retrying'}`)
          if (at === undefined) { outcome = this.lifecycle.failure(a, `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`); break }
          try { await this.#c.clock.sleep(Math.max(0, at - this.#now()), AbortSignal.any([stop, ac.signal])) } catch { return }
        } finally {
          timer.cancel()
          // the attempt is over: its signal is aborted so that whatever perform() left listening on it (a chain
          // call it abandoned, a helper's listener) is released with it rather than held by the lifelong sources
          attempt.abort(new AttemptOverError())
        }
      }
      if (live.inflight.get(a.kind) === ac) live.inflight.delete(a.kind)
      if (outcome !== undefined) {
        // a failure event says why (`reason`); an action that cannot fail (a slot's release) maps to its success event
        const failure = this.lifecycle.failure(a, '') as { type?: unknown, reason?: unknown }
        const failed = (outcome as { type?: unknown }).type === failure.type && 'reason' in failure
        if (failed) {
          (live.failedOutcomes ??= new Map()).set(a.kind, failedBefore + 1)
        } else {
          live.failedOutcomes?.delete(a.kind)
        }
        const settling = (live.settling ??= new Map())
        settling.set(a.kind, outcome)
        try {
          await this.dispatch(id, outcome)
        } finally {
          if (settling.get(a.kind) === outcome) settling.delete(a.kind)
        }
        if (failed) this.#recheck(id)
      }
    })().finally(() => { if (live.inflight.get(a.kind) === ac) live.inflight.delete(a.kind) })
    void this.#track(task).catch(err => { reportError(this.#c, role, err, `${a.kind} failed unexpectedly`, { id }) })
  }
}
