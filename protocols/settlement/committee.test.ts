// The committee rules on their own: the draw, commit and reveal, the deadlines, the tally and exact payouts.
import test from 'ava'
import { AbiCoder, keccak256, toBeHex } from 'ethers'
import {
  checkCommitteeAgree, nameableMediators, checkCommitteeRules, committeeRulesFor, minUnbondDelay, commitVote, committeeSizeFor, drawCommittee, finalizeCommittee, newCommittee,
  quorumOf, revealDeadline, revealVote, tally, voteCommitment, votingOver, CommitteeRulesError, Vote,
  type CommitteeRecord, type CommitteeRules, type VoteValue
} from './committee.ts'
import { DealState, type DealTerms } from './market.ts'
import { Rng } from '../../simulations/rng.ts'

const JC = '0x00000000000000000000000000000000000000a1'
const RP = '0x00000000000000000000000000000000000000b2'
const M = ['0x00000000000000000000000000000000000000c1', '0x00000000000000000000000000000000000000c2', '0x00000000000000000000000000000000000000c3', '0x00000000000000000000000000000000000000c4', '0x00000000000000000000000000000000000000c5']
const DEAL = '0x' + '11'.repeat(32)
const rules: CommitteeRules = checkCommitteeRules({ size: 3, commitWindow: 100, revealWindow: 50, unbondDelay: 1000, minBond: 1000n, slash: 100n })
const terms: DealTerms = { jobCreator: JC, resourceProvider: RP, mediators: M, price: 10n, collateral: 20n, mediationFee: 7n, auditPpm: 0, resultTimeout: 100, judgeWindow: 50, mediateTimeout: 70, expiry: 10_000n, nonce: 1n }
const salt = (i: number): string => toBeHex(i + 1, 32)
const seed = (i: number): string => keccak256(toBeHex(i, 32))

function committee (): CommitteeRecord {
  return newCommittee(DEAL, M, seed(1), rules, 1000)
}

function ok (s: ReturnType<typeof commitVote>): CommitteeRecord {
  if (!s.ok) throw new Error(s.error)
  return s.record
}

/** Every member in `votes` (by draw position) commits at `at` and reveals at `at + 1`; null: silent. */
function vote (c: CommitteeRecord, votes: Array<VoteValue | null>, at = 1010): CommitteeRecord {
  let r = c
  votes.forEach((v, i) => { if (v !== null) r = ok(commitVote(r, rules, { caller: r.members[i], commitment: voteCommitment(DEAL, r.members[i], v, salt(i)), now: at })) })
  const revealAt = r.allCommittedAt !== null ? at + 1 : at + rules.commitWindow
  votes.forEach((v, i) => { if (v !== null) r = ok(revealVote(r, rules, { caller: r.members[i], vote: v, salt: salt(i), now: revealAt })) })
  return r
}

const sum = (xs: Array<{ amount: bigint }>): bigint => xs.reduce((s, x) => s + x.amount, 0n)
const bonds = (): bigint => 1000n
const { Correct: C, Wrong: W, NoCase: N } = Vote

test('rules: the committee size is odd and no larger than the mediators named; bad rules are refused by name', t => {
  t.deepEqual([1, 2, 3, 4, 5, 9].map(n => committeeSizeFor(n, 3)), [1, 1, 3, 3, 3, 3])
  t.deepEqual([1, 2, 3, 4, 5, 9].map(n => committeeSizeFor(n, 5)), [1, 1, 3, 3, 5, 5])
  t.deepEqual([1, 3, 5, 7].map(quorumOf), [1, 2, 3, 4])
  t.throws(() => checkCommitteeRules({ ...rules, size: 4 }), { instanceOf: CommitteeRulesError, message: /odd/ })
  t.throws(() => checkCommitteeRules({ ...rules, slash: 2000n }), { instanceOf: CommitteeRulesError, message: /slash/ })
  t.throws(() => checkCommitteeRules({ ...rules, minBond: 0n }), { instanceOf: CommitteeRulesError, message: /unbonded/ })
})

test('rules for a network: defaults derived from its deal windows, an unbondDelay the Market accepts, bad choices refused by name', t => {
  const bounds = { maxResultTimeout: 7 * 86_400, maxJudgeWindow: 7 * 86_400 }
  const r = committeeRulesFor(bounds, 3600, { size: 3 })
  t.like(r, { size: 3, commitWindow: 3600, revealWindow: 3600, unbondDelay: 15 * 86_400, minBond: 100n * 10n ** 18n, slash: 10n * 10n ** 18n })
  t.is(minUnbondDelay(bounds, r), 14 * 86_400 + 10_800, 'result and judge windows, the seed reveals, both vote windows')
  t.true(r.unbondDelay >= minUnbondDelay(bounds, r), 'what the constructor requires')
  t.like(committeeRulesFor(bounds, 120, { size: 5, minBond: 50n }), { commitWindow: 120, revealWindow: 120, minBond: 50n, slash: 5n })
  t.is(committeeRulesFor(bounds, 3600, { size: 3, unbondDelay: 14 * 86_400 + 10_800 }).unbondDelay, 14 * 86_400 + 10_800, 'the least delay itself is accepted')
  t.throws(() => committeeRulesFor(bounds, 3600, { size: 3, unbondDelay: 14 * 86_400 + 7200 }), { instanceOf: CommitteeRulesError, message: /unbondDelay must be at least 1220400 s/ }, 'without the seed reveal window: the constructor reverts')
  t.throws(() => committeeRulesFor(bounds, 3600, { size: 3, unbondDelay: 14 * 86_400 }), { instanceOf: CommitteeRulesError, message: /unbondDelay must be at least 1220400 s/ })
  t.throws(() => committeeRulesFor(bounds, 3600, { size: 4 }), { instanceOf: CommitteeRulesError, message: /odd/ })
  t.throws(() => committeeRulesFor(bounds, 3600, { size: 3, minBond: 5n, slash: 6n }), { instanceOf: CommitteeRulesError, message: /slash/ })
  t.is(committeeRulesFor(bounds, 3600, { size: 1, unbondDelay: 0 }).unbondDelay, 0, 'committees off: the delay is unused')
})

test('draw: k distinct members, the same for the same seed, every mediator about equally often', t => {
  const counts = new Array<number>(M.length).fill(0)
  const N = 3000
  for (let s = 0; s < N; s++) {
    const d = drawCommittee(seed(s), M.length, 3)
    t.is(new Set(d).size, 3)
    for (const i of d) { t.true(i >= 0 && i < M.length); counts[i]++ }
  }
  t.deepEqual(drawCommittee(seed(9), M.length, 3), drawCommittee(seed(9), M.length, 3))
  t.notDeepEqual(drawCommittee(seed(9), M.length, 3), drawCommittee(seed(10), M.length, 3))
  // each is expected N·3/5 = 1800 times (sd ≈ 27); these seeds are fixed, so this is no coin toss
  for (const c of counts) t.true(Math.abs(c - 1800) < 150, `counts ${counts.join(', ')}`)
  t.throws(() => drawCommittee(seed(1), 3, 4), { instanceOf: RangeError })
})

test('the hashes are Solidity\'s abi.encode: keccak256(abi.encode(seed, i)) and keccak256(abi.encode(dealId, member, verdict, salt))', t => {
  const coder = AbiCoder.defaultAbiCoder()
  const s = seed(4)
  const n = 200
  const j0 = Number(BigInt(keccak256(coder.encode(['bytes32', 'uint256'], [s, 0]))) % BigInt(n))
  t.is(drawCommittee(s, n, 1)[0], j0)
  for (const v of [W, C, N]) t.is(voteCommitment(DEAL, M[2], v, salt(3)), keccak256(coder.encode(['bytes32', 'address', 'uint8', 'bytes32'], [DEAL, M[2], v, salt(3)])))
  // a bool encodes as the same word as the uint8 0 or 1
  t.is(voteCommitment(DEAL, M[2], C, salt(3)), keccak256(coder.encode(['bytes32', 'address', 'bool', 'bytes32'], [DEAL, M[2], true, salt(3)])))
})

test('agreement: a committee needs distinct, bonded mediators that are not the parties', t => {
  t.is(checkCommitteeAgree(terms, rules, bonds), null)
  t.is(checkCommitteeAgree({ ...terms, mediators: [] }, rules, bonds), 'CommitteeTooSmall')
  t.is(checkCommitteeAgree({ ...terms, mediators: [M[0], M[1], M[0]] }, rules, bonds), 'DuplicateMediator')
  t.is(checkCommitteeAgree({ ...terms, mediators: [M[0], RP.toUpperCase().replace('0X', '0x')] }, rules, bonds), 'PartyAsMediator')
  t.is(checkCommitteeAgree(terms, rules, a => a === M[3] ? 999n : 1000n), 'MediatorUnbonded')
})

test('three honest members: the majority decides, shares the fee, nobody is slashed, and every token is accounted for', t => {
  for (const correct of [true, false]) {
    const v = correct ? C : W
    const c = vote(committee(), [v, v, v])
    t.true(votingOver(c, rules, 1011))
    const f = finalizeCommittee(c, terms, rules, { now: 1011, bondOf: bonds })
    if (!f.ok) return t.fail(f.error)
    t.is(f.settlement.state, correct ? DealState.MediatedCorrect : DealState.MediatedWrong)
    t.deepEqual(f.settlement.slashes, [])
    // 7 split three ways: 3 + 2 + 2, the remainder to the first drawn
    t.deepEqual(f.settlement.credits, [{ account: correct ? RP : JC, amount: 30n }, { account: c.members[0], amount: 3n }, { account: c.members[1], amount: 2n }, { account: c.members[2], amount: 2n }])
    t.is(sum(f.settlement.credits), terms.price + terms.collateral + terms.mediationFee)
  }
})

test('one liar among three: outvoted, it loses part of its bond to the two who voted right', t => {
  const c = vote(committee(), [W, C, C])
  const f = finalizeCommittee(c, terms, rules, { now: 1011, bondOf: bonds })
  if (!f.ok) return t.fail(f.error)
  t.is(f.settlement.state, DealState.MediatedCorrect)
  t.deepEqual(f.settlement.tally, { outcome: 'correct', majority: [1, 2], slashed: [0], noCase: [] })
  t.deepEqual(f.settlement.slashes, [{ account: c.members[0], amount: 100n }])
  // fee 7 + slash 100 = 107 over two: 54 + 53
  t.deepEqual(f.settlement.credits.slice(1), [{ account: c.members[1], amount: 54n }, { account: c.members[2], amount: 53n }])
  t.is(sum(f.settlement.credits), terms.price + terms.collateral + terms.mediationFee + sum(f.settlement.slashes))
})

test('an absent member: the others reveal once the commit window passes, the deadline ends the vote, the absent one pays', t => {
  const c = vote(committee(), [C, null, C])
  t.is(c.allCommittedAt, null)
  t.false(votingOver(c, rules, 1100), 'the commit window is still open for the third member')
  t.true(votingOver(c, rules, 1110), 'past the commit window and everyone who committed has revealed')
  const f = finalizeCommittee(c, terms, rules, { now: 1110, bondOf: bonds })
  if (!f.ok) return t.fail(f.error)
  t.is(f.settlement.state, DealState.MediatedCorrect)
  t.deepEqual(f.settlement.slashes, [{ account: c.members[1], amount: 100n }])
  // a bond already smaller than the slash loses what it has
  const g = finalizeCommittee(c, terms, rules, { now: 1110, bondOf: a => a === c.members[1] ? 40n : 1000n })
  if (!g.ok) return t.fail(g.error)
  t.deepEqual(g.settlement.slashes, [{ account: c.members[1], amount: 40n }])
  t.is(sum(g.settlement.credits), 37n + 40n)
})

test('no quorum: the result stands as when a single mediator lets its window pass; silent members pay the job creator', t => {
  // one vote for, one against, one silent: neither verdict has two of three
  const c = vote(committee(), [C, W, null])
  const f = finalizeCommittee(c, terms, rules, { now: 1101, bondOf: bonds })
  if (!f.ok) return t.fail(f.error)
  t.is(f.settlement.state, DealState.TimedOutMediation)
  t.deepEqual(f.settlement.tally, { outcome: 'no-quorum', majority: [], slashed: [2], noCase: [] })
  t.deepEqual(f.settlement.credits, [{ account: RP, amount: 30n }, { account: JC, amount: 107n }])
  // nobody at all
  const n = finalizeCommittee(committee(), terms, rules, { now: 1101, bondOf: bonds })
  if (!n.ok) return t.fail(n.error)
  t.is(n.settlement.slashes.length, 3)
  t.is(sum(n.settlement.credits), 37n + 300n)
})

test('"no case": a member the parties never gave the case is neither paid nor slashed; a whole committee without it lets the result stand, on record', t => {
  // two re-ran and agree, one never got the case
  const c = vote(committee(), [C, N, C])
  const f = finalizeCommittee(c, terms, rules, { now: 1011, bondOf: bonds })
  if (!f.ok) return t.fail(f.error)
  t.deepEqual(f.settlement.tally, { outcome: 'correct', majority: [0, 2], slashed: [], noCase: [1] })
  t.deepEqual(f.settlement.slashes, [])
  t.false(f.settlement.credits.some(x => x.account === c.members[1]))
  // a cartel withholds the case from its own deal's audit: nobody can judge, nobody is slashed for it, the result
  // stands and the Market's record says why
  const cartel = vote(committee(), [N, N, N])
  const g = finalizeCommittee(cartel, terms, rules, { now: 1011, bondOf: bonds })
  if (!g.ok) return t.fail(g.error)
  t.is(g.settlement.state, DealState.TimedOutMediation)
  t.deepEqual(g.settlement.tally, { outcome: 'no-quorum', majority: [], slashed: [], noCase: [0, 1, 2] })
  // one liar against one "no case" and one honest: no quorum; only the silent would pay, and nobody is silent
  const split = vote(committee(), [W, N, C])
  t.deepEqual(tally(split), { outcome: 'no-quorum', majority: [], slashed: [], noCase: [1] })
  // a vote the Market does not know is refused
  let x = committee()
  x = ok(commitVote(x, rules, { caller: x.members[0], commitment: voteCommitment(DEAL, x.members[0], 3, salt(0)), now: 1001 }))
  t.deepEqual(revealVote(x, rules, { caller: x.members[0], vote: 3, salt: salt(0), now: 1101 }), { ok: false, error: 'InvalidVote' })
})

test('a member that committed but never revealed is silent; finalize waits for the reveal deadline', t => {
  let c = committee()
  c = ok(commitVote(c, rules, { caller: c.members[0], commitment: voteCommitment(DEAL, c.members[0], C, salt(0)), now: 1001 }))
  c = ok(commitVote(c, rules, { caller: c.members[1], commitment: voteCommitment(DEAL, c.members[1], C, salt(1)), now: 1002 }))
  c = ok(commitVote(c, rules, { caller: c.members[2], commitment: voteCommitment(DEAL, c.members[2], W, salt(2)), now: 1003 }))
  t.is(c.allCommittedAt, 1003)
  t.is(revealDeadline(c, rules), 1053)
  c = ok(revealVote(c, rules, { caller: c.members[0], vote: C, salt: salt(0), now: 1004 }))
  c = ok(revealVote(c, rules, { caller: c.members[1], vote: C, salt: salt(1), now: 1005 }))
  t.deepEqual(finalizeCommittee(c, terms, rules, { now: 1053, bondOf: bonds }), { ok: false, error: 'VotingOpen' })
  t.deepEqual(revealVote(c, rules, { caller: c.members[2], vote: W, salt: salt(2), now: 1054 }), { ok: false, error: 'RevealWindowClosed' })
  const f = finalizeCommittee(c, terms, rules, { now: 1054, bondOf: bonds })
  if (!f.ok) return t.fail(f.error)
  t.deepEqual(f.settlement.tally, { outcome: 'correct', majority: [0, 1], slashed: [2], noCase: [] })
})

test('attacks: copying a commitment, revealing early, revealing another verdict, voting twice, strangers and late commits', t => {
  let c = committee()
  const [a, b, x] = c.members
  const stranger = M.find(m => !c.members.includes(m)) as string
  const aHash = voteCommitment(DEAL, a, W, salt(0))
  c = ok(commitVote(c, rules, { caller: a, commitment: aHash, now: 1001 }))
  t.deepEqual(commitVote(c, rules, { caller: a, commitment: aHash, now: 1002 }), { ok: false, error: 'AlreadyCommitted' })
  t.deepEqual(commitVote(c, rules, { caller: stranger, commitment: aHash, now: 1002 }), { ok: false, error: 'NotCommitteeMember' })
  // b copies a's commitment without knowing its vote: its own address is in the hash, so nothing b reveals matches
  c = ok(commitVote(c, rules, { caller: b, commitment: aHash, now: 1002 }))
  t.deepEqual(revealVote(c, rules, { caller: a, vote: W, salt: salt(0), now: 1003 }), { ok: false, error: 'RevealNotOpen' })
  t.deepEqual(commitVote(c, rules, { caller: x, commitment: voteCommitment(DEAL, x, C, salt(2)), now: 1101 }), { ok: false, error: 'CommitWindowClosed' })
  c = ok(commitVote(c, rules, { caller: x, commitment: voteCommitment(DEAL, x, C, salt(2)), now: 1100 }))
  t.deepEqual(revealVote(c, rules, { caller: a, vote: C, salt: salt(0), now: 1101 }), { ok: false, error: 'CommitmentMismatch' })
  c = ok(revealVote(c, rules, { caller: a, vote: W, salt: salt(0), now: 1101 }))
  t.deepEqual(revealVote(c, rules, { caller: a, vote: W, salt: salt(0), now: 1102 }), { ok: false, error: 'AlreadyRevealed' })
  t.deepEqual(revealVote(c, rules, { caller: b, vote: W, salt: salt(0), now: 1102 }), { ok: false, error: 'CommitmentMismatch' })
  t.deepEqual(revealVote(c, rules, { caller: stranger, vote: C, salt: salt(0), now: 1102 }), { ok: false, error: 'NotCommitteeMember' })
  c = ok(revealVote(c, rules, { caller: x, vote: C, salt: salt(2), now: 1102 }))
  // a false, x true, b never revealed: no quorum
  t.is(tally(c).outcome, 'no-quorum')
  const silent = committee()
  t.deepEqual(revealVote(silent, rules, { caller: a, vote: C, salt: salt(0), now: 1101 }), { ok: false, error: 'NotCommitted' })
})

test('property: any mix of votes, silences and bonds settles exactly what the deal held plus what was slashed', t => {
  const rng = new Rng(15)
  for (let run = 0; run < 500; run++) {
    const size = [1, 3, 5][rng.int(3)]
    const r = { ...rules, size }
    const c0 = newCommittee(DEAL, M, seed(run), r, 0)
    const votes = c0.members.map(() => [C, W, N, null][rng.int(4)])
    let c = c0
    votes.forEach((v, i) => { if (v !== null) c = ok(commitVote(c, r, { caller: c.members[i], commitment: voteCommitment(DEAL, c.members[i], v, salt(i)), now: 1 })) })
    const revealAt = c.allCommittedAt !== null ? 2 : r.commitWindow + 1
    votes.forEach((v, i) => { if (v !== null) c = ok(revealVote(c, r, { caller: c.members[i], vote: v, salt: salt(i), now: revealAt })) })
    const bondOf = (a: string): bigint => BigInt(Number(BigInt(a) % 7n) * 40)
    const f = finalizeCommittee(c, { ...terms, mediationFee: BigInt(rng.int(50)) }, r, { now: r.commitWindow + r.revealWindow + 1, bondOf })
    if (!f.ok) return t.fail(f.error)
    const fee = sum(f.settlement.credits) - sum(f.settlement.slashes) - terms.price - terms.collateral
    t.true(fee >= 0n && fee < 50n)
    for (const s of f.settlement.slashes) t.true(s.amount <= bondOf(s.account) && s.amount <= r.slash)
    t.true(f.settlement.credits.every(x => x.amount > 0n))
    const tl = tally(c)
    // everyone is in exactly one group: the majority, the slashed, "no case", or (without a quorum) a verdict
    t.is(tl.majority.length + tl.slashed.length + tl.noCase.length + (tl.outcome === 'no-quorum' ? votes.filter(v => v === C || v === W).length : 0), c.members.length)
  }
})

test('the mediators a job creator may name: on a committee network the unbonded are left out (else every agree fails), a party and a repeat always', t => {
  const [a, b, c, d] = ['0x' + 'a1'.repeat(20), '0x' + 'b2'.repeat(20), '0x' + 'c3'.repeat(20), '0x' + 'd4'.repeat(20)]
  const bonds = new Map([[a, 10n], [b, 10n], [c, 3n], [d, 10n]])
  const bondOf = (m: string): bigint => bonds.get(m.toLowerCase()) ?? 0n
  const rules = { size: 3, minBond: 10n }
  t.deepEqual(nameableMediators([a, b, c, d], rules, bondOf, '0x' + 'ee'.repeat(20)), { kept: [a, b, d], left: [{ mediator: c, why: 'unbonded', bond: 3n }] })
  t.deepEqual(nameableMediators([a, a.toUpperCase().replace('0X', '0x'), b, c], rules, bondOf, b).kept, [a, c], 'the repeat and the party go first; two left: no committee, so no bond needed')
  t.deepEqual(nameableMediators([c, d], rules, bondOf, '0x' + 'ee'.repeat(20)).kept, [c, d], 'two mediators: one is drawn, no committee')
  t.deepEqual(nameableMediators([a, b, c], { size: 1, minBond: 10n }, bondOf, '0x' + 'ee'.repeat(20)).kept, [a, b, c], 'committees off: bonds do not matter')
  // what is kept passes the Market's own check
  const kept = nameableMediators([a, b, c, d], rules, bondOf, '0x' + 'ee'.repeat(20)).kept
  t.is(checkCommitteeAgree({ mediators: kept, jobCreator: '0x' + 'ee'.repeat(20), resourceProvider: '0x' + 'ff'.repeat(20) }, rules, bondOf), null)
  t.is(checkCommitteeAgree({ mediators: [a, b, c, d], jobCreator: '0x' + 'ee'.repeat(20), resourceProvider: '0x' + 'ff'.repeat(20) }, rules, bondOf), 'MediatorUnbonded')
})
