// The named scenarios: each is a MarketConfig tweak plus what to report about it.
import { defaultCommitteeConfig, defaultMarketConfig, type MarketConfig } from './config.ts'
import { MarketSimulation, addressOf, EPOCH } from './market.ts'
import { JunkSpammer } from './spam.ts'
import { auditThreshold, type AuditThreshold } from './audit-threshold.ts'
import { round, type Summary } from './metrics.ts'
import { runRewardsScenario, STRATEGIES } from './rewards.ts'
import { defaultCollusionOptions, runCollusionScenario } from './collusion.ts'

export const REWARDS_DEMAND = [40, 200] as const
export const REWARDS_EPOCHS = 5

export const SWEEP_MAX_NODES = 500

import { SCENARIOS, isScenario, type ScenarioName } from './scenario-names.ts'
export { SCENARIOS, isScenario, type ScenarioName }

export class UnknownScenarioError extends Error {
  static override name = 'UnknownScenarioError'
  override name = UnknownScenarioError.name
  readonly scenario: string
  constructor (scenario: string) {
    super(`unknown scenario "${scenario}" (known: ${SCENARIOS.join(', ')})`)
    this.scenario = scenario
  }
}


export interface ScenarioOptions {
  nodes: number
  seed: number
  hours: number
  /** cheaters: the audit probability of the main run (default 0.1) */
  auditProbability?: number
  /** cheaters: audit probabilities to sweep (default: a grid across the derived thresholds); [] for none */
  sweep?: number[]
  /**
   * The size of the committee that judges each dispute (odd, 1–9; docs/mediation.md, "Committees"). Unset: one
   * mediator per dispute, as before, except in the committees scenario (3). Set: the Market gets committee rules
   * (simulations/config.ts defaultCommitteeConfig) and its mediators bond.
   */
  committeeSize?: number
  /** fractions of the mediators that lie (rule or vote against their re-run) and that are down all run */
  liarMediators?: number
  absentMediators?: number
  /** any further config overrides (tests) */
  overrides?: Partial<MarketConfig>
}

export interface SweepPoint {
  p: number
  cheaterProfitPerDealLP: number
  honestProfitPerDealLP: number
  expectedCheaterLP: number
  expectedHonestLP: number
  cheats: number
  detected: number
  detectionRate: number
}

export interface ScenarioResult {
  scenario: ScenarioName
  summary: Summary
  /** match latencies of the main run (seconds), for the CDF plot */
  matchLatencies: number[]
  threshold?: ReturnType<typeof describeThreshold>
  sweep?: SweepPoint[]
  analysis?: Record<string, unknown>
}

export function scenarioConfig (name: ScenarioName, o: ScenarioOptions): MarketConfig {
  const c = defaultMarketConfig(o.nodes, o.seed, o.hours)
  const span = o.hours * 3600
  switch (name) {
    case 'steady':
      break
    case 'churn':
      // providers leave on average twice an hour and come back after five minutes; jobs time out sooner so
      // the refunds and re-matches fall inside the run
      c.churn = { meanUp: 1800, meanDown: 300 }
      c.jobTimeout = 600
      break
    case 'cheaters':
      c.cheaterFraction = 0.3
      // one fixed price, so every deal has the same P, C and c and the derived thresholds apply exactly
      c.priceSigma = 0
      c.priceStep = 0
      c.auditPpm = Math.round((o.auditProbability ?? 0.1) * 1_000_000)
      break
    case 'partition':
      c.partition = { start: span * 0.25, end: span * 0.55, fraction: 0.5 }
      c.jobPatience = Math.max(c.jobPatience, span * 0.35)
      break
    case 'committees': {
      // disputes judged by committees in the event-level market: cheaters to catch, a fifth of the audits, and
      // mediators of whom some lie and some are down; the fee pays each member's re-run (0.5 LP a member)
      const k = o.committeeSize ?? 3
      c.mediators = Math.max(5, Math.min(15, Math.round(o.nodes / 20)))
      c.cheaterFraction = 0.3
      // one fixed price, as in the cheaters scenario: a cheater (done at once) would otherwise undercut everyone
      c.priceSigma = 0
      c.priceStep = 0
      c.auditPpm = Math.round((o.auditProbability ?? 0.2) * 1_000_000)
      c.liarMediators = 0.2
      c.absentMediators = 0.1
      c.committee = defaultCommitteeConfig(k)
      c.pricing = { ...c.pricing, mediationFee: c.pricing.mediationFee * BigInt(k) }
      break
    }
    case 'rewards':
    case 'collusion':
      break
    case 'spam':
      c.spammers = Math.max(2, Math.round(o.nodes / 25))
      c.spam = { rate: Math.max(20, o.nodes / 2) }
      break
  }
  if (o.committeeSize !== undefined && name !== 'committees') c.committee = defaultCommitteeConfig(o.committeeSize)
  if (o.liarMediators !== undefined) c.liarMediators = o.liarMediators
  if (o.absentMediators !== undefined) c.absentMediators = o.absentMediators
  return { ...c, ...o.overrides }
}

function describeThreshold (c: MarketConfig): AuditThreshold & { inputs: Record<string, number> } {
  const price = c.pricing.basePrice
  let collateral = price * BigInt(c.pricing.collateralMultiplePpm) / 1_000_000n
  if (collateral < c.pricing.mediationFee) collateral = c.pricing.mediationFee
  const execCost = price * BigInt(c.execCostPpm) / 1_000_000n
  const t = auditThreshold({ price, collateral, mediationFee: c.pricing.mediationFee, execCost })
  return { ...t, inputs: { priceLP: Number(price) / 1e18, collateralLP: Number(collateral) / 1e18, mediationFeeLP: Number(c.pricing.mediationFee) / 1e18, execCostLP: Number(execCost) / 1e18 } }
}

export function thresholdFor (c: MarketConfig): ReturnType<typeof describeThreshold> {
  return describeThreshold(c)
}

/** Builds and runs one market (async only because the spam scenario signs its junk pool). */
export async function runMarket (c: MarketConfig): Promise<MarketSimulation> {
  const sim = new MarketSimulation(c)
  if (c.spam !== undefined && c.spammers > 0) {
    const spammerNodes = sim.nodeRoles.flatMap((r, i) => r === 'spammer' ? [i] : [])
    const honest = sim.providers[0]?.address ?? addressOf(0)
    const { spammer } = await JunkSpammer.create({ rate: c.spam.rate, spammerNodes, honestProvider: honest, domain: sim.domain, now: BigInt(EPOCH), seed: c.seed })
    sim.attachSpam(spammer)
    ;(sim.metrics.spam as Record<string, unknown>).validatorVerdicts = spammer.verdicts()
  }
  sim.run()
  return sim
}

function perDeal (g: unknown): number {
  return (g as { profitPerDealLP: number }).profitPerDealLP
}

export function defaultSweep (t: AuditThreshold): number[] {
  const top = Math.min(1, Math.max(t.pLoss, t.pHonest) * 2)
  const pts = new Set<number>([0])
  for (let k = 1; k <= 10; k++) pts.add(round(top * k / 10, 4))
  return [...pts].sort((a, b) => a - b)
}

export async function runScenario (name: string, o: ScenarioOptions): Promise<ScenarioResult> {
  if (!isScenario(name)) throw new UnknownScenarioError(name)
  if (name === 'rewards') {
    // an epoch-level market of strategies (simulations/rewards.ts), not the event-level one: --nodes sets the
    // machines (a sixth per strategy); five epochs (a day each) whatever --hours says
    // at two levels of real demand: a quiet testnet (40 jobs per machine a day) and a busy one (200)
    const runs = REWARDS_DEMAND.map(demand => runRewardsScenario({ seed: o.seed, demand, machinesPer: Math.max(1, Math.floor(o.nodes / STRATEGIES.length)), epochs: REWARDS_EPOCHS }))
    return { scenario: name, summary: { scenario: name, nodes: o.nodes, seed: o.seed, rewards: runs } as unknown as Summary, matchLatencies: [], analysis: Object.fromEntries(runs.map(r => [`demand${r.demand}`, { best: r.best, honestEarnsMost: r.honestEarnsMost }])) }
  }
  if (name === 'collusion') {
    // disputes judged by committees under the committee rules (simulations/collusion.ts), not the event-level
    // market: --nodes sets the network's mediators (a tenth of the nodes, 9 to 255)
    const r = runCollusionScenario(defaultCollusionOptions(o.nodes, o.seed))
    return { scenario: name, summary: { ...r, nodes: o.nodes } as unknown as Summary, matchLatencies: [], analysis: { recommendation: r.recommendation } }
  }
  const c = scenarioConfig(name, o)
  const sim = await runMarket(c)
  const result: ScenarioResult = { scenario: name, summary: { scenario: name, ...sim.metrics.summary }, matchLatencies: sim.metrics.matchLatencies }
  if (name === 'cheaters') {
    const t = describeThreshold(c)
    result.threshold = t
    const grid = o.sweep ?? defaultSweep(t)
    const sweep: SweepPoint[] = []
    // the sweep repeats the market once per point: beyond SWEEP_MAX_NODES it runs on a smaller copy
    const base = o.nodes > SWEEP_MAX_NODES ? scenarioConfig(name, { ...o, nodes: SWEEP_MAX_NODES }) : c
    for (const p of grid) {
      const s = await runMarket({ ...base, auditPpm: Math.round(p * 1_000_000) })
      const sm = s.metrics.summary as { providers: { honest: unknown, cheaters: unknown }, cheats: { submitted: number, detected: number, detectionRate: number } }
      sweep.push({
        p,
        cheaterProfitPerDealLP: perDeal(sm.providers.cheaters),
        honestProfitPerDealLP: perDeal(sm.providers.honest),
        expectedCheaterLP: round(t.expectedCheaterProfit(p) / 1e18, 6),
        expectedHonestLP: round(t.expectedHonestProfit(p) / 1e18, 6),
        cheats: sm.cheats.submitted,
        detected: sm.cheats.detected,
        detectionRate: sm.cheats.detectionRate
      })
    }
    result.sweep = sweep
    result.summary.auditThreshold = { pLoss: round(t.pLoss, 6), pHonest: round(t.pHonest, 6), formula: t.formula, inputs: t.inputs, providerNetLP: { settled: t.net.settled / 1e18, mediatedCorrect: t.net.mediatedCorrect / 1e18, mediatedWrong: t.net.mediatedWrong / 1e18 } }
    result.summary.sweep = sweep
  }
  if (name === 'committees') {
    // the same market and seed judged by one mediator per dispute (paid for one re-run): what committees change
    const k = c.committee?.rules.size ?? 1
    const single = await runMarket({ ...c, committee: defaultCommitteeConfig(1), pricing: { ...c.pricing, mediationFee: c.pricing.mediationFee / BigInt(k) } })
    result.analysis = committeeAnalysis(sim.metrics.summary.disputes as DisputeSummary, single.metrics.summary.disputes as DisputeSummary, k)
    result.summary.committeeAnalysis = result.analysis
  }
  if (name === 'partition' && c.partition !== undefined) {
    result.analysis = partitionAnalysis(sim, c)
    result.summary.partitionAnalysis = result.analysis
  }
  if (name === 'spam') {
    // the same market and seed without junk: the honest baseline
    const base = await runMarket({ ...c, spam: { rate: 0 } })
    const with_ = sim.metrics.summary.jobs as { completionRate: number, completed: number }
    const without = base.metrics.summary.jobs as { completionRate: number, completed: number }
    const lat = sim.metrics.summary.matchLatencyMs as { p50: number }
    const baseLat = base.metrics.summary.matchLatencyMs as { p50: number }
    result.analysis = {
      honestCompletionRate: with_.completionRate,
      baselineCompletionRate: without.completionRate,
      ratio: without.completionRate === 0 ? 0 : round(with_.completionRate / without.completionRate),
      matchLatencyP50Ms: lat.p50,
      baselineMatchLatencyP50Ms: baseLat.p50
    }
    result.summary.spamAnalysis = result.analysis
  }
  return result
}

type DisputeSummary = Record<string, any>

/** Committees of k against one mediator per dispute, on the same market and seed: verdicts, bonds and costs. */
export function committeeAnalysis (committee: DisputeSummary, single: DisputeSummary, k: number): Record<string, unknown> {
  const side = (d: DisputeSummary): Record<string, unknown> => ({
    disputes: d.ended,
    wrongVerdicts: d.wrongVerdicts,
    wrongVerdictRate: d.wrongVerdictRate,
    unjudged: d.unjudged,
    wrongResultsStood: d.wrongResultsStood,
    slashedBonds: d.slashedBonds,
    costPerDispute: d.costPerDispute,
    longestDisputeS: d.durationS.max
  })
  return { committeeSize: k, committees: { ...side(committee), outcomes: committee.committeeOutcomes, noCaseVotes: committee.noCaseVotes }, oneMediator: side(single) }
}

/** Matches per minute before, during and after the cut, and how long after healing matching recovered. */
export function partitionAnalysis (sim: MarketSimulation, c: MarketConfig): Record<string, unknown> {
  const part = c.partition as NonNullable<MarketConfig['partition']>
  const perMinute = (sim.metrics.summary.series as { minute: number[] }).minute
  const m0 = Math.floor(part.start / 60)
  const m1 = Math.floor(part.end / 60)
  const mean = (xs: number[]): number => xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length
  // skip the warm-up minutes
  const before = mean(perMinute.slice(Math.min(5, m0 - 1), m0))
  const during = mean(perMinute.slice(m0, m1))
  const afterWindow = perMinute.slice(m1)
  let recoveredAfterMin: number | null = null
  for (let k = 0; k < afterWindow.length; k++) {
    const w = afterWindow.slice(k, k + 3)
    if (w.length > 0 && mean(w) >= 0.8 * before) { recoveredAfterMin = k; break }
  }
  return {
    cutAtS: part.start,
    healedAtS: part.end,
    fraction: part.fraction,
    matchesPerMinute: { before: round(before, 3), during: round(during, 3), after: round(mean(afterWindow), 3) },
    recoveredMinutesAfterHeal: recoveredAfterMin,
    healed: recoveredAfterMin !== null,
    crossSideMatchesWhileCut: sim.metrics.crossSideMatches,
    crossSideMatchesAfterHeal: sim.metrics.crossSideAfterHeal
  }
}
