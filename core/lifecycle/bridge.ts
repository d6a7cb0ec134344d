// The job bridge's view of one contract-triggered job: JobRequested on the JobManager; picked up (so the client
// can no longer cancel it and no other bridge takes it); run through the network as an ordinary deal; completeJob
// with the job offer, the deal, the CID, the exit code and the head of stdout once the Market stands by the
// result (submitted, settled, or upheld by a mediator); failJob (the client is refunded) when the request is
// refused, the job cannot run, its result was judged wrong or never came, or its deadline passed. A job the
// chain shows closed, or picked up by another bridge, is skipped, so restarts and several bridges never act twice
// on one job. The same step resumes stored jobs after a restart.
import type { Deal, JobOffer } from '../../protocols/eip712.ts'
import type { ActionBase, DealFacts, Step } from './facts.ts'

export type BridgePhase = 'requested' | 'running' | 'ran' | 'completed' | 'failed' | 'skipped'

/** JobManager job statuses (protocols/contract-job JobStatus). */
export type JobStatus = 'None' | 'Open' | 'PickedUp' | 'Delivered' | 'Disputed' | 'Completed' | 'Failed' | 'Expired' | 'Cancelled' | 'Overturned'

export interface BridgeJob {
  id: string
  jobId: string
  client: string
  module: string
  inputs: Record<string, string>
  payment: bigint
  /** chain seconds */
  deadline: number
  phase: BridgePhase
  terminal: boolean
  updatedAt: number
  running: boolean
  /** our pickUpJob was mined: facts read before it (still Open) are not a reason to pick up again */
  pickedUp?: boolean
  /** pickUpJob reverted WrongJobStatus: the job is someone else's or closed, or our own earlier pick-up was
   * mined unseen; the chain's fresh facts decide */
  pickUpRefused?: string
  dealId?: string
  deal?: Deal
  jobOffer?: JobOffer
  resultCid?: string
  exitCode?: number
  /** hex of the head of stdout, as the callback carries it */
  output?: string
  /** set when the job is to be failed on chain (a refused request, a failed run, a wrong result…) */
  failReason?: string
  reason?: string
}

export interface BridgeFacts {
  job: JobStatus
  /** picked up by this bridge */
  mine: boolean
  /** the deal that ran the job, once there is one */
  deal?: DealFacts
}

export type BridgeAction =
  | ActionBase<'pick-up'>
  | ActionBase<'run'>
  | ActionBase<'complete'>
  | (ActionBase<'fail'> & { reason: string })

export type BridgeEvent =
  | { type: 'resume' } | { type: 'chain' } | { type: 'tick' }
  | { type: 'picked-up' } | { type: 'pick-up-failed', reason: string }
  | { type: 'ran', dealId: string, deal: Deal, jobOffer: JobOffer, resultCid: string, exitCode: number, output: string } | { type: 'run-failed', reason: string }
  | { type: 'completed' } | { type: 'complete-failed', reason: string }
  | { type: 'failed' } | { type: 'fail-failed', reason: string }

export interface BridgeInput { now: number, facts: BridgeFacts, event?: BridgeEvent }

/** A job the bridge just learned of; `refused` when its request cannot be run as asked (bad inputs). */
export function requestedJob (j: Pick<BridgeJob, 'jobId' | 'client' | 'module' | 'inputs' | 'payment' | 'deadline'>, refused?: string): BridgeJob {
  return { ...j, id: `job-${j.jobId}`, phase: 'requested', terminal: false, updatedAt: 0, running: false, ...(refused !== undefined ? { failReason: refused } : {}) }
}

export function bridgeFailure (a: BridgeAction, reason: string): BridgeEvent {
  switch (a.kind) {
    case 'pick-up': return { type: 'pick-up-failed', reason }
    case 'run': return { type: 'run-failed', reason }
    case 'complete': return { type: 'complete-failed', reason }
    case 'fail': return { type: 'fail-failed', reason }
  }
}

const STANDING = ['ResultSubmitted', 'Settled', 'MediatedCorrect', 'TimedOutMediation']
const CLOSED_MEANWHILE = /WrongJobStatus|PickedUpByAnother/

export function stepBridge (rec: BridgeJob, input: BridgeInput): Step<BridgeJob, BridgeAction> {
  const r: BridgeJob = { ...rec }
  const { now, facts } = input
  const e = input.event
  const end = (phase: 'completed' | 'failed' | 'skipped', reason?: string): Step<BridgeJob, BridgeAction> => {
    if (!r.terminal) { r.phase = phase; r.terminal = true; if (reason !== undefined) r.reason = reason }
    return { record: r, actions: [] }
  }
  switch (e?.type) {
    case 'resume': r.running = false; break
    case 'picked-up': r.pickedUp = true; break
    case 'pick-up-failed':
      if (/JobExpired/.test(e.reason)) return end('skipped', `not picked up: ${e.reason}`)
      if (/WrongJobStatus/.test(e.reason)) r.pickUpRefused = e.reason
      break
    case 'chain':
      // fresh facts after a refused pick-up that still show the job open to all: try again
      if (r.pickUpRefused !== undefined && facts.job === 'Open' && !facts.mine && r.pickedUp !== true) delete r.pickUpRefused
      break
    case 'ran':
      r.running = false
      r.dealId = e.dealId; r.deal = e.deal; r.jobOffer = e.jobOffer; r.resultCid = e.resultCid; r.exitCode = e.exitCode; r.output = e.output
      break
    case 'run-failed': r.running = false; r.failReason ??= e.reason; break
    case 'completed': return end('completed')
    case 'complete-failed':
      if (CLOSED_MEANWHILE.test(e.reason)) return end('skipped', 'completed or failed meanwhile')
      r.failReason ??= /JobExpired/.test(e.reason) ? 'expired: the result came after the job deadline' : `completeJob failed: ${e.reason}`
      break
    case 'failed': return end('failed', r.failReason)
    case 'fail-failed':
      if (CLOSED_MEANWHILE.test(e.reason)) return end('skipped', 'completed or failed meanwhile')
      return end('skipped', `failJob failed: ${e.reason}`)
    default: break
  }
  if (r.terminal) return { record: r, actions: [] }
  // facts read before our own pick-up was mined still say Open: the record knows better
  const mine = facts.mine || (r.pickedUp === true && facts.job === 'Open')
  const status = facts.job === 'Open' && mine ? 'PickedUp' : facts.job
  if (status !== 'Open' && !(status === 'PickedUp' && mine)) return end('skipped', r.pickUpRefused !== undefined ? `not picked up: ${r.pickUpRefused} (job ${status} on chain)` : `job ${status} on chain`)
  const deadline = r.deadline * 1000
  // failJob is allowed after the deadline: the client learns why at once instead of finding its job expired later
  if (now > deadline && r.resultCid === undefined) r.failReason ??= 'expired: the deadline passed before the bridge could run it'
  if (r.failReason !== undefined) {
    r.phase = r.dealId === undefined ? 'running' : 'ran'
    // a reason fits the contract's bound (clipped by the shell), and failJob has no deadline of its own
    return { record: r, actions: [{ kind: 'fail', deadline: Math.max(deadline, now) + 60_000, reason: r.failReason }] }
  }
  const actions: BridgeAction[] = []
  if (!mine) {
    r.phase = 'requested'
    // refused: wait for the fresh facts the refusal asked for (the shell re-reads them) before trying again
    if (r.pickUpRefused === undefined) actions.push({ kind: 'pick-up', deadline })
    return { record: r, actions, wakeAt: deadline }
  }
  if (r.dealId === undefined) {
    r.phase = 'running'
    if (!r.running) { r.running = true; actions.push({ kind: 'run', deadline }) }
    return { record: r, actions, wakeAt: deadline }
  }
  r.phase = 'ran'
  const d = facts.deal?.state ?? 'None'
  if (STANDING.includes(d)) actions.push({ kind: 'complete', deadline })
  else if (d === 'MediatedWrong') r.failReason = 'the result was judged wrong by the mediator'
  else if (d === 'TimedOutResult') r.failReason = 'the provider submitted no result'
  if (r.failReason !== undefined) return stepBridge(r, { now, facts })
  return { record: r, actions, wakeAt: deadline + 1 }
}
