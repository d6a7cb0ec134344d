// Committees in the event-level market (docs/mediation.md, "Committees"): disputes judged by k mediators through the
// mediator lifecycle's committee step and the Market model's committee rules (draw, commit, reveal, finalize). Small
// markets with fixed seeds; token conservation is checked after every chain step.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { runMarket, runScenario, scenarioConfig, type ScenarioOptions } from './scenarios.ts'
import { metricsOf, reportMarkdown, textSummary, toJson } from './output.ts'
import type { MarketSimulation } from './market.ts'
import { defaultCommitteeConfig } from './config.ts'

const LP = 10n ** 18n
const small = { nodes: 40, seed: 7, hours: 0.25 }

/** The committees scenario's market with three mediators, so that every committee of three is all of them. */
async function threeMediators (o: Partial<ScenarioOptions>): Promise<MarketSimulation> {
  const c = scenarioConfig('committees', { ...small, liarMediators: 0, absentMediators: 0, ...o, overrides: { mediators: 3, checkEveryEvent: true, ...o.overrides } })
  return await runMarket(c)
}

function ended (t: ExecutionContext, sim: MarketSimulation): Record<string, any> {
  const s = sim.metrics.summary as Record<string, any>
  t.true(s.tokens.conserved)
  t.true(s.tokens.checks >= s.deals.agreed * 2, 'checked after every chain step')
  t.is(s.jobs.withoutOutcome, 0, 'every job ends')
  t.is(s.deals.open, 0, 'every deal ends')
  t.is(sim.model.committees.size, 0, 'no committee is left open')
  t.is(sim.model.seedPhases.size, 0, 'no seed phase is left open')
  const d = s.disputes as Record<string, any>
  t.true(d.count >= 8, `enough disputes to say something: ${d.count as number}`)
  t.is(d.open, 0)
  return d
}

const agent = (sim: MarketSimulation, kind: 'honest' | 'liar' | 'absent'): ReturnType<MarketSimulation['mediatorResults']> => sim.mediatorResults().filter(m => m.kind === kind)

test('committees of 3: every dispute is drawn, voted and finalized by the committee rules within its vote windows; the bonds and fees balance to the wei', async t => {
  const sim = await runMarket({ ...scenarioConfig('committees', { ...small, seed: 3, hours: 0.5 }), checkEveryEvent: true })
  const d = ended(t, sim)
  const rules = sim.config.committee?.rules
  if (rules === undefined) return t.fail('the committees scenario sets committee rules')
  t.deepEqual(Object.keys(d.membersPerDispute), ['3'], 'five mediators named: every committee has three')
  t.true(sim.disputeLogs.every(l => l.committee && l.outcome !== undefined))
  // each committee was drawn from the parties' two seed reveals, sent by their lifecycles ('reveal-seed')
  t.is(sim.metrics.chainCalls.revealSeed, 2 * sim.disputeLogs.length)
  t.is(sim.metrics.chainErrors.SeedRevealClosed ?? 0, 0)
  t.true(d.durationS.max <= rules.commitWindow + rules.revealWindow, `${d.durationS.max as number} s`)
  t.is(d.states.TimedOutMediation ?? 0, d.committeeOutcomes['no-quorum'] ?? 0, 'a timed-out mediation only where there was no quorum')
  // money: what the mediators gained is the fees of the decided disputes, less the slashes of the undecided ones
  // (those go to the job creator); every slash of a decided dispute went to its majority
  let fees = 0n
  let lostToJobCreators = 0n
  for (const l of sim.disputeLogs) {
    const slashed = (l.slashes ?? []).reduce((s, x) => s + x.amount, 0n)
    if (l.outcome === 'no-quorum') lostToJobCreators += slashed
    else fees += sim.terms.get(l.dealId)?.mediationFee ?? 0n
  }
  const delta = sim.mediatorResults().reduce((s, m) => s + m.tokenDelta, 0n)
  t.is(delta, fees - lostToJobCreators)
  t.true(d.slashedBonds.count > 0)
  t.is(d.slashedBonds.ofHonest + d.slashedBonds.ofLiars + d.slashedBonds.ofAbsent, d.slashedBonds.count)
})

test('a lying member of a committee of 3 is outvoted and slashed every time; alone, the same liar decides wrongly', async t => {
  const sim = await threeMediators({ liarMediators: 1 / 3 })
  const d = ended(t, sim)
  const n = sim.disputeLogs.length
  t.is(d.wrongVerdicts, 0, 'the two honest members are the majority')
  t.is(d.unjudged, 0)
  t.is(d.committeeOutcomes['no-quorum'] ?? 0, 0)
  t.true(d.committeeOutcomes.wrong > 0 && d.committeeOutcomes.correct > 0, 'cheats caught and good results upheld')
  const [liar] = agent(sim, 'liar')
  const honest = agent(sim, 'honest')
  t.is(liar.slashes, n)
  t.is(liar.slashed, 2n * LP * BigInt(n))
  t.is(liar.tokenDelta, -2n * LP * BigInt(n))
  t.true(liar.topUps > 0, 'it bonds again what it lost, so it stays on committees')
  for (const h of honest) t.is(h.slashes, 0)
  // the majority shares every fee and every slashed bond: 1.5 LP + 2 LP per dispute, between two
  const fee = sim.config.pricing.mediationFee
  t.is(honest[0].tokenDelta + honest[1].tokenDelta, (fee + 2n * LP) * BigInt(n))
  t.is(d.slashedBonds.ofLiars, n)
  t.is(d.slashedBonds.ofHonest, 0)

  const alone = await threeMediators({ liarMediators: 1 / 3, committeeSize: 1 })
  const a = ended(t, alone)
  t.deepEqual(Object.keys(a.membersPerDispute), ['1'])
  t.true(a.wrongVerdicts > 0, 'a lone liar decides the disputes it is drawn for')
  t.is(a.slashedBonds.count, 0, 'nobody is slashed without a committee')
  // each lone mediator was drawn after its dispute's block, from that block's hash, by a party's drawMediator (both
  // parties send it: one is refused as drawn already, or as too early in the dispute's own block and sent again)
  const calls = alone.metrics.chainCalls.drawMediator ?? 0
  const refused = (alone.metrics.chainErrors.MediatorAlreadyDrawn ?? 0) + (alone.metrics.chainErrors.MediatorDrawNotReady ?? 0)
  t.is(calls - refused, alone.disputeLogs.length)
  t.is(alone.metrics.chainErrors.MediatorDrawClosed ?? 0, 0)
})

test('an absent member is slashed, and the deal still resolves by its reveal deadline', async t => {
  const sim = await threeMediators({ absentMediators: 1 / 3 })
  const d = ended(t, sim)
  const rules = sim.config.committee?.rules
  if (rules === undefined) return t.fail('committee rules')
  t.is(d.wrongVerdicts, 0)
  t.is(d.unjudged, 0, 'two of three agree: a quorum')
  t.is(d.states.TimedOutMediation ?? 0, 0, 'never left to the parties\' timeoutMediation')
  for (const l of sim.disputeLogs) {
    // the absent member never commits: the reveal phase opens when the commit window closes, the two reveal, and
    // anyone may finalize at once; all before the reveal deadline and the deal's own mediation window
    const took = (l.endedAt ?? Infinity) - l.at
    t.true(took > rules.commitWindow && took <= rules.commitWindow + rules.revealWindow, `${took} s`)
    t.true(took < sim.config.mediateTimeout)
  }
  const [absent] = agent(sim, 'absent')
  const n = sim.disputeLogs.length
  // slashed in every dispute while it has a bond (slash: min(2 LP, what is left of its 50 LP))
  const expected = 2n * LP * BigInt(n) < 50n * LP ? 2n * LP * BigInt(n) : 50n * LP
  t.is(absent.slashed, expected)
  t.is(absent.tokenDelta, -expected)
  t.is(absent.topUps, 0, 'a node that is down bonds nothing again')
  for (const h of agent(sim, 'honest')) t.is(h.slashes, 0)
})

test('no quorum (one right, one lying, one absent) lets the result stand: the provider is paid, only the absent member is slashed, the job creator gets the fee and the slash', async t => {
  const sim = await threeMediators({ liarMediators: 1 / 3, absentMediators: 1 / 3 })
  const d = ended(t, sim)
  const n = sim.disputeLogs.length
  t.is(d.committeeOutcomes['no-quorum'], n)
  t.is(d.states.TimedOutMediation, n, 'the result stands')
  t.is(d.unjudged, n)
  t.is(d.wrongVerdicts, 0, 'no verdict at all')
  t.is(d.wrongResultsStood, sim.disputeLogs.filter(l => l.wrongResult).length, 'a cheat that was disputed stands too')
  t.true(d.wrongResultsStood > 0)
  const [liar] = agent(sim, 'liar')
  const [absent] = agent(sim, 'absent')
  const [honest] = agent(sim, 'honest')
  t.is(liar.slashes, 0, 'no majority to be against')
  t.is(honest.slashes, 0)
  t.is(liar.tokenDelta, 0n, 'nobody is paid for a verdict')
  t.is(honest.tokenDelta, 0n)
  t.true(absent.slashes > 0)
  t.is(d.slashedBonds.count, d.slashedBonds.ofAbsent)
  // the settlement: the provider gets price + collateral, the job creator its fee and the absent member's slash
  for (const l of sim.disputeLogs) {
    const terms = sim.terms.get(l.dealId)
    if (terms === undefined) return t.fail('terms of a disputed deal')
    const slashed = (l.slashes ?? []).reduce((s, x) => s + x.amount, 0n)
    t.deepEqual(l.credits, [{ account: terms.resourceProvider, amount: terms.price + terms.collateral }, { account: terms.jobCreator, amount: terms.mediationFee + slashed }])
  }
  const states = sim.dealStateCounts()
  t.is(states.MediatedWrong ?? 0, 0)
  t.is(states.MediatedCorrect ?? 0, 0)
})

test('a member whose re-run cannot end before the commit window votes "no case": neither paid nor slashed, and counted towards neither verdict', async t => {
  // a four-minute commit window (3.5 min after the margin): about half the jobs take longer to re-run than that
  const cm = defaultCommitteeConfig(3)
  const sim = await threeMediators({ overrides: { committee: { ...cm, rules: { ...cm.rules, commitWindow: 240 } } } })
  const d = ended(t, sim)
  t.true(d.noCaseVotes > 0)
  t.is(d.slashedBonds.count, 0, 'every member voted, if only "no case"')
  t.is(d.wrongVerdicts, 0)
  for (const l of sim.disputeLogs) {
    // three members: a verdict needs two votes for it, so two or three "no case" votes leave the result standing
    const noCase = l.noCase?.length ?? 0
    t.is(l.outcome === 'no-quorum', noCase >= 2, `${noCase} no-case votes, ${String(l.outcome)}`)
    if (l.outcome === 'no-quorum') t.is(l.state, 'TimedOutMediation')
  }
  t.true(sim.disputeLogs.some(l => l.outcome === 'no-quorum'), 'some re-runs too long')
  t.true(sim.disputeLogs.some(l => l.outcome !== 'no-quorum'), 'short jobs are re-run in time and judged')
  for (const m of sim.mediatorResults()) t.is(m.slashes, 0)
})

test('a committee none of whose members is up: the parties finalize it once the vote is over; the result stands and every member is slashed to the job creator', async t => {
  const sim = await threeMediators({ absentMediators: 1 })
  const d = ended(t, sim)
  for (const l of sim.disputeLogs) {
    t.is(l.outcome, 'no-quorum')
    t.is(l.state, 'TimedOutMediation')
    t.is(l.slashes?.length, 3, 'each silent member')
    const rules = defaultCommitteeConfig(3).rules
    t.true((l.endedAt as number) - l.at >= rules.commitWindow + rules.revealWindow, 'not before the vote is over')
  }
  for (const m of sim.mediatorResults()) t.true(m.slashes > 0)
  t.is(d.wrongVerdicts, 0, 'no verdict at all')
})

test('the committees scenario: wrong verdicts, slashed bonds and cost per dispute against one mediator, reported; a seed fixes the run', async t => {
  const o = { nodes: 60, seed: 5, hours: 0.3 }
  const r = await runScenario('committees', o)
  const s = r.summary as Record<string, any>
  t.true(s.tokens.conserved)
  t.is(s.deals.open, 0)
  const a = r.analysis as Record<string, any>
  t.is(a.committeeSize, 3)
  for (const side of [a.committees, a.oneMediator]) {
    t.true(side.disputes > 0)
    for (const k of ['feeLP', 'reruns', 'rerunCostLP', 'slashedLP', 'transactions']) t.is(typeof side.costPerDispute[k], 'number', k)
  }
  t.true(a.committees.slashedBonds.count > 0)
  t.is(a.oneMediator.slashedBonds.count, 0)
  // three re-runs and 2k transactions when everyone votes (the last reveal closes the vote; fewer with an absent
  // member), and the parties' two seed reveals before the draw (docs/mediation.md, "Unbiasable draws")
  t.true(a.committees.costPerDispute.reruns > a.oneMediator.costPerDispute.reruns)
  t.true(a.committees.costPerDispute.transactions <= 9)
  t.true(a.committees.costPerDispute.transactions > a.oneMediator.costPerDispute.transactions + 2)
  t.regex(reportMarkdown(r, ['metrics.json']), /## Disputes[\s\S]*committees of 3[\s\S]*one mediator/)
  t.regex(textSummary(r), /disputes: .* wrong verdicts/)
  t.is(toJson(metricsOf(await runScenario('committees', o))), toJson(metricsOf(r)))
})
