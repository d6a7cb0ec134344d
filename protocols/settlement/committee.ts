// Mediation by committee (issue 15): the rules a committee of k mediators follows from its draw to its outcome,
// as pure data and functions. They are written down here first so that the Market contract, the simulator and the
// mediator nodes follow one copy of them (the single mediator of market.ts is the committee of one).
//
// The life of a committee (docs/mediation.md, "Committees"):
//  0. seeds: the dispute records its block; after it, each party reveals the secret its offer committed to
//     (seed.ts), within revealWindow of the dispute's start and 256 blocks. A party that withholds loses: the job
//     creator alone, the result stands and the provider gets the fee too; the provider alone, the result is ruled
//     wrong and the job creator gets everything back; both, the result stands and the fee goes back;
//  1. draw: once both have revealed, k distinct members out of the deal's mediators (the list both parties signed), from a 32-byte seed;
//  2. commit: until drawnAt + commitWindow, each member posts keccak256(dealId, member, vote, salt): nobody
//     can read another's verdict, and the member's own address in the hash makes a copied commitment useless;
//  3. reveal: from the moment every member has committed (or the commit window has passed) until revealWindow
//     after it, each member that committed reveals its verdict and salt;
//  4. finalize: by the last reveal of those who committed, in its own transaction; or by anyone once the reveal
//     window has passed (a member that committed never revealed). A verdict
//     with a quorum (more than half of k: the same verdict from a majority of the whole committee, absent members
//     counting against) decides. Its voters share the fee; every other member (voted the other way, never
//     committed, never revealed) loses `slash` of its bond (at most what it has), shared by the majority too.
//     A member may vote "no case": the parties never gave it the deal and job offer, so it could not re-run.
//     It is neither paid nor slashed, counts towards neither verdict, and the Market records it (a cartel that
//     withholds the case from its own deal's audit gets a result that stands, but not a verified one).
//     Without a quorum the result stands, as when today's single mediator lets its window pass: the provider is
//     paid, the job creator gets the fee back and the slashed bonds; nobody is paid for a verdict.
// Every split is exact: integer shares, the remainder to the first majority member in draw order.
import { concat, keccak256, toBeHex, zeroPadValue } from 'ethers'
import { DealState, type DealStateValue, type DealTerms, type MarketBounds, type Transfer } from './market.ts'
import { SEED_BLOCKS } from './seed.ts'

export interface CommitteeRules {
  /** the committee size wanted (odd, at most 9); a deal naming fewer mediators gets the largest odd number it can */
  size: number
  /** seconds from the draw in which every member commits */
  commitWindow: number
  /** seconds, from the end of the commit phase, in which members reveal */
  revealWindow: number
  /** seconds a bond being withdrawn stays slashable: longer than any committee deal can still need it */
  unbondDelay: number
  /** LP wei a mediator must have bonded to be named in a committee deal */
  minBond: bigint
  /** LP wei a member loses for a vote against the majority or no vote (at most its bond) */
  slash: bigint
}

/** A member's vote, as the Market numbers them (Market.sol VOTE_WRONG, VOTE_CORRECT, VOTE_NO_CASE). */
export const Vote = { Wrong: 0, Correct: 1, NoCase: 2 } as const
export type VoteValue = typeof Vote[keyof typeof Vote]

export type CommitteeErrorName =
  | 'CommitteeTooSmall' | 'MediatorUnbonded' | 'PartyAsMediator' | 'DuplicateMediator'
  | 'NotCommitteeMember' | 'CommitWindowClosed' | 'AlreadyCommitted' | 'RevealNotOpen' | 'RevealWindowClosed'
  | 'NotCommitted' | 'AlreadyRevealed' | 'InvalidVote' | 'CommitmentMismatch' | 'VotingOpen'
  | 'SeedRevealNotOpen' | 'SeedRevealClosed' | 'SeedAlreadyRevealed' | 'SeedMismatch' | 'SeedRevealOpen' | 'WrongFirstSeed'

export class CommitteeRulesError extends Error {
  static override name = 'CommitteeRulesError'
  override name = CommitteeRulesError.name
}

/** The rules' own sanity, as a Market's constructor would check them. */
export function checkCommitteeRules (r: CommitteeRules): CommitteeRules {
  const bad = (what: string): never => { throw new CommitteeRulesError(`committee rules: ${what}`) }
  if (!Number.isInteger(r.size) || r.size < 1 || r.size > 9 || r.size % 2 === 0) bad(`size must be an odd integer in 1..9, got ${r.size}`)
  if (!Number.isInteger(r.commitWindow) || r.commitWindow < 1) bad(`commitWindow must be a positive integer of seconds, got ${r.commitWindow}`)
  if (!Number.isInteger(r.revealWindow) || r.revealWindow < 1) bad(`revealWindow must be a positive integer of seconds, got ${r.revealWindow}`)
  if (!Number.isInteger(r.unbondDelay) || r.unbondDelay < 0) bad(`unbondDelay must be a whole number of seconds, got ${r.unbondDelay}`)
  if (r.minBond < 1n) bad('minBond must be positive: an unbonded mediator cannot be made to pay for a wrong vote')
  if (r.slash < 1n || r.slash > r.minBond) bad(`slash must be in 1..minBond, got ${r.slash}`)
  return r
}

/**
 * The shortest `unbondDelay` a Market with these bounds accepts for committees (its constructor's InvalidCommitteeRules
 * check): a deal agreed just before a bond starts unbonding can be disputed until its longest result window and judge
 * window have passed, the parties' seed reveals then take up to a reveal window before the draw, and its committee
 * then votes for both windows. A shorter delay would let a member's bond leave before a vote it owes.
 */
export function minUnbondDelay (bounds: Pick<MarketBounds, 'maxResultTimeout' | 'maxJudgeWindow'>, r: Pick<CommitteeRules, 'commitWindow' | 'revealWindow'>): number {
  return bounds.maxResultTimeout + bounds.maxJudgeWindow + r.revealWindow + r.commitWindow + r.revealWindow
}

const DEFAULT_MIN_BOND = 100n * 10n ** 18n
const DEFAULT_SLASH = 10n * 10n ** 18n

/**
 * Committee rules for a network, from what its deployer chose and defaults derived from its deal windows: members
 * re-run the job in the commit window, so it defaults to the time a lone mediator gets (`mediateTimeout`); the reveal
 * window, a transaction each, to the same; `unbondDelay` to `minUnbondDelay` rounded up to whole days (a day's margin
 * at most); the bond and slash to 100 and 10 LP (a slash is a tenth of the smallest bond: one wrong vote does not
 * unbond a member). Checked as the Market's constructor checks them.
 */
export function committeeRulesFor (bounds: Pick<MarketBounds, 'maxResultTimeout' | 'maxJudgeWindow'>, mediateTimeout: number, want: Partial<CommitteeRules> & { size: number }): CommitteeRules {
  const commitWindow = want.commitWindow ?? mediateTimeout
  const revealWindow = want.revealWindow ?? commitWindow
  const least = minUnbondDelay(bounds, { commitWindow, revealWindow })
  const minBond = want.minBond ?? DEFAULT_MIN_BOND
  const rules: CommitteeRules = {
    size: want.size,
    commitWindow,
    revealWindow,
    unbondDelay: want.unbondDelay ?? Math.ceil(least / 86_400) * 86_400,
    minBond,
    slash: want.slash ?? (want.minBond !== undefined ? (minBond / 10n > 0n ? minBond / 10n : minBond) : DEFAULT_SLASH)
  }
  return checkCommitteeRulesFor(bounds, rules)
}

/** `checkCommitteeRules` and, for committees (size > 1), the Market's bound on `unbondDelay`. */
export function checkCommitteeRulesFor (bounds: Pick<MarketBounds, 'maxResultTimeout' | 'maxJudgeWindow'>, r: CommitteeRules): CommitteeRules {
  checkCommitteeRules(r)
  const least = minUnbondDelay(bounds, r)
  if (r.size > 1 && r.unbondDelay < least) throw new CommitteeRulesError(`committee rules: unbondDelay must be at least ${least} s (the longest result window ${bounds.maxResultTimeout} s + judge window ${bounds.maxJudgeWindow} s + seed reveals ${r.revealWindow} s + commit ${r.commitWindow} s + reveal ${r.revealWindow} s), got ${r.unbondDelay}`)
  return r
}

// abi.encode of static words is their 32-byte concatenation; written out, it is several times faster than ethers'
// AbiCoder, which matters to the simulator drawing thousands of committees (committee.test.ts checks they agree)
const word = (n: number): string => toBeHex(n, 32)
const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

/** The committee a deal with n mediators gets: min(size, n), made odd (so there is always a strict majority). */
export function committeeSizeFor (n: number, size: number): number {
  const k = Math.min(size, n)
  return k % 2 === 1 ? k : k - 1
}

/**
 * k distinct indices into a list of n, drawn from `seed` (32 bytes, 0x-hex) by a partial Fisher–Yates shuffle:
 * position i swaps with i + keccak256(abi.encode(seed, i)) mod (n − i). Draw order is kept (it orders the fee's
 * remainder). The modulo bias is below n / 2^256.
 */
export function drawCommittee (seed: string, n: number, k: number): number[] {
  if (!Number.isInteger(n) || n < 1 || n > 255) throw new RangeError(`a committee is drawn from 1..255 mediators, not ${n}`)
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`a committee of ${k} cannot be drawn from ${n}`)
  const idx = Array.from({ length: n }, (_, i) => i)
  for (let i = 0; i < k; i++) {
    const j = i + Number(BigInt(keccak256(concat([seed, word(i)]))) % BigInt(n - i))
    const t = idx[i]; idx[i] = idx[j]; idx[j] = t
  }
  return idx.slice(0, k)
}

/**
 * What a member commits to: keccak256(abi.encode(dealId, member, uint8 vote, salt)). The Market keeps its top 128 bits
 * (two commitments to a storage slot): two votes with the same 128 bits take ~2^64 hashes to find.
 */
export function voteCommitment (dealId: string, member: string, vote: number, salt: string): string {
  return keccak256(concat([zeroPadValue(dealId, 32), zeroPadValue(member, 32), word(vote), zeroPadValue(salt, 32)]))
}

/**
 * A deal's mediators as a committee needs them at agreement: enough of them, none twice, neither party, each bonded
 * (a bond is what a wrong or missing vote costs; the Market keeps bonds from being withdrawn while they may be owed).
 */
export function checkCommitteeAgree (terms: Pick<DealTerms, 'mediators' | 'jobCreator' | 'resourceProvider'>, rules: Pick<CommitteeRules, 'minBond'>, bondOf: (account: string) => bigint): CommitteeErrorName | null {
  const ms = terms.mediators
  if (ms.length < 1) return 'CommitteeTooSmall'
  for (let i = 0; i < ms.length; i++) {
    for (let j = 0; j < i; j++) if (same(ms[i], ms[j])) return 'DuplicateMediator'
    if (same(ms[i], terms.jobCreator) || same(ms[i], terms.resourceProvider)) return 'PartyAsMediator'
    if (bondOf(ms[i]) < rules.minBond) return 'MediatorUnbonded'
  }
  return null
}

/** Whether the Market judges a deal naming n mediators by committee (and so checks their bonds at agreement). */
export function judgedByCommittee (n: number, rules: Pick<CommitteeRules, 'size'>): boolean {
  return rules.size > 1 && n > 2
}

/**
 * The mediators a job creator may name in a deal: on a network with committees, one named mediator without the least
 * bond would make every `agree` fail (MediatorUnbonded), so those are left out, and the deal's own party too
 * (PartyAsMediator). Order and duplicates-first are kept. `left` says who was left out and why.
 */
export function nameableMediators (mediators: string[], rules: Pick<CommitteeRules, 'size' | 'minBond'>, bondOf: (account: string) => bigint, party: string): { kept: string[], left: Array<{ mediator: string, why: 'unbonded' | 'party' | 'duplicate', bond?: bigint }> } {
  const kept: string[] = []
  const left: Array<{ mediator: string, why: 'unbonded' | 'party' | 'duplicate', bond?: bigint }> = []
  for (const m of mediators) {
    if (kept.some(k => same(k, m))) left.push({ mediator: m, why: 'duplicate' })
    else if (same(m, party)) left.push({ mediator: m, why: 'party' })
    else kept.push(m)
  }
  if (!judgedByCommittee(kept.length, rules)) return { kept, left }
  const bonded = kept.filter(m => bondOf(m) >= rules.minBond)
  for (const m of kept) if (!bonded.includes(m)) left.push({ mediator: m, why: 'unbonded', bond: bondOf(m) })
  return { kept: bonded, left }
}

/** One committee's votes, as the contract would store them beside the deal's record. */
export interface CommitteeRecord {
  dealId: string
  /** member addresses, in draw order */
  members: string[]
  drawnAt: number
  /** when the last member committed (the reveal phase then opens at once), else null */
  allCommittedAt: number | null
  commitments: Array<string | null>
  votes: Array<VoteValue | null>
}

export type CommitteeStep = { ok: true, record: CommitteeRecord } | { ok: false, error: CommitteeErrorName }

export function newCommittee (dealId: string, mediators: string[], seed: string, rules: CommitteeRules, now: number): CommitteeRecord {
  const k = committeeSizeFor(mediators.length, rules.size)
  const members = drawCommittee(seed, mediators.length, k).map(i => mediators[i])
  return { dealId, members, drawnAt: now, allCommittedAt: null, commitments: members.map(() => null), votes: members.map(() => null) }
}

export function commitDeadline (c: CommitteeRecord, rules: CommitteeRules): number {
  return c.drawnAt + rules.commitWindow
}

/** The last second a reveal is accepted. */
export function revealDeadline (c: CommitteeRecord, rules: CommitteeRules): number {
  return (c.allCommittedAt ?? commitDeadline(c, rules)) + rules.revealWindow
}

function revealOpen (c: CommitteeRecord, rules: CommitteeRules, now: number): boolean {
  return c.allCommittedAt !== null || now > commitDeadline(c, rules)
}

/** True once finalize may be called: nothing more can change the tally. */
export function votingOver (c: CommitteeRecord, rules: CommitteeRules, now: number): boolean {
  if (now > revealDeadline(c, rules)) return true
  return revealOpen(c, rules, now) && c.commitments.every((h, i) => h === null || c.votes[i] !== null)
}

/** The Market keeps a commitment whole (in the member's own slot, Market.sol `voteSlots`). */
const kept = (h: string): string => h.toLowerCase()

function memberIndex (c: CommitteeRecord, caller: string): number {
  return c.members.findIndex(m => same(m, caller))
}

const fail = (error: CommitteeErrorName): CommitteeStep => ({ ok: false, error })

export function commitVote (c: CommitteeRecord, rules: CommitteeRules, a: { caller: string, commitment: string, now: number }): CommitteeStep {
  const i = memberIndex(c, a.caller)
  if (i < 0) return fail('NotCommitteeMember')
  if (a.now > commitDeadline(c, rules)) return fail('CommitWindowClosed')
  if (c.commitments[i] !== null) return fail('AlreadyCommitted')
  const commitments = c.commitments.slice()
  commitments[i] = a.commitment
  const allCommittedAt = commitments.every(h => h !== null) ? a.now : null
  return { ok: true, record: { ...c, commitments, allCommittedAt } }
}

export function revealVote (c: CommitteeRecord, rules: CommitteeRules, a: { caller: string, vote: number, salt: string, now: number }): CommitteeStep {
  const i = memberIndex(c, a.caller)
  if (i < 0) return fail('NotCommitteeMember')
  if (!revealOpen(c, rules, a.now)) return fail('RevealNotOpen')
  if (a.now > revealDeadline(c, rules)) return fail('RevealWindowClosed')
  const h = c.commitments[i]
  if (h === null) return fail('NotCommitted')
  if (c.votes[i] !== null) return fail('AlreadyRevealed')
  if (!Number.isInteger(a.vote) || a.vote < Vote.Wrong || a.vote > Vote.NoCase) return fail('InvalidVote')
  if (kept(voteCommitment(c.dealId, c.members[i], a.vote, a.salt)) !== kept(h)) return fail('CommitmentMismatch')
  const votes = c.votes.slice()
  votes[i] = a.vote as VoteValue
  return { ok: true, record: { ...c, votes } }
}

/**
 * A committee dispute before its draw: the block it started in (whose hash goes into the seed) and each party's
 * revealed secret (null until revealed).
 */
export interface SeedPhase {
  dealId: string
  /** the dispute's start (the deal record's since) */
  since: number
  seedBlock: number
  audit: boolean
  jobCreatorSecret: string | null
  providerSecret: string | null
}

export function newSeedPhase (dealId: string, since: number, seedBlock: number, audit: boolean): SeedPhase {
  return { dealId, since, seedBlock, audit, jobCreatorSecret: null, providerSecret: null }
}

/** The last second a seed reveal is accepted (it must also come by block seedBlock + 256). */
export function seedDeadline (p: SeedPhase, rules: Pick<CommitteeRules, 'revealWindow'>): number {
  return p.since + rules.revealWindow
}

export function seedPhaseOver (p: SeedPhase, rules: Pick<CommitteeRules, 'revealWindow'>, now: number, blockNumber: number): boolean {
  return now > seedDeadline(p, rules) || blockNumber > p.seedBlock + SEED_BLOCKS
}

export type SeedStep = { ok: true, phase: SeedPhase } | { ok: false, error: CommitteeErrorName }

/**
 * A party's reveal: `proved` is the id of the offer the reveal's words and secret make (seed.ts `offerIdFromWords`,
 * null for a wrong number of words), `named` the offer id the deal names for that party.
 */
export function revealSeed (p: SeedPhase, rules: Pick<CommitteeRules, 'revealWindow'>, a: { provider: boolean, secret: string, proved: string | null, named: string, firstSecret?: string, now: number, blockNumber: number }): SeedStep {
  if ((a.provider ? p.providerSecret : p.jobCreatorSecret) !== null) return { ok: false, error: 'SeedAlreadyRevealed' }
  if (a.blockNumber <= p.seedBlock) return { ok: false, error: 'SeedRevealNotOpen' }
  if (seedPhaseOver(p, rules, a.now, a.blockNumber)) return { ok: false, error: 'SeedRevealClosed' }
  if (a.proved === null || a.proved.toLowerCase() !== a.named.toLowerCase()) return { ok: false, error: 'SeedMismatch' }
  // the second reveal passes the first's secret back; the Market kept only its tag
  const first = a.provider ? p.jobCreatorSecret : p.providerSecret
  if (first !== null && seedTag(a.firstSecret ?? ZERO_WORD) !== seedTag(first)) return { ok: false, error: 'WrongFirstSeed' }
  return { ok: true, phase: a.provider ? { ...p, providerSecret: a.secret } : { ...p, jobCreatorSecret: a.secret } }
}

const ZERO_WORD = '0x' + '00'.repeat(32)

/**
 * What the Market keeps of the first revealer's secret (Market.sol `_seedTag`): the top 128 bits of its keccak256.
 * Another secret with the same tag is a 128-bit second preimage (~2^128 hashes), so the tag binds the second
 * revealer to the first's share as the whole secret would.
 */
export function seedTag (secret: string): string {
  return keccak256(secret).slice(0, 34).toLowerCase()
}

/**
 * The seed phase ended without both reveals: a party that withheld loses (the job creator alone: the result stands,
 * the provider gets price + collateral + fee; the provider alone: the job creator gets all three; both: the result
 * stands and the fee goes back to the job creator).
 */
export function closeWithheld (p: SeedPhase, terms: DealTerms, rules: Pick<CommitteeRules, 'revealWindow'>, a: { now: number, blockNumber: number }): FinalizeStep {
  if (!seedPhaseOver(p, rules, a.now, a.blockNumber)) return { ok: false, error: 'SeedRevealOpen' }
  const { price, collateral, mediationFee: fee, jobCreator: jc, resourceProvider: rp } = terms
  const jcRevealed = p.jobCreatorSecret !== null
  const rpRevealed = p.providerSecret !== null
  const [state, credits]: [DealStateValue, Transfer[]] = rpRevealed
    ? [DealState.MediatedCorrect, [{ account: rp, amount: price + collateral + fee }]]
    : jcRevealed
      ? [DealState.MediatedWrong, [{ account: jc, amount: price + collateral + fee }]]
      : [DealState.TimedOutMediation, [{ account: rp, amount: price + collateral }, { account: jc, amount: fee }]]
  const tally: CommitteeTally = { outcome: 'withheld', majority: [], slashed: [], noCase: [] }
  return { ok: true, settlement: { state, tally, credits: credits.filter(x => x.amount !== 0n), slashes: [], withheld: { jobCreator: !jcRevealed, provider: !rpRevealed } } }
}

export type CommitteeOutcome = 'correct' | 'wrong' | 'no-quorum' | 'withheld'

export interface CommitteeTally {
  outcome: CommitteeOutcome
  /** indices (draw order) of the members whose vote decided */
  majority: number[]
  /** indices of the members who lose part of their bond */
  slashed: number[]
  /** indices of the members that voted "no case" */
  noCase: number[]
}

export function quorumOf (k: number): number {
  return Math.floor(k / 2) + 1
}

export function tally (c: CommitteeRecord): CommitteeTally {
  const q = quorumOf(c.members.length)
  const yes: number[] = []
  const no: number[] = []
  const noCase: number[] = []
  const silent: number[] = []
  c.votes.forEach((v, i) => (v === Vote.Correct ? yes : v === Vote.Wrong ? no : v === Vote.NoCase ? noCase : silent).push(i))
  if (yes.length >= q) return { outcome: 'correct', majority: yes, slashed: [...no, ...silent].sort((a, b) => a - b), noCase }
  if (no.length >= q) return { outcome: 'wrong', majority: no, slashed: [...yes, ...silent].sort((a, b) => a - b), noCase }
  return { outcome: 'no-quorum', majority: [], slashed: silent, noCase }
}

export interface CommitteeSettlement {
  state: DealStateValue
  tally: CommitteeTally
  /** deposits credited: the deal's escrow (price + fee + collateral) and every slashed amount, exactly */
  credits: Transfer[]
  /** bonds debited */
  slashes: Transfer[]
  /** a seed phase that ended without both reveals: who withheld */
  withheld?: { jobCreator: boolean, provider: boolean }
}

export type FinalizeStep = { ok: true, settlement: CommitteeSettlement } | { ok: false, error: CommitteeErrorName }

/** Splits `amount` among `to` in equal integer shares, the remainder to the first. */
function split (amount: bigint, to: string[]): Transfer[] {
  if (amount === 0n || to.length === 0) return []
  const share = amount / BigInt(to.length)
  const rest = amount - share * BigInt(to.length)
  return to.map((account, i) => ({ account, amount: share + (i === 0 ? rest : 0n) })).filter(t => t.amount !== 0n)
}

/** The committee's outcome and who gets what; `bondOf` is each member's bond when finalize runs. */
export function finalizeCommittee (c: CommitteeRecord, terms: DealTerms, rules: CommitteeRules, a: { now: number, bondOf: (account: string) => bigint }): FinalizeStep {
  if (!votingOver(c, rules, a.now)) return { ok: false, error: 'VotingOpen' }
  const t = tally(c)
  const slashes: Transfer[] = t.slashed.map(i => {
    const bond = a.bondOf(c.members[i])
    return { account: c.members[i], amount: bond < rules.slash ? bond : rules.slash }
  }).filter(s => s.amount !== 0n)
  const slashedTotal = slashes.reduce((s, x) => s + x.amount, 0n)
  const { price, collateral, mediationFee: fee, jobCreator: jc, resourceProvider: rp } = terms
  const majority = t.majority.map(i => c.members[i])
  let state: DealStateValue
  let credits: Transfer[]
  if (t.outcome === 'no-quorum') {
    state = DealState.TimedOutMediation
    credits = [{ account: rp, amount: price + collateral }, { account: jc, amount: fee + slashedTotal }]
  } else {
    state = t.outcome === 'correct' ? DealState.MediatedCorrect : DealState.MediatedWrong
    credits = [{ account: t.outcome === 'correct' ? rp : jc, amount: price + collateral }, ...split(fee + slashedTotal, majority)]
  }
  return { ok: true, settlement: { state, tally: t, credits: credits.filter(x => x.amount !== 0n), slashes } }
}

/**
 * The transactions one dispute costs after the challenge when every member votes: two seed reveals, k commits and k
 * reveals, the last of which closes the vote (a finalize is only for a vote some committed member never revealed in).
 */
export function committeeTransactions (k: number): number {
  return 2 * k + 2
}
