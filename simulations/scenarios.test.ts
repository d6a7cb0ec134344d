// Small versions of every scenario, asserting the invariants on the real protocol core they drive.
import test from 'ava'
import type { StrategyReport } from './rewards.ts'
import { runScenario, runMarket, scenarioConfig, thresholdFor } from './scenarios.ts'
import { toJson, metricsOf } from './output.ts'

const small = { nodes: 40, seed: 7, hours: 0.25 }

function common (t: import('ava').ExecutionContext, s: Record<string, any>): void {
  t.true(s.tokens.conserved)
  t.true(s.tokens.checks >= 5)
  t.is(s.jobs.withoutOutcome, 0, 'every job ends in a terminal state')
  t.is(s.deals.open, 0, 'every deal ends in a final state')
  t.true(s.jobs.submitted > 20)
}

test('steady: tokens conserved after every chain step, every job and deal ends, and a seed fixes the run', async t => {
  const c = { ...scenarioConfig('steady', small), checkEveryEvent: true }
  const a = await runMarket(c)
  const s = a.metrics.summary as Record<string, any>
  common(t, s)
  t.true(s.jobs.completionRate > 0.95)
  t.true(s.matchLatencyMs.p50 > 0)
  // a happy deal is two chain steps (agree, then the result with the job creator's acceptance signed off chain)
  t.true(s.tokens.checks >= s.deals.agreed * 2)
  t.true((s.chain.calls.submitAcceptedResult ?? 0) > s.deals.agreed * 0.8, `most results go on chain with their acceptance: ${JSON.stringify(s.chain.calls)}`)
  t.true((s.chain.calls.accept ?? 0) < s.deals.agreed * 0.1, 'an accept transaction only where the acceptance came too late')
  const r1 = await runScenario('steady', small)
  const r2 = await runScenario('steady', small)
  t.is(toJson(metricsOf(r1)), toJson(metricsOf(r2)))
  const r3 = await runScenario('steady', { ...small, seed: 8 })
  t.not(toJson(metricsOf(r1)), toJson(metricsOf(r3)))
})

test('steady with real EIP-712 ids runs the same way', async t => {
  const sim = await runMarket({ ...scenarioConfig('steady', { nodes: 20, seed: 3, hours: 0.15 }), exactIds: true })
  common(t, sim.metrics.summary as Record<string, any>)
})

test('churn: providers leave mid-job, result timeouts refund the job creator, jobs are re-matched', async t => {
  // (seed 1: audit draws are chain calls of their own now, which moved every later random draw; seed 2's run then
  // interrupted 33 jobs and re-ran every one in time, so nothing timed out to check)
  const r = await runScenario('churn', { nodes: 40, seed: 1, hours: 0.5 })
  const s = r.summary as Record<string, any>
  common(t, s)
  t.true(s.churn.left > 0)
  t.true(s.churn.jobsInterrupted > 0)
  t.true(s.churn.timeoutsRefunded > 0)
  t.is(s.deals.states.TimedOutResult, s.churn.timeoutsRefunded)
  t.true(s.jobs.rematched >= s.churn.timeoutsRefunded)
  t.true(s.jobs.completed > s.jobs.submitted * 0.9)
})

test('cheaters: thresholds come from the Market payouts, and cheating flips from profit to loss across them', async t => {
  const base = scenarioConfig('cheaters', small)
  const th = thresholdFor(base)
  // P = 1 LP, C = 2 LP, c = 0.4 LP
  t.is(th.net.settled, 1e18)
  t.is(th.net.mediatedWrong, -2e18)
  t.true(Math.abs(th.pLoss - 1 / 3) < 1e-12)
  t.true(Math.abs(th.pHonest - 0.4 / 3) < 1e-12)
  const r = await runScenario('cheaters', { ...small, hours: 0.5, sweep: [th.pHonest / 3, th.pLoss / 3, Math.min(1, th.pLoss * 1.8)] })
  common(t, r.summary as Record<string, any>)
  const [low, mid, high] = r.sweep ?? []
  // below p_honest cheating beats honest work; below p_loss it still makes money; above p_loss it loses
  t.true(low.cheaterProfitPerDealLP > low.honestProfitPerDealLP)
  t.true(mid.cheaterProfitPerDealLP > 0)
  t.true(high.cheaterProfitPerDealLP < 0)
  t.true(high.cheaterProfitPerDealLP < high.honestProfitPerDealLP)
  for (const p of [low, mid, high]) {
    t.true(p.cheats > 30)
    t.true(Math.abs(p.detectionRate - p.p) < 0.15, `detection ${p.detectionRate} at p=${p.p}`)
    t.true(Math.abs(p.cheaterProfitPerDealLP - p.expectedCheaterLP) < 0.35)
  }
})

test('partition: no deal crosses the cut while it lasts, and matching recovers after healing', async t => {
  const r = await runScenario('partition', { nodes: 40, seed: 5, hours: 0.5 })
  const s = r.summary as Record<string, any>
  common(t, s)
  const a = r.analysis as Record<string, any>
  t.is(a.crossSideMatchesWhileCut, 0)
  t.true(a.crossSideMatchesAfterHeal > 0)
  t.true(a.healed)
  t.true(a.recoveredMinutesAfterHeal <= 5)
})

test('spam: junk is rejected or capped by the real validator and order book, honest matching holds up', async t => {
  const r = await runScenario('spam', { nodes: 40, seed: 9, hours: 0.2 })
  const s = r.summary as Record<string, any>
  common(t, s)
  const v = s.spam.validatorVerdicts as Record<string, string[]>
  t.deepEqual(v.garbage.every(x => x.startsWith('REJECT:')), true)
  t.deepEqual(v.forged, ['REJECT:BAD_SIGNATURE'])
  t.deepEqual(v.expired, ['IGNORE:EXPIRED'])
  t.deepEqual(v['far-expiry'], ['IGNORE:EXPIRY_TOO_FAR'])
  t.deepEqual(v.signed, ['ACCEPT'])
  t.true(s.spam.published > 10_000)
  t.true((s.spam.bookResults['rejected-full'] ?? 0) + (s.spam.bookResults.added ?? 0) > 0)
  const a = r.analysis as Record<string, number>
  // the stated bound: at least 95 % of the no-spam completion rate, and at least 90 % of jobs done
  t.true(a.honestCompletionRate >= 0.9)
  t.true(a.ratio >= 0.95)
})

test('rewards: every farming strategy is performed and honest work earns strictly the most per unit of resource, at several seeds and both levels of demand; each attack meets its defence; roots reproducible', async t => {
  const { runRewardsScenario } = await import('./rewards.ts')
  for (const demand of [40, 200]) {
    for (const seed of [1, 3, 5, 8]) {
      const r = runRewardsScenario({ seed, epochs: 4, demand })
      const by = Object.fromEntries(r.strategies.map(s => [s.strategy, s]))
      const honest = by.honest.incomePerKiloUnitLP
      // strictly below: a Sybil machine or an overclaimer forfeits its collateral on every canary it lets time out; a
      // Sybil machine that declines them instead is judged to claim capacity it does not have, and its keys are sent
      // no canaries for a while; a cheater its collateral and its epoch when audited; idle uptime earns canaries
      // only; a cartel's faked deals add nothing once real work fills the paid cap, and cost their gas
      // (docs/incentives.md gives the figures)
      for (const s of r.strategies) if (s.strategy !== 'honest') t.true(s.incomePerKiloUnitLP < honest, `${s.strategy} at demand ${demand}, seed ${seed}: ${s.incomePerKiloUnitLP} vs honest ${honest}`)
      t.is(r.best, 'honest')
      t.true(r.honestEarnsMost)
      // an honest machine answers every canary sent to its free slots, and the races it loses (a real job took the
      // slot first) are tolerated — once a round, twice an epoch: at seed 8 one machine meets a third race in one
      // epoch (about 1 machine-epoch in 2,000 at the scenario's pessimistic 5 % a round), which is judged a decline
      t.true(by.honest.canaries.failed <= (seed === 8 ? 1 : 0), `seed ${seed}: ${by.honest.canaries.failed} honest canaries failed`)
      t.is(by.honest.canaries.failed, by.honest.canaries.declined)
      t.true(by.honest.canaries.racesTolerated > 0)
      // idle uptime: canaries only, far below work
      t.true(by.idle.incomePerKiloUnitLP < honest / 3)
      t.is(by.idle.paidDeals, 0)
      // Sybils: identities sharing one machine are asked together, fail, and are banned by the validator and job creators
      t.true(by.sybil.canaries.failed > 0)
      t.true(by.sybil.rewardsLP < by.honest.rewardsLP)
      t.true(by.sybil.costsLP > 0, 'the collateral of the canaries it let time out')
      // a Sybil machine that declines what it cannot run: no collateral lost, but each decline is a failed canary on
      // the signed record, and the key is sent no canaries for banEpochs epochs
      const decline = by['sybil-decline']
      t.true(decline.canaries.declined > 0 && decline.canaries.declined === decline.canaries.failed)
      t.is(decline.costsLP, 0)
      t.true(decline.rewardsLP < by.honest.rewardsLP)
      t.true(decline.incomePerKiloUnitLP < honest, `sybil-decline at demand ${demand}, seed ${seed}`)
      // overclaiming slots: the census asks for all of them at once
      t.true(by.overclaim.canaries.failed > 0)
      t.is(by.overclaim.rewardsLP, 0)
      t.true(by.overclaim.costsLP > 0)
      // passing canaries but cheating real jobs: audits slash it, and a slashed epoch earns nothing
      t.true(by.cheater.slashed > 0)
      t.true(by.cheater.rewardsLP < by.honest.rewardsLP)
      t.true(by.cheater.costsLP > 0)
      // the cartel: its faked deals count at most to the cap canaries verified, which real work already fills
      t.true(by.colluder.paidDeals > by.honest.paidDeals)
      t.true(by.colluder.rewardsLP <= by.honest.rewardsLP)
      t.is(r.roots.length, 4)
      if (seed === 3) t.deepEqual(runRewardsScenario({ seed: 3, epochs: 4, demand }).roots, r.roots, 'the same facts give the same roots')
    }
  }
})

test('rewards: a Sybil machine that declines the canaries it cannot run out-earned honest work while the validator took a decline for a failed dial; judged as a false claim of capacity it earns less at every seed, and races cost honest work little', async t => {
  const { runRewardsScenario } = await import('./rewards.ts')
  for (const demand of [40, 200]) {
    for (const seed of [1, 2, 4, 6, 8]) {
      // (canaries asking only their module's requirement, as they did then: the next tests but one)
      const run = (o: object): Record<string, StrategyReport> => Object.fromEntries(runRewardsScenario({ seed, epochs: 5, demand, canaryAsks: 'module', ...o }).strategies.map(s => [s.strategy, s]))
      const before = run({ judgeDeclines: false })
      const after = run({})
      t.true(before['sybil-decline'].incomePerKiloUnitLP > before.honest.incomePerKiloUnitLP, `before, demand ${demand}, seed ${seed}: the hole docs/incentives.md stated`)
      t.true(after['sybil-decline'].incomePerKiloUnitLP < after.honest.incomePerKiloUnitLP, `after, demand ${demand}, seed ${seed}`)
      // its keys that declined are sent no canaries for banEpochs: it passes fewer than before
      t.true(after['sybil-decline'].canaries.passed < before['sybil-decline'].canaries.passed)
      // withdrawing each slot before declining, to pass it off as a race: excused only where one of the key's own
      // real jobs was agreed in the canary's window, it earns less than declining did before, and less than honest work
      const withdrawing = run({ sybilWithdraws: true })['sybil-decline']
      t.true(withdrawing.incomePerKiloUnitLP < before['sybil-decline'].incomePerKiloUnitLP, `withdrawing, demand ${demand}, seed ${seed}`)
      t.true(withdrawing.incomePerKiloUnitLP < after.honest.incomePerKiloUnitLP, `withdrawing, demand ${demand}, seed ${seed}`)
      t.true(withdrawing.canaries.declined > 0)
      // before, every race was a failed canary; now (within the allowance) none is, and honest work earns more
      t.true(before.honest.canaries.failed > after.honest.canaries.failed)
      t.true(after.honest.incomePerKiloUnitLP > before.honest.incomePerKiloUnitLP)
      // against no race at all: a race costs an honest machine the canary the real job took, under one percent,
      // unless it meets a third race in an epoch (seed 8)
      const calm = run({ raceRate: 0 }).honest.incomePerKiloUnitLP
      if (after.honest.canaries.failed === 0) t.true(calm - after.honest.incomePerKiloUnitLP < calm * 0.01, `seed ${seed}: ${after.honest.incomePerKiloUnitLP} vs ${calm}`)
    }
  }
})

test('rewards: a Sybil machine that withdraws its offers before declining passed its declines off as races and out-earned honest work at some seeds; asked for the deal behind each race, the validator finds none and it earns less at every seed, while honest races (a real job\'s deal behind each) are judged as before', async t => {
  const { runRewardsScenario } = await import('./rewards.ts')
  // the seeds at which it came out above honest work at both levels before (docs/incentives.md: 7 of 30 quiet, 22 busy)
  for (const demand of [40, 200]) {
    for (const seed of [7, 9, 16, 23]) {
      // the deal check on its own, races excusing their canaries as they did then (deferring them: the next test)
      const run = (o: object): Record<string, StrategyReport> => Object.fromEntries(runRewardsScenario({ seed, epochs: 5, demand, sybilWithdraws: true, raceRetries: false, canaryAsks: 'module', ...o }).strategies.map(s => [s.strategy, s]))
      const before = run({ raceDeals: false })
      const after = run({})
      const at = `demand ${demand}, seed ${seed}`
      t.true(before['sybil-decline'].incomePerKiloUnitLP > before.honest.incomePerKiloUnitLP, `before, ${at}: the hole docs/incentives.md stated`)
      t.true(after['sybil-decline'].incomePerKiloUnitLP < after.honest.incomePerKiloUnitLP, `after, ${at}`)
      // its withdrawals with no deal behind them are declines now: fewer tolerated, more declined, fewer paid canaries
      t.true(after['sybil-decline'].canaries.racesTolerated < before['sybil-decline'].canaries.racesTolerated, at)
      t.true(after['sybil-decline'].canaries.declined > before['sybil-decline'].canaries.declined, at)
      t.true(after['sybil-decline'].canaries.passed < before['sybil-decline'].canaries.passed, at)
      // every honest race has the deal of the real job that took the slot: honest work, and every other strategy
      // that withdraws only what a real job took, is judged exactly as before
      for (const s of ['honest', 'cheater', 'colluder', 'idle', 'sybil', 'overclaim'] as const) t.deepEqual(after[s], before[s], `${s}, ${at}`)
      t.true(after.honest.canaries.racesTolerated > 0)
      // the limit (docs/incentives.md, Limits): a deal of its own job creator key behind each withdrawal excuses it
      // again, once a key a round — each such dodge costs a deal's gas and leaves the deal on the chain
      const faking = run({ sybilFakesRaceDeals: true })['sybil-decline']
      t.true(faking.canaries.racesTolerated > after['sybil-decline'].canaries.racesTolerated, at)
      t.true(faking.costsLP > 0, 'the gas of the faked deals')
    }
  }
})

test('rewards: a race defers, it does not excuse — the Sybil that fakes the deal behind each dodge out-earned honest work at these seeds and, owing each dodged canary at its next round, earns less; honest work passes its retries and earns a little more; where the Sybil still earns more (Limits) is performed too', async t => {
  const { runRewardsScenario } = await import('./rewards.ts')
  // (canaries asking only their module's requirement, as they did then: the next test)
  const run = (demand: number, seed: number, o: object): Record<string, StrategyReport> => Object.fromEntries(runRewardsScenario({ seed, epochs: 5, demand, sybilWithdraws: true, sybilFakesRaceDeals: true, canaryAsks: 'module', ...o }).strategies.map(s => [s.strategy, s]))
  // seeds at which it came out above honest work with races excused and below with them deferred (docs/incentives.md)
  for (const [demand, seed] of [[40, 7], [40, 23], [40, 30], [200, 2], [200, 12], [200, 30]]) {
    const at = `demand ${demand}, seed ${seed}`
    const before = run(demand, seed, { raceRetries: false })
    const after = run(demand, seed, {})
    const faker = after['sybil-decline']
    t.true(before['sybil-decline'].incomePerKiloUnitLP > before.honest.incomePerKiloUnitLP, `before, ${at}: the hole docs/incentives.md stated`)
    t.true(faker.incomePerKiloUnitLP < after.honest.incomePerKiloUnitLP, `after, ${at}`)
    t.true(faker.incomePerKiloUnitLP < before['sybil-decline'].incomePerKiloUnitLP, at)
    // it still dodges (its deals pass the deal check) but each dodge comes back, at a round where its machine is
    // asked for everything its keys offer again: retries sent, fewer passes
    t.is(before['sybil-decline'].canaries.retries, 0)
    t.true(faker.canaries.retries > 0, at)
    t.true(faker.canaries.passed < before['sybil-decline'].canaries.passed, at)
    t.true(faker.canaries.failed > before['sybil-decline'].canaries.failed, at)
    // honest work: every race's canary is sent again, passes, and is paid like any job — it earns a little more
    t.true(after.honest.canaries.racesTolerated > 0)
    t.true(after.honest.canaries.retries > 0 && after.honest.canaries.retries <= after.honest.canaries.racesTolerated, at)
    t.is(after.honest.canaries.failed, before.honest.canaries.failed, at)
    t.true(after.honest.incomePerKiloUnitLP > before.honest.incomePerKiloUnitLP, `honest, ${at}: ${after.honest.incomePerKiloUnitLP} vs ${before.honest.incomePerKiloUnitLP}`)
    // strategies that meet no race are judged exactly as before
    for (const s of ['idle', 'sybil', 'overclaim'] as const) t.deepEqual(after[s], before[s], `${s}, ${at}`)
  }
  // what deferring left (closed by the next test): at these seeds the faked-deal Sybil still earned more than honest work
  for (const [demand, seed] of [[40, 9], [200, 7]]) {
    const after = run(demand, seed, {})
    t.true(after['sybil-decline'].incomePerKiloUnitLP > after.honest.incomePerKiloUnitLP, `the limit, demand ${demand}, seed ${seed}`)
    t.true(after['sybil-decline'].incomePerKiloUnitLP < run(demand, seed, { raceRetries: false })['sybil-decline'].incomePerKiloUnitLP)
  }
})

test('rewards: canaries that ask for the whole slot they are sent to — the faked-deal Sybil, whose key offering every slot of its machine was sent and ran more canaries than an honest machine\'s free slots take, earns less than honest work at every seed where it earned more; every other strategy that offers only what it has earns exactly as before', async t => {
  const { runRewardsScenario } = await import('./rewards.ts')
  const run = (demand: number, seed: number, o: object): Record<string, StrategyReport> => Object.fromEntries(runRewardsScenario({ seed, epochs: 5, demand, ...o }).strategies.map(s => [s.strategy, s]))
  // the seeds at which it came out above honest work with canaries asking only their module's requirement
  // (docs/incentives.md, Limits: 2 of 30 quiet, 8 of 30 busy)
  const seeds = [[40, 9], [40, 16], ...[3, 7, 9, 13, 16, 21, 23, 27].map(s => [200, s])]
  for (const [demand, seed] of seeds) {
    const at = `demand ${demand}, seed ${seed}`
    const faking = { sybilWithdraws: true, sybilFakesRaceDeals: true }
    const before = run(demand, seed, { ...faking, canaryAsks: 'module' })
    const after = run(demand, seed, faking)
    t.true(before['sybil-decline'].incomePerKiloUnitLP > before.honest.incomePerKiloUnitLP, `before, ${at}: the hole docs/incentives.md stated`)
    t.true(after['sybil-decline'].incomePerKiloUnitLP < after.honest.incomePerKiloUnitLP, `after, ${at}: ${after['sybil-decline'].incomePerKiloUnitLP} vs ${after.honest.incomePerKiloUnitLP}`)
    // its machine runs at once only as many canaries as it has free slots: fewer passed, fewer paid
    t.true(after['sybil-decline'].canaries.passed < before['sybil-decline'].canaries.passed, at)
    t.true(after['sybil-decline'].paymentsLP < before['sybil-decline'].paymentsLP, at)
    // an honest machine (and the cheater, the cartel, the idle machine) offers only the slots it has free: each canary
    // takes the slot it was sent to, and nothing changes for them — not a canary, not an LP wei
    for (const s of ['honest', 'cheater', 'colluder', 'idle'] as const) t.deepEqual(after[s], before[s], `${s}, ${at}`)
    // the Sybils that let canaries time out and the overclaimer, asked for the room of every slot they claim, run fewer
    for (const s of ['sybil', 'overclaim'] as const) t.true(after[s].incomePerKiloUnitLP < before[s].incomePerKiloUnitLP, `${s}, ${at}`)
  }
  // the Sybil whose every key offers only the slots real jobs leave free, as an honest provider does (eight keys, each
  // offering the same free slots): with canaries asking their module's requirement it out-earned honest work at most
  // seeds (docs/incentives.md, Limits); asking for the whole slot, its machine runs one key's canaries and the other
  // keys dodge theirs
  for (const [demand, seed, o] of [[40, 5, {}], [200, 4, {}], [40, 25, { sybilWithdraws: true, sybilFakesRaceDeals: true }], [200, 25, { sybilWithdraws: true, sybilFakesRaceDeals: true }]] as const) {
    const at = `free slots, ${JSON.stringify(o)}, demand ${demand}, seed ${seed}`
    const before = run(demand, seed, { ...o, sybilOffers: 'free', canaryAsks: 'module' })
    const after = run(demand, seed, { ...o, sybilOffers: 'free' })
    t.true(before['sybil-decline'].incomePerKiloUnitLP > before.honest.incomePerKiloUnitLP, `before, ${at}`)
    t.true(after['sybil-decline'].incomePerKiloUnitLP < after.honest.incomePerKiloUnitLP, `after, ${at}`)
  }
  // and every other variant of the Sybil at these seeds: below honest work too
  for (const [demand, seed] of seeds) {
    for (const o of [{}, { sybilWithdraws: true }, { judgeDeclines: false }]) {
      const r = run(demand, seed, o)
      t.true(r['sybil-decline'].incomePerKiloUnitLP < r.honest.incomePerKiloUnitLP, `${JSON.stringify(o)}, demand ${demand}, seed ${seed}`)
    }
  }
})

test('collusion: committees drawn and settled by the committee rules; wrong verdicts match the exact chance, fall with committee size, and the default is the smallest size under the target', async t => {
  const { runCollusionScenario, exactWrongVerdict } = await import('./collusion.ts')
  const r = runCollusionScenario({ seed: 3, mediators: 15, sizes: [1, 3, 5], fractions: [0, 0.2, 0.4], disputes: 400, absentRate: 0.05, target: 0.05, designFraction: 0.2 })
  t.is(r.points.length, 9)
  for (const p of r.points) {
    // 400 disputes: the simulated share is within 4 standard deviations of the exact chance (fixed seed: no coin toss)
    const sd = Math.sqrt(p.wrongVerdictExact * (1 - p.wrongVerdictExact) / p.disputes)
    t.true(Math.abs(p.wrongVerdict - p.wrongVerdictExact) <= 4 * sd + 0.005, `k=${p.size} f=${p.fraction}: ${p.wrongVerdict} vs ${p.wrongVerdictExact}`)
    // the challenge and two seed reveals, a commit and a reveal per member (the last reveal closes the vote); a lone
    // mediator: challenge, draw, verdict
    t.true(p.transactions <= (p.size === 1 ? 3 : 3 + 2 * p.size))
    t.is(p.feeLP, p.size * 4 / 10)
    if (p.fraction === 0) t.is(p.colluderGainLP, 0)
  }
  for (const f of [0, 0.2, 0.4]) {
    const exact = [1, 3, 5].map(k => exactWrongVerdict(15, Math.round(f * 15), k, 0.05))
    t.true(exact[0] > exact[1] && exact[1] > exact[2], `f=${f}: ${exact.join(', ')}`)
  }
  // a lying majority takes the honest minority's bonds: the attack pays when it wins, which is what the size defends
  const lying = r.points.find(p => p.size === 3 && p.fraction === 0.4)
  t.true((lying?.honestSlashedLP ?? 0) > 0 && (lying?.colluderGainLP ?? 0) > 0)
  const at = r.points.filter(p => p.fraction === 0.2)
  const chosen = at.find(p => p.size === r.recommendation.size)
  t.true(chosen !== undefined && chosen.wrongVerdictExact <= 0.05)
  for (const p of at) if (p.size < r.recommendation.size) t.true(p.wrongVerdictExact > 0.05)
  t.regex(r.recommendation.why, /smallest size/)
  // exact values by hand: one mediator of 15 with 3 colluding is wrong 3/15 of the time, plus half its 5 % absences
  t.true(Math.abs(exactWrongVerdict(15, 3, 1, 0.05) - (0.2 + 0.8 * 0.05 * 0.5)) < 1e-12)
})
