// Every model parameter of the discrete-event market in one plain-data object, with defaults.
import { defaultNetworkParams, type NetworkParams } from './network.ts'
import { checkCommitteeRules, type CommitteeRules } from '../protocols/settlement/committee.ts'

const LP = 10n ** 18n

export interface PricingParams {
  /** the median provider price per job, LP wei */
  basePrice: bigint
  /** collateral = price × this / 1e6 (never below the mediation fee, which the Market requires) */
  collateralMultiplePpm: number
  /** locked by the job creator per deal, paid to the mediator if mediated */
  mediationFee: bigint
}

/**
 * Mediation by committee (docs/mediation.md, "Committees"): the Market's committee rules, and what each simulated
 * mediator stakes. Absent: the Market has no committee rules and every dispute is judged by one drawn mediator.
 */
export interface CommitteeConfig {
  /** the Market's rules; `size` 1 keeps one mediator per dispute (with bonds that are then never read) */
  rules: CommitteeRules
  /** LP wei each mediator bonds before the first deal; a mediator that is up tops it back up after a slash */
  bond: bigint
  /** LP wei each mediator deposits besides its bond: fees are paid into it, top-ups come out of it */
  deposit: bigint
}

export interface MarketConfig {
  nodes: number
  seed: number
  /** hours during which jobs arrive; the run then drains until every job has an outcome */
  hours: number
  mediators: number
  /** 0 = every job creator matches for itself on its own order book (the default protocol path) */
  solvers: number
  spammers: number
  /** of the nodes that are neither mediators, solvers nor spammers */
  providerFraction: number
  slotsPerProvider: [number, number]
  utilisationTarget: number
  /** jobs per second; overrides the rate derived from the utilisation target */
  arrivalRate?: number
  /** stop arrivals after this many jobs */
  jobLimit?: number
  /** every provider offers the same machine and every job asks for a small one (calibration) */
  uniformSpecs: boolean
  jobDurationMedian: number
  jobDurationSigma: number
  /** the job's execution timeout (seconds); the deal's result timeout adds the negotiation's slack */
  jobTimeout: number
  pricing: PricingParams
  priceSigma: number
  /** relative price change per minute for always-busy / always-idle providers */
  priceStep: number
  maxPriceFactor: number
  /** an honest provider's (and a mediator's) execution cost per job, as a fraction of the base price, ppm */
  execCostPpm: number
  auditPpm: number
  cheaterFraction: number
  /** a cheater answers after this fraction of the real runtime */
  cheatRuntimeFraction: number
  judgeWindow: number
  mediateTimeout: number
  committee?: CommitteeConfig
  /** fraction of the mediators (chosen by the seed) that rule, or vote, the opposite of what their re-run showed */
  liarMediators: number
  /** fraction of the mediators (chosen by the seed, none of them a liar) that are down for the whole run */
  absentMediators: number
  offerTtl: number
  heartbeat: number
  candidateLimit: number
  /** a solver re-sorts its book for the matcher at most once per tick (seconds) */
  solverTick: number
  /** on a decline (slot taken, offer unknown) the job creator's matching node drops that offer (off: withdrawals do it) */
  dropDeclined: boolean
  maxProposals: number
  negotiationTimeout: number
  reservationTtl: number
  /** job creator: build and sign one deal before proposing it */
  proposalProcessing: number
  /** provider: check a proposal (two signature recoveries, ids) and countersign */
  rpProcessing: number
  /** job creator: verify the countersignature */
  jcProcessing: number
  matchProcessing: number
  chainDelay: number
  retryDelay: number
  maxRetryDelay: number
  /** how long a job waits in a queue for a busy provider (core/policy/queue.ts queueTimeoutMs), seconds */
  jobPatience: number
  /** how long a job waits for any fitting offer, free or busy, before it is unmatched (queue policy matchTimeoutMs), seconds */
  matchTimeout: number
  maxAttempts: number
  /** how long a job creator remembers a provider that failed it (the node's BanList TTL) */
  banDuration: number
  fetchRetry: number
  resultBytes: number
  orderBook: { maxOffers: number, maxPerProvider: number }
  deposits: { jobCreator: bigint, provider: bigint }
  churn?: { meanUp: number, meanDown: number }
  partition?: { start: number, end: number, fraction: number }
  spam?: { rate: number }
  network: NetworkParams
  exactIds: boolean
  checkEveryEvent: boolean
  sampleInterval: number
}

/**
 * Committee rules for a simulated Market (docs/mediation.md, "Committees"): votes within 30 min of the draw (a re-run
 * of the longest job, 0.9 × the job timeout, fits) and reveals within 15 min, so a committee always finalizes
 * before the deal's mediation window (1 h) would let the parties call timeoutMediation; a 10 LP bond, 2 LP slashed.
 * Each mediator bonds 50 LP (room for a few slashes before it drops under the minimum) and keeps 100 LP deposited.
 */
export function defaultCommitteeConfig (size: number): CommitteeConfig {
  return {
    rules: checkCommitteeRules({ size, commitWindow: 1800, revealWindow: 900, unbondDelay: 16 * 86_400, minBond: 10n * LP, slash: 2n * LP }),
    bond: 50n * LP,
    deposit: 100n * LP
  }
}

export function defaultMarketConfig (nodes: number, seed: number, hours: number): MarketConfig {
  const big = nodes > 1000
  return {
    nodes,
    seed,
    hours,
    mediators: Math.min(5, Math.max(1, Math.floor(nodes / 20))),
    // beyond a few hundred nodes every job creator holding every offer is too much memory for one process;
    // solver nodes (the protocol's other matching path) hold the books instead
    solvers: nodes > 400 ? Math.max(1, Math.round(nodes / 10_000)) : 0,
    spammers: 0,
    providerFraction: big ? 0.5 : 0.6,
    slotsPerProvider: big ? [1, 2] : [1, 4],
    utilisationTarget: 0.6,
    uniformSpecs: false,
    jobDurationMedian: 240,
    jobDurationSigma: 0.6,
    jobTimeout: 1800,
    pricing: { basePrice: LP, collateralMultiplePpm: 2_000_000, mediationFee: LP / 2n },
    priceSigma: 0.2,
    priceStep: 0.01,
    maxPriceFactor: 1.6,
    execCostPpm: 400_000,
    auditPpm: 50_000,
    cheaterFraction: 0,
    cheatRuntimeFraction: 0.05,
    judgeWindow: 3600,
    mediateTimeout: 3600,
    liarMediators: 0,
    absentMediators: 0,
    offerTtl: big ? 180 : 90,
    heartbeat: big ? 120 : 30,
    candidateLimit: 32,
    solverTick: 1,
    dropDeclined: false,
    maxProposals: 32,
    negotiationTimeout: 5,
    reservationTtl: 60,
    proposalProcessing: 0.003,
    rpProcessing: 0.006,
    jcProcessing: 0.004,
    matchProcessing: 0.001,
    chainDelay: 2,
    retryDelay: 2,
    maxRetryDelay: 30,
    jobPatience: 1800,
    matchTimeout: 5,
    maxAttempts: 5,
    banDuration: 300,
    fetchRetry: 15,
    resultBytes: 2_000_000,
    orderBook: { maxOffers: 50_000, maxPerProvider: 64 },
    deposits: { jobCreator: 100_000n * LP, provider: 1_000n * LP },
    network: { ...defaultNetworkParams },
    exactIds: false,
    checkEveryEvent: false,
    sampleInterval: 60
  }
}
