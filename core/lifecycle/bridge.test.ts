// The job bridge's lifecycle, with an injected clock.
import test from 'ava'
import { ManualClock } from '../clock.ts'
import { requestedJob, stepBridge, type BridgeJob, type BridgeEvent, type BridgeFacts } from './bridge.ts'
import { sampleDeal, T0, sec } from './testing.ts'

function driver (clock: ManualClock, facts: BridgeFacts) {
  let r: BridgeJob = requestedJob({ jobId: '7', client: '0x' + 'ee'.repeat(20), module: 'cowsay:v0.0.1', inputs: { Message: 'hi' }, payment: 10n ** 18n, deadline: sec(T0) + 3600 })
  let f = facts
  return {
    setFacts (x: BridgeFacts) { f = x },
    step (event?: BridgeEvent) { const s = stepBridge(r, { now: clock.now(), facts: f, ...(event !== undefined ? { event } : {}) }); r = s.record; return s }
  }
}

const ran: BridgeEvent = { type: 'ran', dealId: '0x' + '77'.repeat(32), deal: sampleDeal(), resultCid: 'bafyj' }

test('run, wait for a standing result, complete', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, { job: 'Open' })
  let s = d.step()
  t.deepEqual(s.actions.map(a => a.kind), ['run'])
  t.is(s.wakeAt, (sec(T0) + 3600) * 1000)
  s = d.step(ran)
  t.is(s.record.phase, 'ran')
  t.deepEqual(s.actions, [], 'not before the Market stands by the result')
  d.setFacts({ job: 'Open', deal: { state: 'Challenged', since: sec(T0) } })
  t.deepEqual(d.step({ type: 'chain' }).actions, [])
  d.setFacts({ job: 'Open', deal: { state: 'MediatedCorrect', since: sec(T0) } })
  s = d.step({ type: 'chain' })
  t.deepEqual(s.actions.map(a => a.kind), ['complete'])
  s = d.step({ type: 'completed' })
  t.is(s.record.phase, 'completed')
  t.true(s.record.terminal)
})

test('a job that cannot run, a wrong result, no result: failed on chain (the client is refunded)', t => {
  const clock = new ManualClock(T0)
  let d = driver(clock, { job: 'Open' })
  d.step()
  let s = d.step({ type: 'run-failed', reason: 'NoProviderError: none' })
  t.deepEqual(s.actions.map(a => [a.kind, (a as { reason?: string }).reason]), [['fail', 'NoProviderError: none']])
  t.is(d.step({ type: 'failed' }).record.phase, 'failed')
  for (const [state, why] of [['MediatedWrong', /judged wrong/], ['TimedOutResult', /no result/]] as const) {
    d = driver(clock, { job: 'Open' })
    d.step(); d.step(ran)
    d.setFacts({ job: 'Open', deal: { state, since: sec(T0) } })
    s = d.step({ type: 'chain' })
    t.regex((s.actions[0] as { reason: string }).reason, why)
  }
})

test('skipped: closed on chain meanwhile, past its deadline, or completed by someone else', async t => {
  const clock = new ManualClock(T0)
  let d = driver(clock, { job: 'Refunded' })
  t.is(d.step().record.phase, 'skipped')
  d = driver(clock, { job: 'Open' })
  d.step(); d.step(ran)
  d.setFacts({ job: 'Open', deal: { state: 'Settled', since: sec(T0) } })
  t.is(d.step({ type: 'complete-failed', reason: 'JobNotOpen(7, 2)' }).record.reason, 'completed or failed meanwhile')
  d = driver(clock, { job: 'Open' })
  await clock.advance(3601_000)
  t.is(d.step().record.phase, 'skipped')
})
