// The mediator's dispute lifecycle, with an injected clock.
import test from 'ava'
import { ManualClock } from '../clock.ts'
import { newDispute, stepMediator, type MediatorDispute, type MediatorEvent } from './mediator.ts'
import type { DealFacts } from './facts.ts'
import { sampleDeal, sampleJob, T0, sec } from './testing.ts'

const SELF = '0x' + 'cc'.repeat(20)
const policy = { self: SELF, pullAfterMs: 5000, pullIntervalMs: 5000, marginSec: 30 }
const caseEvent: MediatorEvent = { type: 'case', deal: { kind: 'Deal', value: sampleDeal(), signature: '0x' }, jobOffer: sampleJob(), via: 'push' }

function driver (clock: ManualClock, facts: DealFacts) {
  let r: MediatorDispute = newDispute({ dealId: '0x' + '66'.repeat(32), jobCreator: '0x' + 'aa'.repeat(20), audit: false }, clock.now())
  let f = facts
  return {
    setFacts (x: DealFacts) { f = x },
    step (event?: MediatorEvent) { const s = stepMediator(r, { now: clock.now(), facts: f, ...(event !== undefined ? { event } : {}) }, policy); r = s.record; return s }
  }
}

const challenged: DealFacts = { state: 'Challenged', since: sec(T0), mediator: SELF, resultCid: 'bafyrp' }

test('waits for a push, then pulls every interval until the case arrives; re-runs, rules, done', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, challenged)
  let s = d.step()
  t.is(s.record.phase, 'awaiting-case')
  t.is(s.wakeAt, T0 + 5000)
  await clock.advance(5000)
  s = d.step({ type: 'tick' })
  t.deepEqual(s.actions.map(a => a.kind), ['pull'])
  s = d.step({ type: 'pull-failed', reason: 'unreachable' })
  t.is(s.wakeAt, T0 + 10_000)
  s = d.step(caseEvent)
  t.is(s.record.phase, 'running')
  t.deepEqual(s.actions.map(a => a.kind), ['rerun'])
  t.is(s.actions[0].deadline, (sec(T0) + 120 - 30) * 1000)
  s = d.step({ type: 'rerun-done', cid: 'bafyrp' })
  t.is(s.record.phase, 'ruling')
  t.deepEqual(s.actions, [{ kind: 'mediate', deadline: (sec(T0) + 120) * 1000, resultCorrect: true }])
  s = d.step({ type: 'mediated' })
  t.deepEqual(s.actions, [])
  d.setFacts({ state: 'MediatedCorrect', since: sec(clock.now()) })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'done')
  t.true(s.record.resultCorrect)
})

test('a different CID is ruled wrong', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, challenged)
  d.step(caseEvent)
  const s = d.step({ type: 'rerun-done', cid: 'bafyother' })
  t.deepEqual(s.actions.map(a => (a as { resultCorrect?: boolean }).resultCorrect), [false])
})

test('abandoned: another mediator drawn, too late to re-run, a failed re-run, a re-run past the deadline', async t => {
  const clock = new ManualClock(T0)
  let d = driver(clock, { ...challenged, mediator: '0x' + 'dd'.repeat(20) })
  t.is(d.step(caseEvent).record.reason, 'another mediator was drawn')
  d = driver(clock, challenged)
  await clock.advance(95_000)
  t.is(d.step(caseEvent).record.reason, 'too late to mediate before the deadline')
  const c2 = new ManualClock(T0)
  d = driver(c2, challenged)
  d.step(caseEvent)
  t.regex(d.step({ type: 'rerun-failed', reason: 'EngineLostError' }).record.reason ?? '', /re-run failed/)
  d = driver(c2, challenged)
  d.step(caseEvent)
  await c2.advance(121_000)
  const s = d.step({ type: 'rerun-done', cid: 'bafyrp' })
  t.is(s.record.phase, 'abandoned')
  t.is(s.record.reason, 'the re-run finished after the deadline')
})

test('the deal closes while we wait for the case: done, nothing more to do', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, challenged)
  d.step()
  d.setFacts({ state: 'TimedOutMediation', since: sec(T0) + 121 })
  const s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'done')
  t.true(s.record.terminal)
})
