// The mediator's dispute lifecycle, with an injected clock.
import test from 'ava'
import { ManualClock } from '../clock.ts'
import { newDispute, stepMediator, freeVoteSlot, type MediatorDispute, type MediatorEvent } from './mediator.ts'
import type { DealFacts } from './facts.ts'
import { sampleDeal, sampleJob, T0, sec } from './testing.ts'
import { Vote } from '../../protocols/settlement/committee.ts'

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

// ---- a committee member (docs/mediation.md, "Committees") ----

const OTHER = ['0x' + 'd1'.repeat(20), '0x' + 'd2'.repeat(20)]
const committee = (o: Partial<NonNullable<DealFacts['committee']>> = {}): DealFacts => ({
  state: 'Challenged', since: sec(T0), resultCid: 'bafyrp',
  committee: { members: [OTHER[0], SELF, OTHER[1]], drawnAt: sec(T0), allCommittedAt: null, committed: [], revealed: [], commitWindow: 300, revealWindow: 200, ...o }
})

test('committee: pull the case, re-run before the commit window, commit the vote, reveal once all committed; the last reveal closes the vote', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, committee())
  let s = d.step()
  t.is(s.record.phase, 'awaiting-case')
  await clock.advance(5000)
  t.deepEqual(d.step({ type: 'tick' }).actions.map(a => a.kind), ['pull'])
  s = d.step(caseEvent)
  // the re-run must end before the commit window does, less the margin
  t.deepEqual(s.actions, [{ kind: 'rerun', deadline: (sec(T0) + 300 - 30) * 1000 }])
  s = d.step({ type: 'rerun-done', cid: 'bafyrp' })
  t.is(s.record.vote, Vote.Correct, 'the vote is in the record before it is committed')
  t.deepEqual(s.actions, [{ kind: 'commit-vote', deadline: (sec(T0) + 300) * 1000, vote: Vote.Correct }])
  // the commit's slot goes on record before the commit is sent; a second reservation does not move it
  t.is(d.step({ type: 'vote-slot-reserved', slot: 3 }).record.commitSlot, 3)
  t.is(d.step({ type: 'vote-slot-reserved', slot: 5 }).record.commitSlot, 3)
  s = d.step({ type: 'vote-committed' })
  t.is(s.record.commitSlot, 3)
  t.deepEqual(s.actions, [], 'the reveal waits for the others')
  t.is(s.wakeAt, (sec(T0) + 300) * 1000 + 1000)
  await clock.advance(20_000)
  d.setFacts(committee({ allCommittedAt: sec(T0) + 25, committed: [OTHER[0], SELF, OTHER[1]] }))
  s = d.step({ type: 'chain' })
  t.deepEqual(s.actions, [{ kind: 'reveal-vote', deadline: (sec(T0) + 25 + 200) * 1000, vote: Vote.Correct }])
  s = d.step({ type: 'vote-revealed' })
  t.deepEqual(s.actions, [], 'nothing to send while others may still reveal')
  // facts read between the last reveal's events and its state change: still no finalize (that reveal closes the vote)
  d.setFacts(committee({ allCommittedAt: sec(T0) + 25, committed: [OTHER[0], SELF, OTHER[1]], revealed: [SELF, OTHER[0], OTHER[1]] }))
  s = d.step({ type: 'chain' })
  t.deepEqual(s.actions, [])
  d.setFacts({ state: 'MediatedCorrect', since: sec(clock.now()) })
  t.is(d.step({ type: 'chain' }).record.phase, 'done')
})

test('committee: a different CID votes wrong; an absent member\'s silence ends at the commit deadline; a member that committed and never revealed is finalized after the reveal deadline', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, committee())
  d.step(caseEvent)
  let s = d.step({ type: 'rerun-done', cid: 'bafyother' })
  t.is(s.record.vote, Vote.Wrong)
  d.step({ type: 'vote-committed' })
  // one member never commits: the reveal opens when the commit window has passed
  await clock.advance(301_000)
  d.setFacts(committee({ committed: [SELF, OTHER[0]] }))
  s = d.step({ type: 'tick' })
  t.deepEqual(s.actions, [{ kind: 'reveal-vote', deadline: (sec(T0) + 300 + 200) * 1000, vote: Vote.Wrong }])
  d.step({ type: 'vote-revealed' })
  // the other member committed but does not reveal: the vote stays open until the reveal deadline, then we close it
  d.setFacts(committee({ committed: [SELF, OTHER[0]], revealed: [SELF] }))
  t.deepEqual(d.step({ type: 'chain' }).actions, [])
  await clock.advance(201_000)
  t.deepEqual(d.step({ type: 'tick' }).actions.map(a => a.kind), ['finalize-committee'], 'the reveal window has passed')
})

test('committee: without the case, or with a re-run that cannot end in the commit window, the vote is "no case" rather than silence', async t => {
  const clock = new ManualClock(T0)
  let d = driver(clock, committee())
  d.step()
  await clock.advance(270_000)
  let s = d.step({ type: 'tick' })
  t.is(s.record.vote, Vote.NoCase)
  t.deepEqual(s.actions.map(a => a.kind), ['commit-vote'])
  const c2 = new ManualClock(T0)
  d = driver(c2, committee())
  d.step(caseEvent)
  await c2.advance(271_000)
  s = d.step({ type: 'tick' })
  t.is(s.record.vote, Vote.NoCase)
  t.deepEqual(s.actions, [{ kind: 'commit-vote', deadline: (sec(T0) + 300) * 1000, vote: Vote.NoCase }])
})

test('committee: a re-run that fails on our machine votes "no case" (neither paid nor slashed) instead of leaving us silent and slashed', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, committee())
  let s = d.step(caseEvent)
  t.deepEqual(s.actions.map(a => a.kind), ['rerun'])
  s = d.step({ type: 'rerun-failed', reason: 'DockerUnavailableError: the socket is gone' })
  t.false(s.record.terminal)
  t.is(s.record.vote, Vote.NoCase)
  t.deepEqual(s.actions, [{ kind: 'commit-vote', deadline: (sec(T0) + 300) * 1000, vote: Vote.NoCase }])
})

test('committee: not a member, or the commit window gone before we voted: abandoned; a committed vote is revealed after a restart', async t => {
  const clock = new ManualClock(T0)
  let d = driver(clock, committee({ members: [OTHER[0], OTHER[1], '0x' + 'd3'.repeat(20)] }))
  t.is(d.step(caseEvent).record.reason, 'not on the committee')
  d = driver(clock, committee())
  await clock.advance(301_000)
  t.is(d.step(caseEvent).record.reason, 'the commit window closed before we voted')
  const c2 = new ManualClock(T0)
  d = driver(c2, committee())
  d.step(caseEvent)
  d.step({ type: 'rerun-done', cid: 'bafyrp' })
  d.step({ type: 'vote-committed' })
  // a restart: the record (with its vote) is resumed; the chain says we committed and the reveal is open
  d.setFacts(committee({ allCommittedAt: sec(T0) + 10, committed: [OTHER[0], SELF, OTHER[1]] }))
  const s = d.step({ type: 'resume' })
  t.deepEqual(s.actions, [{ kind: 'reveal-vote', deadline: (sec(T0) + 10 + 200) * 1000, vote: Vote.Correct }])
})

test('committee: a commit takes the lowest commitment slot none of our unrevealed votes holds; a revealed or closed dispute frees its slot', t => {
  const at = (n: number, o: Partial<MediatorDispute>): MediatorDispute => ({ ...newDispute({ dealId: '0x' + String(n).repeat(64), jobCreator: '0x' + 'aa'.repeat(20), audit: false }, T0 + n), ...o })
  const committed = { committeeSent: { commit: true, reveal: false, finalize: false } }
  const records = [
    at(1, { ...committed, commitSlot: 0 }),
    at(2, { ...committed, commitSlot: 1 }),
    at(3, { committeeSent: { commit: true, reveal: true, finalize: false }, commitSlot: 2 }),
    at(4, { ...committed, commitSlot: 3, terminal: true })
  ]
  t.is(freeVoteSlot(records, '0x' + '5'.repeat(64)), 2, 'slots 0 and 1 hold unrevealed votes; 2 was revealed, 3 closed')
  // a dispute's own earlier slot does not count against it (a commit sent again after a restart)
  t.is(freeVoteSlot(records, '0x' + '1'.repeat(64)), 0)
  // a slot named on record before its commit went out (or whose commit's outcome is unknown) is held as well
  t.is(freeVoteSlot([...records, at(6, { commitSlot: 2 })], '0x' + '5'.repeat(64)), 3, 'slot 2 reserved by a commit in flight (3 was closed)')
  const many = Array.from({ length: 20 }, (_, j) => at(j + 1, { ...committed, commitSlot: j }))
  t.is(freeVoteSlot(many, '0x' + 'f'.repeat(64)), 20, 'twenty votes in flight: the next slot')
})
