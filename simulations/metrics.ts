// What a run measures, and its summary as plain JSON (no wall-clock values, so equal seeds give equal JSON).
import type { MarketConfig } from './config.ts'
import type { MarketSimulation } from './market.ts'

const LP = 1e18

export interface Summary {
  [k: string]: unknown
}

export function quantile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

export function round (x: number, digits = 4): number {
  if (!Number.isFinite(x)) return x
  const f = 10 ** digits
  return Math.round(x * f) / f
}

export function toLP (wei: bigint): number {
  return round(Number(wei) / LP, 6)
}

export class Metrics {
  readonly config: MarketConfig
  jobsSubmitted = 0
  jobOutcomes = { completed: 0, unmatched: 0, failed: 0 }
  jobLatencies: number[] = []
  matchLatencies: number[] = []
  matchTimes: number[] = []
  crossSideMatches = 0
  crossSideAfterHeal = 0
  deals = 0
  prices: bigint[] = []
  chainCalls: Record<string, number> = {}
  chainErrors: Record<string, number> = {}
  utilisation: Array<{ t: number, busy: number, upSlots: number, value: number }> = []
  churn = { left: 0, rejoined: 0, jobsInterrupted: 0 }
  cheats = { submitted: 0, detected: 0, undetected: 0 }
  audits = 0
  challenges = 0
  mediatorCosts = 0n
  declines: Record<string, number> = {}
  negotiationTimeouts = 0
  proposals = 0
  retries = 0
  /** match rounds in which every provider that fits was busy (the job waited in the queue) */
  queuedRounds = 0
  staleDropped = 0
  matchCalls = 0
  announcements = 0
  withdrawals = 0
  gossipMissed = 0
  rematched = 0
  timeoutsRefunded = 0
  resultFetchTimes: number[] = []
  spam = { published: 0, verdicts: {} as Record<string, number>, bookResults: {} as Record<string, number>, deliveredToBooks: 0 }
  partitionEvents: Array<{ t: number, event: string }> = []
  conservationChecks = 0
  conservationViolations = 0
  slotsTotal = 0
  arrivalRate = 0
  summary: Summary = {}

  constructor (config: MarketConfig) {
    this.config = config
  }

  /**
   * Every dispute (audit or challenge) and how it ended: by one mediator or by a committee (docs/mediation.md,
   * "Committees"). A wrong verdict is one against the truth (a wrong result upheld, a good one refunded); a result
   * that stood unjudged (no verdict in time, or no quorum) is counted apart, and how often it was a wrong one.
   */
  disputes (sim: MarketSimulation): Record<string, unknown> {
    const c = this.config
    const logs = sim.disputeLogs
    const ended = logs.filter(l => l.state !== undefined)
    const states: Record<string, number> = {}
    const sizes: Record<string, number> = {}
    const outcomes: Record<string, number> = {}
    let wrongVerdicts = 0
    let unjudged = 0
    let wrongStood = 0
    let fees = 0n
    let reruns = 0
    let txs = 0
    let noCase = 0
    const slashes = { count: 0, wei: 0n, honest: 0, liar: 0, absent: 0 }
    const kindOf = new Map(sim.mediatorAgents.map(m => [m.address.toLowerCase(), m.liar ? 'liar' : m.absent ? 'absent' : 'honest'] as const))
    const durations: number[] = []
    for (const l of logs) {
      sizes[l.members.length] = (sizes[l.members.length] ?? 0) + 1
      reruns += l.reruns
      txs += l.txs
      for (const s of l.slashes ?? []) { slashes.count++; slashes.wei += s.amount; slashes[kindOf.get(s.account.toLowerCase()) ?? 'honest']++ }
      noCase += l.noCase?.length ?? 0
      if (l.outcome !== undefined) outcomes[l.outcome] = (outcomes[l.outcome] ?? 0) + 1
      if (l.state === undefined || l.endedAt === undefined) continue
      states[l.state] = (states[l.state] ?? 0) + 1
      durations.push(l.endedAt - l.at)
      if ((l.state === 'MediatedCorrect' && l.wrongResult) || (l.state === 'MediatedWrong' && !l.wrongResult)) wrongVerdicts++
      if (l.state === 'MediatedCorrect' || l.state === 'MediatedWrong') fees += sim.terms.get(l.dealId)?.mediationFee ?? 0n
      if (l.state === 'TimedOutMediation') { unjudged++; if (l.wrongResult) wrongStood++ }
    }
    const n = Math.max(1, ended.length)
    durations.sort((a, b) => a - b)
    const cm = c.committee
    const committees = logs.some(l => l.committee)
    return {
      judgedBy: committees ? `committees (size ${cm?.rules.size ?? 1} wanted, drawn from each deal's mediators)` : 'one drawn mediator',
      count: logs.length,
      ended: ended.length,
      open: logs.length - ended.length,
      membersPerDispute: sizes,
      states,
      committeeOutcomes: outcomes,
      wrongVerdicts,
      wrongVerdictRate: ended.length === 0 ? 0 : round(wrongVerdicts / ended.length),
      unjudged,
      wrongResultsStood: wrongStood,
      noCaseVotes: noCase,
      slashedBonds: { count: slashes.count, LP: toLP(slashes.wei), ofHonest: slashes.honest, ofLiars: slashes.liar, ofAbsent: slashes.absent },
      // what one dispute costs: the fee its job creator paid for a verdict, the re-runs its mediators did, the bonds lost
      costPerDispute: {
        feeLP: round(Number(fees) / LP / n, 6),
        reruns: round(reruns / n, 3),
        rerunCostLP: round(Number(this.mediatorCosts) / LP / n, 6),
        slashedLP: round(Number(slashes.wei) / LP / n, 6),
        transactions: round(txs / n, 3)
      },
      durationS: { p50: round(quantile(durations, 0.5), 3), max: durations.length === 0 ? 0 : round(durations[durations.length - 1], 3), limit: cm !== undefined && cm.rules.size > 1 ? cm.rules.commitWindow + cm.rules.revealWindow : c.mediateTimeout },
      ...(cm !== undefined ? { rules: { size: cm.rules.size, commitWindow: cm.rules.commitWindow, revealWindow: cm.rules.revealWindow, minBondLP: toLP(cm.rules.minBond), slashLP: toLP(cm.rules.slash), bondLP: toLP(cm.bond) } } : {}),
      mediators: sim.mediatorResults().map(m => ({ address: m.address, kind: m.kind, slashes: m.slashes, slashedLP: toLP(m.slashed), topUps: m.topUps, bondLP: toLP(m.bond), tokenDeltaLP: toLP(m.tokenDelta) }))
    }
  }

  recordMatch (t: number, latency: number, crossSide: boolean, cut: boolean, healed: boolean): void {
    this.matchLatencies.push(latency)
    this.matchTimes.push(t)
    if (crossSide && cut) this.crossSideMatches++
    if (crossSide && healed) this.crossSideAfterHeal++
  }

  finish (sim: MarketSimulation): void {
    const c = this.config
    const lat = [...this.matchLatencies].sort((a, b) => a - b)
    const jobLat = [...this.jobLatencies].sort((a, b) => a - b)
    const prices = this.prices.map(p => Number(p) / LP).sort((a, b) => a - b)
    const providers = sim.providerResults()
    const group = (cheater: boolean): Record<string, number> => {
      const g = providers.filter(p => p.cheater === cheater)
      const tokens = g.reduce((s, p) => s + p.tokenDelta, 0n)
      const costs = g.reduce((s, p) => s + p.costs, 0n)
      const deals = g.reduce((s, p) => s + p.deals, 0)
      return {
        count: g.length,
        deals,
        tokenDeltaLP: toLP(tokens),
        costsLP: toLP(costs),
        profitLP: toLP(tokens - costs),
        profitPerDealLP: deals === 0 ? 0 : round(Number(tokens - costs) / LP / deals, 6)
      }
    }
    const minute = 60
    const buckets = Math.ceil((c.hours * 3600) / minute)
    const matchesPerMinute = new Array<number>(buckets).fill(0)
    for (const t of this.matchTimes) { const b = Math.floor(t / minute); if (b < buckets) matchesPerMinute[b]++ }
    const util = this.utilisation.map(u => u.value)
    const roles: Record<string, number> = {}
    for (const r of sim.nodeRoles) roles[r] = (roles[r] ?? 0) + 1
    const completedOrEnded = this.jobOutcomes.completed + this.jobOutcomes.unmatched + this.jobOutcomes.failed
    this.summary = {
      nodes: c.nodes,
      seed: c.seed,
      simulatedHours: c.hours,
      simulatedUntilS: round(sim.engine.now, 3),
      eventsProcessed: sim.engine.processed,
      roles,
      matching: c.solvers > 0 ? `solvers (${c.solvers})` : 'self (each job creator on its own order book)',
      slots: this.slotsTotal,
      arrivalRatePerS: round(this.arrivalRate, 4),
      jobs: {
        submitted: this.jobsSubmitted,
        ...this.jobOutcomes,
        withoutOutcome: this.jobsSubmitted - completedOrEnded,
        rematched: this.rematched,
        completionRate: this.jobsSubmitted === 0 ? 0 : round(this.jobOutcomes.completed / this.jobsSubmitted),
        turnaroundS: { p50: round(quantile(jobLat, 0.5), 3), p90: round(quantile(jobLat, 0.9), 3) }
      },
      matchLatencyMs: {
        count: lat.length,
        p50: round(quantile(lat, 0.5) * 1000, 3),
        p90: round(quantile(lat, 0.9) * 1000, 3),
        p99: round(quantile(lat, 0.99) * 1000, 3),
        mean: round(lat.reduce((s, x) => s + x, 0) / Math.max(1, lat.length) * 1000, 3)
      },
      negotiation: { proposals: this.proposals, declines: this.declines, timeouts: this.negotiationTimeouts, retries: this.retries, queuedRounds: this.queuedRounds, matchCalls: this.matchCalls, staleOffersDropped: this.staleDropped },
      gossip: { announcements: this.announcements, withdrawals: this.withdrawals, missedDeliveries: this.gossipMissed },
      utilisation: { mean: round(util.reduce((s, x) => s + x, 0) / Math.max(1, util.length)), target: c.utilisationTarget },
      pricesLP: { deals: prices.length, mean: round(prices.reduce((s, x) => s + x, 0) / Math.max(1, prices.length), 6), p10: round(quantile(prices, 0.1), 6), p50: round(quantile(prices, 0.5), 6), p90: round(quantile(prices, 0.9), 6) },
      deals: { agreed: this.deals, states: sim.dealStateCounts(), open: sim.openDeals() },
      chain: { calls: this.chainCalls, refused: this.chainErrors },
      tokens: { conserved: this.conservationViolations === 0, checks: this.conservationChecks },
      providers: { honest: group(false), cheaters: group(true) },
      audits: { auditPpm: c.auditPpm, audits: this.audits, challenges: this.challenges, mediatorCostsLP: toLP(this.mediatorCosts) },
      disputes: this.disputes(sim),
      cheats: { ...this.cheats, detectionRate: this.cheats.submitted === 0 ? 0 : round(this.cheats.detected / this.cheats.submitted) },
      churn: { ...this.churn, timeoutsRefunded: this.timeoutsRefunded },
      partition: { events: this.partitionEvents, crossSideMatchesWhileCut: this.crossSideMatches, crossSideMatchesAfterHeal: this.crossSideAfterHeal },
      spam: this.spam,
      series: {
        minute: matchesPerMinute,
        utilisation: this.utilisation.map(u => ({ t: u.t, value: round(u.value) }))
      }
    }
  }
}
