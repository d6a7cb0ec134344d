// The resource provider's view of one deal, from its countersignature to the deal's end, as data plus a step
// function. The provider signs only deals it keeps watching: a countersigned deal is recorded at once and followed
// until its expiry. Its own agree is sent at once (and the job started optimistically beside it); if that agree
// fails for good, the slot is released at once and the job creator told, but the deal is still watched: if anyone
// agrees it before it expires (the job creator may call agree itself), the provider runs it. After a restart the
// same step runs over the stored record (`resume`): a job that was running is re-run while the result deadline
// leaves time for it, a result not yet submitted is submitted. Nothing here reads a clock or does I/O.
//
// The result goes to the job creator before it goes on chain: a job creator that fetches and checks it answers with
// its acceptance signed off chain, and the provider submits the result with it (Market.submitAcceptedResult), which
// settles the deal in the same transaction — two transactions per job with agree. A job creator that does not
// answer within `acceptWaitMs` (or cannot be reached) costs nothing but that wait: the result is submitted alone and
// the deal settles as before (accept, or the judge window passing). One whose ack of the result says no acceptance will
// follow (`lilypad run --no-accept`) costs no wait at all.
import type { Deal, ResourceOffer } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { committeeCloseAt, isFinalState, type ActionBase, type DealFacts, type Step } from './facts.ts'

export type ProviderPhase =
  | 'countersigned' // both signatures, not agreed on chain (yet): agreeing, or watching until expiry
  | 'running' // agreed; the job runs (or waits for a slot to run in)
  | 'ran' // the result exists; delivering it, waiting a little for the job creator's acceptance, submitting it
  | 'submitted' // on chain; waiting for the judge window to settle
  | 'challenged' // under mediation
  | 'closed' // terminal: the deal reached a final state on chain (`outcome`)
  | 'failed' // terminal: the provider cannot finish it (`error`); the job creator will reclaim its payment
  | 'expired' // terminal: never agreed before its expiry

export interface ProviderDeal {
  id: string
  dealId: string
  deal: Deal
  job: Envelope<'JobOffer'>
  /** our resource offer the deal names: a committee dispute's seed reveal proves its secret against it */
  offer?: ResourceOffer
  jobCreatorSignature: string
  providerSignature: string
  /** the job creator's libp2p peer (results and notices go there) */
  jobCreatorPeer?: string
  slot: number
  phase: ProviderPhase
  terminal: boolean
  updatedAt: number
  /** ms, local clock */
  countersignedAt: number
  /** chain seconds of the agree block */
  agreedAt?: number
  /** our own agree failed for good (the deal is still watched until it expires) */
  agreeFailed?: string
  /** this process holds a capacity slot for the deal */
  holding: boolean
  /** a run of the job is under way in this process */
  running: boolean
  /** runs started, re-runs included */
  runs: number
  lastRunError?: string
  resultCid?: string
  exitCode?: number
  submitted: boolean
  /** chain seconds of ResultSubmitted */
  submittedAt?: number
  delivered: boolean
  /** the job creator could not be given the result (so no acceptance will come) */
  deliveryFailed?: string
  /** the job creator acked the result saying that no acceptance will follow (`lilypad run --no-accept`) */
  noAcceptance?: boolean
  /** ms: the result is submitted without the job creator's acceptance from then on */
  acceptBy?: number
  /** the job creator's signature over Accept(dealId, resultCid), checked by the shell: submitted with the result */
  acceptance?: string
  /** the result went on chain with the job creator's acceptance (the deal settles in that transaction) */
  submittedAccepted?: boolean
  notified: boolean
  handedOff: boolean
  /** a committee dispute's seed phase: our seed is revealed (or the reveal's keeper ended: drawn, or the phase closed) */
  seedRevealed?: boolean
  settleSent: boolean
  /** our drawAudit went out (the facts say what it drew) */
  auditDrawSent?: boolean
  /** our drawMediator went out (the facts say whom it drew) */
  mediatorDrawSent?: boolean
  mediator?: string
  /** chain seconds of the challenge */
  challengedAt?: number
  /** the final chain state, for closed deals */
  outcome?: string
  /** why a failed deal failed */
  error?: string
}

export interface ProviderPolicy {
  /** how long after countersigning the provider keeps trying to get its own agree mined (never past expiry) */
  agreeWindowMs: number
  /** time kept after a run for adding and submitting the result before the deadline */
  submitMarginSec: number
  /** no run is started with less than this left for the job itself */
  minRunSec: number
  /** how long settle and timeoutMediation are retried after they became possible */
  closeWindowMs: number
  /** how long a job creator gets to be told that our agree failed */
  notifyWindowMs: number
  /**
   * how long after the result is ready the provider waits for the job creator's acceptance before submitting the
   * result alone (never past the result deadline less `submitMarginSec`); 0: never wait
   */
  acceptWaitMs: number
}

export const defaultProviderPolicy: ProviderPolicy = { agreeWindowMs: 15_000, submitMarginSec: 5, minRunSec: 1, closeWindowMs: 3_600_000, notifyWindowMs: 10_000, acceptWaitMs: 10_000 }

export type ProviderAction =
  | ActionBase<'hold'> // take a capacity slot (after a restart, or a deal agreed after we released it)
  | ActionBase<'release'>
  | ActionBase<'agree'>
  | (ActionBase<'run'> & { timeoutSec: number })
  | ActionBase<'abort-run'>
  | (ActionBase<'notify'> & { reason: string }) // tell the job creator our agree failed
  | (ActionBase<'submit'> & { acceptance?: string }) // with the job creator's acceptance: submitAcceptedResult
  | ActionBase<'deliver'> // the signed result to the job creator
  | ActionBase<'settle'>
  /** a submission to a deal with audits: draw its audit from the next block on (a miss settles an accepted deal) */
  | ActionBase<'draw-audit'>
  | ActionBase<'draw-mediator'>
  | (ActionBase<'hand-off'> & { mediator: string }) // push the dispute case to the drawn mediator
  /** a committee dispute before its draw: reveal the seed secret our offer committed to (Market.revealSeed) */
  | ActionBase<'reveal-seed'>
  /** close a dispute nobody ruled on: timeoutMediation, or for a committee finalizeCommittee once its vote is over */
  | (ActionBase<'timeout-mediation'> & { committee: boolean })

export type ProviderEvent =
  | { type: 'resume' } // the process restarted: nothing is held or running any more
  | { type: 'chain' } // the facts changed
  | { type: 'tick' } // a wake-up
  | { type: 'held', slot: number } | { type: 'hold-failed', reason: string }
  | { type: 'released' }
  | { type: 'agreed', at: number } | { type: 'agree-failed', reason: string }
  | { type: 'run-done', cid: string, exitCode: number }
  | { type: 'run-failed', reason: string, retryable: boolean }
  | { type: 'run-aborted' }
  | { type: 'submitted', accepted?: boolean } | { type: 'submit-failed', reason: string }
  | { type: 'acceptance', cid: string, signature: string } // the job creator's, checked by the shell
  | { type: 'delivered', noAcceptance?: boolean } | { type: 'deliver-failed', reason: string }
  | { type: 'notified' } | { type: 'notify-failed', reason: string }
  | { type: 'settled' } | { type: 'settle-failed', reason: string }
  | { type: 'audit-drawn' } | { type: 'draw-audit-failed', reason: string }
  | { type: 'mediator-drawn' } | { type: 'draw-mediator-failed', reason: string }
  | { type: 'handed-off' } | { type: 'hand-off-failed', reason: string }
  | { type: 'seed-revealed' } | { type: 'reveal-seed-failed', reason: string }
  | { type: 'mediation-timed-out' } | { type: 'timeout-mediation-failed', reason: string }

export interface ProviderInput { now: number, facts: DealFacts, event?: ProviderEvent }

/** A new record for a deal just countersigned (the negotiation reserved `slot` for it). */
export function countersignedDeal (d: Pick<ProviderDeal, 'dealId' | 'deal' | 'job' | 'jobCreatorSignature' | 'providerSignature' | 'slot'> & { jobCreatorPeer?: string, offer?: ResourceOffer }, now: number): ProviderDeal {
  return {
    ...d, id: d.dealId, phase: 'countersigned', terminal: false, updatedAt: 0, countersignedAt: now,
    holding: true, running: false, runs: 0, submitted: false, delivered: false, notified: false, handedOff: false, settleSent: false
  }
}

/** The event an action's shell reports when the action failed for good or ran out of time. */
export function providerFailure (a: ProviderAction, reason: string): ProviderEvent {
  switch (a.kind) {
    case 'hold': return { type: 'hold-failed', reason }
    case 'release': return { type: 'released' }
    case 'agree': return { type: 'agree-failed', reason }
    case 'run': return { type: 'run-failed', reason, retryable: false }
    case 'abort-run': return { type: 'run-aborted' }
    case 'notify': return { type: 'notify-failed', reason }
    case 'submit': return { type: 'submit-failed', reason }
    case 'deliver': return { type: 'deliver-failed', reason }
    case 'settle': return { type: 'settle-failed', reason }
    case 'draw-audit': return { type: 'draw-audit-failed', reason }
    case 'draw-mediator': return { type: 'draw-mediator-failed', reason }
    case 'hand-off': return { type: 'hand-off-failed', reason }
    case 'reveal-seed': return { type: 'reveal-seed-failed', reason }
    case 'timeout-mediation': return { type: 'timeout-mediation-failed', reason }
  }
}

function apply (r: ProviderDeal, e: ProviderEvent | undefined): void {
  if (e === undefined) return
  switch (e.type) {
    case 'resume': r.running = false; r.holding = false; break
    case 'held': r.holding = true; r.slot = e.slot; break
    case 'hold-failed': if (!r.terminal) r.error = `no slot to run it in: ${e.reason}`; break
    case 'released': r.holding = false; break
    case 'agreed': r.agreedAt ??= e.at; break
    case 'agree-failed': if (r.agreedAt === undefined) r.agreeFailed = e.reason; break
    case 'run-done': r.running = false; r.resultCid = e.cid; r.exitCode = e.exitCode; break
    case 'run-failed':
      r.running = false
      r.lastRunError = e.reason
      if (!e.retryable && !r.terminal) r.error = `job failed: ${e.reason}`
      break
    case 'run-aborted': r.running = false; break
    case 'submitted': r.submitted = true; if (e.accepted === true) r.submittedAccepted = true; break
    case 'acceptance': if (!r.submitted && e.cid === r.resultCid) r.acceptance = e.signature; break
    case 'submit-failed': if (!r.submitted && !r.terminal) r.error = `submitResult failed: ${e.reason}`; break
    case 'delivered': r.delivered = true; if (e.noAcceptance === true) r.noAcceptance = true; break
    // (a second delivery started while the first one's ack was being stepped is refused as a duplicate: not a failure)
    case 'deliver-failed': if (!r.delivered) r.deliveryFailed = e.reason; r.delivered = true; break
    case 'notified': case 'notify-failed': r.notified = true; break
    case 'settled': r.settleSent = true; break
    case 'settle-failed': break // the chain's facts say who closed it
    case 'audit-drawn': r.auditDrawSent = true; break
    case 'mediator-drawn': r.mediatorDrawSent = true; break
    // drawn by someone else (MediatorAlreadyDrawn), or past its 256 blocks (MediatorDrawClosed): not sent again
    case 'draw-mediator-failed': r.mediatorDrawSent = true; break
    case 'draw-audit-failed': break // someone else drew it, or the facts will say
    case 'handed-off': case 'hand-off-failed': r.handedOff = true; break
    case 'seed-revealed': r.seedRevealed = true; break
    // tried again while the seed phase lasts (the driver backs off)
    case 'reveal-seed-failed': break
    case 'mediation-timed-out': case 'timeout-mediation-failed': break
    case 'chain': case 'tick': break
  }
}

function merge (r: ProviderDeal, f: DealFacts): void {
  if (f.state === 'None') return
  // agreed by anyone (us, or the job creator after our agree failed): the deal is alive and ours to run
  if (f.state === 'Agreed' && r.agreedAt === undefined) r.agreedAt = f.since
  if (r.agreeFailed !== undefined && r.agreedAt !== undefined) r.agreeFailed = undefined
  if (f.state === 'ResultSubmitted' || f.state === 'Challenged') r.submitted = true
  if (f.state === 'ResultSubmitted') r.submittedAt = f.since
  if (f.state === 'Challenged') {
    r.challengedAt = f.since
    if (f.mediator !== undefined) r.mediator = f.mediator
  }
}

function phaseOf (r: ProviderDeal, f: DealFacts, now: number): ProviderPhase {
  if (r.terminal) return r.phase
  const state = f.state === 'None' && r.agreedAt !== undefined ? 'Agreed' : f.state
  if (isFinalState(state)) return 'closed'
  if (state === 'Challenged') return 'challenged'
  if (state === 'ResultSubmitted') return 'submitted'
  if (state === 'Agreed') {
    if (r.submitted) return 'submitted'
    if (r.error !== undefined) return 'failed'
    return r.resultCid !== undefined ? 'ran' : 'running'
  }
  return now >= Number(r.deal.expiry) * 1000 ? 'expired' : 'countersigned'
}

export function stepProvider (rec: ProviderDeal, input: ProviderInput, policy: ProviderPolicy = defaultProviderPolicy): Step<ProviderDeal, ProviderAction> {
  const r: ProviderDeal = { ...rec }
  const { now, facts } = input
  apply(r, input.event)
  merge(r, facts)
  r.phase = phaseOf(r, facts, now)
  if (r.phase === 'closed') r.outcome ??= facts.state
  const actions: ProviderAction[] = []
  let wakeAt: number | undefined
  const deal = r.deal
  const resultDeadline = r.agreedAt !== undefined ? (r.agreedAt + deal.resultTimeout) * 1000 : undefined

  switch (r.phase) {
    case 'countersigned': {
      // our agree failed, or the job cannot run (then agreeing would only put our collateral at risk)
      const giveUp = r.agreeFailed ?? r.error
      if (giveUp === undefined) {
        const agreeBy = Math.min(Number(deal.expiry) * 1000, r.countersignedAt + policy.agreeWindowMs)
        if (!r.holding) actions.push({ kind: 'hold', deadline: agreeBy })
        actions.push({ kind: 'agree', deadline: agreeBy })
        // optimistic: the job starts while agree is mined (only our own compute is at risk)
        if (r.holding && !r.running && r.resultCid === undefined) {
          r.running = true
          r.runs++
          actions.push({ kind: 'run', deadline: Number(deal.expiry) * 1000 + deal.resultTimeout * 1000, timeoutSec: Math.min(r.job.value.timeout, deal.resultTimeout) })
        }
        wakeAt = agreeBy
      } else {
        if (r.running) actions.push({ kind: 'abort-run', deadline: now + policy.notifyWindowMs })
        if (r.holding) actions.push({ kind: 'release', deadline: now + policy.notifyWindowMs })
        if (!r.notified && r.jobCreatorPeer !== undefined) actions.push({ kind: 'notify', deadline: now + policy.notifyWindowMs, reason: giveUp })
        // still watched: anyone may agree it until it expires
        wakeAt = Number(deal.expiry) * 1000
      }
      break
    }
    case 'running': {
      const end = (resultDeadline as number) - policy.submitMarginSec * 1000
      if (!r.running) {
        const left = Math.floor((end - now) / 1000)
        if (left < policy.minRunSec) {
          r.phase = 'failed'
          r.error = r.runs > 0 ? `no time left to re-run the job before the result deadline (${r.lastRunError ?? 'interrupted'})` : 'no time left to run the job before the result deadline'
        } else if (!r.holding) {
          actions.push({ kind: 'hold', deadline: end })
        } else {
          r.running = true
          r.runs++
          actions.push({ kind: 'run', deadline: end, timeoutSec: Math.min(r.job.value.timeout, deal.resultTimeout, left) })
        }
      } else if (now >= (resultDeadline as number)) {
        // a run still in flight at the result deadline (its report lost or late): nothing it gives can be submitted
        r.phase = 'failed'
        r.error = 'the job was still running at the result deadline'
      }
      // past the last moment a result could be submitted, the next moment that changes anything is the deadline
      // itself (a wake-up in the past would step the record again at once, for ever)
      wakeAt = now < end ? end : resultDeadline
      break
    }
    case 'ran': {
      if (r.holding) actions.push({ kind: 'release', deadline: resultDeadline as number })
      if (now >= (resultDeadline as number)) {
        r.phase = 'failed'
        r.error = 'the result deadline passed before the result was submitted'
        break
      }
      if (!r.delivered && r.jobCreatorPeer !== undefined) actions.push({ kind: 'deliver', deadline: resultDeadline as number })
      // the job creator, given the result, may answer with its acceptance: worth a short wait, as it saves a transaction
      r.acceptBy ??= Math.min(now + policy.acceptWaitMs, (resultDeadline as number) - policy.submitMarginSec * 1000)
      const nobodyToAsk = r.jobCreatorPeer === undefined || r.deliveryFailed !== undefined || r.noAcceptance === true
      if (r.acceptance !== undefined) {
        actions.push({ kind: 'submit', deadline: resultDeadline as number, acceptance: r.acceptance })
      } else if (nobodyToAsk || now >= r.acceptBy) {
        actions.push({ kind: 'submit', deadline: resultDeadline as number })
      } else {
        wakeAt = r.acceptBy
        break
      }
      wakeAt = resultDeadline
      break
    }
    case 'submitted': {
      if (r.holding) actions.push({ kind: 'release', deadline: now + policy.notifyWindowMs })
      const judgeEnd = ((r.submittedAt ?? Math.floor(now / 1000)) + deal.judgeWindow) * 1000
      if (!r.delivered && r.jobCreatorPeer !== undefined && r.resultCid !== undefined) actions.push({ kind: 'deliver', deadline: judgeEnd })
      // a deal with audits: its draw, from our submission block's hash, is ours to make at once (a miss must be on
      // record within 256 blocks, and settles the deal if our submission carried the job creator's acceptance)
      if (facts.state === 'ResultSubmitted' && facts.auditDue === true && r.auditDrawSent !== true) actions.push({ kind: 'draw-audit', deadline: judgeEnd + policy.closeWindowMs })
      // the Market lets anyone settle once the judge window has passed (strictly after its last second)
      if (r.submittedAt !== undefined && now >= judgeEnd + 1000 && !r.settleSent) actions.push({ kind: 'settle', deadline: judgeEnd + policy.closeWindowMs })
      else wakeAt = judgeEnd + 1000
      break
    }
    case 'challenged': {
      if (r.holding) actions.push({ kind: 'release', deadline: now + policy.notifyWindowMs })
      const mediateEnd = ((r.challengedAt ?? Math.floor(now / 1000)) + deal.mediateTimeout) * 1000
      // a committee's dispute draws its members only once both parties revealed their seeds: ours first (withheld,
      // we lose our collateral), and the case goes to the members once they are drawn (docs/mediation.md,
      // "Unbiasable draws")
      const seed = facts.seedPhase
      if (seed !== undefined && !seed.providerRevealed && r.seedRevealed !== true && now <= seed.deadline * 1000) actions.push({ kind: 'reveal-seed', deadline: seed.deadline * 1000 })
      // a single mediator is drawn from the dispute block's hash by whoever sends drawMediator first: we do at once
      // (our audit's job creator may be offline), retried while the dispute's block is the latest
      if (facts.mediatorDrawDue === true && r.mediatorDrawSent !== true) actions.push({ kind: 'draw-mediator', deadline: mediateEnd })
      if (!r.handedOff && r.mediator !== undefined && seed === undefined) actions.push({ kind: 'hand-off', deadline: committeeCloseAt(facts) ?? mediateEnd, mediator: r.mediator })
      // a mediator that never rules, or a committee no member finalized: the result stands and we are paid
      // (anyone may close it); a seed phase the job creator withheld its reveal in is closed the same way
      const committeeEnd = committeeCloseAt(facts)
      const closeAt = committeeEnd ?? mediateEnd
      if (r.challengedAt !== undefined && now >= closeAt + 1000) actions.push({ kind: 'timeout-mediation', deadline: closeAt + policy.closeWindowMs, committee: committeeEnd !== undefined })
      else wakeAt = closeAt + 1000
      break
    }
    case 'closed': case 'failed': case 'expired':
      break
  }
  if (r.phase === 'closed' || r.phase === 'failed' || r.phase === 'expired') {
    r.terminal = true
    if (r.running) actions.push({ kind: 'abort-run', deadline: now + policy.notifyWindowMs })
    if (r.holding) actions.push({ kind: 'release', deadline: now + policy.notifyWindowMs })
  }
  return wakeAt !== undefined ? { record: r, actions, wakeAt } : { record: r, actions }
}

/** The deal's job is still to run (or running): a container left for it is for its run to adopt. */
export function stillToRun (r: Pick<ProviderDeal, 'phase'>): boolean {
  return r.phase === 'countersigned' || r.phase === 'running'
}

/**
 * The last chain second at which the provider can still submit the deal's result (the Market's ResultWindowClosed
 * after it): its agree block's time plus the result timeout, or, not known to be agreed, the last second it can be
 * agreed (its expiry) plus the result timeout.
 */
export function resultWindowEnd (r: Pick<ProviderDeal, 'deal' | 'agreedAt'>): number {
  return (r.agreedAt ?? Number(r.deal.expiry)) + r.deal.resultTimeout
}

/** Phases in which the deal occupies a capacity slot. */
export function holdsSlot (r: ProviderDeal): boolean {
  return (r.phase === 'countersigned' && r.agreeFailed === undefined) || r.phase === 'running'
}
