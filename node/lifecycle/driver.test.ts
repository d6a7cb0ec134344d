// The lifecycle driver wakes a record when the lifecycle's clock (the chain's) jumps past its wake-up time,
// without waiting for the local timer it set before the jump; and releases every action attempt's signal.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventEmitter, getEventListeners } from 'node:events'
import { ManualClock, systemClock } from '../../core/clock.ts'
import { defaultRetryPolicy } from '../../core/policy/retry.ts'
import { quietComponents } from '../components.ts'
import { DealStore } from '../deal-store/deal-store.ts'
import { LifecycleDriver, followClock, type Lifecycle } from './driver.ts'

interface Rec { id: string, terminal: boolean, updatedAt: number, phase: string, due: number }

/**
 * The driver's timers on the process clock are unref'd (a pending wake-up must not keep a stopping node alive), so a
 * test whose only pending work is such a timer would see its event loop empty out before it fires (ava: "Promise
 * returned by test never resolved"; it happened under load). In a node, libp2p and the RPC hold the loop; here this does.
 */
function holdLoop (t: { teardown: (fn: () => void) => void }): void {
  const hold = setInterval(() => {}, 60_000)
  t.teardown(() => { clearInterval(hold) })
}

test('a chain clock that jumps past a wake-up time steps the record at the next block, not when the local timer fires', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const clock = new ManualClock(1_000_000)
  let skew = 0
  const follower = new EventEmitter<{ block: [number] }>()
  const lifecycle: Lifecycle<Rec, { type: string }, { kind: string, deadline: number }, Record<string, never>> = {
    role: 'job-creator',
    step: (rec, { now }) => now >= rec.due ? { record: { ...rec, phase: 'done', terminal: true }, actions: [] } : { record: rec, actions: [], wakeAt: rec.due },
    failure: () => ({ type: 'failed' }),
    facts: async () => ({}),
    perform: async () => ({ type: 'noop' })
  }
  const driver = new LifecycleDriver(quietComponents(clock), lifecycle, new DealStore<Rec>(dir), { now: () => clock.now() + skew, clockMoved: l => followClock(follower, l) })
  t.teardown(async () => { await driver.stop() })
  await driver.add({ id: 'd1', terminal: false, updatedAt: 0, phase: 'waiting', due: 1_000_000 + 120_000 })
  t.is((await driver.get('d1'))?.phase, 'waiting')
  const done = driver.until('d1', r => r.terminal)
  // a block before the wake-up time changes nothing
  follower.emit('block', 1)
  t.is((await driver.get('d1'))?.phase, 'waiting')
  // the chain's clock jumps 125 s (evm_increaseTime): the next block wakes the record; the local clock stood still
  skew = 125_000
  follower.emit('block', 2)
  t.is((await done).phase, 'done')
  t.is(clock.now(), 1_000_000)
})

test('every action attempt\'s signal is aborted and has no listener of the driver once the attempt ends, won or failed: none is held by the node\'s lifelong stop signal', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const signals: AbortSignal[] = []
  let failOnce = true
  const lifecycle: Lifecycle<Rec, { type: string }, { kind: string, deadline: number }, Record<string, never>> = {
    role: 'job-creator',
    step: (rec, { event }) => {
      if (event?.type === 'done') return { record: { ...rec, phase: 'done', terminal: true }, actions: [] }
      return rec.phase === 'waiting' ? { record: { ...rec, phase: 'working' }, actions: [{ kind: 'work', deadline: Date.now() + 600_000 }] } : { record: rec, actions: [] }
    },
    failure: () => ({ type: 'failed' }),
    facts: async () => ({}),
    perform: async (_rec, _a, signal) => {
      signals.push(signal)
      // what a helper that forgets its listener leaves behind
      signal.addEventListener('abort', () => {})
      if (failOnce) { failOnce = false; throw new Error('flaky RPC') }
      return { type: 'done' }
    }
  }
  holdLoop(t)
  // the process's clock, and a retry at once after the failure
  const driver = new LifecycleDriver(quietComponents(systemClock), lifecycle, new DealStore<Rec>(dir), { retry: { ...defaultRetryPolicy, initialMs: 0, maxMs: 0, finalLeadMs: 0 } })
  t.teardown(async () => { await driver.stop() })
  const done = driver.until('d1', r => r.terminal)
  await driver.add({ id: 'd1', terminal: false, updatedAt: 0, phase: 'waiting', due: 0 })
  t.is((await done).phase, 'done')
  t.is(signals.length, 2, 'one failed attempt, one that won')
  for (const s of signals) {
    t.true(s.aborted, 'the attempt\'s signal is aborted when the attempt ends')
    t.is((s.reason as Error).name, 'AttemptOverError')
    // (an aborted signal is let go by its sources whatever listens on it; the driver removed its own listener)
    t.is(getEventListeners(s, 'abort').length, 1, 'only the forgetful helper\'s listener is left')
  }
})

test('a step nobody awaits (news from the chain) that fails is reported, not left as an unhandled rejection; one that fails because the driver stopped is the stop', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  const lifecycle: Lifecycle<Rec, { type: string }, { kind: string, deadline: number }, Record<string, never>> = {
    role: 'job-creator',
    step: (rec, { event }) => {
      if (event?.type === 'chain') throw new RangeError('a bug in a step')
      return { record: rec, actions: [] }
    },
    failure: () => ({ type: 'failed' }),
    facts: async () => ({}),
    perform: async () => ({ type: 'noop' })
  }
  const components = quietComponents()
  const store = new DealStore<Rec>(dir)
  const driver = new LifecycleDriver(components, lifecycle, store, { now: () => Date.now() })
  await driver.add({ id: 'd1', terminal: false, updatedAt: 0, phase: 'waiting', due: 0 })
  driver.refresh('d1')
  // the next step of the same record queues behind the failed one
  await driver.dispatch('d1')
  await new Promise(resolve => setImmediate(resolve))
  const errors = (await components.metrics.errors.get()).values
  t.deepEqual(errors.map(v => [v.labels, v.value]), [[{ component: 'job-creator', kind: 'RangeError' }, 1]])

  // a step still queued when the driver stops fails (here: its store is gone): nothing reported, nothing unhandled
  const slow = Promise.withResolvers<undefined>()
  const get = store.get.bind(store)
  store.get = async (id: string) => { await slow.promise; throw new Error('the store is closed') }
  driver.refresh('d1')
  const stopped = driver.stop()
  slow.resolve(undefined)
  await stopped
  await new Promise(resolve => setImmediate(resolve))
  store.get = get
  t.deepEqual((await components.metrics.errors.get()).values.map(v => v.value), [1], 'the stop is not an error')
  t.deepEqual(unhandled, [])
})

test('a wait on a record that the driver\'s stop ends rejects with the stop\'s reason (was: undefined, and a wait begun just as it stopped never ended)', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const lifecycle: Lifecycle<Rec, { type: string }, { kind: string, deadline: number }, Record<string, never>> = {
    role: 'provider',
    step: rec => ({ record: rec, actions: [] }),
    failure: () => ({ type: 'failed' }),
    facts: async () => ({}),
    perform: async () => ({ type: 'noop' })
  }
  const driver = new LifecycleDriver(quietComponents(), lifecycle, new DealStore<Rec>(dir), { now: () => Date.now() })
  await driver.add({ id: 'd1', terminal: false, updatedAt: 0, phase: 'waiting', due: 0 })
  const waiting = driver.until('d1', r => r.terminal, new AbortController().signal)
  await driver.stop()
  await t.throwsAsync(waiting, { message: 'provider lifecycle stopping' })
})

test('an action in flight when the driver stops is aborted with a LifecycleStoppingError naming the action and the deal', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const started = Promise.withResolvers<AbortSignal>()
  const lifecycle: Lifecycle<Rec, { type: string }, { kind: string, deadline: number }, Record<string, never>> = {
    role: 'provider',
    step: rec => rec.phase === 'waiting' ? { record: { ...rec, phase: 'working' }, actions: [{ kind: 'deliver', deadline: Date.now() + 600_000 }] } : { record: rec, actions: [] },
    failure: () => ({ type: 'failed' }),
    facts: async () => ({}),
    perform: async (_rec, _a, signal) => {
      started.resolve(signal)
      return await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true }) })
    }
  }
  const driver = new LifecycleDriver(quietComponents(systemClock), lifecycle, new DealStore<Rec>(dir), { now: () => Date.now() })
  await driver.add({ id: 'd7', terminal: false, updatedAt: 0, phase: 'waiting', due: 0 })
  const signal = await started.promise
  await driver.stop()
  t.true(signal.aborted)
  t.like(signal.reason, { name: 'LifecycleStoppingError', message: 'provider lifecycle stopping (deliver of d7)' })
})

test('an action that ends in its failure event (a revert reported, not thrown) is tried again only after a growing backoff, never at once', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const clock = new ManualClock(1_000_000)
  let performs = 0
  const lifecycle: Lifecycle<Rec, { type: string }, { kind: string, deadline: number }, Record<string, never>> = {
    role: 'job-creator',
    // the deal still looks open to this node (the event that closed it never came): it asks for the refund again
    step: rec => ({ record: rec, actions: [{ kind: 'refund', deadline: clock.now() + 3_600_000 }] }),
    failure: (_a, reason) => ({ type: 'refund-failed', reason }),
    facts: async () => ({}),
    // the Market reverts (DealClosed: the deal was settled): reported as the action's failure event
    perform: async () => { performs++; return { type: 'refund-failed' } }
  }
  const driver = new LifecycleDriver(quietComponents(clock), lifecycle, new DealStore<Rec>(dir), { now: () => clock.now() })
  t.teardown(async () => { await driver.stop() })
  await driver.add({ id: 'd1', terminal: false, updatedAt: 0, phase: 'agreed', due: 0 })
  await clock.advance(0)
  t.is(performs, 1)
  // no time passes: no second attempt (before, the step asked again at once and a lilypad run spun on the RPC:
  // ~340 eth_estimateGas a second for 45 minutes in a soak)
  await clock.advance(0)
  t.is(performs, 1)
  await clock.advance(defaultRetryPolicy.initialMs)
  t.is(performs, 2)
  // the backoff grows with each failure in a row
  await clock.advance(defaultRetryPolicy.initialMs)
  t.is(performs, 2)
  await clock.advance(defaultRetryPolicy.initialMs)
  t.is(performs, 3)
  await clock.advance(60_000)
  t.true(performs < 12, `${performs} attempts in a minute`)
})

test('an action that ends in its failure event has the chain read again: a deal that ended unseen (its event missed) closes at the next failure, not at the action\'s deadline', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const clock = new ManualClock(1_000_000)
  // the chain's truth: the deal was settled; no watch event ever said so
  let state = 'Agreed'
  let reads = 0
  let performs = 0
  const lifecycle: Lifecycle<Rec, { type: string }, { kind: string, deadline: number }, { state: string }> = {
    role: 'job-creator',
    step: (rec, { facts }) => facts.state === 'Settled'
      ? { record: { ...rec, phase: 'settled', terminal: true }, actions: [] }
      : { record: rec, actions: [{ kind: 'refund', deadline: clock.now() + 3_600_000 }] },
    failure: (_a, reason) => ({ type: 'refund-failed', reason }),
    facts: async () => { reads++; return { state } },
    perform: async () => { performs++; state = 'Settled'; return { type: 'refund-failed' } }
  }
  const driver = new LifecycleDriver(quietComponents(clock), lifecycle, new DealStore<Rec>(dir), { now: () => clock.now() })
  t.teardown(async () => { await driver.stop() })
  await driver.add({ id: 'd1', terminal: false, updatedAt: 0, phase: 'agreed', due: 0 })
  const closed = driver.until('d1', r => r.terminal)
  await clock.advance(0)
  const rec = await closed
  t.is(rec.phase, 'settled')
  t.is(performs, 1)
  t.is(reads, 2, 'the facts were read at the start and once after the failure')
  // the retry the failure's own step scheduled (after its backoff) still runs once: an action in flight is not called
  // off when its record closes (a provider's slot release must outlive the deal); then nothing more
  await clock.advance(60_000)
  t.true(performs <= 2, `${performs} attempts`)
  await clock.advance(3_600_000)
  t.true(performs <= 2, `${performs} attempts`)
})

test('an event that reaches a deal before its record is stored (a provider\'s result overtaking the job creator\'s own write) does not leave the deal unwatched: the chain\'s news still reaches it', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  let state = 'Agreed'
  const watchers: Array<() => void> = []
  const lifecycle: Lifecycle<Rec, { type: string }, { kind: string, deadline: number }, { state: string }> = {
    role: 'job-creator',
    step: (rec, { facts, event }) => facts.state === 'Settled'
      ? { record: { ...rec, phase: 'settled', terminal: true }, actions: [] }
      : { record: event?.type === 'result' ? { ...rec, phase: 'result' } : rec, actions: [] },
    failure: (_a, reason) => ({ type: 'failed', reason }),
    facts: async () => ({ state }),
    watch: (_rec, changed) => { watchers.push(changed); return () => { watchers.splice(watchers.indexOf(changed), 1) } },
    perform: async () => ({ type: 'done' })
  }
  holdLoop(t)
  const driver = new LifecycleDriver(quietComponents(systemClock), lifecycle, new DealStore<Rec>(dir))
  t.teardown(async () => { await driver.stop() })
  // the result comes first: nothing is stored under the id yet
  t.is(await driver.dispatch('d1', { type: 'result' }), undefined)
  await driver.add({ id: 'd1', terminal: false, updatedAt: 0, phase: 'agreed', due: 0 })
  t.is((await driver.get('d1'))?.phase, 'result', 'the early event was kept and stepped once the record was there')
  t.is(watchers.length, 1, 'the deal is watched')
  // the deal settles on chain (acceptance and result in one transaction): the watch tells the driver
  const closed = driver.until('d1', r => r.terminal)
  state = 'Settled'
  for (const w of [...watchers]) w()
  t.is((await closed).phase, 'settled')
  t.is(watchers.length, 0, 'unwatched once closed')
})

test('an action that ended is not started again by a step on other news that runs before its outcome\'s own step (a result was delivered twice, the second refused as a duplicate)', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  interface Deliv extends Rec { delivered: boolean }
  let deliveries = 0
  let gate: Promise<void> | undefined
  let open: () => void = () => {}
  let driver: LifecycleDriver<Deliv, { type: string }, { kind: string, deadline: number }, Record<string, never>> | undefined
  const lifecycle: Lifecycle<Deliv, { type: string }, { kind: string, deadline: number }, Record<string, never>> = {
    role: 'provider',
    step: (rec, { event }) => {
      const r = event?.type === 'delivered' ? { ...rec, delivered: true } : rec
      return { record: r, actions: r.delivered ? [] : [{ kind: 'deliver', deadline: Date.now() + 600_000 }] }
    },
    failure: (_a, reason) => ({ type: 'deliver-failed', reason }),
    // news from the chain arrives while the delivery is under way; its read of the facts is still out when the
    // delivery ends, so the delivery's outcome waits behind that step
    facts: async () => { if (gate !== undefined) await gate; return {} },
    perform: async (_rec, _a, signal) => {
      deliveries++
      if (deliveries === 1) {
        gate = new Promise(resolve => { open = resolve })
        driver!.refresh('d1')
        // the read answers once this attempt is over: the driver aborts its signal and, in the same turn, queues the
        // delivery's outcome, so the step on the news runs first, with the outcome waiting behind it
        signal.addEventListener('abort', () => { gate = undefined; open() }, { once: true })
      }
      return { type: 'delivered' }
    }
  }
  holdLoop(t)
  driver = new LifecycleDriver(quietComponents(systemClock), lifecycle, new DealStore<Deliv>(dir))
  t.teardown(async () => { await driver!.stop() })
  const done = driver.until('d1', r => r.delivered)
  await driver.add({ id: 'd1', terminal: false, updatedAt: 0, phase: 'ran', due: 0, delivered: false })
  await done
  // whatever else is queued for the record has been stepped
  await driver.dispatch('d1')
  t.is(deliveries, 1)
})

test('once an action\'s outcome is stepped, a step on later news in the same turn may start that action again', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  let performs = 0
  let driver: LifecycleDriver<Rec, { type: string }, { kind: string, deadline: number }, Record<string, never>> | undefined
  const lifecycle: Lifecycle<Rec, { type: string }, { kind: string, deadline: number }, Record<string, never>> = {
    role: 'provider',
    step: (rec, { event }) => {
      if (event?.type === 'done') return { record: { ...rec, phase: 'done', terminal: true }, actions: [] }
      // the failure itself asks for nothing; the news after it does
      if (event?.type === 'work-failed') return { record: { ...rec, phase: 'idle' }, actions: [] }
      if (event?.type === 'go' || rec.phase === 'start') return { record: { ...rec, phase: 'working' }, actions: [{ kind: 'work', deadline: Date.now() + 600_000 }] }
      return { record: rec, actions: [] }
    },
    failure: (_a, reason) => ({ type: 'work-failed', reason }),
    facts: async () => ({}),
    perform: async (_rec, _a, signal) => {
      performs++
      if (performs > 1) return { type: 'done' }
      // the news comes right behind the failure, stepped in the same turn
      signal.addEventListener('abort', () => { queueMicrotask(() => { driver!.notify('d1', { type: 'go' }, 'go') }) }, { once: true })
      return { type: 'work-failed' }
    }
  }
  holdLoop(t)
  driver = new LifecycleDriver(quietComponents(systemClock), lifecycle, new DealStore<Rec>(dir), { retry: { ...defaultRetryPolicy, initialMs: 0, maxMs: 0, finalLeadMs: 0 } })
  t.teardown(async () => { await driver!.stop() })
  const done = driver.until('d1', r => r.terminal)
  await driver.add({ id: 'd1', terminal: false, updatedAt: 0, phase: 'start', due: 0 })
  t.is((await done).phase, 'done')
  t.is(performs, 2)
})
