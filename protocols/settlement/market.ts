// The Market contract's rules as pure TypeScript: the same states, checks (in the same order, so the same error
// wins), deadlines and payouts as contracts/src/Market.sol. The network simulator runs it for thousands of
// nodes, and a property test proves it agrees with the deployed contract step by step.
import { AbiCoder, keccak256, toUtf8Bytes } from 'ethers'
import type { Deal } from '../eip712.ts'
import { checkCommitteeAgree, committeeSizeFor, type CommitteeErrorName } from './committee.ts'

/** A DealRecord.mediatorIndex meaning "judged by a committee" (Market.sol `COMMITTEE`). */
export const COMMITTEE = 255
/** ... and "a single mediator, not drawn yet" (Market.sol `UNDRAWN`): a deal names at most 254 mediators. */
export const UNDRAWN = 254
/** A ResultSubmitted record's flags, kept in mediatorIndex (Market.sol): the audit draw missed and is recorded. */
export const AUDIT_CLEARED = 1
/** ... and the job creator's acceptance came with the result: a missed draw settles the deal. */
export const ACCEPTED = 2
/** BLOCKHASH answers for the last 256 blocks only. */
export const HASHED_BLOCKS = 256

export const DealState = {
  None: 0,
  Agreed: 1,
  ResultSubmitted: 2,
  Challenged: 3,
  Settled: 4,
  MediatedCorrect: 5,
  MediatedWrong: 6,
  TimedOutResult: 7,
  TimedOutMediation: 8
} as const
export type DealStateValue = typeof DealState[keyof typeof DealState]
export type DealStateName = keyof typeof DealState

export function stateName (s: number): DealStateName {
  const found = (Object.keys(DealState) as DealStateName[]).find(k => DealState[k] === s)
  if (found === undefined) throw new RangeError(`unknown deal state ${s}`)
  return found
}

export function isFinal (s: number): boolean {
  return s >= DealState.Settled
}

/** The terms of a deal that the rules read: the signed `Deal` without the offer ids, which only name it. */
export type DealTerms = Omit<Deal, 'jobOfferId' | 'resourceOfferId'>

/**
 * What the contract stores per deal. `since` is the time of the last transition (unix seconds), `block` its block
 * (0 at agreement): a submission's audit is drawn from that block's hash.
 */
export interface DealRecord {
  state: DealStateValue
  since: number
  /** Challenged: the drawn mediator's index, UNDRAWN or COMMITTEE; ResultSubmitted: AUDIT_CLEARED | ACCEPTED */
  mediatorIndex: number
  block: number
  /** Top 176 bits of keccak256(resultCid) as 0x-hex (22 bytes), or null before a result. */
  resultHash: string | null
}

export type MarketErrorName =
  | 'ZeroAmount' | 'InsufficientBalance' | 'DealExpired' | 'NonceUsed' | 'DealExists' | 'NoMediators'
  | 'TooManyMediators' | 'NotAMediator' | 'CollateralBelowFee' | 'UnknownDeal' | 'DealClosed' | 'WrongState'
  | 'NotResourceProvider' | 'NotJobCreator' | 'NotSelectedMediator' | 'EmptyResultCid' | 'ResultWindowClosed'
  | 'ResultWindowOpen' | 'JudgeWindowClosed' | 'JudgeWindowOpen' | 'MediationWindowClosed' | 'MediationWindowOpen'
  | 'DealExpiryTooFar' | 'ResultTimeoutOutOfBounds' | 'JudgeWindowOutOfBounds' | 'MediateTimeoutOutOfBounds'
  | 'AuditPpmTooHigh' | 'MediationFeeTooLow' | 'AuditWithoutFee' | 'InvalidSignature'
  | 'CommitteeDispute' | 'NotACommitteeDispute' | 'InsufficientBond' | 'NothingUnbonding' | 'UnbondNotDue'
  | 'AuditDrawNotReady' | 'NoAuditDue' | 'AlreadyAccepted' | 'MediatorDrawNotReady' | 'MediatorDrawClosed' | 'MediatorAlreadyDrawn'
  | CommitteeErrorName

/**
 * The Market's network-wide limits on deal terms (contracts/src/LilypadTypes.sol `MarketBounds`), fixed at
 * deployment and recorded in the network file. Seconds; the fee in LP wei.
 */
export interface MarketBounds {
  minResultTimeout: number
  maxResultTimeout: number
  minJudgeWindow: number
  maxJudgeWindow: number
  minMediateTimeout: number
  maxMediateTimeout: number
  /** `agree` is refused while the deal's expiry lies further ahead than this */
  maxDealTtl: number
  minMediationFee: bigint
}

/** As written in a network file (JSON has no bigint). */
export type MarketBoundsJson = Omit<MarketBounds, 'minMediationFee'> & { minMediationFee: string }

export function boundsToJson (b: MarketBounds): MarketBoundsJson {
  return { ...b, minMediationFee: b.minMediationFee.toString() }
}

export function boundsFromJson (b: MarketBoundsJson): MarketBounds {
  return { ...b, minMediationFee: BigInt(b.minMediationFee) }
}

/**
 * The first bound a deal's terms break at time `now` (unix seconds), in the contract's order, or null. A
 * provider runs this before countersigning: the Market would refuse the deal anyway.
 */
export function checkBounds (terms: Pick<DealTerms, 'expiry' | 'resultTimeout' | 'judgeWindow' | 'mediateTimeout' | 'auditPpm' | 'mediationFee'>, b: MarketBounds, now: number): MarketErrorName | null {
  if (terms.expiry > BigInt(now) + BigInt(b.maxDealTtl)) return 'DealExpiryTooFar'
  if (terms.resultTimeout < b.minResultTimeout || terms.resultTimeout > b.maxResultTimeout) return 'ResultTimeoutOutOfBounds'
  if (terms.judgeWindow < b.minJudgeWindow || terms.judgeWindow > b.maxJudgeWindow) return 'JudgeWindowOutOfBounds'
  if (terms.mediateTimeout < b.minMediateTimeout || terms.mediateTimeout > b.maxMediateTimeout) return 'MediateTimeoutOutOfBounds'
  if (terms.auditPpm > Number(PPM)) return 'AuditPpmTooHigh'
  if (terms.mediationFee < b.minMediationFee) return 'MediationFeeTooLow'
  if (terms.auditPpm !== 0 && terms.mediationFee === 0n) return 'AuditWithoutFee'
  return null
}

export interface Transfer { account: string, amount: bigint }

export type Step =
  | { ok: true, record: DealRecord, debits: Transfer[], credits: Transfer[], audited?: boolean, mediator?: string, committee?: { seedBlock: number, audit: boolean } }
  | { ok: false, error: MarketErrorName }

const PPM = 1_000_000n
const coder = AbiCoder.defaultAbiCoder()
const fail = (error: MarketErrorName): Step => ({ ok: false, error })
const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

export function cidHash (cid: string): string {
  return keccak256(toUtf8Bytes(cid)).slice(0, 2 + 44)
}

/**
 * A single mediator's index into deal.mediators, drawn from the hash of the dispute's block B:
 * keccak256(abi.encode(dealId, blockhash(B))) mod n (Market.sol `_mediatorDraw`). Nobody knows B's hash when the
 * challenge or the audit's draw is sent, so the challenger cannot pick its mediator.
 */
export function mediatorIndexOf (dealId: string, disputeBlockHash: string, n: number): number {
  return Number(BigInt(keccak256(coder.encode(['bytes32', 'bytes32'], [dealId, disputeBlockHash]))) % BigInt(n))
}

/**
 * Where a single mediator's draw stands in block `number` (Market.sol `_mediatorDraw`): not ready in the dispute's
 * own block, closed past the 256 blocks BLOCKHASH answers for (the dispute then ends as a silent mediator's), else
 * the drawn index.
 */
export function mediatorDrawOf (record: Pick<DealRecord, 'block'>, dealId: string, n: number, number: number, blockHashOf: (n: number) => string): number | 'not-ready' | 'closed' {
  const age = (number - record.block) >>> 0
  if (age === 0) return 'not-ready'
  if (age > HASHED_BLOCKS) return 'closed'
  return mediatorIndexOf(dealId, blockHashOf(number - age), n)
}

/**
 * Who judges a dispute starting now: one mediator, drawn after this block from its hash (`drawMediator`; the record
 * marked UNDRAWN until then), or (more than one by the committee rules' size) a committee, the record marked
 * COMMITTEE, drawn once both parties have revealed their seeds after this block (committee.ts).
 */
function startDispute (terms: DealTerms, record: DealRecord, a: { committeeSize?: number, blockNumber?: number }, audit: boolean): Extract<Step, { ok: true }> {
  record = { ...record, block: a.blockNumber ?? 0 }
  if (committeeSizeFor(terms.mediators.length, a.committeeSize ?? 1) > 1) {
    return { ok: true, record: { ...record, mediatorIndex: COMMITTEE }, debits: [], credits: [], committee: { seedBlock: a.blockNumber ?? 0, audit } }
  }
  return { ok: true, record: { ...record, mediatorIndex: UNDRAWN }, debits: [], credits: [] }
}

/**
 * A submission's audit draw from the hash of the block it landed in: keccak256(abi.encode(dealId, resultHash,
 * blockhash(submittedIn))) mod 10^6 < auditPpm. Nobody knows that hash when submitting (docs/mediation.md,
 * "Unbiasable draws" says who could bias it).
 */
export function auditDrawHits (dealId: string, resultHash: string, blockHash: string, auditPpm: number): boolean {
  if (auditPpm === 0) return false
  const draw = BigInt(keccak256(coder.encode(['bytes32', 'bytes22', 'bytes32'], [dealId, resultHash, blockHash]))) % PPM
  return draw < BigInt(auditPpm)
}

/** Where a submission's audit draw stands in block `number`: what `accept`, `settle` and `drawAudit` do with it. */
export type AuditDraw = 'none' | 'not-ready' | 'hit' | 'miss'

/**
 * The audit draw of a ResultSubmitted record seen from block `number`: none (no audits, or a miss recorded); not
 * ready in the submission's own block (its hash is not known yet); past the 256 blocks BLOCKHASH answers for, a hit
 * (waiting must not help a provider whose draw hit); else the draw itself. Market.sol `_auditHits`.
 */
export function auditDrawOf (terms: Pick<DealTerms, 'auditPpm'>, record: DealRecord, dealId: string, number: number, blockHashOf: (n: number) => string): AuditDraw {
  if (terms.auditPpm === 0 || (record.mediatorIndex & AUDIT_CLEARED) !== 0) return 'none'
  const age = (number - record.block) >>> 0
  if (age === 0) return 'not-ready'
  if (age > HASHED_BLOCKS) return 'hit'
  return auditDrawHits(dealId, record.resultHash ?? '0x', blockHashOf(number - age), terms.auditPpm) ? 'hit' : 'miss'
}

/**
 * Whether a record awaits its audit draw (one rule for the nodes, the simulator and the Market): a submission to a
 * deal with audits that no one has drawn yet. Anyone may draw it from the block after the submission's; a provider
 * whose draw missed has it drawn before BLOCKHASH's 256 blocks pass, after which an undrawn submission is audited.
 */
export function auditDrawDue (terms: Pick<DealTerms, 'auditPpm'>, record: { state: DealStateValue | DealStateName, mediatorIndex: number }): boolean {
  const submitted = record.state === DealState.ResultSubmitted || record.state === 'ResultSubmitted'
  return submitted && terms.auditPpm !== 0 && (record.mediatorIndex & AUDIT_CLEARED) === 0
}

/** What the audit draw needs beside the record: the block a transaction lands in and the hashes before it. */
export interface DrawContext { dealId: string, now: number, committeeSize?: number, blockNumber?: number, blockHashOf?: (n: number) => string }

const noHash = (): string => '0x' + '0'.repeat(64)

/** Funds a deal holds in escrow: everything both sides locked, until a final state pays it out. */
export function heldBy (record: DealRecord | undefined, terms: DealTerms): bigint {
  if (record === undefined || record.state === DealState.None || isFinal(record.state)) return 0n
  return terms.price + terms.mediationFee + terms.collateral
}

/** The deadline of the current waiting state (action allowed while now <= deadline), or null if final. */
export function deadlineOf (record: DealRecord, terms: DealTerms): number | null {
  switch (record.state) {
    case DealState.Agreed: return record.since + terms.resultTimeout
    case DealState.ResultSubmitted: return record.since + terms.judgeWindow
    // a single mediator's window counts from its draw (from the dispute's start while it is undrawn)
    case DealState.Challenged: return record.since + terms.mediateTimeout
    default: return null
  }
}

/** Who gets what when a deal reaches a final state (sums to price + fee + collateral). */
export function payoutsOf (state: DealStateValue, terms: DealTerms, mediator?: string): Transfer[] {
  const { price, collateral, mediationFee: fee, jobCreator: jc, resourceProvider: rp } = terms
  switch (state) {
    case DealState.Settled: return [{ account: rp, amount: price + collateral }, { account: jc, amount: fee }]
    case DealState.MediatedCorrect: return [{ account: rp, amount: price + collateral }, { account: need(mediator), amount: fee }]
    case DealState.MediatedWrong: return [{ account: jc, amount: price + collateral }, { account: need(mediator), amount: fee }]
    case DealState.TimedOutResult: return [{ account: jc, amount: price + fee + collateral }]
    case DealState.TimedOutMediation: return [{ account: rp, amount: price + collateral }, { account: jc, amount: fee }]
    default: throw new RangeError(`state ${state} pays nothing out`)
  }
}

function need (mediator: string | undefined): string {
  if (mediator === undefined) throw new TypeError('a mediated payout needs the mediator')
  return mediator
}

function expect (record: DealRecord | undefined, state: DealStateValue): MarketErrorName | null {
  const s = record?.state ?? DealState.None
  if (s === state) return null
  if (s === DealState.None) return 'UnknownDeal'
  if (isFinal(s)) return 'DealClosed'
  return 'WrongState'
}

export interface AgreeContext {
  now: number
  /** the Market's bounds; absent: none (a model of a Market without bounds, e.g. in a simulation) */
  bounds?: MarketBounds
  record: DealRecord | undefined
  nonceUsed: boolean
  isMediator: (account: string) => boolean
  depositOf: (account: string) => bigint
  /**
   * Who sends the transaction and whom each of the two deal signatures recovers to (null: empty or invalid). The
   * sender's own signature is not checked: its transaction is its consent. Absent: both signatures valid (a model of
   * nodes that always sign, e.g. in a simulation).
   */
  signing?: { caller: string, jobCreatorSigner: string | null, providerSigner: string | null }
  /** The committee rules' size and bond (absent: committees off): a committee deal's mediators are checked too. */
  committee?: { size: number, minBond: bigint, bondOf: (account: string) => bigint }
}

export function agree (terms: DealTerms, ctx: AgreeContext): Step {
  if (BigInt(ctx.now) > terms.expiry) return fail('DealExpired')
  if (ctx.bounds !== undefined) {
    const broken = checkBounds(terms, ctx.bounds, ctx.now)
    if (broken !== null) return fail(broken)
  }
  if (terms.mediators.length === 0) return fail('NoMediators')
  if (terms.mediators.length > UNDRAWN) return fail('TooManyMediators')
  if (!terms.mediators.every(m => ctx.isMediator(m))) return fail('NotAMediator')
  const cm = ctx.committee
  if (cm !== undefined && committeeSizeFor(terms.mediators.length, cm.size) > 1) {
    const wrong = checkCommitteeAgree(terms, { minBond: cm.minBond }, cm.bondOf)
    if (wrong !== null) return fail(wrong)
  }
  if (terms.collateral < terms.mediationFee) return fail('CollateralBelowFee')
  const sg = ctx.signing
  if (sg !== undefined) {
    const signedBy = (party: string, signer: string | null): boolean => same(sg.caller, party) || (signer !== null && same(signer, party))
    if (!signedBy(terms.jobCreator, sg.jobCreatorSigner)) return fail('InvalidSignature')
    if (!signedBy(terms.resourceProvider, sg.providerSigner)) return fail('InvalidSignature')
  }
  if (ctx.nonceUsed) return fail('NonceUsed')
  if (ctx.record !== undefined && ctx.record.state !== DealState.None) return fail('DealExists')
  const jcNeeds = terms.price + terms.mediationFee
  const jcHas = ctx.depositOf(terms.jobCreator)
  if (jcHas < jcNeeds) return fail('InsufficientBalance')
  // The provider may be the job creator itself; its second debit sees the first.
  const rpHas = ctx.depositOf(terms.resourceProvider) - (same(terms.jobCreator, terms.resourceProvider) ? jcNeeds : 0n)
  if (rpHas < terms.collateral) return fail('InsufficientBalance')
  return {
    ok: true,
    record: { state: DealState.Agreed, since: ctx.now, mediatorIndex: 0, block: 0, resultHash: null },
    debits: [{ account: terms.jobCreator, amount: jcNeeds }, { account: terms.resourceProvider, amount: terms.collateral }],
    credits: []
  }
}

export function submitResult (terms: DealTerms, record: DealRecord | undefined, a: { caller: string, cid: string, now: number, dealId: string, committeeSize?: number, blockNumber?: number }): Step {
  if (!same(a.caller, terms.resourceProvider)) return fail('NotResourceProvider')
  if (a.cid.length === 0) return fail('EmptyResultCid')
  const wrong = expect(record, DealState.Agreed)
  if (wrong !== null || record === undefined) return fail(wrong ?? 'UnknownDeal')
  if (a.now > record.since + terms.resultTimeout) return fail('ResultWindowClosed')
  return { ok: true, record: { state: DealState.ResultSubmitted, since: a.now, mediatorIndex: 0, block: a.blockNumber ?? 0, resultHash: cidHash(a.cid) }, debits: [], credits: [] }
}

/**
 * What an acceptance signature says, as the contract recovers it: who signed `Accept(dealId, resultCid)`. (The
 * model does no cryptography; a signature under another chain's or Market's domain recovers to some other address.)
 */
export interface Acceptance { signer: string, dealId: string, resultCid: string }

/**
 * The result with the job creator's off-chain acceptance of exactly that result: the checks of `submitResult`, then
 * the signature; a deal without audits is settled at once (as `accept` would), one with audits keeps the acceptance
 * (ACCEPTED) until its draw (`drawAudit`).
 */
export function submitAcceptedResult (terms: DealTerms, record: DealRecord | undefined, a: { caller: string, cid: string, now: number, dealId: string, acceptance: Acceptance, committeeSize?: number, blockNumber?: number }): Step {
  const submitted = submitResult(terms, record, a)
  if (!submitted.ok) return submitted
  const acc = a.acceptance
  if (!same(acc.signer, terms.jobCreator) || acc.dealId.toLowerCase() !== a.dealId.toLowerCase() || acc.resultCid !== a.cid) return fail('InvalidSignature')
  if (terms.auditPpm !== 0) return { ...submitted, record: { ...submitted.record, mediatorIndex: ACCEPTED } }
  return { ok: true, record: { ...submitted.record, state: DealState.Settled }, debits: [], credits: payoutsOf(DealState.Settled, terms) }
}

/** A dispute starting now (a challenge, or an audit the draw sent): Market.sol `_dispute`. */
function dispute (terms: DealTerms, record: DealRecord, a: DrawContext, audit: boolean): Extract<Step, { ok: true }> {
  return { ...startDispute(terms, { ...record, state: DealState.Challenged, since: a.now }, a, audit), audited: audit }
}

/** `accept` and `settle`: settled, unless the audit draw hits (then the audit starts instead). */
function closeOrAudit (terms: DealTerms, record: DealRecord, a: DrawContext): Step {
  const draw = auditDrawOf(terms, record, a.dealId, a.blockNumber ?? 0, a.blockHashOf ?? noHash)
  if (draw === 'not-ready') return fail('AuditDrawNotReady')
  if (draw === 'hit') return dispute(terms, record, a, true)
  return close(record, terms, DealState.Settled)
}

export function accept (terms: DealTerms, record: DealRecord | undefined, a: { caller: string } & DrawContext): Step {
  if (!same(a.caller, terms.jobCreator)) return fail('NotJobCreator')
  const wrong = expect(record, DealState.ResultSubmitted)
  if (wrong !== null || record === undefined) return fail(wrong ?? 'UnknownDeal')
  return closeOrAudit(terms, record, a)
}

export function settle (terms: DealTerms, record: DealRecord | undefined, a: DrawContext): Step {
  const wrong = expect(record, DealState.ResultSubmitted)
  if (wrong !== null || record === undefined) return fail(wrong ?? 'UnknownDeal')
  if (a.now <= record.since + terms.judgeWindow) return fail('JudgeWindowOpen')
  return closeOrAudit(terms, record, a)
}

/**
 * Anyone draws a submission's audit once its block is made: a hit starts the audit; a miss settles a deal whose
 * acceptance came with the result, else is recorded (AUDIT_CLEARED), so it holds past the 256 hashed blocks.
 */
export function drawAudit (terms: DealTerms, record: DealRecord | undefined, a: DrawContext): Step {
  const wrong = expect(record, DealState.ResultSubmitted)
  if (wrong !== null || record === undefined) return fail(wrong ?? 'UnknownDeal')
  const draw = auditDrawOf(terms, record, a.dealId, a.blockNumber ?? 0, a.blockHashOf ?? noHash)
  if (draw === 'none') return fail('NoAuditDue')
  if (draw === 'not-ready') return fail('AuditDrawNotReady')
  if (draw === 'hit') return dispute(terms, record, a, true)
  if ((record.mediatorIndex & ACCEPTED) !== 0) return close(record, terms, DealState.Settled)
  return { ok: true, record: { ...record, mediatorIndex: record.mediatorIndex | AUDIT_CLEARED }, debits: [], credits: [], audited: false }
}

export function challenge (terms: DealTerms, record: DealRecord | undefined, a: { caller: string } & DrawContext): Step {
  if (!same(a.caller, terms.jobCreator)) return fail('NotJobCreator')
  const wrong = expect(record, DealState.ResultSubmitted)
  if (wrong !== null || record === undefined) return fail(wrong ?? 'UnknownDeal')
  if (a.now > record.since + terms.judgeWindow) return fail('JudgeWindowClosed')
  if ((record.mediatorIndex & ACCEPTED) !== 0) return fail('AlreadyAccepted')
  return dispute(terms, record, a, false)
}

/**
 * Anyone fixes a single mediator's draw from the block after the dispute's to 256 blocks after it; its window counts
 * from then (Market.sol `drawMediator`). Never drawn, the dispute times out as a silent mediator's would.
 */
export function drawMediator (terms: DealTerms, record: DealRecord | undefined, a: DrawContext): Step {
  const wrong = expect(record, DealState.Challenged)
  if (wrong !== null || record === undefined) return fail(wrong ?? 'UnknownDeal')
  if (record.mediatorIndex !== UNDRAWN) return fail('MediatorAlreadyDrawn')
  const drawn = mediatorDrawOf(record, a.dealId, terms.mediators.length, a.blockNumber ?? 0, a.blockHashOf ?? noHash)
  if (drawn === 'not-ready') return fail('MediatorDrawNotReady')
  if (drawn === 'closed') return fail('MediatorDrawClosed')
  return { ok: true, record: { ...record, mediatorIndex: drawn, since: a.now }, debits: [], credits: [], mediator: terms.mediators[drawn] }
}

/** The drawn mediator's verdict; within the draw's 256 blocks it may come undrawn, and draws it (the record keeps UNDRAWN). */
export function mediate (terms: DealTerms, record: DealRecord | undefined, a: { caller: string, now: number, resultCorrect: boolean, dealId?: string, blockNumber?: number, blockHashOf?: (n: number) => string }): Step {
  const wrong = expect(record, DealState.Challenged)
  if (wrong !== null || record === undefined) return fail(wrong ?? 'UnknownDeal')
  if (record.mediatorIndex === COMMITTEE) return fail('CommitteeDispute')
  let index = record.mediatorIndex
  if (index === UNDRAWN) {
    const drawn = mediatorDrawOf(record, a.dealId ?? '0x' + '0'.repeat(64), terms.mediators.length, a.blockNumber ?? 0, a.blockHashOf ?? noHash)
    if (drawn === 'not-ready') return fail('MediatorDrawNotReady')
    if (drawn === 'closed') return fail('MediatorDrawClosed')
    index = drawn
  }
  const mediator = terms.mediators[index]
  if (!same(a.caller, mediator)) return fail('NotSelectedMediator')
  if (a.now > record.since + terms.mediateTimeout) return fail('MediationWindowClosed')
  return close(record, terms, a.resultCorrect ? DealState.MediatedCorrect : DealState.MediatedWrong, mediator)
}

export function timeoutResult (terms: DealTerms, record: DealRecord | undefined, a: { now: number }): Step {
  const wrong = expect(record, DealState.Agreed)
  if (wrong !== null || record === undefined) return fail(wrong ?? 'UnknownDeal')
  if (a.now <= record.since + terms.resultTimeout) return fail('ResultWindowOpen')
  return close(record, terms, DealState.TimedOutResult)
}

export function timeoutMediation (terms: DealTerms, record: DealRecord | undefined, a: { now: number }): Step {
  const wrong = expect(record, DealState.Challenged)
  if (wrong !== null || record === undefined) return fail(wrong ?? 'UnknownDeal')
  if (record.mediatorIndex === COMMITTEE) return fail('CommitteeDispute')
  if (a.now <= record.since + terms.mediateTimeout) return fail('MediationWindowOpen')
  return close(record, terms, DealState.TimedOutMediation)
}

function close (record: DealRecord, terms: DealTerms, state: DealStateValue, mediator?: string): Step {
  // Final records keep since/mediator/result hash untouched, as the contract only rewrites the state byte.
  return { ok: true, record: { ...record, state }, debits: [], credits: payoutsOf(state, terms, mediator) }
}
