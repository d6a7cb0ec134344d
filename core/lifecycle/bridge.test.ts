// The job bridge's lifecycle, with an injected clock.
import test from 'ava'
import { ManualClock } from '../clock.ts'
import { requestedJob, stepBridge, type BridgeJob, type BridgeEvent, type BridgeFacts } from './bridge.ts'
import { sampleDeal, sampleJob, T0, sec } from './testing.ts'

function driver (clock: ManualClock, facts: BridgeFacts, refused?: string) {
  let r: BridgeJob = requestedJob({ jobId: '7', client: '0x' + 'ee'.repeat(20), module: 'cowsay:v0.0.1', inputs: { Message: 'hi' }, payment: 10n ** 18n, deadline: sec(T0) + 3600 }, refused)
  let f = facts
  return {
    setFacts (x: BridgeFacts) { f = x },
    step (event?: BridgeEvent) { const s = stepBridge(r, { now: clock.now(), facts: f, ...(event !== undefined ? { event } : {}) }); r = s.record; return s }
  }
}

const ran: BridgeEvent = { type: 'ran', dealId: '0x' + '77'.repeat(32), deal: sampleDeal(), jobOffer: sampleJob().value, resultCid: 'bafyj', exitCode: 0, output: '0x6d6f6f' }
const open: BridgeFacts = { job: 'Open', mine: false }
const mine: BridgeFacts = { job: 'PickedUp', mine: true }

test('pick up, run, wait for a standing result, complete', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, open)
  let s = d.step()
  t.deepEqual(s.actions.map(a => a.kind), ['pick-up'], 'claimed before anything is spent on it')
  d.setFacts(mine)
  s = d.step({ type: 'picked-up' })
  t.deepEqual(s.actions.map(a => a.kind), ['run'])
  t.is(s.wakeAt, (sec(T0) + 3600) * 1000)
  s = d.step(ran)
  t.is(s.record.phase, 'ran')
  t.deepEqual(s.actions, [], 'not before the Market stands by the result')
  d.setFacts({ ...mine, deal: { state: 'Challenged', since: sec(T0) } })
  t.deepEqual(d.step({ type: 'chain' }).actions, [])
  d.setFacts({ ...mine, deal: { state: 'MediatedCorrect', since: sec(T0) } })
  s = d.step({ type: 'chain' })
  t.deepEqual(s.actions.map(a => a.kind), ['complete'])
  s = d.step({ type: 'completed' })
  t.is(s.record.phase, 'completed')
  t.true(s.record.terminal)
})

test('our pick-up mined while the facts still say Open: the job runs, it is not picked up again (which would revert)', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, open)
  d.step()
  let s = d.step({ type: 'picked-up' })
  t.deepEqual(s.actions.map(a => a.kind), ['run'])
  s = d.step({ type: 'chain' })
  t.deepEqual(s.actions, [], 'the run is already under way')
  t.is(s.record.phase, 'running')
})

test('a refused pick-up that was our own earlier one (mined unseen) goes on to run once the facts are read', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, open)
  d.step()
  d.step({ type: 'pick-up-failed', reason: 'WrongJobStatus(7, 2)' })
  d.setFacts(mine)
  const s = d.step({ type: 'chain' })
  t.deepEqual(s.actions.map(a => a.kind), ['run'])
  t.false(s.record.terminal)
})

test('a refused pick-up whose fresh facts still show the job open is tried again', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, open)
  d.step()
  d.step({ type: 'pick-up-failed', reason: 'WrongJobStatus(7, 0)' })
  t.deepEqual(d.step({ type: 'chain' }).actions.map(a => a.kind), ['pick-up'])
})

test('a refused request, a job that cannot run, a wrong result, no result, a passed deadline: failed on chain (the client is refunded)', async t => {
  const clock = new ManualClock(T0)
  let d = driver(clock, open, 'inputs refused: bad key')
  let s = d.step()
  t.deepEqual(s.actions.map(a => [a.kind, (a as { reason?: string }).reason]), [['fail', 'inputs refused: bad key']])
  t.is(d.step({ type: 'failed' }).record.phase, 'failed')
  d = driver(clock, mine)
  d.step()
  s = d.step({ type: 'run-failed', reason: 'NoProviderError: none' })
  t.deepEqual(s.actions.map(a => [a.kind, (a as { reason?: string }).reason]), [['fail', 'NoProviderError: none']])
  for (const [state, why] of [['MediatedWrong', /judged wrong/], ['TimedOutResult', /no result/]] as const) {
    d = driver(clock, mine)
    d.step(); d.step(ran)
    d.setFacts({ ...mine, deal: { state, since: sec(T0) } })
    s = d.step({ type: 'chain' })
    t.regex((s.actions[0] as { reason: string }).reason, why)
  }
  d = driver(clock, mine)
  d.step()
  await clock.advance(3601_000)
  s = d.step({ type: 'run-failed', reason: 'aborted' })
  t.regex((s.actions[0] as { reason: string }).reason, /NoProvider|aborted|expired/)
})

test('skipped: closed on chain, picked up by another bridge, or completed by someone else meanwhile', t => {
  const clock = new ManualClock(T0)
  let d = driver(clock, { job: 'Cancelled', mine: false })
  t.is(d.step().record.phase, 'skipped')
  d = driver(clock, { job: 'PickedUp', mine: false })
  t.is(d.step().record.reason, 'job PickedUp on chain')
  d = driver(clock, open)
  d.step()
  let s = d.step({ type: 'pick-up-failed', reason: 'WrongJobStatus(7, 2)' })
  t.false(s.record.terminal, 'a refusal read against old facts decides nothing yet')
  t.deepEqual(s.actions, [], 'and is not retried before the facts are read again')
  d.setFacts({ job: 'PickedUp', mine: false })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'skipped')
  t.regex(s.record.reason ?? '', /not picked up: WrongJobStatus.*PickedUp/)
  d = driver(clock, mine)
  d.step(); d.step(ran)
  d.setFacts({ ...mine, deal: { state: 'Settled', since: sec(T0) } })
  t.is(d.step({ type: 'complete-failed', reason: 'WrongJobStatus(7, 3)' }).record.reason, 'completed or failed meanwhile')
})
