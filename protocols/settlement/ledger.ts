// A whole Market as plain data plus one `apply` that runs an action through the rules in market.ts. Apply
// updates the model in place: the simulator drives it for thousands of nodes and copying every map per step would
// dominate its run time. A failed action leaves the model untouched, as a reverted transaction leaves the chain.
import * as rules from './market.ts'
import type { Acceptance, AgreeContext, DealRecord, DealTerms, MarketBounds, MarketErrorName, Step, Transfer } from './market.ts'

export interface MarketModel {
  deposits: Map<string, bigint>
  deals: Map<string, DealRecord>
  /** `${jobCreator lowercased}:${nonce}` */
  usedNonces: Set<string>
  mediators: Set<string>
  /** The Market's bounds on terms; absent: a Market without bounds. */
  bounds?: MarketBounds
}

export function emptyMarket (mediators: string[] = [], bounds?: MarketBounds): MarketModel {
  return { deposits: new Map(), deals: new Map(), usedNonces: new Set(), mediators: new Set(mediators.map(m => m.toLowerCase())), ...(bounds !== undefined ? { bounds } : {}) }
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
  | { kind: 'challenge', caller: string, dealId: string, terms: DealTerms }
  | { kind: 'mediate', caller: string, dealId: string, terms: DealTerms, resultCorrect: boolean }
  | { kind: 'timeoutResult', dealId: string, terms: DealTerms }
  | { kind: 'timeoutMediation', dealId: string, terms: DealTerms }

export type ApplyResult =
  | { ok: true, steps: Array<Extract<Step, { ok: true }>> }
  | { ok: false, error: MarketErrorName }

export interface BlockContext {
  now: number
  prevrandao: bigint
}

const key = (a: string): string => a.toLowerCase()

export function depositOf (m: MarketModel, account: string): bigint {
  return m.deposits.get(key(account)) ?? 0n
}

export function apply (m: MarketModel, action: MarketAction, block: BlockContext): ApplyResult {
  const { now, prevrandao } = block
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
        ...(action.signing !== undefined ? { signing: action.signing } : {})
      })
      if (!step.ok) return step
      m.usedNonces.add(nonceKey)
      commit(m, action.dealId, step)
      return { ok: true, steps: [step] }
    }
    case 'submitResult':
      return single(m, action.dealId, rules.submitResult(action.terms, m.deals.get(action.dealId), { caller: action.caller, cid: action.cid, now, dealId: action.dealId, prevrandao }))
    case 'submitResultAndSettle': {
      // All or nothing, and the settlement sees the submission (a deal cannot be submitted and settled at once,
      // since its judge window has just opened).
      const submitted = rules.submitResult(action.terms, m.deals.get(action.dealId), { caller: action.caller, cid: action.cid, now, dealId: action.dealId, prevrandao })
      if (!submitted.ok) return submitted
      const settled = batch(m, action.ready, (terms, record) => rules.settle(terms, record, { now }), new Map([[action.dealId, submitted.record]]))
      if (!settled.ok) return settled
      return { ok: true, steps: [submitted, ...settled.steps] }
    }
    case 'submitAcceptedResult':
      return single(m, action.dealId, rules.submitAcceptedResult(action.terms, m.deals.get(action.dealId), { caller: action.caller, cid: action.cid, now, dealId: action.dealId, prevrandao, acceptance: action.acceptance }))
    case 'challenge':
      return single(m, action.dealId, rules.challenge(action.terms, m.deals.get(action.dealId), { caller: action.caller, now, dealId: action.dealId, prevrandao }))
    case 'mediate':
      return single(m, action.dealId, rules.mediate(action.terms, m.deals.get(action.dealId), { caller: action.caller, now, resultCorrect: action.resultCorrect }))
    case 'timeoutResult':
      return single(m, action.dealId, rules.timeoutResult(action.terms, m.deals.get(action.dealId), { now }))
    case 'timeoutMediation':
      return single(m, action.dealId, rules.timeoutMediation(action.terms, m.deals.get(action.dealId), { now }))
    case 'accept':
      return batch(m, action.deals, (terms, record) => rules.accept(terms, record, { caller: action.caller }))
    case 'settle':
      return batch(m, action.deals, (terms, record) => rules.settle(terms, record, { now }))
  }
}

/** Σ deposits + Σ funds held by live deals: must equal the Market's token balance. */
export function totalHeld (m: MarketModel, terms: Map<string, DealTerms>): bigint {
  let sum = 0n
  for (const v of m.deposits.values()) sum += v
  for (const [id, record] of m.deals) {
    const t = terms.get(id)
    if (t !== undefined) sum += rules.heldBy(record, t)
  }
  return sum
}

function single (m: MarketModel, dealId: string, step: Step): ApplyResult {
  if (!step.ok) return step
  commit(m, dealId, step)
  return { ok: true, steps: [step] }
}

// A batch is all-or-nothing, and a deal listed twice must see its own earlier step: run it against an overlay.
function batch (m: MarketModel, deals: Array<{ dealId: string, terms: DealTerms }>, rule: (t: DealTerms, r: DealRecord | undefined) => Step, overlay = new Map<string, DealRecord>()): ApplyResult {
  const steps: Array<Extract<Step, { ok: true }>> = []
  for (const { dealId, terms } of deals) {
    const step = rule(terms, overlay.get(dealId) ?? m.deals.get(dealId))
    if (!step.ok) return step
    overlay.set(dealId, step.record)
    steps.push(step)
  }
  for (const [dealId, record] of overlay) m.deals.set(dealId, record)
  for (const s of steps) credit(m.deposits, s.credits)
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
