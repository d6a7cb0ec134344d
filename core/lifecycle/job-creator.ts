// The job creator's view of one deal, from the provider's countersignature to the deal's end, as data plus a
// step function. The provider agrees on chain; if it does not within the job creator's patience, or tells us its
// agree failed, the deal is abandoned — the job moves on to another provider — but still watched until it
// expires, because anyone holding both signatures may still agree it (then it is followed like any other deal:
// refunded if no result comes, its result verified but left to settle). A result (over the stream or from the
// chain) is fetched and verified, then accepted early: a result the provider delivered before putting it on chain is
// accepted off chain, by the job creator's signature over Accept(dealId, resultCid) sent to the provider, which
// submits it with the result and settles the deal in that transaction (Market.submitAcceptedResult); a result
// already on chain (the provider did not wait, or our acceptance came late) is accepted with a transaction. A result that cannot be fetched before the judge window
// closes, or that fails verification (not a directory, a CID that does not match, bigger than the job's bound),
// is challenged: otherwise a provider could submit any CID and be paid when the window passes. An audited or
// challenged deal is handed to the drawn mediator, who re-runs the job, and closed when the mediation window
// passes without a verdict; a provider that never submits is refunded with timeoutResult once the chain's clock
// has passed the deadline. `resume` after a restart is the same step over the stored record.
import type { Deal } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { committeeCloseAt, isFinalState, type ActionBase, type DealFacts, type Step } from './facts.ts'
import type { ProviderFailure } from '../policy/ban.ts'

export type JobCreatorPhase =
  | 'countersigned' // waiting for the provider's agree
  | 'abandoned' // the job moved on; watched until expiry in case someone agrees it after all
  | 'agreed' // waiting for the result
  | 'result' // a result CID is known; fetching it
  | 'unfetched' // the result could not be fetched or failed verification: challenged while the judge window allows
  | 'downloaded' // fetched and verified; accepting (off chain while the result is not on chain yet)
  | 'challenged' // under mediation
  | 'settled' // terminal: paid (accepted early, or settled after the judge window)
  | 'refunded' // terminal: timed out without a result, payment and collateral back
  | 'mediated' // terminal: a verdict, or the mediation timed out (`outcome`)
  | 'expired' // terminal: never agreed

export interface JobCreatorDeal {
  id: string
  dealId: string
  deal: Deal
  job: Envelope<'JobOffer'>
  providerPeer: string
  phase: JobCreatorPhase
  terminal: boolean
  updatedAt: number
  /** ms, local clock */
  countersignedAt: number
  /** ms: the provider's agree must be on chain by then, or the job moves on */
  agreeBy: number
  /** why the job moved on from this deal */
  abandoned?: string
  /** fetch and verify the result (a late deal nobody waits for too, so that a bad result is challenged); false
   * only in records written before late deals were verified */
  fetch: boolean
  /** accept early once fetched (else the judge window passes and the provider settles) */
  accept: boolean
  /**
   * The job creator's key is not the node's (a browser wallet): it signs the acceptance when asked and sends the
   * challenge itself; the node sends no transaction for it, so a result already on chain is left to settle after
   * the judge window instead of being accepted with a transaction.
   */
  wallet?: boolean
  /** the job creator's signature of the deal (kept for a wallet's deal: the node cannot sign it again for a mediator) */
  jobCreatorSignature?: string
  agreedAt?: number
  resultCid?: string
  /** where the provider said it serves the result */
  resultAddrs?: string[]
  submittedAt?: number
  fetching: boolean
  /** ms: give up fetching then */
  fetchBy?: number
  fetchFailed?: string
  /** a challenge of an unfetched result is being sent */
  challenging?: boolean
  /** our challenge was mined (the chain may not say Challenged yet) */
  challengeSent?: boolean
  /** why our challenge could not be sent (the judge window closed): the job is told the result failed */
  challengeFailed?: string
  /** our challenge was upheld and the result fetched once more (from the mediator, who made it too) */
  refetched?: boolean
  path?: string
  exitCode?: number
  accepted: boolean
  /** our acceptance of `resultCid`, signed off chain, reached the provider */
  acceptanceSent?: boolean
  /** why our acceptance could not be given to the provider (it then submits alone; we accept on chain) */
  acceptanceFailed?: string
  refundSent: boolean
  mediator?: string
  challengedAt?: number
  handedOff: boolean
  /** a committee dispute's seed phase: our seed is revealed (or the reveal's keeper ended: drawn, or the phase closed) */
  seedRevealed?: boolean
  /** our drawAudit went out (the facts say what it drew) */
  auditDrawSent?: boolean
  /** our drawMediator went out (the facts say whom it drew) */
  mediatorDrawSent?: boolean
  outcome?: string
}

export interface JobCreatorPolicy {
  /** how long the provider gets to have its agree mined */
  agreeTimeoutMs: number
  /** how long a result may take to fetch */
  fetchTimeoutMs: number
  /** chain clocks lag ours: timeoutResult is sent this long after the deadline */
  chainMarginMs: number
  /** how long refund, accept and timeoutMediation are retried once possible */
  closeWindowMs: number
  /** a fetch ends this long before the judge window closes, so a challenge can still be mined in it */
  challengeMarginMs: number
}

export const defaultJobCreatorPolicy: JobCreatorPolicy = { agreeTimeoutMs: 15_000, fetchTimeoutMs: 60_000, chainMarginMs: 1_000, closeWindowMs: 3_600_000, challengeMarginMs: 5_000 }

export type JobCreatorAction =
  | ActionBase<'fetch'>
  | ActionBase<'accept'>
  | (ActionBase<'send-acceptance'> & { cid: string }) // Accept(dealId, cid) signed, to the provider
  | ActionBase<'refund'> // timeoutResult
  | (ActionBase<'hand-off'> & { mediator: string })
  /** a committee dispute before its draw: reveal the seed secret our offer committed to (Market.revealSeed) */
  | ActionBase<'reveal-seed'>
  /** close a dispute nobody ruled on: timeoutMediation, or for a committee finalizeCommittee once its vote is over */
  | (ActionBase<'timeout-mediation'> & { committee: boolean })
  | ActionBase<'challenge'> // a result we could not fetch or verify
  /** the judge window passed with the audit still undrawn (the provider did not draw it): draw it, so it is judged */
  | ActionBase<'draw-audit'>
  | ActionBase<'draw-mediator'>

export type JobCreatorEvent =
  | { type: 'resume' }
  | { type: 'chain' }
  | { type: 'tick' }
  | { type: 'result', cid: string, addrs: string[] } // a signed result from the deal's provider
  | { type: 'agree-notice', reason: string } // the deal's provider says its agree failed
  | { type: 'abandon', reason: string }
  | { type: 'fetched', path: string, exitCode: number } | { type: 'fetch-failed', reason: string }
  | { type: 'accepted' } | { type: 'accept-failed', reason: string }
  | { type: 'acceptance-sent' } | { type: 'acceptance-failed', reason: string }
  | { type: 'refunded' } | { type: 'refund-failed', reason: string }
  | { type: 'handed-off' } | { type: 'hand-off-failed', reason: string }
  | { type: 'seed-revealed' } | { type: 'reveal-seed-failed', reason: string }
  | { type: 'mediation-timed-out' } | { type: 'timeout-mediation-failed', reason: string }
  | { type: 'challenge-sent' } | { type: 'challenge-failed', reason: string }
  | { type: 'audit-drawn' } | { type: 'draw-audit-failed', reason: string }
  | { type: 'mediator-drawn' } | { type: 'draw-mediator-failed', reason: string }

export interface JobCreatorInput { now: number, facts: DealFacts, event?: JobCreatorEvent }

export function jobCreatorDeal (d: Pick<JobCreatorDeal, 'dealId' | 'deal' | 'job' | 'providerPeer' | 'wallet' | 'jobCreatorSignature'> & { accept?: boolean }, now: number, policy: JobCreatorPolicy = defaultJobCreatorPolicy): JobCreatorDeal {
  return {
    dealId: d.dealId, deal: d.deal, job: d.job, providerPeer: d.providerPeer, id: d.dealId, phase: 'countersigned', terminal: false, updatedAt: 0,
    countersignedAt: now, agreeBy: now + policy.agreeTimeoutMs, fetch: true, accept: d.accept ?? true, fetching: false, accepted: false, refundSent: false, handedOff: false,
    ...(d.wallet === true ? { wallet: true } : {}), ...(d.jobCreatorSignature !== undefined ? { jobCreatorSignature: d.jobCreatorSignature } : {})
  }
}

export function jobCreatorFailure (a: JobCreatorAction, reason: string): JobCreatorEvent {
  switch (a.kind) {
    case 'fetch': return { type: 'fetch-failed', reason }
    case 'accept': return { type: 'accept-failed', reason }
    case 'send-acceptance': return { type: 'acceptance-failed', reason }
    case 'refund': return { type: 'refund-failed', reason }
    case 'hand-off': return { type: 'hand-off-failed', reason }
    case 'reveal-seed': return { type: 'reveal-seed-failed', reason }
    case 'timeout-mediation': return { type: 'timeout-mediation-failed', reason }
    case 'challenge': return { type: 'challenge-failed', reason }
    case 'draw-audit': return { type: 'draw-audit-failed', reason }
    case 'draw-mediator': return { type: 'draw-mediator-failed', reason }
  }
}

function apply (r: JobCreatorDeal, e: JobCreatorEvent | undefined): void {
  if (e === undefined) return
  switch (e.type) {
    case 'resume': r.fetching = false; r.challenging = false; break
    case 'result': if (r.resultCid === undefined) { r.resultCid = e.cid; r.resultAddrs = e.addrs } break
    case 'agree-notice': if (r.agreedAt === undefined) r.abandoned ??= `the provider could not agree: ${e.reason}`; break
    case 'abandon': r.abandoned ??= e.reason; if (r.path === undefined) r.accept = false; break
    case 'fetched': r.fetching = false; r.path = e.path; r.exitCode = e.exitCode; break
    case 'fetch-failed': r.fetching = false; r.fetchFailed = e.reason; break
    case 'accepted': r.accepted = true; break
    case 'acceptance-sent': r.acceptanceSent = true; break
    case 'acceptance-failed': r.acceptanceFailed = e.reason; break
    case 'refunded': r.refundSent = true; break
    case 'handed-off': case 'hand-off-failed': r.handedOff = true; break
    case 'seed-revealed': r.seedRevealed = true; break
    // tried again while the seed phase lasts (the driver backs off)
    case 'reveal-seed-failed': break
    case 'challenge-sent': r.challenging = false; r.challengeSent = true; break
    case 'challenge-failed': r.challenging = false; r.challengeFailed = e.reason; break
    case 'audit-drawn': r.auditDrawSent = true; break
    case 'mediator-drawn': r.mediatorDrawSent = true; break
    // drawn by someone else (MediatorAlreadyDrawn), or past its 256 blocks (MediatorDrawClosed): not sent again
    case 'draw-mediator-failed': r.mediatorDrawSent = true; break
    case 'draw-audit-failed': break // drawn by someone else, or the facts will say
    case 'accept-failed': case 'refund-failed': case 'mediation-timed-out': case 'timeout-mediation-failed': case 'chain': case 'tick': break
  }
}

function merge (r: JobCreatorDeal, f: DealFacts): void {
  if (f.state === 'None') return
  if (r.agreedAt === undefined) {
    r.agreedAt = f.state === 'Agreed' ? f.since : r.agreedAt
    // agreed after we moved on: nobody waits for its result, but it is still fetched and verified (a bad one is
    // challenged: else a provider could agree late on purpose, submit the CID of nothing and be paid); not accepted
    if (r.abandoned !== undefined && r.path === undefined) r.accept = false
  }
  if (f.resultCid !== undefined && r.resultCid !== f.resultCid) {
    // the chain is the authority: a CID delivered over the stream that differs is replaced
    if (r.resultCid !== undefined && r.path !== undefined) { r.path = undefined; r.exitCode = undefined }
    r.resultCid = f.resultCid
  }
  if (f.state === 'ResultSubmitted') r.submittedAt = f.since
  if (f.state === 'Challenged') {
    r.challengedAt = f.since
    if (f.mediator !== undefined) r.mediator = f.mediator
  }
}

function phaseOf (r: JobCreatorDeal, f: DealFacts, now: number): JobCreatorPhase {
  if (r.terminal) return r.phase
  const s = f.state
  if (s === 'Settled') return 'settled'
  if (s === 'TimedOutResult') return 'refunded'
  if (isFinalState(s)) return 'mediated'
  if (s === 'Challenged') return 'challenged'
  if (s === 'ResultSubmitted' || (s === 'Agreed' && r.resultCid !== undefined)) {
    if (r.path !== undefined) return 'downloaded'
    return r.fetchFailed !== undefined || !r.fetch ? 'unfetched' : 'result'
  }
  if (s === 'Agreed') return 'agreed'
  if (now >= Number(r.deal.expiry) * 1000) return 'expired'
  if (r.abandoned !== undefined) return 'abandoned'
  if (now >= r.agreeBy) { r.abandoned = 'agree was not mined in time'; return 'abandoned' }
  return 'countersigned'
}

export function stepJobCreator (rec: JobCreatorDeal, input: JobCreatorInput, policy: JobCreatorPolicy = defaultJobCreatorPolicy): Step<JobCreatorDeal, JobCreatorAction> {
  const r: JobCreatorDeal = { ...rec }
  const { now, facts } = input
  apply(r, input.event)
  merge(r, facts)
  r.phase = phaseOf(r, facts, now)
  const actions: JobCreatorAction[] = []
  const wakes: number[] = []
  const deal = r.deal

  // a provider that delivered over the stream but never submitted on chain is refunded like one that did nothing
  if (facts.state === 'Agreed' && r.agreedAt !== undefined) {
    const refundAt = (r.agreedAt + deal.resultTimeout) * 1000 + policy.chainMarginMs
    if (now >= refundAt) {
      if (!r.refundSent) actions.push({ kind: 'refund', deadline: refundAt + policy.closeWindowMs })
    } else {
      wakes.push(refundAt)
    }
  }
  // a deal with audits whose draw nobody made by the end of the judge window (a provider whose draw hit has no reason
  // to make it): we draw it, so that the audit judges the result (anyone may: Market.drawAudit). Not for a wallet's
  // deal: the node sends no transaction for it.
  if (facts.state === 'ResultSubmitted' && facts.auditDue === true && r.wallet !== true && r.submittedAt !== undefined) {
    const drawAt = (r.submittedAt + deal.judgeWindow) * 1000 + policy.chainMarginMs
    if (now < drawAt) wakes.push(drawAt)
    else if (r.auditDrawSent !== true) actions.push({ kind: 'draw-audit', deadline: drawAt + policy.closeWindowMs })
  }
  switch (r.phase) {
    case 'countersigned': wakes.push(r.agreeBy); break
    case 'abandoned': wakes.push(Number(deal.expiry) * 1000); break
    case 'result': {
      // the fetch must end while a challenge can still be mined in the judge window
      const challengeBy = facts.state === 'ResultSubmitted' ? judgeEnd(r, deal, now) - policy.challengeMarginMs : Infinity
      r.fetchBy = Math.min(r.fetchBy ?? now + policy.fetchTimeoutMs, challengeBy)
      if (now >= r.fetchBy) {
        // a fetch still under way goes on; if it ends first, the result is accepted (whichever of accept and
        // challenge is mined first decides, and either is right)
        r.fetchFailed ??= 'the result could not be fetched in time'
        r.phase = 'unfetched'
        challengeUnfetched(r, facts, now, deal, actions)
        break
      }
      if (!r.fetching) { r.fetching = true; actions.push({ kind: 'fetch', deadline: r.fetchBy }) }
      wakes.push(r.fetchBy)
      break
    }
    case 'downloaded': {
      // a wallet accepts off chain only: once its acceptance cannot settle the deal (refused, unanswered, or the
      // result went on chain alone) the result is left to settle after the judge window
      if (r.wallet === true && r.accept && (r.acceptanceFailed !== undefined || facts.state === 'ResultSubmitted')) r.accept = false
      // the provider gave us the result before the chain: our signed acceptance lets it settle with its submission
      if (facts.state === 'Agreed' && r.accept && r.acceptanceSent !== true && r.acceptanceFailed === undefined && r.resultCid !== undefined && r.agreedAt !== undefined) {
        actions.push({ kind: 'send-acceptance', deadline: (r.agreedAt + deal.resultTimeout) * 1000, cid: r.resultCid })
      }
      // (a deal with audits keeps our acceptance sent off chain until its draw, which the provider makes: no accept)
      if (facts.state === 'ResultSubmitted' && r.accept && !r.accepted && !(r.acceptanceSent === true && deal.auditPpm !== 0)) {
        actions.push({ kind: 'accept', deadline: ((r.submittedAt ?? Math.floor(now / 1000)) + deal.judgeWindow) * 1000 })
      }
      break
    }
    case 'challenged': {
      // an audited submission is challenged in the same transaction: the result is still ours to fetch
      if (r.fetch && r.path === undefined && r.fetchFailed === undefined && r.resultCid !== undefined) {
        r.fetchBy ??= now + policy.fetchTimeoutMs
        if (!r.fetching && now < r.fetchBy) { r.fetching = true; actions.push({ kind: 'fetch', deadline: r.fetchBy }) }
      }
      const mediateEnd = ((r.challengedAt ?? Math.floor(now / 1000)) + deal.mediateTimeout) * 1000
      // a committee's dispute draws its members only once both parties revealed their seeds: ours first, and the
      // case goes to the members once they are drawn (docs/mediation.md, "Unbiasable draws")
      const seed = facts.seedPhase
      if (seed !== undefined && !seed.jobCreatorRevealed && r.seedRevealed !== true && now <= seed.deadline * 1000) actions.push({ kind: 'reveal-seed', deadline: seed.deadline * 1000 })
      // a single mediator is drawn from the dispute block's hash by whoever sends drawMediator first (the provider's
      // node does too); not for a wallet's deal, for which the node sends no transaction
      if (facts.mediatorDrawDue === true && r.mediatorDrawSent !== true && r.wallet !== true) actions.push({ kind: 'draw-mediator', deadline: mediateEnd })
      if (!r.handedOff && r.mediator !== undefined && seed === undefined) actions.push({ kind: 'hand-off', deadline: committeeCloseAt(facts) ?? mediateEnd, mediator: r.mediator })
      // nobody ruled: a lone mediator's window passed, or a committee's seed phase or vote is over and nobody closed it
      // (a seed phase we revealed in and the provider did not: finalizeCommittee rules the result wrong)
      const committeeEnd = committeeCloseAt(facts)
      const closeAt = committeeEnd ?? mediateEnd
      if (r.challengedAt !== undefined && now >= closeAt + policy.chainMarginMs) actions.push({ kind: 'timeout-mediation', deadline: closeAt + policy.closeWindowMs, committee: committeeEnd !== undefined })
      else wakes.push(closeAt + policy.chainMarginMs)
      break
    }
    case 'settled': case 'refunded': case 'mediated': case 'expired':
      // our challenge of a result we could not fetch was upheld: the mediator made the same result and holds it,
      // so it is fetched once more (bitswap asks every connected peer; the hand-off connected us to the mediator)
      if (r.phase === 'mediated' && facts.state === 'MediatedCorrect' && r.fetch && r.path === undefined && r.fetchFailed !== undefined && r.resultCid !== undefined && r.refetched !== true) {
        r.refetched = true
        r.fetching = true
        actions.push({ kind: 'fetch', deadline: now + policy.fetchTimeoutMs })
      }
      if (r.fetching && r.path === undefined && r.refetched === true) { r.outcome ??= facts.state; break }
      r.terminal = true
      r.outcome ??= facts.state === 'None' ? 'expired' : facts.state
      break
    case 'unfetched':
      challengeUnfetched(r, facts, now, deal, actions)
      break
    case 'agreed':
      break
  }
  const wakeAt = wakes.length > 0 ? Math.min(...wakes) : undefined
  return wakeAt !== undefined ? { record: r, actions, wakeAt } : { record: r, actions }
}

/** ms: when the judge window of a submitted result closes (by our clock; the chain's may lag). */
function judgeEnd (r: JobCreatorDeal, deal: Deal, now: number): number {
  return ((r.submittedAt ?? Math.floor(now / 1000)) + deal.judgeWindow) * 1000
}

/**
 * A result we could not fetch or verify is challenged while the judge window is open: the
 * mediator re-runs the job; a provider whose CID is not what the job gives is slashed and we are refunded. (A
 * provider that did submit the right result is paid and we lose the mediation fee; the mediator has the result.)
 */
function challengeUnfetched (r: JobCreatorDeal, facts: DealFacts, now: number, deal: Deal, actions: JobCreatorAction[]): void {
  if (!r.fetch || r.fetchFailed === undefined || facts.state !== 'ResultSubmitted') return
  if (r.challengeSent === true || r.challengeFailed !== undefined) return
  const end = judgeEnd(r, deal, now)
  if (now >= end) { r.challengeFailed = 'the judge window closed before the challenge'; r.challenging = false; return }
  if (r.challenging !== true) { r.challenging = true; actions.push({ kind: 'challenge', deadline: end }) }
}

/** What a provider's failure on a deal the job moved on from counts as in the ban list. */
export function providerFailureOf (r: JobCreatorDeal): ProviderFailure {
  if (r.phase === 'refunded') return 'no-result'
  if (r.phase === 'mediated' && r.outcome === 'MediatedWrong') return 'wrong-result'
  if (r.abandoned?.startsWith('the provider could not agree') === true) return 'agree-reverted'
  return 'no-agree'
}

/** What a job waiting on this deal should do now. */
export type JobView =
  | { status: 'waiting' }
  /** the deal will not give the job its result: try another provider */
  | { status: 'moved-on', reason: string, refunded: boolean }
  /** the result is on disk (and accepted, or left to settle); or the deal was mediated */
  | { status: 'done' }
  /** a result exists but could not be fetched */
  | { status: 'failed', reason: string }

export function jobView (r: JobCreatorDeal): JobView {
  // a deal can end (a quick mediator, a settle) while our fetch of its result is still under way: wait for it
  if (r.terminal && r.fetching && r.path === undefined) return { status: 'waiting' }
  switch (r.phase) {
    case 'countersigned': case 'agreed': case 'result': return { status: 'waiting' }
    case 'abandoned': return { status: 'moved-on', reason: r.abandoned ?? 'abandoned', refunded: false }
    case 'expired': return { status: 'moved-on', reason: r.abandoned ?? 'the deal expired before anyone agreed it', refunded: false }
    case 'refunded': return { status: 'moved-on', reason: 'no result before the deadline (refunded)', refunded: true }
    case 'unfetched':
      // a challenge under way (the mediation decides; a refund lets the job try another provider), or a result
      // delivered over the stream that is not on chain yet (challenged once it is, refunded if it never is)
      if (r.fetch && r.challengeFailed === undefined && (r.challenging === true || r.challengeSent === true || r.submittedAt === undefined)) return { status: 'waiting' }
      return { status: 'failed', reason: r.fetchFailed ?? 'the result was not fetched' }
    case 'downloaded': return r.accepted || !r.accept ? { status: 'done' } : { status: 'waiting' }
    case 'challenged': return { status: 'waiting' }
    case 'settled': return r.path !== undefined ? { status: 'done' } : { status: 'moved-on', reason: 'settled without our result', refunded: false }
    case 'mediated':
      if (r.path !== undefined) return { status: 'done' }
      if (r.fetching) return { status: 'waiting' }
      // we challenged a result we could not fetch, and the mediator upheld it: it exists, but we do not have it
      if (r.fetchFailed !== undefined && (r.outcome === 'MediatedCorrect' || r.outcome === 'TimedOutMediation')) return { status: 'failed', reason: `${r.fetchFailed}; the mediation upheld the provider's result (lilypad get ${r.dealId} tries again)` }
      return r.outcome === 'MediatedCorrect' || r.outcome === 'TimedOutMediation' ? { status: 'done' } : { status: 'moved-on', reason: `mediated: ${r.outcome ?? ''}`, refunded: true }
  }
}
