// Real nodes against the discrete-event model, on the same small scenario. The DES processing delays are the
// measured CPU costs of the real protocol steps (signing, recovering, checking a proposal); its link latency is
// half the libp2p ping round trip between the real nodes. The comparison is of match-latency distributions:
// the two-sample Kolmogorov–Smirnov distance and the medians.
import { defaultMarketConfig, type MarketConfig } from './config.ts'
import { runMarket } from './scenarios.ts'
import { quantile, round } from './metrics.ts'
import { measureProcessing, runRealNodes, defaultRealRun, type RealRunOptions, type RealRunResult } from './real-nodes.ts'

export interface Calibration {
  linkLatencyMedian: number
  linkLatencySigma: number
  /** how much slower the real run's first-try matches were than the measured CPU costs alone */
  slowdown: number
  matchProcessing: number
  proposalProcessing: number
  rpProcessing: number
  jcProcessing: number
}

/** The tolerance the DES must meet against real nodes (see docs/simulations.md for how it was chosen). */
export const TOLERANCE = { ksDistance: 0.5, medianRatio: 2, medianAbsMs: 10 }

export function ksDistance (a: number[], b: number[]): number {
  const x = [...a].sort((p, q) => p - q)
  const y = [...b].sort((p, q) => p - q)
  let i = 0; let j = 0; let d = 0
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j])
    while (i < x.length && x[i] <= v) i++
    while (j < y.length && y[j] <= v) j++
    d = Math.max(d, Math.abs(i / x.length - j / y.length))
  }
  return d
}

/** A DES market equivalent to the real run: same roles, schedule law, prices law, timeouts and retries. */
export function desConfigFor (o: RealRunOptions, cal: Calibration, seed: number): MarketConfig {
  const nodes = o.providers + o.jobCreators + 1
  const c = defaultMarketConfig(nodes, seed, 1)
  return {
    ...c,
    mediators: 1,
    solvers: 0,
    providerFraction: o.providers / (o.providers + o.jobCreators),
    slotsPerProvider: [1, 1],
    uniformSpecs: true,
    arrivalRate: 1000 / o.arrivalMeanMs,
    jobLimit: o.jobs,
    jobDurationMedian: o.durationMedianMs / 1000,
    jobDurationSigma: 0.5,
    priceSigma: 0.3,
    priceStep: 0,
    auditPpm: 0,
    chainDelay: 0,
    retryDelay: o.retryMs / 1000,
    maxRetryDelay: o.retryMs / 1000,
    jobPatience: o.patienceMs / 1000,
    negotiationTimeout: 3,
    heartbeat: 10,
    offerTtl: 120,
    // the calibrated links already include stream set-up
    // all real nodes share one JavaScript thread: a gossiped offer or withdrawal is validated (one signature
    // recovery each) by every other node in turn, so on average a node sees it after half of them
    network: { ...c.network, linkLatencyMedian: cal.linkLatencyMedian, linkLatencySigma: cal.linkLatencySigma, loss: 0, streamSetup: 0, hopProcessing: cal.jcProcessing * cal.slowdown * (nodes - 2) / 2 },
    matchProcessing: cal.matchProcessing,
    proposalProcessing: cal.proposalProcessing,
    rpProcessing: cal.rpProcessing,
    jcProcessing: cal.jcProcessing
  }
}

export interface Comparison {
  real: { n: number, p50Ms: number, p90Ms: number, unmatched: number, proposals: number, declines: number, declineReasons: Record<string, number>, pingRttMs: number[], probeMs: number[], firstTryP50Ms: number, firstTryN: number, wallS: number }
  des: { n: number, p50Ms: number, p90Ms: number, runs: number, declines: Record<string, number> }
  calibration: Calibration
  ksDistance: number
  medianRatio: number
  medianDiffMs: number
  tolerance: typeof TOLERANCE
  withinTolerance: boolean
}

export async function compareEngines (o: RealRunOptions = defaultRealRun, desRuns = 10): Promise<Comparison> {
  const processing = await measureProcessing()
  const real: RealRunResult = await runRealNodes(o)
  // the uncontended real match = matchProcessing + proposalProcessing + 2 links + rpProcessing + jcProcessing:
  // what the measured CPU costs do not explain is put on the links (stream set-up, event-loop delays)
  // calibrated on the real run's own first-try matches (the uncontended path under the run's load)
  const sp = [...(real.firstTryMs.length >= 5 ? real.firstTryMs : real.probeMs)].sort((a, b) => a - b)
  const probe = quantile(sp, 0.5) / 1000
  const cpu = processing.matchProcessing + processing.proposalProcessing + processing.rpProcessing + processing.jcProcessing
  // their spread sets the links' log-normal sigma (interquartile range of a log-normal = 1.349 σ in logs)
  // of the part the CPU costs do not explain
  const excess = sp.map(ms => Math.max(0.05, ms - 1000 * cpu))
  const sigma = Math.min(1.5, Math.max(0.1, Math.log(quantile(excess, 0.75) / quantile(excess, 0.25)) / 1.349))
  // the same host slowdown stretches gossip validation: recoveries take probe/cpu times their quiet cost
  const slowdown = Math.max(1, probe / cpu)
  const cal: Calibration = { linkLatencyMedian: Math.max(0.0001, (probe - cpu) / 2), linkLatencySigma: sigma, slowdown, ...processing }
  const des: number[] = []
  const desDeclines: Record<string, number> = {}
  for (let k = 0; k < desRuns; k++) {
    const sim = await runMarket(desConfigFor(o, cal, o.seed * 1000 + k))
    des.push(...sim.metrics.matchLatencies.map(x => x * 1000))
    for (const [r, v] of Object.entries(sim.metrics.declines)) desDeclines[r] = (desDeclines[r] ?? 0) + v
  }
  const r = [...real.latenciesMs].sort((a, b) => a - b)
  const d = [...des].sort((a, b) => a - b)
  const rm = quantile(r, 0.5)
  const dm = quantile(d, 0.5)
  const ks = ksDistance(r, d)
  const ratio = Math.max(rm, dm) / Math.max(1e-9, Math.min(rm, dm))
  const diff = Math.abs(rm - dm)
  return {
    real: { n: r.length, p50Ms: round(rm, 2), p90Ms: round(quantile(r, 0.9), 2), unmatched: real.unmatched, proposals: real.proposals, declines: real.declines, declineReasons: real.declineReasons, pingRttMs: real.pingRttMs.map(x => round(x, 2)), probeMs: real.probeMs.map(x => round(x, 2)), firstTryP50Ms: round(quantile([...real.firstTryMs].sort((a, b) => a - b), 0.5), 2), firstTryN: real.firstTryMs.length, wallS: round(real.wallS, 2) },
    des: { n: d.length, p50Ms: round(dm, 2), p90Ms: round(quantile(d, 0.9), 2), runs: desRuns, declines: desDeclines },
    calibration: cal,
    ksDistance: round(ks, 4),
    medianRatio: round(ratio, 3),
    medianDiffMs: round(diff, 2),
    tolerance: TOLERANCE,
    withinTolerance: ks <= TOLERANCE.ksDistance && (ratio <= TOLERANCE.medianRatio || diff <= TOLERANCE.medianAbsMs)
  }
}
