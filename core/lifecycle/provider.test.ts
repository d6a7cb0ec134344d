// The provider's deal lifecycle, every phase and deadline, with an injected clock (no sleeping, no I/O).
import test, { type ExecutionContext } from 'ava'
import { ManualClock } from '../clock.ts'
import { countersignedDeal, stepProvider, holdsSlot, providerFailure, type ProviderDeal, type ProviderEvent, type ProviderAction } from './provider.ts'
import { NO_DEAL, type DealFacts } from './facts.ts'
import { sampleDeal, sampleJob, T0, sec } from './testing.ts'

const kinds = (a: ProviderAction[]): string[] => a.map(x => x.kind).sort()

function fresh (clock: ManualClock, over: Partial<ProviderDeal> = {}): ProviderDeal {
  return { ...countersignedDeal({ dealId: '0x' + '33'.repeat(32), deal: sampleDeal(), job: sampleJob(), jobCreatorSignature: '0x01', providerSignature: '0x02', slot: 0, jobCreatorPeer: 'peer-jc' }, clock.now()), ...over }
}

/** Steps a record along, as the shell does: each step's record feeds the next. */
function driver (clock: ManualClock, rec: ProviderDeal) {
  let r = rec
  let facts: DealFacts = NO_DEAL
  return {
    get rec () { return r },
    setFacts (f: DealFacts) { facts = f },
    step (event?: ProviderEvent) {
      const s = stepProvider(r, { now: clock.now(), facts, ...(event !== undefined ? { event } : {}) })
      r = s.record
      return s
    }
  }
}

/** The chain closes the deal in `state`: the record's phase ends `closed` with that outcome. */
function closesAs (t: ExecutionContext, d: ReturnType<typeof driver>, clock: ManualClock, state: 'Settled' | 'TimedOutMediation'): ReturnType<typeof stepProvider> {
  d.setFacts({ state, since: sec(clock.now()) })
  const s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'closed')
  t.is(s.record.outcome, state)
  return s
}

test('happy path: agree and an optimistic run at once; the result to the job creator, whose acceptance goes on chain with it', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock))
  d.step()
  await clock.advance(400)
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  d.step({ type: 'agreed', at: sec(T0) })
  await clock.advance(2000)
  let s = d.step({ type: 'run-done', cid: 'bafyresult', exitCode: 0 })
  t.is(s.record.phase, 'ran')
  t.deepEqual(kinds(s.actions), ['deliver', 'release'], 'the result goes to the job creator first; no submission yet')
  t.is(s.wakeAt, T0 + 2400 + 10_000, 'the acceptance is waited for 10 s at most')
  d.step({ type: 'released' })
  s = d.step({ type: 'delivered' })
  t.deepEqual(s.actions, [])
  // an acceptance of another result (the shell checks the signature; the CID is checked here too) is ignored
  s = d.step({ type: 'acceptance', cid: 'bafyother', signature: '0xsig' })
  t.deepEqual(s.actions, [])
  await clock.advance(300)
  s = d.step({ type: 'acceptance', cid: 'bafyresult', signature: '0xsig' })
  t.deepEqual(s.actions, [{ kind: 'submit', deadline: (sec(T0) + 40) * 1000, acceptance: '0xsig' }], 'submitted with the acceptance at once')
  d.setFacts({ state: 'Settled', since: sec(clock.now()), resultCid: 'bafyresult' })
  s = d.step({ type: 'submitted', accepted: true })
  t.is(s.record.phase, 'closed')
  t.is(s.record.outcome, 'Settled')
  t.true(s.record.submittedAccepted)
  t.true(s.record.terminal)
  t.deepEqual(s.actions, [], 'nothing left to settle')
})

test('no acceptance within the wait: the result is submitted alone and settled after the judge window', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock))
  let s = d.step()
  t.is(s.record.phase, 'countersigned')
  t.deepEqual(kinds(s.actions), ['agree', 'run'])
  t.is(s.actions.find(a => a.kind === 'agree')?.deadline, T0 + 15_000, 'agree is tried for the agree window, within the expiry')
  t.is(s.wakeAt, T0 + 15_000)
  t.true(holdsSlot(s.record))
  // stepping again does not start a second run
  t.deepEqual(kinds(d.step({ type: 'tick' }).actions), ['agree'])
  await clock.advance(400)
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  s = d.step({ type: 'agreed', at: sec(T0) })
  t.is(s.record.phase, 'running')
  t.deepEqual(s.actions, [], 'the optimistic run goes on')
  t.is(s.wakeAt, (sec(T0) + 40 - 5) * 1000, 'woken at the last moment a run could still be submitted')
  await clock.advance(2000)
  s = d.step({ type: 'run-done', cid: 'bafyresult', exitCode: 0 })
  t.is(s.record.phase, 'ran')
  t.deepEqual(kinds(s.actions), ['deliver', 'release'])
  s = d.step({ type: 'released' })
  s = d.step({ type: 'delivered' })
  t.deepEqual(s.actions, [])
  await clock.advance(s.wakeAt! - clock.now())
  s = d.step({ type: 'tick' })
  t.deepEqual(s.actions, [{ kind: 'submit', deadline: (sec(T0) + 40) * 1000 }], 'submitted alone, retried until the result deadline')
  d.setFacts({ state: 'ResultSubmitted', since: sec(clock.now()), resultCid: 'bafyresult' })
  s = d.step({ type: 'submitted' })
  t.is(s.record.phase, 'submitted')
  t.deepEqual(s.actions, [])
  const judgeEnd = (sec(clock.now()) + 30) * 1000
  t.is(s.wakeAt, judgeEnd + 1000)
  await clock.advance(judgeEnd + 1000 - clock.now())
  s = d.step({ type: 'tick' })
  t.deepEqual(kinds(s.actions), ['settle'])
  s = d.step({ type: 'settled' })
  t.deepEqual(s.actions, [], 'settle is not sent twice')
  d.setFacts({ state: 'Settled', since: sec(clock.now()) })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'closed')
  t.is(s.record.outcome, 'Settled')
  t.true(s.record.terminal)
})

test('a deal with audits: the acceptance goes on chain with the result, and our drawAudit (retried until the judge window is long past) settles or audits it', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock, { deal: sampleDeal({ auditPpm: 100_000 }) }))
  d.step()
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  d.step({ type: 'agreed', at: sec(T0) })
  await clock.advance(2000)
  d.step({ type: 'run-done', cid: 'bafyresult', exitCode: 0 })
  d.step({ type: 'released' })
  d.step({ type: 'delivered' })
  let s = d.step({ type: 'acceptance', cid: 'bafyresult', signature: '0xsig' })
  t.deepEqual(s.actions, [{ kind: 'submit', deadline: (sec(T0) + 40) * 1000, acceptance: '0xsig' }])
  // the Market keeps the acceptance until the draw: the deal is submitted, its audit due
  d.setFacts({ state: 'ResultSubmitted', since: sec(clock.now()), resultCid: 'bafyresult', auditDue: true })
  s = d.step({ type: 'submitted', accepted: false })
  t.is(s.record.phase, 'submitted')
  const judgeEnd = (sec(clock.now()) + 30) * 1000
  t.deepEqual(s.actions, [{ kind: 'draw-audit', deadline: judgeEnd + 3_600_000 }], 'drawn at once, by us')
  t.is(providerFailure(s.actions[0], 'AuditDrawNotReady').type, 'draw-audit-failed')
  s = d.step({ type: 'audit-drawn' })
  t.deepEqual(s.actions, [], 'not sent twice')
  // the draw missed: the acceptance settles the deal in the same transaction
  closesAs(t, d, clock, 'Settled')
})

test('a deal with audits whose draw hit: the audit is a dispute like a challenge; a draw already made is not made again', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock, { deal: sampleDeal({ auditPpm: 100_000 }), jobCreatorPeer: undefined }))
  d.step()
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  d.step({ type: 'agreed', at: sec(T0) })
  d.step({ type: 'run-done', cid: 'bafyresult', exitCode: 0 })
  d.setFacts({ state: 'ResultSubmitted', since: sec(clock.now()), resultCid: 'bafyresult', auditDue: true })
  let s = d.step({ type: 'submitted' })
  t.deepEqual(kinds(s.actions), ['draw-audit', 'release'])
  // someone else (the job creator's node, a mediator) drew it first and it missed: nothing of ours to draw
  d.setFacts({ state: 'ResultSubmitted', since: sec(clock.now()), resultCid: 'bafyresult' })
  s = d.step({ type: 'draw-audit-failed', reason: 'NoAuditDue' })
  t.deepEqual(kinds(s.actions), ['release'])
  d.step({ type: 'released' })
  d.setFacts({ state: 'Challenged', since: sec(clock.now()), resultCid: 'bafyresult', mediator: '0x' + 'cc'.repeat(20) })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'challenged')
  t.deepEqual(s.actions, [{ kind: 'hand-off', deadline: (sec(clock.now()) + 120) * 1000, mediator: '0x' + 'cc'.repeat(20) }], 'the audit goes to the mediator drawn')
})

test('a run still in flight past the last moment to submit: woken at the result deadline, not at once; failed there and the run aborted', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock))
  d.step()
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  let s = d.step({ type: 'agreed', at: sec(T0) })
  const end = (sec(T0) + 40 - 5) * 1000
  t.is(s.wakeAt, end)
  await clock.advance(end + 2000 - clock.now())
  s = d.step({ type: 'tick' })
  t.is(s.record.phase, 'running')
  t.is(s.wakeAt, (sec(T0) + 40) * 1000, 'the next wake-up is the result deadline, not the moment already past')
  await clock.advance(s.wakeAt! - clock.now())
  s = d.step({ type: 'tick' })
  t.is(s.record.phase, 'failed')
  t.true(s.record.terminal)
  t.deepEqual(kinds(s.actions), ['abort-run', 'release'])
})

test('our agree reverts: the run is aborted, the slot released at once, the job creator told; the deal is still watched', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock))
  d.step()
  await clock.advance(300)
  let s = d.step({ type: 'agree-failed', reason: 'InsufficientBalance' })
  t.is(s.record.phase, 'countersigned')
  t.deepEqual(kinds(s.actions), ['abort-run', 'notify', 'release'])
  t.is((s.actions.find(a => a.kind === 'notify') as { reason: string }).reason, 'InsufficientBalance')
  t.is(s.wakeAt, Number(s.record.deal.expiry) * 1000, 'watched until the deal expires')
  s = d.step({ type: 'run-aborted' })
  s = d.step({ type: 'released' })
  s = d.step({ type: 'notified' })
  t.deepEqual(s.actions, [])
  t.false(holdsSlot(s.record))
  // the job creator deposits and agrees the deal itself: the provider runs it
  await clock.advance(5000)
  d.setFacts({ state: 'Agreed', since: sec(clock.now()) })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'running')
  t.is(s.record.agreeFailed, undefined)
  t.deepEqual(kinds(s.actions), ['hold'], 'first a slot')
  s = d.step({ type: 'held', slot: 1 })
  t.deepEqual(kinds(s.actions), ['run'])
  t.is(s.record.slot, 1)
  t.is((s.actions[0] as { timeoutSec: number }).timeoutSec, 30, 'the job timeout: the deadline leaves time for all of it')
})

test('our agree never makes it within the agree window: same as a revert (the shell reports the deadline)', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock))
  const first = d.step()
  const agree = first.actions.find(a => a.kind === 'agree')!
  const s = d.step(providerFailure(agree, 'deadline passed'))
  t.is(s.record.agreeFailed, 'deadline passed')
  t.deepEqual(kinds(s.actions), ['abort-run', 'notify', 'release'])
})

test('a countersigned deal nobody agreed expires and ends', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock))
  d.step()
  d.step({ type: 'agree-failed', reason: 'NonceUsed' })
  d.step({ type: 'run-aborted' }); d.step({ type: 'released' }); d.step({ type: 'notified' })
  await clock.advance(600_000)
  const s = d.step({ type: 'tick' })
  t.is(s.record.phase, 'expired')
  t.true(s.record.terminal)
})

test('restarted 15 s after agree with time left: it re-runs the job, bounded by what is left', async t => {
  const clock = new ManualClock(T0)
  const agreedAt = sec(T0)
  const rec = fresh(clock, { agreedAt, phase: 'running', running: true, runs: 1, holding: true })
  await clock.advance(15_000)
  const d = driver(clock, rec)
  d.setFacts({ state: 'Agreed', since: agreedAt })
  let s = d.step({ type: 'resume' })
  t.is(s.record.phase, 'running')
  t.deepEqual(kinds(s.actions), ['hold'], 'nothing is held after a restart')
  s = d.step({ type: 'held', slot: 0 })
  t.deepEqual(kinds(s.actions), ['run'])
  t.is((s.actions[0] as { timeoutSec: number }).timeoutSec, 20, '40 s window − 15 s gone − 5 s to submit')
  t.is(s.record.runs, 2)
})

test('restarted with no time left to run: failed, not run', async t => {
  const clock = new ManualClock(T0)
  const rec = fresh(clock, { agreedAt: sec(T0), phase: 'running', running: true, runs: 1 })
  await clock.advance(35_000)
  const d = driver(clock, rec)
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  const s = d.step({ type: 'resume' })
  t.is(s.record.phase, 'failed')
  t.regex(s.record.error ?? '', /no time left to re-run/)
  t.true(s.record.terminal)
})

test('restarted with a result not yet submitted: it delivers it, waits for the acceptance as long as it would have, then submits it', async t => {
  const clock = new ManualClock(T0 + 10_000)
  const rec = fresh(clock, { agreedAt: sec(T0), phase: 'ran', resultCid: 'bafyx', exitCode: 0, runs: 1, acceptBy: T0 + 12_000 })
  const d = driver(clock, rec)
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  let s = d.step({ type: 'resume' })
  t.deepEqual(kinds(s.actions), ['deliver'])
  t.is(s.wakeAt, T0 + 12_000)
  await clock.advance(2000)
  s = d.step({ type: 'tick' })
  t.deepEqual(kinds(s.actions), ['deliver', 'submit'])
})

test('a job creator that cannot be given the result is not waited for', t => {
  const clock = new ManualClock(T0 + 10_000)
  const d = driver(clock, fresh(clock, { agreedAt: sec(T0), phase: 'ran', resultCid: 'bafyx', exitCode: 0, runs: 1, holding: false }))
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  t.deepEqual(kinds(d.step({ type: 'resume' }).actions), ['deliver'])
  t.deepEqual(d.step({ type: 'deliver-failed', reason: 'UNKNOWN_DEAL' }).actions, [{ kind: 'submit', deadline: (sec(T0) + 40) * 1000 }])
  const noPeer = driver(clock, fresh(clock, { agreedAt: sec(T0), phase: 'ran', resultCid: 'bafyx', exitCode: 0, runs: 1, holding: false, jobCreatorPeer: undefined }))
  noPeer.setFacts({ state: 'Agreed', since: sec(T0) })
  t.deepEqual(noPeer.step({ type: 'resume' }).actions, [{ kind: 'submit', deadline: (sec(T0) + 40) * 1000 }], 'a deal without a job creator peer (agreed by hand) submits at once')
})

test('a job creator whose ack of the result says no acceptance will follow (--no-accept) is not waited for: the result is submitted alone at once', t => {
  const clock = new ManualClock(T0 + 10_000)
  const d = driver(clock, fresh(clock, { agreedAt: sec(T0), phase: 'ran', resultCid: 'bafyx', exitCode: 0, runs: 1, holding: false }))
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  t.deepEqual(kinds(d.step({ type: 'resume' }).actions), ['deliver'])
  const s = d.step({ type: 'delivered', noAcceptance: true })
  t.deepEqual(s.actions, [{ kind: 'submit', deadline: (sec(T0) + 40) * 1000 }], 'at the same instant, no wait')
  t.true(s.record.noAcceptance)
  // a plain ack keeps the wait (the acceptance is on its way)
  const w = driver(clock, fresh(clock, { agreedAt: sec(T0), phase: 'ran', resultCid: 'bafyx', exitCode: 0, runs: 1, holding: false }))
  w.setFacts({ state: 'Agreed', since: sec(T0) })
  w.step({ type: 'resume' })
  t.deepEqual(w.step({ type: 'delivered' }).actions, [])
})

test('a duplicate delivery refused after the first was acked does not end the wait for the acceptance', t => {
  const clock = new ManualClock(T0 + 10_000)
  const d = driver(clock, fresh(clock, { agreedAt: sec(T0), phase: 'ran', resultCid: 'bafyx', exitCode: 0, runs: 1, holding: false }))
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  d.step({ type: 'resume' })
  d.step({ type: 'delivered' })
  const s = d.step({ type: 'deliver-failed', reason: 'UNKNOWN_DEAL' })
  t.deepEqual(s.actions, [])
  t.is(s.record.deliveryFailed, undefined)
})

test('the acceptance wait never runs into the result deadline, and an acceptance after the submission is ignored', async t => {
  const clock = new ManualClock(T0 + 30_000)
  const d = driver(clock, fresh(clock, { agreedAt: sec(T0), phase: 'ran', resultCid: 'bafyx', exitCode: 0, runs: 1, holding: false }))
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  let s = d.step({ type: 'resume' })
  t.is(s.wakeAt, T0 + 35_000, '40 s result window − 5 s margin to submit, not 30 s + 10 s')
  await clock.advance(5000)
  s = d.step({ type: 'tick' })
  t.deepEqual(kinds(s.actions), ['deliver', 'submit'])
  d.setFacts({ state: 'ResultSubmitted', since: sec(clock.now()), resultCid: 'bafyx' })
  s = d.step({ type: 'submitted' })
  s = d.step({ type: 'acceptance', cid: 'bafyx', signature: '0xlate' })
  t.is(s.record.acceptance, undefined)
  t.is(s.record.phase, 'submitted')
})

test('an engine lost mid-job is re-run while the deadline leaves time; a job that cannot run fails and frees its slot', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock))
  d.step()
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  d.step({ type: 'agreed', at: sec(T0) })
  let s = d.step({ type: 'run-failed', reason: 'EngineLostError', retryable: true })
  t.deepEqual(kinds(s.actions), ['run'])
  t.is(s.record.runs, 2)
  s = d.step({ type: 'run-failed', reason: 'ModuleNotFoundError', retryable: false })
  t.is(s.record.phase, 'failed')
  t.deepEqual(kinds(s.actions), ['release'])
})

test('a job that cannot run before agree is mined: no agree is sent again, the slot is released and the job creator told', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock))
  d.step()
  const s = d.step({ type: 'run-failed', reason: 'ModuleNotFoundError', retryable: false })
  t.is(s.record.phase, 'countersigned')
  t.deepEqual(kinds(s.actions), ['notify', 'release'])
})

test('the result deadline passes before submission succeeded: failed', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock, { agreedAt: sec(T0), resultCid: 'bafy', exitCode: 0, runs: 1, holding: false, acceptBy: T0 }))
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  const s0 = d.step()
  const submit = s0.actions.find(a => a.kind === 'submit')!
  await clock.advance(40_000)
  const s = d.step(providerFailure(submit, 'deadline passed'))
  t.is(s.record.phase, 'failed')
  t.regex(s.record.error ?? '', /submitResult failed/)
})

test('the deal timed out on chain while the job ran: the run is aborted and the slot freed', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock, { agreedAt: sec(T0), phase: 'running', running: true, runs: 1 }))
  d.setFacts({ state: 'TimedOutResult', since: sec(T0) + 41 })
  const s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'closed')
  t.is(s.record.outcome, 'TimedOutResult')
  t.deepEqual(kinds(s.actions), ['abort-run', 'release'])
})

test('challenged: the case is handed to the drawn mediator; an unanswered mediation is closed after its window', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock, { agreedAt: sec(T0), resultCid: 'bafy', submitted: true, delivered: true, holding: false }))
  d.setFacts({ state: 'Challenged', since: sec(T0) + 5, mediator: '0x' + 'cc'.repeat(20) })
  let s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'challenged')
  t.deepEqual(kinds(s.actions), ['hand-off'])
  s = d.step({ type: 'handed-off' })
  t.is(s.wakeAt, (sec(T0) + 5 + 120) * 1000 + 1000)
  await clock.advance(s.wakeAt! - clock.now())
  s = d.step({ type: 'tick' })
  t.deepEqual(kinds(s.actions), ['timeout-mediation'])
  closesAs(t, d, clock, 'TimedOutMediation')
})

test('challenged, its single mediator not drawn yet: we draw it (retried by the shell, not re-sent once it failed), then hand the case to whoever was drawn; the window counts from the draw', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock, { agreedAt: sec(T0), resultCid: 'bafy', submitted: true, delivered: true, holding: false }))
  d.setFacts({ state: 'Challenged', since: sec(T0) + 5, mediatorDrawDue: true })
  let s = d.step({ type: 'chain' })
  t.deepEqual(s.actions, [{ kind: 'draw-mediator', deadline: (sec(T0) + 5 + 120) * 1000 }], 'no hand-off before anyone knows the mediator')
  t.is(providerFailure(s.actions[0], 'MediatorAlreadyDrawn').type, 'draw-mediator-failed')
  s = d.step({ type: 'draw-mediator-failed', reason: 'MediatorAlreadyDrawn' })
  t.deepEqual(s.actions, [], 'drawn by someone else: not sent again')
  // the draw came 30 s after the dispute: the record's since is the draw's, and so is the window
  d.setFacts({ state: 'Challenged', since: sec(T0) + 35, mediator: '0x' + 'cc'.repeat(20) })
  s = d.step({ type: 'chain' })
  t.deepEqual(s.actions.map(a => [a.kind, (a as { mediator?: string }).mediator]), [['hand-off', '0x' + 'cc'.repeat(20)]])
  s = d.step({ type: 'handed-off' })
  t.is(s.wakeAt, (sec(T0) + 35 + 120) * 1000 + 1000)
})

test('challenged by a committee: the case goes to every member; a vote no member finalizes is closed with finalizeCommittee after the reveal window', async t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock, { agreedAt: sec(T0), resultCid: 'bafy', submitted: true, delivered: true, holding: false }))
  const committee = { members: ['0x' + 'c1'.repeat(20), '0x' + 'c2'.repeat(20), '0x' + 'c3'.repeat(20)], drawnAt: sec(T0) + 5, allCommittedAt: null, committed: [], revealed: [], commitWindow: 600, revealWindow: 300 }
  d.setFacts({ state: 'Challenged', since: sec(T0) + 5, mediator: '0x' + '00'.repeat(20), committee })
  let s = d.step({ type: 'chain' })
  t.deepEqual(s.actions.map(a => [a.kind, (a as { mediator?: string }).mediator]), [['hand-off', '0x' + '00'.repeat(20)]], 'the zero address: every member')
  s = d.step({ type: 'handed-off' })
  t.is(s.wakeAt, (sec(T0) + 5 + 600 + 300) * 1000 + 1000)
  await clock.advance(s.wakeAt! - clock.now())
  s = d.step({ type: 'tick' })
  t.deepEqual(s.actions.map(a => [a.kind, (a as { committee?: boolean }).committee]), [['timeout-mediation', true]])
  d.setFacts({ state: 'TimedOutMediation', since: sec(clock.now()) })
  s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'closed')
})

test('a committee\'s seed phase: our seed revealed before anything is handed off; the case goes to the members once drawn', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock, { agreedAt: sec(T0), resultCid: 'bafy', submitted: true, delivered: true, holding: false }))
  d.setFacts({ state: 'Challenged', since: sec(T0) + 5, mediator: '0x' + '00'.repeat(20), seedPhase: { jobCreatorRevealed: true, providerRevealed: false, deadline: sec(T0) + 125 } })
  let s = d.step({ type: 'chain' })
  t.deepEqual(s.actions.map(a => [a.kind, a.deadline]), [['reveal-seed', (sec(T0) + 125) * 1000]])
  s = d.step({ type: 'reveal-seed-failed', reason: 'SeedRevealNotOpen' })
  t.deepEqual(s.actions.map(a => a.kind), ['reveal-seed'], 'tried again while the phase lasts')
  s = d.step({ type: 'seed-revealed' })
  t.deepEqual(s.actions, [])
  const committee = { members: ['0x' + 'c1'.repeat(20), '0x' + 'c2'.repeat(20), '0x' + 'c3'.repeat(20)], drawnAt: sec(T0) + 20, allCommittedAt: null, committed: [], revealed: [], commitWindow: 600, revealWindow: 300 }
  d.setFacts({ state: 'Challenged', since: sec(T0) + 5, mediator: '0x' + '00'.repeat(20), committee })
  s = d.step({ type: 'chain' })
  t.deepEqual(s.actions.map(a => a.kind), ['hand-off'])
  s = d.step({ type: 'handed-off' })
  t.is(s.wakeAt, (sec(T0) + 20 + 600 + 300) * 1000 + 1000, 'the vote counts from the draw')
})

test('a terminal record stays terminal whatever comes later', t => {
  const clock = new ManualClock(T0)
  const d = driver(clock, fresh(clock, { phase: 'closed', terminal: true, holding: false }))
  d.setFacts({ state: 'Agreed', since: sec(T0) })
  const s = d.step({ type: 'chain' })
  t.is(s.record.phase, 'closed')
  t.deepEqual(s.actions, [])
})
