// The job bridge's view of one contract-triggered job: JobRequested on the JobManager, run through the network
// as an ordinary deal, then completeJob with the deal once the Market stands by its result (submitted, settled,
// or upheld by a mediator); failJob (the client is refunded) when the job cannot run or its result was judged
// wrong or never came. A job the chain already shows closed, or past its deadline, is skipped, so restarts and
// several bridges never act twice on one job. The same step resumes stored jobs after a restart.
import type { Deal } from '../../protocols/eip712.ts'
import type { ActionBase, DealFacts, Step } from './facts.ts'

export type BridgePhase = 'requested' | 'running' | 'ran' | 'completed' | 'failed' | 'skipped'

/** JobManager job states (JOB_OPEN = 1 …). */
export type JobState = 'None' | 'Open' | 'Completed' | 'Failed' | 'Refunded'

export function jobStateName (n: number | bigint): JobState {
  return (['None', 'Open', 'Completed', 'Failed', 'Refunded'] as const)[Number(n)] ?? 'None'
}

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
  dealId?: string
  deal?: Deal
  resultCid?: string
  /** set when the job is to be failed on chain */
  failReason?: string
  completeSent: boolean
  failSent: boolean
  reason?: string
}

export interface BridgeFacts {
  job: JobState
  /** the deal that ran the job, once there is one */
  deal?: DealFacts
}

export type BridgeAction =
  | ActionBase<'run'>
  | ActionBase<'complete'>
  | (ActionBase<'fail'> & { reason: string })

export type BridgeEvent =
  | { type: 'resume' } | { type: 'chain' } | { type: 'tick' }
  | { type: 'ran', dealId: string, deal: Deal, resultCid: string } | { type: 'run-failed', reason: string }
  | { type: 'completed' } | { type: 'complete-failed', reason: string }
  | { type: 'failed' } | { type: 'fail-failed', reason: string }

export interface BridgeInput { now: number, facts: BridgeFacts, event?: BridgeEvent }

export function requestedJob (j: Pick<BridgeJob, 'jobId' | 'client' | 'module' | 'inputs' | 'payment' | 'deadline'>): BridgeJob {
  return { ...j, id: `job-${j.jobId}`, phase: 'requested', terminal: false, updatedAt: 0, running: false, completeSent: false, failSent: false }
}

export function bridgeFailure (a: BridgeAction, reason: string): BridgeEvent {
  switch (a.kind) {
    case 'run': return { type: 'run-failed', reason }
    case 'complete': return { type: 'complete-failed', reason }
    case 'fail': return { type: 'fail-failed', reason }
  }
}

const STANDING = ['ResultSubmitted', 'Settled', 'MediatedCorrect', 'TimedOutMediation']

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
    case 'ran': r.running = false; r.dealId = e.dealId; r.deal = e.deal; r.resultCid = e.resultCid; break
    case 'run-failed': r.running = false; r.failReason ??= e.reason; break
    case 'completed': r.completeSent = true; return end('completed')
    case 'complete-failed':
      if (/JobNotOpen/.test(e.reason)) return end('skipped', 'completed or failed meanwhile')
      if (/JobExpired/.test(e.reason)) return end('skipped', 'the result came after the job deadline (the client can refundExpired)')
      r.failReason ??= `completeJob failed: ${e.reason}`
      break
    case 'failed': r.failSent = true; return end('failed', r.failReason)
    case 'fail-failed':
      if (/JobNotOpen/.test(e.reason)) return end('skipped', 'completed or failed meanwhile')
      return end('skipped', `failJob failed: ${e.reason}`)
    default: break
  }
  if (r.terminal) return { record: r, actions: [] }
  if (facts.job !== 'Open') return end('skipped', `job state ${facts.job} on chain`)
  const deadline = r.deadline * 1000
  const actions: BridgeAction[] = []
  if (r.failReason !== undefined) {
    r.phase = r.dealId === undefined ? 'running' : 'ran'
    actions.push({ kind: 'fail', deadline: Math.max(deadline, now + 60_000), reason: r.failReason.length > 200 ? `${r.failReason.slice(0, 197)}...` : r.failReason })
    return { record: r, actions }
  }
  if (now > deadline) return end('skipped', 'past its deadline (the client can refundExpired)')
  if (r.dealId === undefined) {
    r.phase = 'running'
    if (!r.running) { r.running = true; actions.push({ kind: 'run', deadline }) }
    return { record: r, actions, wakeAt: deadline }
  }
  r.phase = 'ran'
  const d = facts.deal?.state ?? 'None'
  if (STANDING.includes(d)) {
    actions.push({ kind: 'complete', deadline })
  } else if (d === 'MediatedWrong') {
    r.failReason = 'the result was judged wrong by the mediator'
  } else if (d === 'TimedOutResult') {
    r.failReason = 'the provider submitted no result'
  }
  if (r.failReason !== undefined) return stepBridge(r, { now, facts })
  return { record: r, actions, wakeAt: deadline }
}
