// The simulator's shell around the roles' pure lifecycles (core/lifecycle), in simulated time: the same step
// functions the node's LifecycleDriver runs, fed the Market model's facts; actions are carried out by the market's
// agents after simulated delays and end as events stepped back in. One action of a kind at a time per record, and
// a record's wake-up replaces the previous one — as in the node.
import type { Step } from '../core/lifecycle/facts.ts'
import type { Engine } from './engine.ts'
import { EPOCH } from './epoch.ts'

export interface SimRecord<R> {
  rec: R
  inflight: Set<string>
  /** bumps on every wake-up scheduled, so an older one does nothing */
  wake: number
  /** bumps when the owner's process dies (a churned provider): its actions and wake-ups end with it */
  life: number
}

export interface SimLifecycle<R extends { terminal: boolean }, E, A extends { kind: string }, F> {
  step: (rec: R, input: { now: number, facts: F, event?: E }) => Step<R, A>
  facts: (rec: R) => F
  /** starts an action; `done(event)` is called (later, in simulated time) with its outcome */
  perform: (holder: SimRecord<R>, a: A, done: (e: E) => void) => void
  /** after every step that changed the record */
  changed?: (holder: SimRecord<R>, prev: R) => void
  /** false while the owner is down: nothing is stepped */
  alive?: (holder: SimRecord<R>) => boolean
}

export function simNowMs (engine: Engine): number {
  return Math.floor((EPOCH + engine.now) * 1000)
}

export class SimDriver<R extends { terminal: boolean }, E, A extends { kind: string }, F> {
  readonly engine: Engine
  readonly lc: SimLifecycle<R, E, A, F>
  steps = 0

  constructor (engine: Engine, lc: SimLifecycle<R, E, A, F>) {
    this.engine = engine
    this.lc = lc
  }

  holder (rec: R): SimRecord<R> {
    return { rec, inflight: new Set(), wake: 0, life: 0 }
  }

  /** Steps the record with `event` (or a plain re-step) and starts the actions it asks for. */
  step (h: SimRecord<R>, event?: E): void {
    if (this.lc.alive?.(h) === false) return
    this.steps++
    const prev = h.rec
    const s = this.lc.step(prev, { now: simNowMs(this.engine), facts: this.lc.facts(prev), ...(event !== undefined ? { event } : {}) })
    h.rec = s.record
    if (s.record !== prev) this.lc.changed?.(h, prev)
    const life = h.life
    for (const a of s.actions) {
      if (h.inflight.has(a.kind)) continue
      h.inflight.add(a.kind)
      this.lc.perform(h, a, e => {
        if (h.life !== life) return // the owner died meanwhile: its process knows nothing of this
        h.inflight.delete(a.kind)
        this.step(h, e)
      })
    }
    if (!s.record.terminal && s.wakeAt !== undefined) {
      const token = ++h.wake
      this.engine.at(s.wakeAt / 1000 - EPOCH, () => { if (h.wake === token && h.life === life) this.step(h) })
    }
  }

  /** The owner's process died: nothing of it is in flight any more, no wake-up of it fires. */
  kill (h: SimRecord<R>): void {
    h.life++
    h.wake++
    h.inflight.clear()
  }
}
