// The mediator's view of one dispute, from the challenge (or on-chain audit) that drew it to its verdict. It
// needs the case — the deal and the signed job offer — pushed by a party or pulled from the parties when no push
// came in time; then it re-runs the job and posts mediate(correct) before the mediation deadline. A dispute it
// cannot obtain, run or rule on in time is abandoned: anyone may then call timeoutMediation, which lets the
// result stand (docs/mediation.md). The same step resumes stored disputes after a restart.
import type { Envelope } from '../../protocols/codec.ts'
import { Vote, type VoteValue } from '../../protocols/settlement/committee.ts'
import { committeeVoteEnd, type ActionBase, type CommitteeFacts, type DealFacts, type Step } from './facts.ts'

export type MediatorPhase = 'awaiting-case' | 'running' | 'ruling' | 'done' | 'abandoned'

export interface MediatorDispute {
  id: string
  dealId: string
  jobCreator: string
  /** true when an on-chain random audit started it (no job creator involved) */
  audit: boolean
  phase: MediatorPhase
  terminal: boolean
  updatedAt: number
  /** ms, local clock: when we learned of it */
  seenAt: number
  deal?: Envelope<'Deal'>
  jobOffer?: Envelope<'JobOffer'>
  via?: 'push' | 'pull'
  pulling: boolean
  /** ms: the next pull round */
  nextPullAt?: number
  pulls: number
  running: boolean
  /** the CID of our own re-run */
  mediatorCid?: string
  verdictSent: boolean
  resultCorrect?: boolean
  /** the provider's submitted CID */
  resultCid?: string
  reason?: string
  /** a committee's dispute: our vote, decided before it is committed (and kept, to reveal the same after a restart) */
  vote?: VoteValue
  committeeSent?: { commit: boolean, reveal: boolean, finalize: boolean }
  /** which of our commitment slots (Market.sol `voteSlots`) our commit used: named again to reveal, kept from reuse */
  commitSlot?: number
}

export interface MediatorPolicy {
  /** our own address (the Market names the drawn mediator) */
  self: string
  /** wait this long for a push before pulling */
  pullAfterMs: number
  pullIntervalMs: number
  /** a re-run is not started with less than this left before the deadline */
  marginSec: number
}

export const defaultMediatorTiming = { pullAfterMs: 5000, pullIntervalMs: 5000, marginSec: 30 }

export type MediatorAction =
  | ActionBase<'pull'>
  | ActionBase<'rerun'>
  | (ActionBase<'mediate'> & { resultCorrect: boolean })
  | (ActionBase<'commit-vote'> & { vote: VoteValue })
  | (ActionBase<'reveal-vote'> & { vote: VoteValue })
  | ActionBase<'finalize-committee'>

export type MediatorEvent =
  | { type: 'resume' } | { type: 'chain' } | { type: 'tick' }
  | { type: 'case', deal: Envelope<'Deal'>, jobOffer: Envelope<'JobOffer'>, via: 'push' | 'pull' }
  | { type: 'pulled' } | { type: 'pull-failed', reason: string }
  | { type: 'rerun-done', cid: string } | { type: 'rerun-failed', reason: string }
  | { type: 'mediated' } | { type: 'mediate-failed', reason: string }
  | { type: 'vote-slot-reserved', slot: number } | { type: 'vote-committed', slot?: number } | { type: 'commit-vote-failed', reason: string }
  | { type: 'vote-revealed' } | { type: 'reveal-vote-failed', reason: string }
  | { type: 'committee-finalized' } | { type: 'finalize-committee-failed', reason: string }

export interface MediatorInput { now: number, facts: DealFacts, event?: MediatorEvent }

export function newDispute (d: { dealId: string, jobCreator: string, audit: boolean }, now: number): MediatorDispute {
  return { ...d, id: d.dealId, phase: 'awaiting-case', terminal: false, updatedAt: 0, seenAt: now, pulling: false, pulls: 0, running: false, verdictSent: false }
}

export function mediatorFailure (a: MediatorAction, reason: string): MediatorEvent {
  switch (a.kind) {
    case 'pull': return { type: 'pull-failed', reason }
    case 'rerun': return { type: 'rerun-failed', reason }
    case 'mediate': return { type: 'mediate-failed', reason }
    case 'commit-vote': return { type: 'commit-vote-failed', reason }
    case 'reveal-vote': return { type: 'reveal-vote-failed', reason }
    case 'finalize-committee': return { type: 'finalize-committee-failed', reason }
  }
}

const same = (a: string | undefined, b: string | undefined): boolean => a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase()

export function stepMediator (rec: MediatorDispute, input: MediatorInput, policy: MediatorPolicy): Step<MediatorDispute, MediatorAction> {
  const r: MediatorDispute = { ...rec }
  const { now, facts } = input
  const e = input.event
  const end = (phase: 'done' | 'abandoned', reason: string): Step<MediatorDispute, MediatorAction> => {
    if (!r.terminal) { r.phase = phase; r.terminal = true; r.reason = reason }
    return { record: r, actions: [] }
  }
  switch (e?.type) {
    case 'resume': r.pulling = false; r.running = false; break
    case 'case': if (r.deal === undefined) { r.deal = e.deal; r.jobOffer = e.jobOffer; r.via = e.via } break
    case 'pulled': r.pulling = false; r.pulls++; r.nextPullAt = now + policy.pullIntervalMs; break
    case 'pull-failed': r.pulling = false; r.pulls++; r.nextPullAt = now + policy.pullIntervalMs; break
    case 'rerun-done': r.running = false; r.mediatorCid = e.cid; break
    case 'rerun-failed':
      r.running = false
      // a committee member that cannot judge says so ("no case": neither paid nor slashed) rather than staying
      // silent and being slashed for a fault of its own machine; a lone mediator leaves it to timeoutMediation
      if (facts.committee === undefined || facts.state !== 'Challenged' || r.vote !== undefined) return end('abandoned', `re-run failed: ${e.reason}`)
      r.vote = Vote.NoCase
      r.reason = `re-run failed: ${e.reason}`
      break
    case 'mediated': r.verdictSent = true; break
    case 'mediate-failed': if (facts.state === 'Challenged') return end('abandoned', `mediate failed: ${e.reason}`); break
    // a committee's calls: sent; a failure is tried again while its window lasts (the driver backs off)
    // the slot a commit is about to be written to, on record before the commit is sent (freeVoteSlot)
    case 'vote-slot-reserved': r.commitSlot ??= e.slot; break
    case 'vote-committed': r.committeeSent = { ...sent(r), commit: true }; if (e.slot !== undefined) r.commitSlot = e.slot; break
    case 'vote-revealed': r.committeeSent = { ...sent(r), reveal: true }; break
    case 'committee-finalized': r.committeeSent = { ...sent(r), finalize: true }; break
    default: break
  }
  if (r.terminal) return { record: r, actions: [] }
  if (facts.resultCid !== undefined) r.resultCid = facts.resultCid
  if (facts.state !== 'Challenged') {
    if (facts.state === 'None') return end('abandoned', 'no such deal on chain')
    if (r.verdictSent && (facts.state === 'MediatedCorrect' || facts.state === 'MediatedWrong')) r.resultCorrect = facts.state === 'MediatedCorrect'
    return end('done', `deal is ${facts.state}`)
  }
  if (facts.committee !== undefined) return stepCommittee(r, now, facts, facts.committee, policy, end)
  const actions: MediatorAction[] = []
  if (r.deal === undefined) {
    // without the deal we do not know its mediation deadline: pull while the chain says it is still challenged
    r.phase = 'awaiting-case'
    const at = r.nextPullAt ?? r.seenAt + policy.pullAfterMs
    if (r.pulling) return { record: r, actions }
    if (now >= at) {
      r.pulling = true
      actions.push({ kind: 'pull', deadline: now + policy.pullIntervalMs })
      return { record: r, actions }
    }
    return { record: r, actions, wakeAt: at }
  }
  if (!same(facts.mediator, policy.self)) return end('abandoned', 'another mediator was drawn')
  if (r.resultCid === undefined) return end('abandoned', 'no ResultSubmitted event')
  const deadline = (facts.since + r.deal.value.mediateTimeout) * 1000
  if (r.mediatorCid === undefined) {
    r.phase = 'running'
    if (r.running) return { record: r, actions, wakeAt: deadline }
    const latest = deadline - policy.marginSec * 1000
    if (now > latest) return end('abandoned', 'too late to mediate before the deadline')
    r.running = true
    actions.push({ kind: 'rerun', deadline: latest })
    return { record: r, actions, wakeAt: deadline }
  }
  r.phase = 'ruling'
  if (now > deadline) return end('abandoned', 'the re-run finished after the deadline')
  r.resultCorrect = r.mediatorCid === r.resultCid
  if (!r.verdictSent) actions.push({ kind: 'mediate', deadline, resultCorrect: r.resultCorrect })
  return { record: r, actions, wakeAt: deadline }
}

/**
 * The commitment slot for a new commit: the lowest that none of our other open disputes holds with a commitment not
 * yet revealed (a commit overwrites the slot, and the reveal reads it back). Slots are reused, so a mediator writes as
 * many as it ever has votes in flight at once. A slot is held from the moment a dispute's record names it, before its
 * commit is known to be on chain: the node records the slot before it sends the commit (a node stopped between the
 * two reveals from the slot it wrote), and a commit whose outcome is unknown may be on chain.
 */
export function freeVoteSlot (records: MediatorDispute[], dealId: string): number {
  const held = new Set(records.filter(r => r.dealId !== dealId && !r.terminal && r.commitSlot !== undefined && !sent(r).reveal).map(r => r.commitSlot))
  let j = 0
  while (held.has(j)) j++
  return j
}

const sent = (r: MediatorDispute): NonNullable<MediatorDispute['committeeSent']> => r.committeeSent ?? { commit: false, reveal: false, finalize: false }
const has = (list: string[], a: string): boolean => list.some(x => same(x, a))

/**
 * A committee member's part (docs/mediation.md, "Committees"): obtain the case and re-run as a lone mediator
 * would, but before the commit window closes; decide the vote (correct, wrong, or "no case" when the case never
 * came or the re-run could not finish in time) and keep it in the record; commit it; reveal it once the reveal
 * phase opens (the last reveal closes the vote); finalize a vote whose reveal window passed with a committed member
 * silent. The facts' `since` is the draw's time.
 */
function stepCommittee (r: MediatorDispute, now: number, facts: DealFacts, c: CommitteeFacts, policy: MediatorPolicy, end: (phase: 'done' | 'abandoned', reason: string) => Step<MediatorDispute, MediatorAction>): Step<MediatorDispute, MediatorAction> {
  if (!has(c.members, policy.self)) return end('abandoned', 'not on the committee')
  const actions: MediatorAction[] = []
  // the commit window counts from the draw (the parties' second seed reveal), not from the dispute's start
  const commitDeadline = (c.drawnAt + c.commitWindow) * 1000
  const revealDeadline = committeeVoteEnd(c)
  const revealOpen = c.allCommittedAt !== null || now > commitDeadline
  const s = sent(r)
  const committed = s.commit || has(c.committed, policy.self)
  if (!committed) {
    if (now > commitDeadline) return end('abandoned', 'the commit window closed before we voted')
    const latest = commitDeadline - policy.marginSec * 1000
    if (r.vote === undefined) {
      if (r.deal === undefined) {
        r.phase = 'awaiting-case'
        if (now >= latest) {
          r.vote = Vote.NoCase
        } else {
          const at = r.nextPullAt ?? r.seenAt + policy.pullAfterMs
          if (!r.pulling && now >= at) {
            r.pulling = true
            actions.push({ kind: 'pull', deadline: Math.min(now + policy.pullIntervalMs, latest) })
            return { record: r, actions, wakeAt: latest }
          }
          return { record: r, actions, wakeAt: r.pulling ? latest : Math.min(at, latest) }
        }
      } else if (r.resultCid === undefined) {
        return end('abandoned', 'no ResultSubmitted event')
      } else if (r.mediatorCid === undefined) {
        r.phase = 'running'
        // a re-run that cannot end before the commit window does not judge: "no case", not silence
        if (r.running && now < latest) return { record: r, actions, wakeAt: latest }
        if (now >= latest) {
          r.vote = Vote.NoCase
        } else {
          r.running = true
          actions.push({ kind: 'rerun', deadline: latest })
          return { record: r, actions, wakeAt: latest }
        }
      } else {
        r.resultCorrect = r.mediatorCid === r.resultCid
        r.vote = r.resultCorrect ? Vote.Correct : Vote.Wrong
      }
    }
    r.phase = 'ruling'
    actions.push({ kind: 'commit-vote', deadline: commitDeadline, vote: r.vote })
    return { record: r, actions, wakeAt: commitDeadline }
  }
  r.phase = 'ruling'
  const revealed = s.reveal || has(c.revealed, policy.self)
  if (!revealed) {
    if (r.vote === undefined) return end('abandoned', 'committed, but the vote was not kept: nothing to reveal')
    if (now > revealDeadline) return end('abandoned', 'the reveal window closed before we revealed')
    if (!revealOpen) return { record: r, actions, wakeAt: commitDeadline + 1000 }
    actions.push({ kind: 'reveal-vote', deadline: revealDeadline, vote: r.vote })
    return { record: r, actions, wakeAt: revealDeadline }
  }
  // the last reveal of those who committed closes the vote in its own transaction (the deal then reads closed, above);
  // a finalize is for a vote some member that committed never revealed in: once the reveal window has passed
  if (now <= revealDeadline) return { record: r, actions, wakeAt: revealDeadline + 1000 }
  if (!s.finalize) actions.push({ kind: 'finalize-committee', deadline: now + c.revealWindow * 1000 })
  return { record: r, actions, wakeAt: now + c.revealWindow * 1000 }
}
