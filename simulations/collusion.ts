// The collusion scenario (issue 15): a fraction of the network's mediators lie together, and every dispute is
// judged by a committee drawn by the committee rules (protocols/settlement/committee.ts) and settled by them:
// each member commits, reveals and is tallied, finalize pays and slashes. Swept over committee size and the
// colluding fraction, it gives the chance of a wrong verdict and what a dispute costs, next to the exact
// probability (hypergeometric draw, binomial absences) as a check on the run, and says which committee size the
// network should default to.
//
// The model of behaviour: colluders always vote, all for the wrong verdict (they need not re-run the job); an honest
// mediator re-runs the job and votes right, except that it misses a dispute (offline, too slow) with
// `absentRate`. Half the disputes are about a wrong result (the provider cheated), half about a right one (the
// job creator challenged an honest provider): a wrong verdict is either a cheater paid or an honest provider slashed.
// A committee without a quorum lets the result stand, which is wrong for the cheating half.
import { keccak256, toBeHex } from 'ethers'
import { Rng } from './rng.ts'
import { round } from './metrics.ts'
import {
  checkCommitteeRules, commitVote, committeeSizeFor, finalizeCommittee, newCommittee, quorumOf, revealVote, voteCommitment, Vote,
  type CommitteeRecord, type CommitteeRules
} from '../protocols/settlement/committee.ts'
import type { DealTerms } from '../protocols/settlement/market.ts'

const LP = 10n ** 18n

export interface CollusionOptions {
  seed: number
  /** mediators in the network; every deal names all of them */
  mediators: number
  sizes: number[]
  fractions: number[]
  /** disputes per (size, fraction) point */
  disputes: number
  /** the chance an honest mediator misses a dispute */
  absentRate: number
  /** the wrong-verdict chance the default size must keep under, at `designFraction` colluding */
  target: number
  designFraction: number
}

export const COLLUSION_SIZES = [1, 3, 5, 7, 9]
export const COLLUSION_FRACTIONS = [0, 0.1, 0.2, 0.3, 0.4, 0.5]

export function defaultCollusionOptions (nodes: number, seed: number): CollusionOptions {
  return { seed, mediators: Math.min(255, Math.max(9, Math.round(nodes / 10))), sizes: COLLUSION_SIZES, fractions: COLLUSION_FRACTIONS, disputes: 2000, absentRate: 0.05, target: 0.01, designFraction: 0.1 }
}

/** The deal every dispute is about (LP): price 1, collateral 2, and a fee that pays each member's re-run (0.4). */
const EXEC_COST = 4n * LP / 10n
const RULES: CommitteeRules = checkCommitteeRules({ size: 1, commitWindow: 3600, revealWindow: 1800, unbondDelay: 30 * 86_400, minBond: 20n * LP, slash: 2n * LP })

export interface CollusionPoint {
  size: number
  fraction: number
  colluders: number
  disputes: number
  /** wrong verdicts / disputes, simulated through the committee rules */
  wrongVerdict: number
  /** the same, exactly */
  wrongVerdictExact: number
  noQuorum: number
  /** the fee a dispute needs so every member's share pays its re-run: size × re-run cost */
  feeLP: number
  /**
   * transactions per dispute, mean: the challenge, the parties' two seed reveals, each present member's commit and
   * reveal (the last reveal closes the vote; a finalize only when nobody voted); a lone mediator (k = 1): the
   * challenge, its draw and its verdict
   */
  transactions: number
  /** bonds lost by honest mediators per dispute, mean, LP */
  honestSlashedLP: number
  /** what the colluders take per dispute (fee shares and slashed bonds) less their own slashed bonds, mean, LP */
  colluderGainLP: number
}

export interface CollusionResult {
  scenario: 'collusion'
  seed: number
  mediators: number
  absentRate: number
  rules: { commitWindow: number, revealWindow: number, minBondLP: number, slashLP: number, execCostLP: number }
  points: CollusionPoint[]
  recommendation: { size: number, target: number, designFraction: number, why: string }
}

const mediatorAddress = (i: number): string => '0x' + (0xc0000 + i).toString(16).padStart(40, '0')

function choose (n: number, k: number): number {
  if (k < 0 || k > n) return 0
  let r = 1
  for (let i = 1; i <= k; i++) r = r * (n - k + i) / i
  return r
}

/** P(wrong verdict) exactly: c colluders drawn (hypergeometric), each of the k − c honest present with 1 − a. */
export function exactWrongVerdict (n: number, m: number, k: number, a: number): number {
  const q = quorumOf(k)
  let p = 0
  for (let c = 0; c <= Math.min(k, m); c++) {
    const pc = choose(m, c) * choose(n - m, k - c) / choose(n, k)
    if (pc === 0) continue
    if (c >= q) { p += pc; continue }
    // the honest members reach a quorum unless fewer than q of the k − c show up; then no quorum: wrong for half
    let noQuorum = 0
    for (let h = 0; h < q && h <= k - c; h++) noQuorum += choose(k - c, h) * (1 - a) ** h * a ** (k - c - h)
    p += pc * noQuorum * 0.5
  }
  return p
}

function runPoint (o: CollusionOptions, size: number, fraction: number): CollusionPoint {
  const n = o.mediators
  const rng = new Rng(`${o.seed}:collusion:${size}:${fraction}`)
  const mediators = Array.from({ length: n }, (_, i) => mediatorAddress(i))
  const m = Math.round(fraction * n)
  // which mediators collude: a seeded shuffle, so they are no particular part of the list
  const order = mediators.map(x => ({ x, r: rng.next() })).sort((p, q) => p.r - q.r).map(p => p.x)
  const colluding = new Set(order.slice(0, m))
  const rules = { ...RULES, size }
  const k = committeeSizeFor(n, size)
  const terms: DealTerms = { jobCreator: '0x' + 'a1'.padStart(40, '0'), resourceProvider: '0x' + 'b2'.padStart(40, '0'), mediators, price: LP, collateral: 2n * LP, mediationFee: BigInt(k) * EXEC_COST, auditPpm: 0, resultTimeout: 3600, judgeWindow: 600, mediateTimeout: 3600, expiry: 0n, nonce: 0n }
  let wrong = 0; let noQuorum = 0; let txs = 0; let honestSlashed = 0n; let colluderGain = 0n
  for (let d = 0; d < o.disputes; d++) {
    const resultRight = rng.bernoulli(0.5)
    const dealId = toBeHex(BigInt(d + 1), 32)
    const seed = keccak256(toBeHex(BigInt(rng.nextU32()) << 32n | BigInt(rng.nextU32()), 32))
    let c: CommitteeRecord = newCommittee(dealId, mediators, seed, rules, 0)
    const [right, wrongVote] = resultRight ? [Vote.Correct, Vote.Wrong] : [Vote.Wrong, Vote.Correct]
    const votes = c.members.map(x => colluding.has(x) ? wrongVote : rng.bernoulli(o.absentRate) ? null : right)
    const salt = (i: number): string => toBeHex(BigInt(d * 256 + i + 1), 32)
    const must = (s: ReturnType<typeof commitVote>): CommitteeRecord => { if (!s.ok) throw new Error(`collusion: ${s.error}`); return s.record }
    votes.forEach((v, i) => { if (v !== null) c = must(commitVote(c, rules, { caller: c.members[i], commitment: voteCommitment(dealId, c.members[i], v, salt(i)), now: 1 })) })
    const revealAt = c.allCommittedAt !== null ? 2 : rules.commitWindow + 1
    votes.forEach((v, i) => { if (v !== null) c = must(revealVote(c, rules, { caller: c.members[i], vote: v, salt: salt(i), now: revealAt })) })
    const f = finalizeCommittee(c, terms, rules, { now: rules.commitWindow + rules.revealWindow + 2, bondOf: () => RULES.minBond })
    if (!f.ok) throw new Error(`collusion: ${f.error}`)
    const s = f.settlement
    const verdictRight = s.tally.outcome === 'no-quorum' ? resultRight : (s.tally.outcome === 'correct') === resultRight
    if (!verdictRight) wrong++
    if (s.tally.outcome === 'no-quorum') noQuorum++
    const present = votes.filter(v => v !== null).length
    txs += c.members.length === 1 ? 3 : 3 + 2 * present + (present === 0 ? 1 : 0)
    for (const x of s.slashes) {
      if (colluding.has(x.account)) colluderGain -= x.amount
      else honestSlashed += x.amount
    }
    for (const x of s.credits) if (colluding.has(x.account)) colluderGain += x.amount
  }
  const per = (x: bigint): number => round(Number(x) / 1e18 / o.disputes, 4)
  return {
    size: k,
    fraction,
    colluders: m,
    disputes: o.disputes,
    wrongVerdict: round(wrong / o.disputes, 4),
    wrongVerdictExact: round(exactWrongVerdict(n, m, k, o.absentRate), 4),
    noQuorum: round(noQuorum / o.disputes, 4),
    feeLP: Number(BigInt(k) * EXEC_COST) / 1e18,
    transactions: round(txs / o.disputes, 2),
    honestSlashedLP: per(honestSlashed),
    colluderGainLP: per(colluderGain)
  }
}

export function runCollusionScenario (o: CollusionOptions): CollusionResult {
  const points: CollusionPoint[] = []
  for (const size of o.sizes) for (const fraction of o.fractions) points.push(runPoint(o, size, fraction))
  // the default: the smallest committee whose exact wrong-verdict chance at the design fraction meets the target
  const at = points.filter(p => p.fraction === o.designFraction).sort((a, b) => a.size - b.size)
  const fit = at.find(p => p.wrongVerdictExact <= o.target) ?? at[at.length - 1]
  const one = at.find(p => p.size === 1)
  const why = `With ${o.mediators} mediators of which ${Math.round(o.designFraction * 100)} % lie together and honest ones miss ${Math.round(o.absentRate * 100)} % of disputes, ` +
    `a committee of ${fit.size} gives a wrong verdict in ${(fit.wrongVerdictExact * 100).toFixed(2)} % of disputes (target ${(o.target * 100).toFixed(0)} %` +
    `${one !== undefined ? `; a single mediator: ${(one.wrongVerdictExact * 100).toFixed(1)} %` : ''}); ` +
    `it is the smallest size that does, and each member more costs one more re-run (${Number(EXEC_COST) / 1e18} LP of fee) and two transactions.` +
    (fit.wrongVerdictExact > o.target ? ' No size swept meets the target: the largest is named.' : '')
  return {
    scenario: 'collusion',
    seed: o.seed,
    mediators: o.mediators,
    absentRate: o.absentRate,
    rules: { commitWindow: RULES.commitWindow, revealWindow: RULES.revealWindow, minBondLP: Number(RULES.minBond) / 1e18, slashLP: Number(RULES.slash) / 1e18, execCostLP: Number(EXEC_COST) / 1e18 },
    points,
    recommendation: { size: fit.size, target: o.target, designFraction: o.designFraction, why }
  }
}
