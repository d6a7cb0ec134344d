// The job creator's deal lifecycle, every phase and deadline, with an injected clock.
import test from 'ava'
import { ManualClock } from '../clock.ts'
import { jobCreatorDeal, stepJobCreator, jobView, jobCreatorFailure, type JobCreatorDeal, type JobCreatorEvent, type JobCreatorAction } from './job-creator.ts'
import { NO_DEAL, type DealFacts } from './facts.ts'
import { sampleDeal, sampleJob, T0, sec } from './testing.ts'

const kinds = (a: JobCreatorAction[]): string[] => a.map(x => x.kind).sort()

function driver (clock: ManualClock, rec?: JobCreatorDeal) {
  let r = rec ?? jobCreatorDeal({ dealId: '0x' + '44'.repeat(32), deal: sampleDeal(), job: sampleJob(), providerPeer: 'peer-rp' }, clock.now())
  let facts: DealFacts = NO_DEAL
  return {
    get rec () { return r },
    setFacts (f: DealFacts) { facts = f },
    step (event?: JobCreatorEvent) {
      const s = stepJobCreator(r, { now: clock.now(), facts, ...(event !== undefined ? { event } : {}) })
      r = s.record
      return s
    }
  }
}

test('happy path: agreed, the result over the stream, fetched, accepted early, settled', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock)
  let s = d.step()
  t.is(s.record.phase, 'countersigned')
  t.is(s.wakeAt, T0 + 15_000, 'the provider has 15 s to get its agree mined')
  t.deepEqual(jobView(s.record), { status: 'waiting' })
  await clock.advance(300)
  d.setFacts({ state: 'Agreed', since: sec(clock.now()) })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'agreed')
  t.is(s.wakeAt, (sec(T0) + 40) * 1000 + 1000, 'woken just after the result deadline, to refund')
  s = d.step({ type: 'result', cid: 'bafyr', addrs: ['/ip4/127.0.0.1/tcp/1/p2p/x'] })
  t.is(s.record.phase, 'result')
  t.deepEqual(kinds(s.actions), ['fetch'])
  t.is(s.actions[0].deadline, clock.now() + 60_000)
  t.deepEqual(kinds(d.step({ type: 'tick' }).actions), [], 'one fetch at a time')
  s = d.step({ type: 'fetched', path: '/tmp/x', exitCode: 0 })
  t.is(s.record.phase, 'downloaded')
  t.deepEqual(s.actions, [], 'accept needs the submission on chain first')
  d.setFacts({ state: 'ResultSubmitted', since: sec(clock.now()), resultCid: 'bafyr' })
  s = d.step({ type: 'chain' })
  t.deepEqual(kinds(s.actions), ['accept'])
  s = d.step({ type: 'accepted' })
  t.deepEqual(jobView(s.record), { status: 'done' })
  d.setFacts({ state: 'Settled', since: sec(clock.now()) })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'settled')
  t.true(s.record.terminal)
  t.deepEqual(jobView(s.record), { status: 'done' })
})

test('the provider says its agree failed: the job moves on at once; the deal is watched until it expires', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock)
  d.step()
  await clock.advance(400)
  let s = d.step({ type: 'agree-notice', reason: 'InsufficientBalance' })
  t.is(s.record.phase, 'abandoned')
  t.deepEqual(jobView(s.record), { status: 'moved-on', reason: 'the provider could not agree: InsufficientBalance', refunded: false })
  t.is(s.wakeAt, Number(s.record.deal.expiry) * 1000)
  await clock.advance(600_000)
  s = d.step({ type: 'tick' })
  t.is(s.record.phase, 'expired')
  t.true(s.record.terminal)
})

test('no agree within the patience: abandoned at that moment', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock)
  d.step()
  await clock.advance(15_000)
  const s = d.step({ type: 'tick' })
  t.is(s.record.phase, 'abandoned')
  t.is(s.record.abandoned, 'agree was not mined in time')
})

test('abandoned, then agreed after all: followed without fetching, refunded when no result comes', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock)
  d.step()
  await clock.advance(16_000)
  d.step({ type: 'tick' })
  d.setFacts({ state: 'Agreed', since: sec(clock.now()) })
  let s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'agreed')
  t.false(s.record.fetch)
  s = d.step({ type: 'result', cid: 'bafylate', addrs: [] })
  t.is(s.record.phase, 'unfetched', 'nobody waits for a late deal\'s result')
  t.deepEqual(s.actions, [])
  await clock.advance(s.wakeAt! - clock.now())
  s = d.step({ type: 'tick' })
  t.deepEqual(kinds(s.actions), ['refund'], 'a result delivered over the stream but never submitted is refunded')
})

test('no result by the deadline: timeoutResult once the chain clock has passed it, then refunded', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock)
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  let s = d.step({ type: 'chain' })
  await clock.advance(40_999)
  t.deepEqual(d.step({ type: 'tick' }).actions, [])
  await clock.advance(1)
  s = d.step({ type: 'tick' })
  t.deepEqual(kinds(s.actions), ['refund'])
  s = d.step({ type: 'refunded' })
  t.deepEqual(s.actions, [])
  d.setFacts({ state: 'TimedOutResult', since: sec(clock.now()) })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'refunded')
  t.deepEqual(jobView(s.record), { status: 'moved-on', reason: 'no result before the deadline (refunded)', refunded: true })
})

test('a result that cannot be fetched in time: the job is told, the chain settles the rest', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock)
  d.setFacts({ state: 'ResultSubmitted', since: sec(T0), resultCid: 'bafyq' })
  let s = d.step({ type: 'chain' })
  const fetch = s.actions[0]
  await clock.advance(60_000)
  s = d.step(jobCreatorFailure(fetch, 'deadline passed'))
  t.is(s.record.phase, 'unfetched')
  t.deepEqual(jobView(s.record), { status: 'failed', reason: 'deadline passed' })
  d.setFacts({ state: 'Settled', since: sec(clock.now()) })
  t.is(d.step({ type: 'chain' }).record.phase, 'settled')
})

test('audited: fetched and handed to the mediator; a mediation nobody answers is closed after its window', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock)
  d.setFacts({ state: 'Challenged', since: sec(T0), resultCid: 'bafya', mediator: '0x' + 'cc'.repeat(20) })
  let s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'challenged')
  t.deepEqual(kinds(s.actions), ['fetch', 'hand-off'])
  s = d.step({ type: 'fetched', path: '/tmp/a', exitCode: 0 })
  s = d.step({ type: 'handed-off' })
  t.deepEqual(s.actions, [])
  t.deepEqual(jobView(s.record), { status: 'waiting' })
  await clock.advance(s.wakeAt! - clock.now())
  s = d.step({ type: 'tick' })
  t.deepEqual(kinds(s.actions), ['timeout-mediation'])
  d.setFacts({ state: 'MediatedWrong', since: sec(clock.now()) })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'mediated')
  t.is(s.record.outcome, 'MediatedWrong')
  t.deepEqual(jobView(s.record), { status: 'done' })
})

test('the chain is the authority on the result CID', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock)
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  d.step({ type: 'result', cid: 'bafystream', addrs: [] })
  d.step({ type: 'fetched', path: '/tmp/s', exitCode: 0 })
  d.setFacts({ state: 'ResultSubmitted', since: sec(T0) + 1, resultCid: 'bafychain' })
  const s = d.step({ type: 'chain' })
  t.is(s.record.resultCid, 'bafychain')
  t.is(s.record.phase, 'result')
  t.deepEqual(kinds(s.actions), ['fetch'])
})

test('accept false: done once downloaded, the provider settles after the judge window', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, jobCreatorDeal({ dealId: '0x' + '55'.repeat(32), deal: sampleDeal(), job: sampleJob(), providerPeer: 'p', accept: false }, T0))
  d.setFacts({ state: 'ResultSubmitted', since: sec(T0), resultCid: 'bafyn' })
  d.step({ type: 'chain' })
  const s = d.step({ type: 'fetched', path: '/tmp/n', exitCode: 0 })
  t.deepEqual(s.actions, [])
  t.deepEqual(jobView(s.record), { status: 'done' })
  t.false(s.record.terminal)
})

test('audited and upheld before our fetch finished: the job waits for the fetch in flight, then is done', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock)
  d.setFacts({ state: 'Challenged', since: sec(T0), resultCid: 'bafyq', mediator: '0x' + 'cc'.repeat(20) })
  let s = d.step({ type: 'chain' })
  t.deepEqual(kinds(s.actions), ['fetch', 'hand-off'])
  // a mediator that needs no container (an input error upheld) rules within a second
  d.setFacts({ state: 'MediatedCorrect', since: sec(T0) })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'mediated')
  t.true(s.record.terminal)
  t.deepEqual(jobView(s.record), { status: 'waiting' }, 'the fetch is still under way')
  s = d.step({ type: 'fetched', path: '/tmp/q', exitCode: 125 })
  t.is(s.record.path, '/tmp/q')
  t.deepEqual(jobView(s.record), { status: 'done' })
})
