// A whole Market as plain data plus one `apply` that runs an action through the rules in market.ts. Apply
// updates the model in place: the simulator drives it for thousands of nodes and copying every map per step would
// dominate its run time. A failed action leaves the model untouched, as a reverted transaction leaves the chain.
import * as rules from './market.ts'
import type { Acceptance, AgreeContext, DealRecord, DealTerms, MarketBounds, MarketErrorName, Step, Transfer } from './market.ts'
import { closeWithheld, commitVote, finalizeCommittee, newCommittee, newSeedPhase, revealSeed, revealVote, votingOver, type CommitteeRecord, type CommitteeRules, type CommitteeSettlement, type SeedPhase } from './committee.ts'
import { committeeSeed } from './seed.ts'

/** A mediator's bond (Market.sol `Bond`): slashable while bonded and while unbonding. */
export interface BondRecord { amount: bigint, unbonding: bigint, unbondAt: number }

export interface MarketModel {
  deposits: Map<string, bigint>
  deals: Map<string, DealRecord>
  /** `${jobCreator lowercased}:${nonce}` */
  usedNonces: Set<string>
  mediators: Set<string>
  /** The Market's bounds on terms; absent: a Market without bounds. */
  bounds?: MarketBounds
  /** The Market's committee rules; absent: committees off (size 1). */
  committeeRules?: CommitteeRules
  bonds: Map<string, BondRecord>
  /** the votes of each dispute judged by a committee, from its draw until it is finalized */
  committees: Map<string, CommitteeRecord>
  /** each committee dispute not drawn yet: the parties' seed reveals */
  seedPhases: Map<string, SeedPhase>
  /** each mediator's commitment slots (Market.sol `voteSlots`), lowercased address => slot => hex word; absent: zero */
  voteSlots: Map<string, Map<number, string>>
}

export function emptyMarket (mediators: string[] = [], bounds?: MarketBounds, committeeRules?: CommitteeRules): MarketModel {
  return {
    deposits: new Map(),
    deals: new Map(),
    usedNonces: new Set(),
    mediators: new Set(mediators.map(m => m.toLowerCase())),
    ...(bounds !== undefined ? { bounds } : {}),
    ...(committeeRules !== undefined ? { committeeRules } : {}),
    bonds: new Map(),
    committees: new Map(),
    seedPhases: new Map(),
    voteSlots: new Map()
  }
}

export type MarketAction =
  | { kind: 'deposit', account: string, amount: bigint }
  | { kind: 'withdraw', account: string, amount: bigint }
  | { kind: 'agree', dealId: string, terms: DealTerms, signing?: AgreeContext['signing'] }
  | { kind: 'submitResult', caller: string, dealId: string, terms: DealTerms, cid: string }
  | { kind: 'submitResultAndSettle', caller: string, dealId: string, terms: DealTerms, cid: string, ready: Array<{ dealId: string, terms: DealTerms }> }
  | { kind: 'submitAcceptedResult', caller: string, dealId: string, terms: DealTerms, cid: string, acceptance: Acceptance }
  | { kind: 'accept', caller: string, deals: Array<{ dealId: string, terms: DealTerms }> }
  | { kind: 'settle', deals: Array<{ dealId: string, terms: DealTerms }> }
  | { kind: 'drawAudit', dealId: string, terms: DealTerms }
  | { kind: 'challenge', caller: string, dealId: string, terms: DealTerms }
  | { kind: 'drawMediator', dealId: string, terms: DealTerms }
  | { kind: 'mediate', caller: string, dealId: string, terms: DealTerms, resultCorrect: boolean }
  | { kind: 'timeoutResult', dealId: string, terms: DealTerms }
  | { kind: 'timeoutMediation', dealId: string, terms: DealTerms }
  | { kind: 'bond', account: string, amount: bigint }
  | { kind: 'startUnbond', account: string, amount: bigint }
  | { kind: 'finishUnbond', account: string }
  | { kind: 'commitVote', caller: string, dealId: string, terms: DealTerms, commitment: string, slot?: number }
  | { kind: 'revealVote', caller: string, dealId: string, terms: DealTerms, vote: number, salt: string, slot?: number }
  | { kind: 'finalizeCommittee', dealId: string, terms: DealTerms }
  /**
   * A party's seed reveal (Market.revealSeed): `proved` is the offer id its words and secret make (seed.ts
   * `offerIdFromWords`), `named` the offer id the deal names for that party.
   */
  /** firstSecret: what the second revealer passes back as the first's secret (Market.sol `_seedTag`) */
  | { kind: 'revealSeed', dealId: string, terms: DealTerms, provider: boolean, secret: string, proved: string | null, named: string, firstSecret?: string }

export type ApplyResult =
  | { ok: true, steps: Array<Extract<Step, { ok: true }>>, settlement?: CommitteeSettlement, seed?: string }
  | { ok: false, error: MarketErrorName }

export interface BlockContext {
  now: number
  /** the block's number (absent: 0): a committee dispute's seed block, and the seed reveals' window */
  number?: number
  /** blockhash of an earlier block, for a committee's and an audit's draw (absent: zero) */
  blockHashOf?: (n: number) => string
}

const key = (a: string): string => a.toLowerCase()

export function depositOf (m: MarketModel, account: string): bigint {
  return m.deposits.get(key(account)) ?? 0n
}

/** Everything of the account's bond that can still be slashed (bonded and unbonding). */
export function bondOf (m: MarketModel, account: string): bigint {
  const b = m.bonds.get(key(account))
  return b === undefined ? 0n : b.amount + b.unbonding
}

function bondRecord (m: MarketModel, account: string): BondRecord {
  let b = m.bonds.get(key(account))
  if (b === undefined) { b = { amount: 0n, unbonding: 0n, unbondAt: 0 }; m.bonds.set(key(account), b) }
  return b
}

export function apply (m: MarketModel, action: MarketAction, block: BlockContext): ApplyResult {
  const { now } = block
  const blockNumber = block.number ?? 0
  const committeeSize = m.committeeRules?.size ?? 1
  const blockHashOf = block.blockHashOf ?? (() => ZERO_HASH)
  const draw = (dealId: string): rules.DrawContext => ({ dealId, now, committeeSize, blockNumber, blockHashOf })
  switch (action.kind) {
    case 'deposit':
      if (action.amount === 0n) return { ok: false, error: 'ZeroAmount' }
      credit(m.deposits, [{ account: action.account, amount: action.amount }])
      return { ok: true, steps: [] }
    case 'withdraw':
      if (action.amount === 0n) return { ok: false, error: 'ZeroAmount' }
      if (depositOf(m, action.account) < action.amount) return { ok: false, error: 'InsufficientBalance' }
      debit(m.deposits, [{ account: action.account, amount: action.amount }])
      return { ok: true, steps: [] }
    case 'agree': {
      const nonceKey = `${key(action.terms.jobCreator)}:${action.terms.nonce}`
      const step = rules.agree(action.terms, {
        now,
        ...(m.bounds !== undefined ? { bounds: m.bounds } : {}),
        record: m.deals.get(action.dealId),
        nonceUsed: m.usedNonces.has(nonceKey),
        isMediator: a => m.mediators.has(key(a)),
        depositOf: a => depositOf(m, a),
        ...(action.signing !== undefined ? { signing: action.signing } : {}),
        ...(m.committeeRules !== undefined ? { committee: { size: m.committeeRules.size, minBond: m.committeeRules.minBond, bondOf: a => m.bonds.get(key(a))?.amount ?? 0n } } : {})
      })
      if (!step.ok) return step
      m.usedNonces.add(nonceKey)
      commit(m, action.dealId, step)
      return { ok: true, steps: [step] }
    }
    case 'submitResult':
      return single(m, action.dealId, rules.submitResult(action.terms, m.deals.get(action.dealId), { caller: action.caller, cid: action.cid, now, dealId: action.dealId, committeeSize, blockNumber }), action.terms, now)
    case 'submitResultAndSettle': {
      // All or nothing, and the settlement sees the submission (a deal cannot be submitted and settled at once,
      // since its judge window has just opened).
      const submitted = rules.submitResult(action.terms, m.deals.get(action.dealId), { caller: action.caller, cid: action.cid, now, dealId: action.dealId, committeeSize, blockNumber })
      if (!submitted.ok) return submitted
      const settled = batch(m, action.ready, (terms, record, dealId) => rules.settle(terms, record, draw(dealId)), now, new Map([[action.dealId, submitted.record]]))
      if (!settled.ok) return settled
      return { ok: true, steps: [submitted, ...settled.steps] }
    }
    case 'submitAcceptedResult':
      return single(m, action.dealId, rules.submitAcceptedResult(action.terms, m.deals.get(action.dealId), { caller: action.caller, cid: action.cid, now, dealId: action.dealId, acceptance: action.acceptance, committeeSize, blockNumber }), action.terms, now)
    case 'challenge':
      return single(m, action.dealId, rules.challenge(action.terms, m.deals.get(action.dealId), { caller: action.caller, ...draw(action.dealId) }), action.terms, now)
    case 'drawAudit':
      return single(m, action.dealId, rules.drawAudit(action.terms, m.deals.get(action.dealId), draw(action.dealId)), action.terms, now)
    case 'drawMediator':
      return single(m, action.dealId, rules.drawMediator(action.terms, m.deals.get(action.dealId), draw(action.dealId)))
    case 'mediate':
      return single(m, action.dealId, rules.mediate(action.terms, m.deals.get(action.dealId), { caller: action.caller, now, resultCorrect: action.resultCorrect, dealId: action.dealId, blockNumber, blockHashOf }))
    case 'timeoutResult':
      return single(m, action.dealId, rules.timeoutResult(action.terms, m.deals.get(action.dealId), { now }))
    case 'timeoutMediation':
      return single(m, action.dealId, rules.timeoutMediation(action.terms, m.deals.get(action.dealId), { now }))
    case 'accept':
      return batch(m, action.deals, (terms, record, dealId) => rules.accept(terms, record, { caller: action.caller, ...draw(dealId) }), now)
    case 'settle':
      return batch(m, action.deals, (terms, record, dealId) => rules.settle(terms, record, draw(dealId)), now)
    case 'bond': {
      if (action.amount === 0n) return { ok: false, error: 'ZeroAmount' }
      if (depositOf(m, action.account) < action.amount) return { ok: false, error: 'InsufficientBalance' }
      debit(m.deposits, [{ account: action.account, amount: action.amount }])
      bondRecord(m, action.account).amount += action.amount
      return { ok: true, steps: [] }
    }
    case 'startUnbond': {
      if (action.amount === 0n) return { ok: false, error: 'ZeroAmount' }
      const b = bondRecord(m, action.account)
      if (b.amount < action.amount) return { ok: false, error: 'InsufficientBond' }
      b.amount -= action.amount
      b.unbonding += action.amount
      b.unbondAt = now + (m.committeeRules?.unbondDelay ?? 0)
      return { ok: true, steps: [] }
    }
    case 'finishUnbond': {
      const b = bondRecord(m, action.account)
      if (b.unbonding === 0n) return { ok: false, error: 'NothingUnbonding' }
      if (now < b.unbondAt) return { ok: false, error: 'UnbondNotDue' }
      credit(m.deposits, [{ account: action.account, amount: b.unbonding }])
      b.unbonding = 0n
      return { ok: true, steps: [] }
    }
    case 'commitVote': {
      const open = committeeOf(m, action.dealId)
      if (!open.ok) return open
      // nobody is a member before the draw (Market.sol `_position`)
      if (open.committee === undefined) return { ok: false, error: 'NotCommitteeMember' }
      const r = commitVote(open.committee, open.rules, { caller: action.caller, commitment: action.commitment, now })
      if (!r.ok) return r
      // the commitment goes in the member's own slot, and the committee records which (Market.sol `commitVote`)
      const own = new Map(m.voteSlots.get(action.caller.toLowerCase()))
      own.set(action.slot ?? 0, action.commitment.toLowerCase())
      m.voteSlots.set(action.caller.toLowerCase(), own)
      m.committees.set(action.dealId, r.record)
      return { ok: true, steps: [] }
    }
    case 'revealVote': {
      const open = committeeOf(m, action.dealId)
      if (!open.ok) return open
      if (open.committee === undefined) return { ok: false, error: 'NotCommitteeMember' }
      // a reveal is checked against what the slot it names holds now (another commit of its own may have replaced it)
      const c = open.committee
      const inSlot = m.voteSlots.get(action.caller.toLowerCase())?.get(action.slot ?? 0) ?? ZERO_WORD
      const held = c.commitments.map((h, i) => h !== null && same(c.members[i], action.caller) ? inSlot : h)
      const r = revealVote({ ...c, commitments: held }, open.rules, { caller: action.caller, vote: action.vote, salt: action.salt, now })
      if (!r.ok) return r
      m.committees.set(action.dealId, r.record)
      // the last reveal of those who committed closes the vote in the same transaction (Market.sol `revealVote`)
      if (!votingOver(r.record, open.rules, now)) return { ok: true, steps: [] }
      const f = finalizeCommittee(r.record, action.terms, open.rules, { now, bondOf: a => bondOf(m, a) })
      if (!f.ok) return f
      return { ok: true, steps: [], settlement: closeCommittee(m, action.dealId, f.settlement) }
    }
    case 'revealSeed': {
      const open = committeeOf(m, action.dealId)
      if (!open.ok) return open
      if (open.phase === undefined) return { ok: false, error: 'SeedAlreadyRevealed' }
      const r = revealSeed(open.phase, open.rules, { provider: action.provider, secret: action.secret, proved: action.proved, named: action.named, firstSecret: action.firstSecret, now, blockNumber })
      if (!r.ok) return r
      const p = r.phase
      if (p.jobCreatorSecret === null || p.providerSecret === null) {
        m.seedPhases.set(action.dealId, p)
        return { ok: true, steps: [] }
      }
      const seed = committeeSeed(action.dealId, p.jobCreatorSecret, p.providerSecret, block.blockHashOf?.(p.seedBlock) ?? ZERO_HASH)
      m.seedPhases.delete(action.dealId)
      m.committees.set(action.dealId, newCommittee(action.dealId, action.terms.mediators, seed, open.rules, now))
      return { ok: true, steps: [], seed }
    }
    case 'finalizeCommittee': {
      const open = committeeOf(m, action.dealId)
      if (!open.ok) return open
      const f = open.committee === undefined
        ? closeWithheld(open.phase, action.terms, open.rules, { now, blockNumber })
        : finalizeCommittee(open.committee, action.terms, open.rules, { now, bondOf: a => bondOf(m, a) })
      if (!f.ok) return f
      return { ok: true, steps: [], settlement: closeCommittee(m, action.dealId, f.settlement) }
    }
  }
}

const ZERO_WORD = '0x' + '00'.repeat(32)

/** A committee dispute's close (MarketCommittee.sol `finalize`): slashes, credits, the deal's final state. */
function closeCommittee (m: MarketModel, dealId: string, settlement: CommitteeSettlement): CommitteeSettlement {
  for (const s of settlement.slashes) {
    // the bond first, then what is unbonding (MarketCommittee.sol `_slash`)
    const b = bondRecord(m, s.account)
    const fromBond = b.amount < s.amount ? b.amount : s.amount
    b.amount -= fromBond
    b.unbonding -= s.amount - fromBond
  }
  credit(m.deposits, settlement.credits)
  const record = m.deals.get(dealId) as DealRecord
  m.deals.set(dealId, { ...record, state: settlement.state })
  m.committees.delete(dealId)
  m.seedPhases.delete(dealId)
  return settlement
}

type OpenCommittee = { ok: true, rules: CommitteeRules } & ({ committee: CommitteeRecord, phase?: undefined } | { committee?: undefined, phase: SeedPhase })

/** The committee (drawn) or seed phase (not yet) of an open dispute, or the error the contract gives first. */
function committeeOf (m: MarketModel, dealId: string): OpenCommittee | { ok: false, error: MarketErrorName } {
  const record = m.deals.get(dealId)
  const s = record?.state ?? rules.DealState.None
  if (s !== rules.DealState.Challenged) return { ok: false, error: s === rules.DealState.None ? 'UnknownDeal' : rules.isFinal(s) ? 'DealClosed' : 'WrongState' }
  const committee = m.committees.get(dealId)
  const phase = m.seedPhases.get(dealId)
  if (record?.mediatorIndex !== rules.COMMITTEE || m.committeeRules === undefined) return { ok: false, error: 'NotACommitteeDispute' }
  if (committee !== undefined) return { ok: true, committee, rules: m.committeeRules }
  if (phase !== undefined) return { ok: true, phase, rules: m.committeeRules }
  return { ok: false, error: 'NotACommitteeDispute' }
}

const ZERO_HASH = '0x' + '0'.repeat(64)
const same = (a: string, b: string | undefined): boolean => b !== undefined && a.toLowerCase() === b.toLowerCase()

/** A step that started a committee's dispute: its seed phase opens (the committee is drawn once both reveal). */
function drawn (m: MarketModel, dealId: string, terms: DealTerms, step: Extract<Step, { ok: true }>, now: number): void {
  if (step.committee !== undefined && m.committeeRules !== undefined) m.seedPhases.set(dealId, newSeedPhase(dealId, now, step.committee.seedBlock, step.committee.audit))
}

/** Σ deposits + Σ funds held by live deals: must equal the Market's token balance. */
export function totalHeld (m: MarketModel, terms: Map<string, DealTerms>): bigint {
  let sum = 0n
  for (const v of m.deposits.values()) sum += v
  for (const b of m.bonds.values()) sum += b.amount + b.unbonding
  for (const [id, record] of m.deals) {
    const t = terms.get(id)
    if (t !== undefined) sum += rules.heldBy(record, t)
  }
  return sum
}

function single (m: MarketModel, dealId: string, step: Step, terms?: DealTerms, now = 0): ApplyResult {
  if (!step.ok) return step
  commit(m, dealId, step)
  if (terms !== undefined) drawn(m, dealId, terms, step, now)
  return { ok: true, steps: [step] }
}

// A batch is all-or-nothing, and a deal listed twice must see its own earlier step: run it against an overlay. A
// step may start an audit (its draw hit), which opens a committee's seed phase.
function batch (m: MarketModel, deals: Array<{ dealId: string, terms: DealTerms }>, rule: (t: DealTerms, r: DealRecord | undefined, dealId: string) => Step, now: number, overlay = new Map<string, DealRecord>()): ApplyResult {
  const steps: Array<Extract<Step, { ok: true }>> = []
  const started: Array<[string, DealTerms, Extract<Step, { ok: true }>]> = []
  for (const { dealId, terms } of deals) {
    const step = rule(terms, overlay.get(dealId) ?? m.deals.get(dealId), dealId)
    if (!step.ok) return step
    overlay.set(dealId, step.record)
    steps.push(step)
    started.push([dealId, terms, step])
  }
  for (const [dealId, record] of overlay) m.deals.set(dealId, record)
  for (const s of steps) credit(m.deposits, s.credits)
  for (const [dealId, terms, step] of started) drawn(m, dealId, terms, step, now)
  return { ok: true, steps }
}

function commit (m: MarketModel, dealId: string, step: Extract<Step, { ok: true }>): void {
  debit(m.deposits, step.debits)
  credit(m.deposits, step.credits)
  m.deals.set(dealId, step.record)
}

function credit (deposits: Map<string, bigint>, ts: Transfer[]): void {
  for (const t of ts) deposits.set(key(t.account), (deposits.get(key(t.account)) ?? 0n) + t.amount)
}

function debit (deposits: Map<string, bigint>, ts: Transfer[]): void {
  for (const t of ts) deposits.set(key(t.account), (deposits.get(key(t.account)) ?? 0n) - t.amount)
}
