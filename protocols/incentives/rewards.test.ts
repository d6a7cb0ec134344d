// The reward computation on hand-made facts: each rule (passes, penalties, caps, what counts as paid work, the
// budget) checked with amounts worked out by hand, and the result independent of the order of the facts.
import test from 'ava'
import fc from 'fast-check'
import { computeEpochRewards, type EpochInputs, type ProviderReward } from './rewards.ts'
import { defaultRewardRules, type RewardRules } from './rules.ts'
import { CanaryOutcome, type CanaryOutcomeValue } from './canary-report.ts'
import { RewardsTree } from './merkle.ts'
import { dealOutcomes, type CanaryRecord, type DealOutcome, type DealParties, type MarketFact } from './outcomes.ts'

const LP = 10n ** 18n
const ZERO_DEAL = '0x' + '0'.repeat(64)
const addr = (n: number): string => '0x' + n.toString(16).padStart(40, '0')
const id = (n: number): string => '0x' + n.toString(16).padStart(64, '0')
const HONEST = addr(0xa1)
const JC = [addr(0xc1), addr(0xc2), addr(0xc3)]
const VALIDATOR = addr(0xf1)
const OTHER = addr(0xa2)

/** 2 units a slot (2,000 milli-units), 0.1 LP per unit per pass, 3 LP of paid cap per unit: easy sums. */
const rules: RewardRules = { ...defaultRewardRules, epochBudget: 1_000_000n * LP, canaryRewardPerUnit: LP / 10n, paidCapPerUnit: 3n * LP, paidRewardPpm: 200_000, maxPricePerDeal: 10n * LP, minAuditPpm: 10_000, creatorSharePpm: 500_000, providerCap: 1000n * LP, failPenalty: 3, timeoutPenalty: 2, minPasses: 1, maxCanariesPerProvider: 96 }

let seq = 1000
function canary (provider: string, outcome: CanaryOutcomeValue, o: Partial<CanaryRecord> = {}): { rec: CanaryRecord, parties?: [string, DealParties] } {
  const n = seq++
  const dealId = outcome === CanaryOutcome.Unreachable ? ZERO_DEAL : id(n)
  const rec: CanaryRecord = { reportId: id(n + 0x10000), epoch: 7, provider: provider.toLowerCase(), validator: VALIDATOR, dealId, outcome, units: 2000, observedAt: 100, ...o }
  return { rec, parties: dealId === ZERO_DEAL ? undefined : [dealId, { provider: provider.toLowerCase(), jobCreator: addr(0xee) }] }
}
function deal (provider: string, o: Partial<DealOutcome> = {}): DealOutcome {
  return { dealId: id(seq++), provider: provider.toLowerCase(), jobCreator: JC[0], price: LP, auditPpm: 50_000, audited: false, challenged: false, state: 'Settled', closedBlock: 10, ...o }
}
function inputs (cs: Array<ReturnType<typeof canary>>, deals: DealOutcome[]): EpochInputs {
  return { epoch: 7, deals, canaries: cs.map(c => c.rec), canaryDeals: new Map(cs.flatMap(c => c.parties !== undefined ? [c.parties] : [])) }
}

test('an honest provider: canary reward per verified unit, paid reward a fifth of the price, within its caps', t => {
  const cs = Array.from({ length: 4 }, () => canary(HONEST, CanaryOutcome.Passed))
  const deals = [...Array.from({ length: 5 }, () => deal(HONEST, { jobCreator: JC[0] })), ...Array.from({ length: 5 }, () => deal(HONEST, { jobCreator: JC[1] }))]
  // the same job creators paid another provider as much (they are real customers of the market, not a cartel's keys)
  const elsewhere = [...Array.from({ length: 5 }, () => deal(OTHER, { jobCreator: JC[0] })), ...Array.from({ length: 5 }, () => deal(OTHER, { jobCreator: JC[1] }))]
  const r = computeEpochRewards(inputs(cs, [...deals, ...elsewhere]), rules)
  const p = r.providers[0]
  t.is(p.provider, HONEST)
  t.is(p.units, 8000) // 4 passes × 2,000
  t.is(p.canaryReward, 8n * LP / 10n) // 8 units × 0.1 LP
  t.is(p.paidCap, 24n * LP) // 8 units × 3 LP
  t.is(p.paidDeals, 10)
  t.is(p.paidReward, 2n * LP) // 10 LP of price × 0.2
  t.is(p.amount, 2n * LP + 8n * LP / 10n)
  t.is(r.total, p.amount, 'OTHER had no canary pass: no reward')
  t.false(r.scaled)
})

test('self-dealing: a job creator that pays only one provider counts for nothing; a cartel must pay strangers what it wants counted', t => {
  const cs = Array.from({ length: 48 }, () => canary(HONEST, CanaryOutcome.Passed)) // paid cap 288 LP
  const own = [addr(0xd1), addr(0xd2), addr(0xd3), addr(0xd4)] // the cartel's own job creator keys
  const fake = own.flatMap(jc => Array.from({ length: 50 }, () => deal(HONEST, { jobCreator: jc, price: 10n * LP, auditPpm: 10_000 })))
  const alone = computeEpochRewards(inputs(cs, fake), rules).providers[0]
  t.is(alone.paidVolume, 2000n * LP)
  t.is(alone.paidReward, 0n, 'no job creator paid anyone else')
  // to have 20 LP of its fake volume counted from each key, each key pays strangers 20 LP: 80 LP out, 16 LP of reward
  const strangers = own.flatMap(jc => Array.from({ length: 2 }, () => deal(OTHER, { jobCreator: jc, price: 10n * LP, auditPpm: 10_000 })))
  const paying = computeEpochRewards(inputs(cs, [...fake, ...strangers]), rules).providers.find(p => p.provider === HONEST.toLowerCase())
  t.is(paying?.paidReward, 16n * LP)
  t.true((paying?.paidReward ?? 0n) < 80n * LP, 'the reward bought is less than the money paid away')
})

test('default rules: real work at a quiet testnet\'s pace fills the paid cap, so a cartel\'s faked deals earn it nothing more', t => {
  // a census-typical epoch: 12 canaries passed (7 cowsay, 3 primes, 2 wordcount: 7,321 milli-units verified) and 30
  // counted 1-LP jobs from 30 job creators who paid other providers too (40 jobs a day, three in four audited)
  const units = [...Array<number>(7).fill(515), ...Array<number>(3).fill(1062), ...Array<number>(2).fill(265)]
  const real = (p: string): DealOutcome[] => Array.from({ length: 30 }, (_, i) => deal(p, { jobCreator: addr(0x1000 + i) }))
  const strangers = Array.from({ length: 30 }, (_, i) => deal(OTHER, { jobCreator: addr(0x1000 + i) }))
  // the cartel: the same canaries and real work, and 200 deals at 10 LP, 1 % audits, from its own four keys, which also
  // pay a second cartel provider as much (so each key "paid others")
  const CARTEL = addr(0xa3)
  const SECOND = addr(0xa4)
  const keys = [addr(0xd1), addr(0xd2), addr(0xd3), addr(0xd4)]
  const fakes = (p: string): DealOutcome[] => Array.from({ length: 200 }, (_, i) => deal(p, { jobCreator: keys[i % 4], price: 10n * LP, auditPpm: 10_000 }))
  const run = (r: RewardRules): { honest: ProviderReward, cartel: ProviderReward } => {
    const cs = [HONEST, CARTEL].flatMap(p => units.map(u => canary(p, CanaryOutcome.Passed, { units: u })))
    const out = computeEpochRewards(inputs(cs, [...real(HONEST), ...real(CARTEL), ...strangers, ...fakes(CARTEL), ...fakes(SECOND)]), r)
    const find = (p: string): ProviderReward => out.providers.find(x => x.provider === p.toLowerCase()) as ProviderReward
    return { honest: find(HONEST), cartel: find(CARTEL) }
  }
  const now = run(defaultRewardRules)
  t.is(now.honest.units, 7321)
  t.is(now.honest.paidCap, 7321n * LP / 2000n) // 3.66 LP
  t.is(now.honest.paidReward, now.honest.paidCap, 'honest work fills the cap (6 LP of paid reward before it)')
  t.is(now.cartel.paidDeals, 230)
  t.is(now.cartel.amount, now.honest.amount, 'faked deals add nothing; their gas is a loss')
  // with 1 LP per verified unit (the previous default) the same real work left 1.32 LP of the cap to the cartel
  const before = run({ ...defaultRewardRules, paidCapPerUnit: LP })
  t.is(before.honest.paidReward, 6n * LP)
  t.is(before.cartel.amount - before.honest.amount, 7321n * LP / 1000n - 6n * LP)
})

test('idle uptime earns nothing: a provider no canary reached, however many offers it kept live, has no reward', t => {
  const r = computeEpochRewards(inputs([], [deal(HONEST)]), rules)
  t.is(r.providers[0].amount, 0n)
  t.is(r.providers[0].noReward, 'no-canary-pass')
  t.is(r.total, 0n)
})

test('penalties: a failed canary cancels three passes, a result timeout two, a slash the whole epoch', t => {
  const passes = Array.from({ length: 6 }, () => canary(HONEST, CanaryOutcome.Passed))
  const one = computeEpochRewards(inputs([...passes, canary(HONEST, CanaryOutcome.WrongResult)], []), rules).providers[0]
  t.is(one.netPasses, 3)
  t.is(one.units, 6000) // 12,000 × 3/6
  const unreachable = computeEpochRewards(inputs([...passes, canary(HONEST, CanaryOutcome.Unreachable), canary(HONEST, CanaryOutcome.NoResult)], []), rules).providers[0]
  t.is(unreachable.netPasses, 0)
  t.is(unreachable.noReward, 'too-few-passes')
  const timeout = computeEpochRewards(inputs(passes, [deal(HONEST, { state: 'TimedOutResult' })]), rules).providers[0]
  t.is(timeout.netPasses, 4)
  const slashed = computeEpochRewards(inputs(passes, [deal(HONEST), deal(HONEST, { state: 'MediatedWrong' })]), rules).providers[0]
  t.is(slashed.noReward, 'slashed')
  t.is(slashed.amount, 0n)
  // a mediator that did not answer is nobody's fault of the provider's: it still counts as paid work
  const mediation = computeEpochRewards(inputs(passes, [deal(HONEST, { state: 'TimedOutMediation' }), deal(HONEST, { state: 'MediatedCorrect' })]), rules).providers[0]
  t.is(mediation.paidDeals, 2)
})

test('what counts as paid work: not canaries, not deals with itself, only audited often enough, price capped', t => {
  const c = canary(HONEST, CanaryOutcome.Passed)
  const canaryDeal = deal(HONEST, { dealId: c.rec.dealId })
  const self = deal(HONEST, { jobCreator: HONEST })
  const unaudited = deal(HONEST, { auditPpm: 0 })
  const unknownAudit = deal(HONEST, { auditPpm: null })
  const justEnough = deal(HONEST, { auditPpm: 10_000 })
  const pricey = deal(HONEST, { price: 1000n * LP, jobCreator: JC[1] })
  const p = computeEpochRewards(inputs([c], [canaryDeal, self, unaudited, unknownAudit, justEnough, pricey]), rules).providers[0]
  t.is(p.paidDeals, 2)
  t.is(p.paidVolume, 11n * LP) // 1 LP + the 10 LP cap of the pricey deal
})

test('a deal a committee could not judge (no quorum, a member never got the case) is paid but not counted as work; the outcome comes from the chain\'s facts', t => {
  const agreed = (dealId: string): MarketFact => ({ dealId, block: 1, kind: 'DealAgreed', jobCreator: JC[0], resourceProvider: HONEST.toLowerCase(), price: LP, collateral: 2n * LP, mediationFee: LP / 10n, auditPpm: 50_000 })
  const [withheld, split, judged] = [id(seq++), id(seq++), id(seq++)]
  const facts: MarketFact[] = [
    // a cartel kept the case from its audit: every member said "no case"; the result stood
    agreed(withheld), { dealId: withheld, block: 2, kind: 'ResultSubmitted' }, { dealId: withheld, block: 2, kind: 'DealChallenged', audit: true }, { dealId: withheld, block: 3, kind: 'DealTimedOut', which: 'mediation' }, { dealId: withheld, block: 3, kind: 'CommitteeFinalized', noCase: 0b111 },
    // a committee that had the case and split without a quorum (one silent): the result stands as work
    agreed(split), { dealId: split, block: 3, kind: 'DealTimedOut', which: 'mediation' }, { dealId: split, block: 3, kind: 'CommitteeFinalized', noCase: 0 },
    // a committee that judged the result correct, one member without the case
    agreed(judged), { dealId: judged, block: 3, kind: 'DealMediated', resultCorrect: true }, { dealId: judged, block: 3, kind: 'CommitteeFinalized', noCase: 0b010 }
  ]
  const outcomes = dealOutcomes(facts)
  t.deepEqual(outcomes.map(o => [o.dealId, o.state, o.unjudged]), [[withheld, 'TimedOutMediation', true], [split, 'TimedOutMediation', undefined], [judged, 'MediatedCorrect', undefined]].sort((a, b) => String(a[0]) < String(b[0]) ? -1 : 1))
  const c = canary(HONEST, CanaryOutcome.Passed)
  const p = computeEpochRewards(inputs([c], outcomes.map(o => ({ ...o, closedBlock: 10 }))), rules).providers[0]
  t.is(p.paidDeals, 2, 'the judged and the split deal count; the withheld one does not')
})

test('caps: paid work up to the capacity canaries verified, at most half of it from one job creator; a provider cap', t => {
  const cs = [canary(HONEST, CanaryOutcome.Passed)] // 2 units: paid cap 6 LP, 3 LP from one job creator
  const fake = Array.from({ length: 100 }, () => deal(HONEST, { jobCreator: JC[0], price: 10n * LP })) // 200 LP of paid reward
  // the job creators also paid others as much (counted volume from a job creator is at most what it paid others)
  const others = [0, 1, 2].flatMap(j => Array.from({ length: 100 }, () => deal(OTHER, { jobCreator: JC[j], price: 10n * LP })))
  const one = computeEpochRewards(inputs(cs, [...fake, ...others]), rules).providers[0]
  t.is(one.paidCap, 6n * LP)
  t.is(one.paidReward, 3n * LP, 'one job creator: half the cap')
  const many = computeEpochRewards(inputs(cs, [...fake, ...others, ...Array.from({ length: 100 }, (_, i) => deal(HONEST, { jobCreator: JC[1 + (i % 2)], price: 10n * LP }))]), rules).providers[0]
  t.is(many.paidReward, 6n * LP, 'several job creators: the whole cap, never more')
  const capped = computeEpochRewards(inputs(Array.from({ length: 96 }, () => canary(HONEST, CanaryOutcome.Passed)), []), { ...rules, providerCap: 5n * LP }).providers[0]
  t.is(capped.canaryReward, 96n * 2n * LP / 10n)
  t.is(capped.amount, 5n * LP)
  const maxed = computeEpochRewards(inputs(Array.from({ length: 100 }, () => canary(HONEST, CanaryOutcome.Passed)), []), rules).providers[0]
  t.is(maxed.countedPasses, 96)
})

test('canary reports are checked against the chain: another provider\'s deal, an unknown deal or another epoch are ignored', t => {
  const mine = canary(HONEST, CanaryOutcome.Passed)
  const stolen = canary(HONEST, CanaryOutcome.Passed)
  stolen.parties = [stolen.rec.dealId, { provider: addr(0xb2), jobCreator: addr(0xee) }]
  const unknown = canary(HONEST, CanaryOutcome.Passed)
  unknown.parties = undefined
  const late = canary(HONEST, CanaryOutcome.Passed, { epoch: 6 })
  const r = computeEpochRewards(inputs([mine, stolen, unknown, late], []), rules)
  t.is(r.providers[0].passes, 1)
  t.deepEqual(r.ignoredReports.map(i => i.why).sort(), ['not-the-provider\'s-deal', 'other-epoch', 'unknown-deal'])
})

test('the budget: a larger sum is scaled down pro rata, rounding down, never above the budget', t => {
  const a = Array.from({ length: 10 }, () => canary(addr(0xa1), CanaryOutcome.Passed))
  const b = Array.from({ length: 20 }, () => canary(addr(0xa2), CanaryOutcome.Passed))
  const budget = 1n * LP + 1n
  const r = computeEpochRewards(inputs([...a, ...b], []), { ...rules, epochBudget: budget })
  t.true(r.scaled)
  t.true(r.total <= budget)
  const [pa, pb] = r.providers
  t.is(pa.reward, 2n * LP)
  t.is(pb.reward, 4n * LP)
  t.is(pa.amount, 2n * LP * budget / (6n * LP))
  t.is(pb.amount, 4n * LP * budget / (6n * LP))
})

test('deterministic: any order of the same facts gives the same rewards and the same Merkle root', t => {
  const providers = [addr(0xa1), addr(0xa2), addr(0xa3), addr(0xa4)]
  const outcomes = [CanaryOutcome.Passed, CanaryOutcome.Passed, CanaryOutcome.Passed, CanaryOutcome.WrongResult, CanaryOutcome.Unreachable] as const
  const arb = fc.record({
    cs: fc.array(fc.record({ p: fc.constantFrom(...providers), o: fc.constantFrom(...outcomes), units: fc.integer({ min: 0, max: 100_000 }) }), { maxLength: 40 }),
    ds: fc.array(fc.record({ p: fc.constantFrom(...providers), jc: fc.constantFrom(...JC), price: fc.bigInt({ min: 0n, max: 20n * LP }), state: fc.constantFrom('Settled', 'Settled', 'MediatedCorrect', 'MediatedWrong', 'TimedOutResult') as fc.Arbitrary<DealOutcome['state']>, audit: fc.constantFrom(0, 10_000, 50_000) }), { maxLength: 60 }),
    seed: fc.integer()
  })
  t.notThrows(() => fc.assert(fc.property(arb, ({ cs, ds, seed }) => {
    const canaries = cs.map(c => canary(c.p, c.o, { units: c.units }))
    const deals = ds.map(d => deal(d.p, { jobCreator: d.jc, price: d.price, state: d.state, auditPpm: d.audit }))
    const a = computeEpochRewards(inputs(canaries, deals), { ...rules, epochBudget: 50n * LP })
    const shuffle = <T>(xs: T[]): T[] => xs.map((x, i) => [x, (i * 7919 + seed) % 1009] as const).sort((p, q) => p[1] - q[1]).map(p => p[0])
    const b = computeEpochRewards(inputs(shuffle(canaries), shuffle(deals)), { ...rules, epochBudget: 50n * LP })
    if (JSON.stringify(a, (_k, v) => typeof v === 'bigint' ? v.toString() : v) !== JSON.stringify(b, (_k, v) => typeof v === 'bigint' ? v.toString() : v)) return false
    if (a.total > 50n * LP) return false
    if (a.total === 0n) return true
    return RewardsTree.fromRewards(a).root === RewardsTree.fromRewards(b).root
  }), { numRuns: 200 }))
})
