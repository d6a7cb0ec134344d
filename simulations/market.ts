// The discrete-event market: resource providers, job creators, solvers and mediators as agents whose every protocol
// decision goes through the node's own code. Offers go into the real OrderBook and are matched by the real matcher;
// deals are built by the real `buildDeal`; a provider's slots are the node's SlotCapacity, its announcements and
// withdrawals follow the node's AnnounceSchedule, it answers proposals with the node's `answerProposal`; every deal
// is followed on both sides — and by the drawn mediator — by the roles' own lifecycle step functions
// (core/lifecycle), the same ones the node runs; job creators rank providers with the node's BanList and re-match
// with the node's retry backoff; every chain step is applied to the real Market model (protocols/settlement) with
// its payouts. A dispute is judged by the drawn mediator or, when the Market has committee rules, by a committee
// drawn by the committee rules (protocols/settlement/committee.ts): each member follows the mediator lifecycle's
// committee step (commit, reveal; the last reveal, or a finalize after the deadline, closes the vote) and pays and
// slashes through the same Market model.
// Only time, the network and the agents' behaviour (arrivals, execution, churn, cheating, lying or absent
// mediators, spam) are modelled here.
import { OrderBook } from '../protocols/order-book.ts'
import { match as matchOffers, prepareOffers, type Candidate, type LiveOffer, type PreparedOffers } from '../protocols/matcher.ts'
import { buildDeal, defaultDealTerms, type DealTerms as NegotiationTerms } from '../protocols/negotiation/messages.ts'
import { idOf, type Deal, type JobOffer, type LilypadDomain, type MachineSpec, type ResourceOffer } from '../protocols/eip712.ts'
import type { Envelope } from '../protocols/codec.ts'
import { apply, emptyMarket, totalHeld, depositOf, bondOf, DealState, COMMITTEE, UNDRAWN, isFinal, stateName, auditDrawDue, type MarketModel, type MarketAction, type DealTerms, type DealStateName } from '../protocols/settlement/index.ts'
import { voteCommitment, Vote, seedDeadline, type CommitteeSettlement, type CommitteeOutcome, type VoteValue } from '../protocols/settlement/committee.ts'
import { SEED_BLOCKS } from '../protocols/settlement/seed.ts'
import { keccak256, toUtf8Bytes } from 'ethers'
import type { Clock, Timer } from '../core/clock.ts'
import { SlotCapacity } from '../node/negotiation/capacity.ts'
import { AnnounceSchedule, type AnnouncePlan } from '../core/policy/announce.ts'
import { queueDecision, fittingProviders } from '../core/policy/queue.ts'
import { answerProposal } from '../core/policy/proposal.ts'
import { BanList, afterProposal, type ProposalFailure } from '../core/policy/ban.ts'
import { backoffMs, type RetryPolicy } from '../core/policy/retry.ts'
import type { DealFacts } from '../core/lifecycle/facts.ts'
import { countersignedDeal, stepProvider, defaultProviderPolicy, type ProviderDeal, type ProviderEvent, type ProviderAction, type ProviderPolicy } from '../core/lifecycle/provider.ts'
import { jobCreatorDeal, stepJobCreator, jobView, providerFailureOf, defaultJobCreatorPolicy, type JobCreatorDeal, type JobCreatorEvent, type JobCreatorAction, type JobCreatorPolicy } from '../core/lifecycle/job-creator.ts'
import { newDispute, stepMediator, type MediatorDispute, type MediatorEvent, type MediatorAction } from '../core/lifecycle/mediator.ts'
import { Engine } from './engine.ts'
import { Network } from './network.ts'
import { Rng, mix32 } from './rng.ts'
import type { MarketConfig } from './config.ts'
import { Metrics } from './metrics.ts'
import type { SpamSource } from './spam.ts'
import { SimDriver, simNowMs, type SimRecord } from './lifecycle.ts'
import { EPOCH } from './epoch.ts'

export { EPOCH }
const LP = 10n ** 18n
const ZERO = '0x0000000000000000000000000000000000000000'
const MODULES = ['cowsay:v0.0.1', 'lilysay:v0.5.2', 'sdxl:v0.9-lilypad1', 'llama3:8b-lilypad1']
const NO_JOB_SIGNATURE = '0x'

export type Role = 'mediator' | 'solver' | 'rp' | 'jc' | 'spammer'

export function addressOf (node: number): string {
  return '0x' + (node + 1).toString(16).padStart(40, '0')
}

/** The node's Clock over the engine's simulated time (SlotCapacity's reservation timers run on it). */
class EngineClock implements Clock {
  readonly engine: Engine
  constructor (engine: Engine) { this.engine = engine }
  now (): number { return simNowMs(this.engine) }
  setTimeout (fn: () => void, ms: number): Timer {
    let live = true
    this.engine.after(Math.max(0, ms) / 1000, () => { if (live) fn() })
    return { cancel: () => { live = false } }
  }

  async sleep (ms: number): Promise<void> { await new Promise<void>(resolve => { this.setTimeout(resolve, ms) }) }
}

interface Provider {
  node: number
  address: string
  slots: number
  spec: MachineSpec
  priceFactor: number
  cheater: boolean
  up: boolean
  incarnation: number
  /** slots taken since the last price step, for the adaptive price */
  taken: number
  costs: bigint
  dealsDone: number
  /** the node's capacity and announce schedule (fresh after a restart, as in a restarted process) */
  capacity: SlotCapacity
  schedule: AnnounceSchedule<{ id: string }>
  lastNonce: bigint
  wake: number
  /** the deal records on its disk: they survive a restart and are resumed */
  deals: Map<string, SimRecord<ProviderDeal>>
  /** hold actions waiting for a slot to free up */
  holds: Array<() => void>
}

export type JobOutcome = 'completed' | 'unmatched' | 'failed'

interface Job {
  id: number
  jc: number
  spec: MachineSpec
  module: string
  maxPrice: bigint
  duration: number
  timeout: number
  submittedAt: number
  attempts: number
  outcome: JobOutcome | undefined
  wrongAccepted: boolean
}

/** One job offer (one nonce): the unit that becomes at most one deal. */
interface Attempt {
  job: Job
  offer: JobOffer
  offerId: string
  startedAt: number
  patienceUntil: number
  /** offers already proposed to and declined for this job offer */
  tried: Set<string>
  proposalsThisRound: number
  rounds: number
  done: boolean
}

/** A mediator node: honest, a liar (rules or votes against its own re-run) or absent (down for the whole run). */
export interface MediatorAgent {
  node: number
  address: string
  liar: boolean
  absent: boolean
  /** its own process: the mediator lifecycle stepped with its own address as `self` */
  driver: SimDriver<MediatorDispute, MediatorEvent, MediatorAction, DealFacts>
  /** how often its bond was slashed, by how much in all, and how often it topped the bond back up */
  slashes: number
  slashed: bigint
  topUps: number
  /** its commitment slots held by votes not yet revealed, by deal (a node keeps them in its dispute records) */
  heldSlots?: Map<string, number>
}

/** One dispute (challenge or audit), as the metrics report it. */
export interface DisputeLog {
  dealId: string
  /** simulated seconds: when the Market drew the mediator or committee */
  at: number
  /** the provider's result was wrong (the truth a verdict is judged against) */
  wrongResult: boolean
  committee: boolean
  /** the drawn mediator, or the committee's members in draw order */
  members: string[]
  /** when the deal reached its final state, and which */
  endedAt?: number
  state?: DealStateName
  /** re-runs started by its mediators, and their successful transactions (mediate; commits, reveals, finalize) */
  reruns: number
  txs: number
  /** the committee's tally and who lost how much of its bond */
  outcome?: CommitteeOutcome
  slashes?: Array<{ account: string, amount: bigint }>
  /** the deposits the committee's finalize credited (the deal's escrow and the slashed bonds) */
  credits?: Array<{ account: string, amount: bigint }>
  noCase?: string[]
}

interface Member { agent: MediatorAgent, h: SimRecord<MediatorDispute> }

/** What the chain and the agents know of one deal beyond the Market model. */
interface SimDeal {
  /** the job creator has the countersignature (before that, it knows nothing of this deal) */
  jcKnows: boolean
  deal: Deal
  attempt: Attempt
  provider: Provider
  jc: SimRecord<JobCreatorDeal>
  wrong: boolean
  resultCid?: string
  /** the drawn mediator, or every member of the drawn committee, each with its dispute record */
  members?: Member[]
  dispute?: DisputeLog
  /** a dispute's transactions before its draw (a committee's seed reveals, a lone mediator's drawMediator), counted in its log's once drawn */
  seedTxs?: number
}

interface Matcher {
  node: number
  book: OrderBook
  /** solver: the book prepared (sorted) at most one tick ago, shared by every job matched meanwhile */
  snapshot: PreparedOffers | undefined
  snapshotAt: number
}

export class MarketSimulation {
  readonly config: MarketConfig
  readonly engine = new Engine()
  readonly clock: EngineClock
  readonly net: Network
  readonly metrics: Metrics
  readonly model: MarketModel
  readonly terms = new Map<string, DealTerms>()
  readonly roles: Role[]
  readonly providers: Provider[] = []
  readonly jcs: number[] = []
  readonly mediators: string[] = []
  readonly mediatorAgents: MediatorAgent[] = []
  readonly disputeLogs: DisputeLog[] = []
  readonly jobs: Job[] = []
  readonly dealStates = new Map<string, SimDeal>()
  private readonly rng: Rng
  private readonly netRng: Rng
  private readonly matchers: Matcher[] = []
  /** node → index into matchers */
  private readonly matcherOf: Int32Array
  private readonly providerByAddress = new Map<string, Provider>()
  readonly domain: LilypadDomain = { chainId: 1337n, verifyingContract: '0x00000000000000000000000000000000000b0a4d' }
  private readonly negotiationTerms: NegotiationTerms
  /** each job creator's memory of providers that failed it (the node's BanList) */
  private readonly bans: Array<BanList | undefined>
  private readonly retry: RetryPolicy
  private readonly providerPolicy: ProviderPolicy
  private readonly jcPolicy: JobCreatorPolicy
  private readonly providerDriver: SimDriver<ProviderDeal, ProviderEvent, ProviderAction, DealFacts>
  private readonly jcDriver: SimDriver<JobCreatorDeal, JobCreatorEvent, JobCreatorAction, DealFacts>
  private readonly agentByAddress = new Map<string, MediatorAgent>()
  /** the mediators bonded enough to be named in a new offer (committee rules only); recomputed after bonds change */
  private eligible: string[] | undefined
  private nextNonce = 1n
  private idCounter = 0
  private initialTotal = 0n
  private ready = false
  /** attempts still looking for a provider */
  private seeking = 0
  private arrivalsOpen = true
  private spam: SpamSource | undefined

  constructor (config: MarketConfig) {
    this.config = config
    this.clock = new EngineClock(this.engine)
    this.rng = new Rng(`market:${config.seed}`)
    this.netRng = new Rng(`network:${config.seed}`)
    this.net = new Network(config.nodes, config.network, this.netRng)
    this.metrics = new Metrics(config)
    this.roles = assignRoles(config)
    this.matcherOf = new Int32Array(config.nodes).fill(-1)
    this.bans = new Array<BanList | undefined>(config.nodes)
    this.retry = { initialMs: config.retryDelay * 1000, maxMs: config.maxRetryDelay * 1000, factor: 2, attemptTimeoutMs: 60_000, finalLeadMs: 0 }
    this.negotiationTerms = { ...defaultDealTerms, mediationFee: config.pricing.mediationFee, judgeWindow: config.judgeWindow, mediateTimeout: config.mediateTimeout }
    this.providerPolicy = { ...defaultProviderPolicy, submitMarginSec: Math.ceil(config.chainDelay) + 1 }
    // a result is fetched for as long as the judge window leaves time to act on it
    this.jcPolicy = { ...defaultJobCreatorPolicy, fetchTimeoutMs: Math.max(30_000, (config.judgeWindow - 4 * config.chainDelay) * 1000) }
    for (let i = 0; i < config.nodes; i++) if (this.roles[i] === 'mediator') this.mediators.push(addressOf(i))
    this.model = emptyMarket(this.mediators, undefined, config.committee?.rules)
    this.providerDriver = new SimDriver(this.engine, this.providerLifecycle())
    this.jcDriver = new SimDriver(this.engine, this.jcLifecycle())
    this.setUpMediators()
    this.setUp()
  }

  private nowBig (): bigint { return BigInt(EPOCH + Math.floor(this.engine.now)) }
  private chainNow (): number { return EPOCH + Math.floor(this.engine.now) }

  private id (kind: 'ResourceOffer' | 'JobOffer' | 'Deal', value: ResourceOffer | JobOffer | Deal): string {
    if (this.config.exactIds) return idOf(kind, this.domain, value as never)
    // A unique stand-in digest: EIP-712 hashing costs ~270 µs, too much for 10,000 nodes; ids are only
    // compared for equality and as the matcher's last tie-break.
    this.idCounter++
    return '0x' + mix32(this.idCounter, 0x5eed).toString(16).padStart(8, '0') + this.idCounter.toString(16).padStart(56, '0')
  }

  /** Applies an action to the real Market model; the deal's parties then see the new facts (their chain followers). */
  /** the chain's block at the simulated time: one every SIM_BLOCK_SECONDS (a committee dispute's seed block and reveals) */
  private blockNumber (): number { return 1 + Math.floor(Math.floor(this.engine.now) / SIM_BLOCK_SECONDS) }

  private chain (action: MarketAction): ReturnType<typeof apply> {
    // two draws per chain step, as when they made the block's prevrandao (no rule reads it now): seeded runs keep the
    // random paths, and the figures, they had
    this.rng.nextU32()
    this.rng.nextU32()
    const r = apply(this.model, action, { now: this.chainNow(), number: this.blockNumber(), blockHashOf: simBlockHash })
    this.metrics.chainCalls[action.kind] = (this.metrics.chainCalls[action.kind] ?? 0) + 1
    if (!r.ok) this.metrics.chainErrors[r.error] = (this.metrics.chainErrors[r.error] ?? 0) + 1
    // an audit starts where its draw is made: drawAudit, or an accept or settle that drew it
    else for (const s of r.steps) if (s.audited === true) this.metrics.audits++
    if (this.config.checkEveryEvent && this.ready) this.checkConservation()
    return r
  }

  /** What the chain says about a deal (what the node's follower and the Market's deal record tell it). */
  private factsOf (dealId: string): DealFacts {
    const rec = this.model.deals.get(dealId)
    if (rec === undefined) return { state: 'None', since: 0 }
    const d = this.dealStates.get(dealId)
    const state = stateName(rec.state)
    const cm = state === 'Challenged' && rec.mediatorIndex === COMMITTEE ? this.model.committees.get(dealId) : undefined
    const rules = this.model.committeeRules
    const phase = state === 'Challenged' && rec.mediatorIndex === COMMITTEE ? this.model.seedPhases.get(dealId) : undefined
    if (phase !== undefined && rules !== undefined) {
      // before the draw: the parties' seed reveals (docs/mediation.md, "Unbiasable draws"); the phase's deadline is
      // the reveal window's, or sooner once its 256 blocks are gone (as the node reads it)
      const capped = this.blockNumber() > phase.seedBlock + SEED_BLOCKS
      return {
        state,
        since: rec.since,
        ...(d?.resultCid !== undefined ? { resultCid: d.resultCid } : {}),
        mediator: ZERO,
        seedPhase: { jobCreatorRevealed: phase.jobCreatorSecret !== null, providerRevealed: phase.providerSecret !== null, deadline: capped ? Math.min(seedDeadline(phase, rules), this.chainNow() - 1) : seedDeadline(phase, rules) }
      }
    }
    if (cm !== undefined && rules !== undefined) {
      // a committee's dispute: DealChallenged names no single mediator (the zero address), CommitteeDrawn the members
      return {
        state,
        since: rec.since,
        ...(d?.resultCid !== undefined ? { resultCid: d.resultCid } : {}),
        mediator: ZERO,
        committee: {
          members: cm.members,
          drawnAt: cm.drawnAt,
          allCommittedAt: cm.allCommittedAt,
          committed: cm.members.filter((_, i) => cm.commitments[i] !== null),
          revealed: cm.members.filter((_, i) => cm.votes[i] !== null),
          commitWindow: rules.commitWindow,
          revealWindow: rules.revealWindow
        }
      }
    }
    return {
      state,
      since: rec.since,
      ...(d?.resultCid !== undefined ? { resultCid: d.resultCid } : {}),
      // a single mediator is known once drawn (drawMediator, from the dispute block's hash); before that the draw is due
      ...(state === 'Challenged' && d !== undefined && rec.mediatorIndex !== UNDRAWN ? { mediator: d.deal.mediators[rec.mediatorIndex] } : {}),
      ...(state === 'Challenged' && rec.mediatorIndex === UNDRAWN ? { mediatorDrawDue: true } : {}),
      ...(d !== undefined && auditDrawDue(d.deal, rec) ? { auditDue: true } : {})
    }
  }

  /**
   * A draw by a party's node (drawAudit of a submission, drawMediator of a single mediator's dispute): in the block
   * it draws from, the hash is not known yet, so it is tried again a block later.
   */
  private draw (kind: 'drawAudit' | 'drawMediator', dealId: string, d: SimDeal, done: (ok: boolean, reason: string) => void, n = 0): void {
    const notReady = kind === 'drawAudit' ? 'AuditDrawNotReady' : 'MediatorDrawNotReady'
    this.engine.after(this.config.chainDelay, () => {
      const r = this.chain({ kind, dealId, terms: d.deal })
      if (!r.ok && r.error === notReady && n < 10) { this.engine.after(SIM_BLOCK_SECONDS, () => { this.draw(kind, dealId, d, done, n + 1) }); return }
      // a lone mediator's draw is one of its dispute's transactions, as a committee's seed reveals are
      if (r.ok && kind === 'drawMediator') d.seedTxs = (d.seedTxs ?? 0) + 1
      done(r.ok, r.ok ? '' : r.error)
      this.onChain(dealId)
    })
  }

  /** A chain step touched this deal: every party following it steps on the new facts. */
  private onChain (dealId: string): void {
    const d = this.dealStates.get(dealId)
    if (d === undefined) return
    const rec = this.model.deals.get(dealId)
    // a committee's members learn of the dispute once drawn (the parties' second seed reveal)
    // a single mediator's node learns of the dispute once drawn (its MediatorDrawn event)
    if (rec !== undefined && rec.state === DealState.Challenged && d.members === undefined && rec.mediatorIndex !== UNDRAWN && (rec.mediatorIndex !== COMMITTEE || this.model.committees.has(dealId))) this.dispute(d, dealId)
    if (rec !== undefined && isFinal(rec.state) && d.dispute !== undefined && d.dispute.endedAt === undefined) {
      d.dispute.endedAt = this.engine.now
      d.dispute.state = stateName(rec.state)
    }
    const ph = d.provider.deals.get(dealId)
    if (ph !== undefined && !ph.rec.terminal) this.providerDriver.step(ph, { type: 'chain' })
    if (d.jcKnows && !d.jc.rec.terminal) this.jcDriver.step(d.jc, { type: 'chain' })
    for (const m of d.members ?? []) if (!m.h.rec.terminal) m.agent.driver.step(m.h, { type: 'chain' })
  }

  // ---------------------------------------------------------------- set-up

  private setUp (): void {
    const c = this.config
    const rng = this.rng
    let slotsTotal = 0
    for (let i = 0; i < c.nodes; i++) {
      const role = this.roles[i]
      if (role === 'solver' || (role === 'jc' && c.solvers === 0)) {
        this.matcherOf[i] = this.matchers.length
        this.matchers.push({ node: i, book: new OrderBook({ maxOffers: c.orderBook.maxOffers, maxPerProvider: c.orderBook.maxPerProvider }), snapshot: undefined, snapshotAt: -Infinity })
      }
      if (role === 'rp') {
        const nSlots = c.slotsPerProvider[0] + rng.int(c.slotsPerProvider[1] - c.slotsPerProvider[0] + 1)
        const gpu = rng.bernoulli(0.2)
        const p: Provider = {
          node: i,
          address: addressOf(i),
          slots: nSlots,
          spec: c.uniformSpecs ? { cpu: 4000, ramMb: 8192, diskMb: 50_000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 } : { cpu: rng.pick([2000, 4000, 8000]), ramMb: rng.pick([4096, 8192, 16384]), diskMb: 50_000, gpus: gpu ? 1 : 0, gpuVramMb: gpu ? rng.pick([8192, 24576]) : 0, gpuModel: '', cudaVersion: 0 },
          priceFactor: rng.lognormal(1, c.priceSigma),
          cheater: false,
          up: true,
          incarnation: 0,
          taken: 0,
          costs: 0n,
          dealsDone: 0,
          capacity: undefined as unknown as SlotCapacity,
          schedule: undefined as unknown as AnnounceSchedule<{ id: string }>,
          lastNonce: 0n,
          wake: 0,
          deals: new Map(),
          holds: []
        }
        slotsTotal += nSlots
        this.providers.push(p)
        this.providerByAddress.set(p.address.toLowerCase(), p)
      }
      if (role === 'jc') this.jcs.push(i)
    }
    if (c.solvers > 0) {
      // Each job creator sends its job offers to one solver; the solver runs the matcher on its own book.
      const solverNodes = this.matchers.map(m => m.node)
      for (const j of this.jcs) this.matcherOf[j] = this.matcherOf[solverNodes[mix32(j, 77) % solverNodes.length]]
    }
    // cheaters: a fixed fraction, chosen by the seed
    const nCheat = Math.round(this.providers.length * c.cheaterFraction)
    const order = this.providers.map((_, k) => k)
    for (let k = order.length - 1; k > 0; k--) { const r = rng.int(k + 1); [order[k], order[r]] = [order[r], order[k]] }
    for (let k = 0; k < nCheat; k++) this.providers[order[k]].cheater = true

    // deposits through the real Market model
    for (const j of this.jcs) this.chain({ kind: 'deposit', account: addressOf(j), amount: c.deposits.jobCreator })
    for (const p of this.providers) this.chain({ kind: 'deposit', account: p.address, amount: c.deposits.provider * BigInt(p.slots) })
    // committee deals name bonded mediators only: each mediator deposits, then bonds (Market.sol `bond`)
    if (c.committee !== undefined) {
      for (const m of this.mediatorAgents) {
        this.chain({ kind: 'deposit', account: m.address, amount: c.committee.bond + c.committee.deposit })
        this.chain({ kind: 'bond', account: m.address, amount: c.committee.bond })
      }
    }
    this.initialTotal = totalHeld(this.model, this.terms)
    this.ready = true
    this.metrics.slotsTotal = slotsTotal

    // first announcements, spread over one heartbeat so they do not all land at t=0
    for (const p of this.providers) {
      this.engine.at(rng.next() * c.heartbeat, () => { if (p.incarnation === 0) this.boot(p) })
      if (c.churn !== undefined) this.engine.at(rng.exp(c.churn.meanUp), () => { this.leave(p) })
    }
    // job arrivals: one Poisson stream for the whole market, λ = utilisation × slots / mean duration
    const meanDuration = c.jobDurationMedian * Math.exp(c.jobDurationSigma ** 2 / 2)
    this.metrics.arrivalRate = c.arrivalRate ?? c.utilisationTarget * slotsTotal / meanDuration
    // arrivals start once every provider has announced (one heartbeat and a little gossip time)
    const warmUp = c.heartbeat + 1
    if (this.jcs.length > 0 && this.metrics.arrivalRate > 0) this.engine.at(warmUp + rng.exp(1 / this.metrics.arrivalRate), () => { this.arrival() })
    this.engine.at(c.hours * 3600, () => { this.arrivalsOpen = false })
    for (let t = 0; t <= c.hours * 3600; t += c.sampleInterval) this.engine.at(t, () => { this.sample() })
    if (c.partition !== undefined) {
      const part = c.partition
      for (let i = 0; i < c.nodes; i++) this.net.side[i] = mix32(i, 4242) / 4294967296 < part.fraction ? 1 : 0
      this.engine.at(part.start, () => { this.net.partitioned = true; this.metrics.partitionEvents.push({ t: this.engine.now, event: 'cut' }) })
      this.engine.at(part.end, () => { this.net.partitioned = false; this.metrics.partitionEvents.push({ t: this.engine.now, event: 'healed' }) })
    }
  }

  attachSpam (spam: SpamSource): void {
    this.spam = spam
    spam.start(this)
  }

  /** Delivers a (spam or honest) live offer into every matching node's book after its gossip delay. */
  deliverOffer (from: number, live: LiveOffer, kind: 'honest' | 'spam'): void {
    for (const m of this.matchers) {
      const d = this.net.gossipDelay(from, m.node)
      if (d < 0) { this.metrics.gossipMissed++; continue }
      this.engine.after(d, () => {
        const r = m.book.add(live, this.nowBig())
        if (kind === 'spam') this.metrics.spam.bookResults[r] = (this.metrics.spam.bookResults[r] ?? 0) + 1
      })
    }
  }

  get matcherNodes (): number[] { return this.matchers.map(m => m.node) }
  get nodeRoles (): Role[] { return this.roles }
  get now (): number { return this.engine.now }
  get simRng (): Rng { return this.rng }
  chainTime (): bigint { return this.nowBig() }

  // ---------------------------------------------------------------- resource providers

  private priceOf (p: Provider): bigint {
    return BigInt(Math.round(Number(this.config.pricing.basePrice / 1_000_000_000n) * p.priceFactor)) * 1_000_000_000n
  }

  private collateralOf (price: bigint): bigint {
    const c = price * BigInt(this.config.pricing.collateralMultiplePpm) / 1_000_000n
    return c < this.config.pricing.mediationFee ? this.config.pricing.mediationFee : c
  }

  /** A provider process starts: fresh capacity and schedule (what a node has in memory), its stored deals resumed. */
  private boot (p: Provider): void {
    const c = this.config
    const slots = [...Array(p.slots).keys()]
    p.capacity = new SlotCapacity(slots, { clock: this.clock })
    p.schedule = new AnnounceSchedule<{ id: string }>(slots, simNowMs(this.engine), { intervalMs: c.heartbeat * 1000, minGapMs: 1000 })
    p.holds = []
    p.capacity.onChange(free => {
      // booked slots stay visible as busy (the node's provider passes the same)
      this.carryOut(p, p.schedule.setFree(free, simNowMs(this.engine), slots.filter(s => !free.includes(s))))
      this.arm(p)
      for (const h of p.holds.splice(0)) h()
    })
    this.wakeSchedule(p)
    const inc = p.incarnation
    this.engine.after(c.heartbeat, () => { this.adaptPrice(p, inc) })
    for (const h of p.deals.values()) if (!h.rec.terminal) this.providerDriver.step(h, { type: 'resume' })
  }

  /** The announce schedule's next wake-up (heartbeat or a deferred announcement). */
  private arm (p: Provider): void {
    const token = ++p.wake
    const inc = p.incarnation
    const at = p.schedule.nextWakeAt() / 1000 - EPOCH
    this.engine.at(at, () => { if (p.wake === token && p.incarnation === inc && p.up) this.wakeSchedule(p) })
  }

  private wakeSchedule (p: Provider): void {
    this.carryOut(p, p.schedule.due(simNowMs(this.engine)))
    this.arm(p)
  }

  /** Adaptive price (per minute of heartbeats): busy providers creep up, idle ones down, never below cost. */
  private adaptPrice (p: Provider, inc: number): void {
    if (!p.up || p.incarnation !== inc) return
    const c = this.config
    const free = p.capacity.freeSlots().length
    const step = c.priceStep * c.heartbeat / 60
    const floor = c.execCostPpm / 1_000_000 * 1.1
    if (p.taken > 0 && free === 0) p.priceFactor = Math.min(3, p.priceFactor * (1 + step))
    else if (p.taken === 0 && free === p.slots) p.priceFactor = Math.max(floor, p.priceFactor * (1 - step))
    p.taken = 0
    this.engine.after(c.heartbeat, () => { this.adaptPrice(p, inc) })
  }

  private nonceOf (p: Provider): bigint {
    const nowMs = BigInt(simNowMs(this.engine))
    p.lastNonce = nowMs * 1000n > p.lastNonce ? nowMs * 1000n : p.lastNonce + 1n
    return p.lastNonce
  }

  /** What the node's announcer does with a plan: signed withdrawals and offers, gossiped. */
  private carryOut (p: Provider, plan: AnnouncePlan): void {
    if (!p.up) return
    for (const slot of plan.withdraw) this.withdraw(p, slot)
    // once arrivals have stopped and no job is looking for a provider, announcements have nobody to serve
    if (!this.arrivalsOpen && this.seeking === 0) return
    for (const slot of plan.announce) this.announce(p, slot)
    // booked slots kept visible: a fresh offer and its withdrawal (books keep the offer as busy)
    for (const slot of plan.busy ?? []) { this.announce(p, slot); this.withdraw(p, slot) }
  }

  private announce (p: Provider, slot: number): void {
    const c = this.config
    const price = this.priceOf(p)
    const offer: ResourceOffer = {
      provider: p.address,
      slot,
      spec: p.spec,
      modules: [],
      price,
      collateral: this.collateralOf(price),
      mediators: this.namedMediators(),
      expiry: this.nowBig() + BigInt(c.offerTtl),
      nonce: this.nonceOf(p),
      seedCommit: ''
    }
    offer.seedCommit = keccak256(simSeedSecret('ResourceOffer', offer.provider, offer.nonce, offer.slot))
    const id = this.id('ResourceOffer', offer)
    p.schedule.expire(this.nowBig())
    p.schedule.issue(id, slot, offer.expiry, { id })
    this.metrics.announcements++
    this.deliverOffer(p.node, { offer, id, signature: '0x', peer: String(p.node) }, 'honest')
  }

  /** The booked slot's offer leaves every book (the real announcer's signed OfferWithdrawal, gossiped). */
  private withdraw (p: Provider, slot: number): void {
    const nonce = this.nonceOf(p)
    const expiry = this.nowBig() + BigInt(this.config.offerTtl)
    this.metrics.withdrawals++
    for (const m of this.matchers) {
      const d = this.net.gossipDelay(p.node, m.node)
      if (d < 0) { this.metrics.gossipMissed++; continue }
      this.engine.after(d, () => { m.book.withdraw(p.address, slot, nonce, expiry, this.nowBig()) })
    }
  }

  /** The provider's process dies: what it had in memory (slots, schedule, runs, actions) is gone; its records stay. */
  private leave (p: Provider): void {
    if (!p.up) return
    p.up = false
    p.incarnation++
    p.wake++
    this.net.up[p.node] = 0
    this.metrics.churn.left++
    p.capacity?.stop()
    for (const h of p.deals.values()) {
      if (h.rec.running) this.metrics.churn.jobsInterrupted++
      this.providerDriver.kill(h)
    }
    const c = this.config.churn
    if (c !== undefined) this.engine.after(this.rng.exp(c.meanDown), () => { this.rejoin(p) })
  }

  private rejoin (p: Provider): void {
    p.up = true
    p.incarnation++
    this.net.up[p.node] = 1
    this.metrics.churn.rejoined++
    this.boot(p)
    const c = this.config.churn
    if (c !== undefined) this.engine.after(this.rng.exp(c.meanUp), () => { this.leave(p) })
  }

  private execCost (): bigint {
    // running a job costs the same whatever it was sold for
    return this.config.pricing.basePrice * BigInt(this.config.execCostPpm) / 1_000_000n
  }

  /** The provider lifecycle, its actions carried out by this provider in simulated time. */
  private providerLifecycle (): ConstructorParameters<typeof SimDriver<ProviderDeal, ProviderEvent, ProviderAction, DealFacts>>[1] {
    return {
      step: (rec, input) => stepProvider(rec, input, this.providerPolicy),
      facts: rec => this.factsOf(rec.dealId),
      alive: h => this.dealStates.get(h.rec.dealId)?.provider.up ?? false,
      perform: (h, a, done) => { this.providerAct(h, a, done) },
      changed: (h, prev) => {
        const d = this.dealStates.get(h.rec.dealId)
        if (d === undefined) return
        if (h.rec.submitted && !prev.submitted) { d.provider.dealsDone++; if (d.wrong) this.metrics.cheats.submitted++ }
      }
    }
  }

  private providerAct (h: SimRecord<ProviderDeal>, a: ProviderAction, done: (e: ProviderEvent) => void): void {
    const c = this.config
    const rec = h.rec
    const d = this.dealStates.get(rec.dealId) as SimDeal
    const p = d.provider
    const later = (s: number, fn: () => void): void => { this.engine.after(s, fn) }
    switch (a.kind) {
      case 'hold': {
        const life = h.life
        const tryHold = (): void => {
          if (h.life !== life || !p.up) return
          for (const s of [rec.slot, ...p.capacity.freeSlots()]) {
            if (s >= 0 && p.capacity.tryReserve(s, rec.dealId, c.reservationTtl * 1000)) { p.capacity.confirm(rec.dealId); done({ type: 'held', slot: s }); return }
          }
          if (simNowMs(this.engine) >= a.deadline) { done({ type: 'hold-failed', reason: 'no slot freed in time' }); return }
          p.holds.push(tryHold)
        }
        later(0, tryHold)
        return
      }
      case 'release': later(0, () => { p.capacity.release(rec.dealId); done({ type: 'released' }) }); return
      case 'agree':
        later(c.chainDelay, () => {
          // the escrow audit reads each live deal's terms, so they are known before the deal exists
          this.terms.set(rec.dealId, d.deal)
          const r = this.chain({ kind: 'agree', dealId: rec.dealId, terms: d.deal })
          if (r.ok) {
            this.metrics.deals++
            this.metrics.prices.push(d.deal.price)
            done({ type: 'agreed', at: this.chainNow() })
          } else {
            this.terms.delete(rec.dealId)
            done({ type: 'agree-failed', reason: r.error })
          }
          this.onChain(rec.dealId)
        })
        return
      case 'run': {
        const runtime = p.cheater ? d.attempt.job.duration * c.cheatRuntimeFraction : d.attempt.job.duration
        d.wrong = p.cheater
        if (!p.cheater) p.costs += this.execCost()
        const life = h.life
        const run = rec.runs
        later(Math.min(runtime, a.timeoutSec), () => {
          // an aborted run (a later run, or the process died) ends with nothing
          if (h.life !== life || h.rec.runs !== run || !h.rec.running) return
          done({ type: 'run-done', cid: `bafy${d.wrong ? 'wrong' : 'good'}${rec.dealId.slice(2, 26)}`, exitCode: 0 })
        })
        return
      }
      case 'abort-run': later(0, () => { done({ type: 'run-aborted' }) }); return
      case 'notify': {
        const t = this.net.directDelay(p.node, d.attempt.job.jc, 128)
        later(Math.max(0, t), () => {
          if (t >= 0 && d.jcKnows) this.jcDriver.step(d.jc, { type: 'agree-notice', reason: a.reason })
          done(t >= 0 ? { type: 'notified' } : { type: 'notify-failed', reason: 'lost' })
        })
        return
      }
      case 'submit':
        later(c.chainDelay, () => {
          const cid = rec.resultCid as string
          // with the job creator's acceptance (signed off chain) the submission settles the deal; the node's shell
          // falls back to the plain submission if it reverts, and so does this
          const accepted = a.acceptance !== undefined
            ? this.chain({ kind: 'submitAcceptedResult', caller: p.address, dealId: rec.dealId, terms: d.deal, cid, acceptance: { signer: d.deal.jobCreator, dealId: rec.dealId, resultCid: cid } })
            : undefined
          const r = accepted?.ok === true ? accepted : this.chain({ kind: 'submitResult', caller: p.address, dealId: rec.dealId, terms: d.deal, cid })
          if (r.ok) {
            d.resultCid = cid
            done({ type: 'submitted', accepted: accepted?.ok === true && this.model.deals.get(rec.dealId)?.state === DealState.Settled })
          } else {
            done({ type: 'submit-failed', reason: r.error })
          }
          this.onChain(rec.dealId)
        })
        return
      case 'deliver': {
        const t = this.net.directDelay(p.node, d.attempt.job.jc, 512)
        later(Math.max(0, t), () => {
          if (t >= 0 && d.jcKnows && rec.resultCid !== undefined) this.jcDriver.step(d.jc, { type: 'result', cid: rec.resultCid, addrs: [] })
          done(t >= 0 ? { type: 'delivered' } : { type: 'deliver-failed', reason: 'lost' })
        })
        return
      }
      case 'settle':
        later(c.chainDelay, () => {
          const r = this.chain({ kind: 'settle', deals: [{ dealId: rec.dealId, terms: d.deal }] })
          done(r.ok ? { type: 'settled' } : { type: 'settle-failed', reason: r.error })
          this.onChain(rec.dealId)
        })
        return
      case 'draw-audit': this.draw('drawAudit', rec.dealId, d, (ok, reason) => { done(ok ? { type: 'audit-drawn' } : { type: 'draw-audit-failed', reason }) }); return
      case 'draw-mediator': this.draw('drawMediator', rec.dealId, d, (ok, reason) => { done(ok ? { type: 'mediator-drawn' } : { type: 'draw-mediator-failed', reason }) }); return
      case 'hand-off': this.handOff(p.node, d, rec.dealId, () => { done({ type: 'handed-off' }) }); return
      case 'reveal-seed': {
        const offer = rec.offer
        if (offer === undefined) { done({ type: 'reveal-seed-failed', reason: 'the resource offer is not known' }); return }
        this.revealSeed(d, rec.dealId, { provider: true, secret: simSeedSecret('ResourceOffer', offer.provider, offer.nonce, offer.slot), commit: offer.seedCommit }, done)
        return
      }
      case 'timeout-mediation':
        later(c.chainDelay, () => { this.closeMediation(rec.dealId, d, a.committee, done) })
    }
  }

  // ---------------------------------------------------------------- mediators

  /** The mediator nodes: which of them lie and which are down (their own stream of the seed), each with its process. */
  private setUpMediators (): void {
    const c = this.config
    const n = this.mediators.length
    const order = [...Array(n).keys()]
    if (c.liarMediators > 0 || c.absentMediators > 0) {
      // their own stream: the market's draws are the same whether or not some mediators misbehave
      const pick = new Rng(`mediators:${c.seed}`)
      for (let k = n - 1; k > 0; k--) { const r = pick.int(k + 1); [order[k], order[r]] = [order[r], order[k]] }
    }
    const liars = Math.min(n, Math.round(n * c.liarMediators))
    const absent = Math.min(n - liars, Math.round(n * c.absentMediators))
    const kind = new Array<'honest' | 'liar' | 'absent'>(n).fill('honest')
    for (let k = 0; k < liars; k++) kind[order[k]] = 'liar'
    for (let k = liars; k < liars + absent; k++) kind[order[k]] = 'absent'
    this.mediators.forEach((address, i) => {
      const agent: MediatorAgent = { node: Number(BigInt(address)) - 1, address, liar: kind[i] === 'liar', absent: kind[i] === 'absent', driver: undefined as unknown as MediatorAgent['driver'], slashes: 0, slashed: 0n, topUps: 0 }
      agent.driver = new SimDriver(this.engine, this.mediatorLifecycle(agent))
      // an absent mediator's node is down: nothing reaches it, it sends nothing
      if (agent.absent) this.net.up[agent.node] = 0
      this.mediatorAgents.push(agent)
      this.agentByAddress.set(address.toLowerCase(), agent)
    })
  }

  /**
   * The mediators a new offer names. With committee rules the Market refuses a deal naming a mediator bonded below
   * `minBond`, so the parties name only those bonded enough now (a slashed mediator that could not top up drops out).
   */
  private namedMediators (): string[] {
    const cm = this.config.committee
    if (cm === undefined) return this.mediators
    this.eligible ??= this.mediators.filter(m => (this.model.bonds.get(m.toLowerCase())?.amount ?? 0n) >= cm.rules.minBond)
    return this.eligible
  }

  /** The drawn mediator's, or each drawn member's, follower sees the challenge: a dispute record of its own. */
  private dispute (d: SimDeal, dealId: string): void {
    const rec = this.model.deals.get(dealId)
    if (rec === undefined) return
    const committee = rec.mediatorIndex === COMMITTEE
    const drawn = committee ? (this.model.committees.get(dealId)?.members ?? []) : [d.deal.mediators[rec.mediatorIndex]]
    d.members = drawn.map(address => {
      const agent = this.agentByAddress.get(address.toLowerCase()) as MediatorAgent
      return { agent, h: agent.driver.holder(newDispute({ dealId, jobCreator: d.deal.jobCreator, audit: true }, simNowMs(this.engine))) }
    })
    d.dispute = { dealId, at: this.engine.now, wrongResult: d.wrong, committee, members: drawn, reruns: 0, txs: d.seedTxs ?? 0 }
    this.disputeLogs.push(d.dispute)
    for (const m of d.members) m.agent.driver.step(m.h)
  }

  /**
   * A party pushes the case to the drawn mediator, or to every member of the drawn committee (a lost push leaves the
   * mediator to pull it); done once every push has arrived or been lost.
   */
  private handOff (from: number, d: SimDeal, dealId: string, done: () => void): void {
    const members = d.members ?? []
    if (members.length <= 1) {
      const m = members[0]
      const t = m === undefined ? -1 : this.net.directDelay(from, m.agent.node, 4096)
      this.engine.after(Math.max(0, t), () => {
        if (t >= 0 && m !== undefined) m.agent.driver.step(m.h, this.caseOf(d))
        done()
      })
      return
    }
    let last = 0
    for (const m of members) {
      const t = this.net.directDelay(from, m.agent.node, 4096)
      if (t < 0) continue
      last = Math.max(last, t)
      this.engine.after(t, () => { m.agent.driver.step(m.h, this.caseOf(d)) })
    }
    this.engine.after(last, done)
  }

  private caseOf (d: SimDeal): MediatorEvent {
    const job: Envelope<'JobOffer'> = { kind: 'JobOffer', value: d.attempt.offer, signature: NO_JOB_SIGNATURE }
    return { type: 'case', deal: { kind: 'Deal', value: d.deal, signature: NO_JOB_SIGNATURE }, jobOffer: job, via: 'push' }
  }

  /** The vote a member sends: its lifecycle's, inverted by a liar ("no case" stays "no case", as the node's fault). */
  private cast (agent: MediatorAgent, vote: VoteValue): VoteValue {
    if (!agent.liar || vote === Vote.NoCase) return vote
    return vote === Vote.Correct ? Vote.Wrong : Vote.Correct
  }

  /** A member's vote salt: secret to it and the same every time it is made (the node hashes a signature). */
  private saltOf (agent: MediatorAgent, dealId: string): string {
    return keccak256(toUtf8Bytes(`sim committee vote salt ${agent.address.toLowerCase()} ${dealId.toLowerCase()}`))
  }

  private mediatorLifecycle (agent: MediatorAgent): ConstructorParameters<typeof SimDriver<MediatorDispute, MediatorEvent, MediatorAction, DealFacts>>[1] {
    const c = this.config
    const policy = { self: agent.address, pullAfterMs: 5000, pullIntervalMs: 5000, marginSec: Math.min(30, Math.floor(c.mediateTimeout / 10)) }
    const medNode = agent.node
    return {
      step: (rec, input) => stepMediator(rec, input, policy),
      facts: rec => this.factsOf(rec.dealId),
      alive: () => !agent.absent,
      perform: (h, a, done) => {
        const d = this.dealStates.get(h.rec.dealId) as SimDeal
        const dealId = h.rec.dealId
        const log = d.dispute as DisputeLog
        switch (a.kind) {
          case 'pull': {
            // the mediator asks the job creator (always up in this model)
            const t = this.net.directDelay(medNode, d.attempt.job.jc, 4096)
            this.engine.after(Math.max(0, t) * 2, () => {
              if (t >= 0) agent.driver.step(h, { ...this.caseOf(d), via: 'pull' } as MediatorEvent)
              done(t >= 0 ? { type: 'pulled' } : { type: 'pull-failed', reason: 'unreachable' })
            })
            return
          }
          case 'rerun': {
            // the mediator fetches the result and re-runs the job; a result it cannot fetch counts as wrong
            const rpNode = d.provider.node
            const reachable = this.net.reachable(rpNode, medNode)
            const once = this.net.directDelay(rpNode, medNode, c.resultBytes)
            const fetch = !reachable ? 0 : once >= 0 ? once : c.fetchRetry + this.net.linkLatency() + c.resultBytes / this.net.params.bandwidth
            const correct = !d.wrong && reachable
            this.metrics.mediatorCosts += this.execCost()
            log.reruns++
            this.engine.after(Math.max(0, fetch) + d.attempt.job.duration, () => {
              done({ type: 'rerun-done', cid: correct ? (h.rec.resultCid ?? '') : 'bafymediatordisagrees' })
            })
            return
          }
          case 'mediate':
            this.engine.after(c.chainDelay, () => {
              // a lying mediator rules against its own re-run
              const resultCorrect = agent.liar ? !a.resultCorrect : a.resultCorrect
              const r = this.chain({ kind: 'mediate', caller: agent.address, dealId, terms: d.deal, resultCorrect })
              if (r.ok) log.txs++
              if (r.ok && !resultCorrect && d.wrong) this.metrics.cheats.detected++
              done(r.ok ? { type: 'mediated' } : { type: 'mediate-failed', reason: r.error })
              this.onChain(dealId)
            })
            return
          // a committee's votes (docs/mediation.md, "Committees"), through the Market model's committee rules
          case 'commit-vote':
            this.engine.after(c.chainDelay, () => {
              const commitment = voteCommitment(dealId, agent.address, this.cast(agent, a.vote), this.saltOf(agent, dealId))
              // the lowest of its 16 slots no unrevealed vote of its own holds (core/lifecycle/mediator.ts `freeVoteSlot`)
              const held = agent.heldSlots ?? (agent.heldSlots = new Map())
              // a closed dispute frees its slot, as a terminal record does in the node
              for (const id of [...held.keys()]) if (this.model.deals.get(id)?.state !== DealState.Challenged) held.delete(id)
              let slot = 0
              while ([...held.values()].includes(slot)) slot++
              const r = this.chain({ kind: 'commitVote', caller: agent.address, dealId, terms: d.deal, commitment, slot })
              if (r.ok) held.set(dealId, slot)
              if (r.ok) log.txs++
              done(r.ok ? { type: 'vote-committed' } : { type: 'commit-vote-failed', reason: r.error })
              this.onChain(dealId)
            })
            return
          case 'reveal-vote':
            this.engine.after(c.chainDelay, () => {
              const r = this.chain({ kind: 'revealVote', caller: agent.address, dealId, terms: d.deal, vote: this.cast(agent, a.vote), salt: this.saltOf(agent, dealId), slot: agent.heldSlots?.get(dealId) ?? 0 })
              if (r.ok) log.txs++
              if (r.ok) agent.heldSlots?.delete(dealId)
              // the last reveal of those who committed closes the vote in the same transaction
              if (r.ok && r.settlement !== undefined) this.finalized(d, log, r.settlement)
              done(r.ok ? { type: 'vote-revealed' } : { type: 'reveal-vote-failed', reason: r.error })
              this.onChain(dealId)
            })
            return
          case 'finalize-committee':
            this.engine.after(c.chainDelay, () => {
              const r = this.chain({ kind: 'finalizeCommittee', dealId, terms: d.deal })
              if (r.ok && r.settlement !== undefined) { log.txs++; this.finalized(d, log, r.settlement) }
              done(r.ok ? { type: 'committee-finalized' } : { type: 'finalize-committee-failed', reason: r.error })
              this.onChain(dealId)
            })
        }
      }
    }
  }

  /**
   * A party's seed reveal (Market.revealSeed), as its lifecycle asks: the secret its offer committed to. The Market
   * proves it against the offer the deal names (its EIP-712 words and the secret's hash); the simulator's offer ids are
   * stand-ins, so the proof here is the commitment itself. A reveal too early (the dispute's own block) is sent again
   * a block later; one the Market has no use for any more (already in, the phase over or closed) needs nothing more.
   */
  private revealSeed (d: SimDeal, dealId: string, seed: { provider: boolean, secret: string, commit: string }, done: (e: { type: 'seed-revealed' } | { type: 'reveal-seed-failed', reason: string }) => void): void {
    const attempt = (n: number): void => {
      this.engine.after(this.config.chainDelay, () => {
        const named = seed.provider ? d.deal.resourceOfferId : d.deal.jobOfferId
        // the second reveal passes the first's secret back, as a node reads it from the first's SeedRevealed
        const phase = this.model.seedPhases.get(dealId)
        const firstSecret = (seed.provider ? phase?.jobCreatorSecret : phase?.providerSecret) ?? undefined
        const r = this.chain({ kind: 'revealSeed', dealId, terms: d.deal, provider: seed.provider, secret: seed.secret, proved: keccak256(seed.secret) === seed.commit ? named : null, named, firstSecret })
        if (!r.ok && r.error === 'SeedRevealNotOpen' && n < 10) { this.engine.after(SIM_BLOCK_SECONDS, () => { attempt(n + 1) }); return }
        if (r.ok) d.seedTxs = (d.seedTxs ?? 0) + 1
        const settled = r.ok || r.error === 'SeedAlreadyRevealed' || r.error === 'SeedRevealClosed' || r.error === 'WrongState' || r.error === 'NotACommitteeDispute'
        done(settled ? { type: 'seed-revealed' } : { type: 'reveal-seed-failed', reason: r.error })
        this.onChain(dealId)
      })
    }
    attempt(0)
  }

  /** A committee's outcome is on chain: recorded, and every slashed member that is up tops its bond back up. */
  /**
   * A party closes a dispute nobody ruled on, as a node's lifecycle asks: timeoutMediation for a lone mediator,
   * finalizeCommittee for a committee whose vote is over (no member finalized it: all of them down, say).
   */
  private closeMediation (dealId: string, d: SimDeal, committee: boolean, done: (e: { type: 'mediation-timed-out' } | { type: 'timeout-mediation-failed', reason: string }) => void): void {
    const r = committee ? this.chain({ kind: 'finalizeCommittee', dealId, terms: d.deal }) : this.chain({ kind: 'timeoutMediation', dealId, terms: d.deal })
    if (r.ok && d.dispute !== undefined) {
      d.dispute.txs++
      if (committee && r.settlement !== undefined) this.finalized(d, d.dispute, r.settlement)
    }
    done(r.ok ? { type: 'mediation-timed-out' } : { type: 'timeout-mediation-failed', reason: r.error })
    this.onChain(dealId)
  }

  private finalized (d: SimDeal, log: DisputeLog, s: CommitteeSettlement): void {
    const members = log.members
    log.outcome = s.tally.outcome
    log.slashes = s.slashes.map(x => ({ account: x.account, amount: x.amount }))
    log.credits = s.credits.map(x => ({ account: x.account, amount: x.amount }))
    log.noCase = s.tally.noCase.map(i => members[i])
    if (s.tally.outcome === 'wrong' && d.wrong) this.metrics.cheats.detected++
    const cm = this.config.committee
    for (const x of s.slashes) {
      const agent = this.agentByAddress.get(x.account.toLowerCase()) as MediatorAgent
      agent.slashes++
      agent.slashed += x.amount
      if (agent.absent || cm === undefined) continue
      // a mediator that is up bonds again what it lost, out of its deposit (a transaction of its own)
      this.engine.after(this.config.chainDelay, () => {
        const short = cm.bond - (this.model.bonds.get(agent.address.toLowerCase())?.amount ?? 0n)
        const has = depositOf(this.model, agent.address)
        const amount = short < has ? short : has
        if (amount > 0n && this.chain({ kind: 'bond', account: agent.address, amount }).ok) agent.topUps++
        this.eligible = undefined
      })
    }
    this.eligible = undefined
  }

  /** Each mediator's bond and deposit against what it started with, and how it behaved. */
  mediatorResults (): Array<{ address: string, kind: 'honest' | 'liar' | 'absent', slashes: number, slashed: bigint, topUps: number, bond: bigint, tokenDelta: bigint }> {
    const cm = this.config.committee
    const start = cm === undefined ? 0n : cm.bond + cm.deposit
    return this.mediatorAgents.map(m => ({
      address: m.address,
      kind: m.liar ? 'liar' : m.absent ? 'absent' : 'honest',
      slashes: m.slashes,
      slashed: m.slashed,
      topUps: m.topUps,
      bond: bondOf(this.model, m.address),
      tokenDelta: depositOf(this.model, m.address) + bondOf(this.model, m.address) - start
    }))
  }

  // ---------------------------------------------------------------- job creators

  private arrival (): void {
    if (!this.arrivalsOpen) return
    const c = this.config
    const rng = this.rng
    const jc = this.jcs[rng.int(this.jcs.length)]
    const gpu = rng.bernoulli(0.1)
    const duration = Math.min(c.jobTimeout * 0.9, rng.lognormal(c.jobDurationMedian, c.jobDurationSigma))
    const job: Job = {
      id: this.jobs.length,
      jc,
      spec: c.uniformSpecs ? { cpu: 1000, ramMb: 1024, diskMb: 1000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 } : { cpu: rng.pick([500, 1000, 2000, 4000]), ramMb: rng.pick([512, 1024, 4096, 8192]), diskMb: 1000, gpus: gpu ? 1 : 0, gpuVramMb: gpu ? 8192 : 0, gpuModel: '', cudaVersion: 0 },
      module: rng.pick(MODULES),
      maxPrice: BigInt(Math.round(Number(c.pricing.basePrice / 1_000_000_000n) * c.maxPriceFactor * rng.lognormal(1, 0.15))) * 1_000_000_000n,
      duration,
      timeout: c.jobTimeout,
      submittedAt: this.engine.now,
      attempts: 0,
      outcome: undefined,
      wrongAccepted: false
    }
    this.jobs.push(job)
    this.metrics.jobsSubmitted++
    if (c.jobLimit !== undefined && this.jobs.length >= c.jobLimit) this.arrivalsOpen = false
    this.startAttempt(job)
    this.engine.after(rng.exp(1 / this.metrics.arrivalRate), () => { this.arrival() })
  }

  private bansOf (jc: number): BanList {
    let b = this.bans[jc]
    if (b === undefined) { b = new BanList({ ttlMs: this.config.banDuration * 1000 }); this.bans[jc] = b }
    return b
  }

  private startAttempt (job: Job): void {
    const c = this.config
    job.attempts++
    if (job.attempts > c.maxAttempts) { this.finishJob(job, 'failed'); return }
    const nonce = this.nextNonce++
    const offer: JobOffer = {
      jobCreator: addressOf(job.jc),
      module: job.module,
      inputs: `{"job":${job.id}}`,
      spec: job.spec,
      maxPrice: job.maxPrice,
      mediators: this.namedMediators(),
      target: ZERO,
      timeout: job.timeout,
      auditPpm: c.auditPpm,
      expiry: this.nowBig() + BigInt(c.jobPatience + 60),
      nonce,
      seedCommit: ''
    }
    offer.seedCommit = keccak256(simSeedSecret('JobOffer', offer.jobCreator, offer.nonce))
    const a: Attempt = {
      job,
      offer,
      offerId: this.id('JobOffer', offer),
      startedAt: this.engine.now,
      patienceUntil: this.engine.now + c.jobPatience,
      tried: new Set(),
      proposalsThisRound: 0,
      rounds: 0,
      done: false
    }
    if (job.attempts > 1) this.metrics.rematched++
    this.seeking++
    this.requestCandidates(a)
  }

  /** The node's rule: more candidates than the list needs, so skipping banned providers still leaves some. */
  private matchFor (m: Matcher, a: Attempt): Candidate[] {
    const bans = this.bansOf(a.job.jc)
    const nowMs = simNowMs(this.engine)
    const limit = Math.min(1024, this.config.candidateLimit + bans.markedCount(nowMs))
    this.metrics.matchCalls++
    return bans.rank(m.book.match(a.offer, { now: this.nowBig(), limit }), x => x.live.offer.provider, nowMs).slice(0, this.config.candidateLimit)
  }

  private requestCandidates (a: Attempt): void {
    if (this.engine.now > a.patienceUntil) { this.seeking--; this.finishJob(a.job, 'unmatched'); return }
    a.proposalsThisRound = 0
    const jc = a.job.jc
    const m = this.matchers[this.matcherOf[jc]]
    if (m.node === jc) {
      this.engine.after(this.config.matchProcessing, () => { this.negotiate(a, this.matchFor(m, a), 0) })
      return
    }
    // the job offer reaches the solver by gossip; the candidates come back on a direct stream
    const there = this.net.gossipDelay(jc, m.node)
    if (there < 0) { this.retryLater(a, this.config.negotiationTimeout); return }
    this.engine.after(there, () => {
      const candidates = this.solverMatch(m, a.offer)
      const back = this.net.directDelay(m.node, jc, 1024 * Math.max(1, candidates.length))
      if (back < 0) { this.retryLater(a, this.config.negotiationTimeout); return }
      this.engine.after(back + this.config.matchProcessing, () => { this.negotiate(a, this.bansOf(jc).rank(candidates, x => x.live.offer.provider, simNowMs(this.engine)), 0) })
    })
  }

  /**
   * A solver matches each job offer as it arrives, with the real matcher over a prepared (sorted) copy of its
   * book that is refreshed once per tick instead of per job (re-sorting thousands of offers per job is what a
   * 10,000-node run cannot afford); candidates withdrawn or replaced since the refresh are dropped by looking
   * them up in the live book.
   */
  private solverMatch (m: Matcher, job: JobOffer): Candidate[] {
    this.metrics.matchCalls++
    const now = this.nowBig()
    if (m.snapshot === undefined || this.engine.now - m.snapshotAt >= this.config.solverTick) {
      m.book.evictExpired(now)
      m.snapshot = prepareOffers(m.book.offers())
      m.snapshotAt = this.engine.now
    }
    return matchOffers(job, m.snapshot, { now, limit: this.config.candidateLimit })
      .filter(c => m.book.get(c.live.offer.provider, c.live.offer.slot)?.id === c.live.id)
  }

  /** A decline tells the job creator the offer is stale; its matching node drops it (if not re-announced since). */
  private dropStale (a: Attempt, cand: Candidate): void {
    const m = this.matchers[this.matcherOf[a.job.jc]]
    const drop = (): void => {
      const o = cand.live.offer
      if (m.book.get(o.provider, o.slot)?.id === cand.live.id) { m.book.delete(o.provider, o.slot); this.metrics.staleDropped++ }
    }
    if (m.node === a.job.jc) { drop(); return }
    const d = this.net.directDelay(a.job.jc, m.node, 128)
    if (d >= 0) this.engine.after(d, drop)
  }

  /** No candidate agreed: match again after the node's retry backoff. */
  private retryLater (a: Attempt, extra = 0): void {
    a.rounds++
    this.metrics.retries++
    this.engine.after(backoffMs(this.retry, a.rounds) / 1000 + extra, () => { this.requestCandidates(a) })
  }

  /** Proposes to candidates in rank order (the real negotiation's fallback); a failure goes on the ban list. */
  private negotiate (a: Attempt, candidates: Candidate[], k: number): void {
    const c = this.config
    const jc = a.job.jc
    const bans = this.bansOf(jc)
    while (k < candidates.length && (bans.banned(candidates[k].live.offer.provider, simNowMs(this.engine)) || a.tried.has(candidates[k].live.id))) k++
    if (k >= candidates.length && a.proposalsThisRound === 0) {
      // no free candidate this round: the node's queue policy says whether busy providers are worth waiting for
      const m = this.matchers[this.matcherOf[jc]]
      const nowMs = simNowMs(this.engine)
      const fit = fittingProviders({ free: candidates.map(x => x.live.offer.provider), busy: m.book.busyMatching(a.offer, { now: this.nowBig() }).map(l => l.offer.provider) }, p => bans.banned(p, nowMs))
      const d = queueDecision({ free: 0, busyProviders: fit.busyProviders, ruledOut: fit.ruledOut, providersSeen: a.tried.size > 0 || a.job.attempts > 1, waitedMs: (this.engine.now - a.startedAt) * 1000 }, { matchTimeoutMs: c.matchTimeout * 1000, queueTimeoutMs: c.jobPatience * 1000 })
      if (d.kind === 'fail') { this.seeking--; this.finishJob(a.job, 'unmatched'); return }
      if (d.kind === 'wait' && d.queued) this.metrics.queuedRounds++
    }
    if (k >= candidates.length || a.proposalsThisRound >= c.maxProposals) { this.retryLater(a); return }
    const cand = candidates[k]
    a.tried.add(cand.live.id)
    a.proposalsThisRound++
    const deal = buildDeal(a.offer, a.offerId, cand.live.offer, cand.live.id, cand.mediators, this.negotiationTerms, this.nowBig())
    const dealId = this.id('Deal', deal)
    const providerAddr = cand.live.offer.provider.toLowerCase()
    const p = this.providerByAddress.get(providerAddr)
    const target = p?.node ?? Number(cand.live.peer ?? -1)
    this.metrics.proposals++
    const raw = target >= 0 ? this.net.directDelay(jc, target, 3072) : -1
    const there = raw < 0 ? -1 : raw + c.proposalProcessing
    // the ban policy's reading of each failure (core/policy/ban.ts), as the node's job creator applies it
    const mark = (f: ProposalFailure): void => {
      const v = afterProposal(f)
      if (v.failure !== undefined) bans.record(providerAddr, v.failure, simNowMs(this.engine))
    }
    const unanswered = (wait: number, how: 'unreachable' | 'no-answer'): void => {
      this.engine.after(wait, () => {
        this.metrics.negotiationTimeouts++
        mark({ outcome: how })
        this.negotiate(a, candidates, k + 1)
      })
    }
    if (there < 0) { unanswered(c.negotiationTimeout, 'unreachable'); return }
    this.engine.after(there + c.rpProcessing, () => {
      if (p === undefined) {
        // a spammer's offer: nobody honest behind it
        const spamAnswer = this.spam?.answer(target)
        if (spamAnswer === 'silent' || spamAnswer === undefined) { unanswered(c.negotiationTimeout - there - c.rpProcessing, 'no-answer'); return }
        const back = this.net.directDelay(target, jc, 256)
        this.engine.after(Math.max(0, back), () => {
          this.metrics.declines.UNKNOWN_OFFER = (this.metrics.declines.UNKNOWN_OFFER ?? 0) + 1
          mark({ outcome: 'declined', reason: 'UNKNOWN_OFFER' })
          this.negotiate(a, candidates, k + 1)
        })
        return
      }
      if (!p.up) {
        unanswered(c.negotiationTimeout - there - c.rpProcessing, 'unreachable')
        return
      }
      const slot = cand.live.offer.slot
      const answer = answerProposal({ ownOfferLive: p.schedule.own(cand.live.id, this.nowBig()) !== undefined, slot, dealId, reservationTtlMs: c.reservationTtl * 1000 }, p.capacity)
      if (answer === 'accept') { p.taken++; this.countersigned(a, deal, dealId, p, slot, cand.live.offer) }
      const back = this.net.directDelay(target, jc, 512)
      if (back < 0) {
        // the reply is lost: the job creator times out (the provider's countersigned deal is never agreed and expires)
        this.engine.after(c.negotiationTimeout - there - c.rpProcessing, () => { this.metrics.negotiationTimeouts++; this.negotiate(a, candidates, k + 1) })
        return
      }
      this.engine.after(back + c.jcProcessing, () => {
        if (answer !== 'accept') {
          this.metrics.declines[answer] = (this.metrics.declines[answer] ?? 0) + 1
          mark({ outcome: 'declined', reason: answer })
          if (c.dropDeclined) this.dropStale(a, cand)
          this.negotiate(a, candidates, k + 1)
          return
        }
        this.agreed(a, dealId)
      })
    })
  }

  /** The provider countersigned: it records the deal at once and follows it with its lifecycle. */
  private countersigned (a: Attempt, deal: Deal, dealId: string, p: Provider, slot: number, offer: ResourceOffer): void {
    p.capacity.confirm(dealId)
    const jcRec = this.jcDriver.holder(jobCreatorDeal({ dealId, deal, job: { kind: 'JobOffer', value: a.offer, signature: NO_JOB_SIGNATURE }, providerPeer: String(p.node) }, simNowMs(this.engine), this.jcPolicy))
    const d: SimDeal = { jcKnows: false, deal, attempt: a, provider: p, jc: jcRec, wrong: false }
    this.dealStates.set(dealId, d)
    const rec = countersignedDeal({ dealId, deal, job: { kind: 'JobOffer', value: a.offer, signature: NO_JOB_SIGNATURE }, jobCreatorSignature: NO_JOB_SIGNATURE, providerSignature: NO_JOB_SIGNATURE, slot, jobCreatorPeer: String(a.job.jc), offer }, simNowMs(this.engine))
    const h = this.providerDriver.holder(rec)
    p.deals.set(dealId, h)
    this.providerDriver.step(h)
  }

  /** The countersignature reached the job creator: its lifecycle follows the deal from here. */
  private agreed (a: Attempt, dealId: string): void {
    this.seeking--
    const d = this.dealStates.get(dealId) as SimDeal
    const latency = this.engine.now - a.startedAt
    const cross = this.config.partition !== undefined && this.net.side[a.job.jc] !== this.net.side[d.provider.node]
    this.metrics.recordMatch(this.engine.now, latency, cross, this.net.partitioned, this.metrics.partitionEvents.length > 1)
    // a job creator records the deal when it gets the countersignature; the provider may have acted already
    d.jc.rec = { ...d.jc.rec, countersignedAt: simNowMs(this.engine), agreeBy: simNowMs(this.engine) + this.jcPolicy.agreeTimeoutMs }
    d.jcKnows = true
    this.jcDriver.step(d.jc)
  }

  private jcLifecycle (): ConstructorParameters<typeof SimDriver<JobCreatorDeal, JobCreatorEvent, JobCreatorAction, DealFacts>>[1] {
    return {
      step: (rec, input) => stepJobCreator(rec, input, this.jcPolicy),
      facts: rec => this.factsOf(rec.dealId),
      perform: (h, a, done) => { this.jcAct(h, a, done) },
      changed: (h, prev) => { this.jobFollows(h, prev) }
    }
  }

  private jcAct (h: SimRecord<JobCreatorDeal>, a: JobCreatorAction, done: (e: JobCreatorEvent) => void): void {
    const c = this.config
    const rec = h.rec
    const d = this.dealStates.get(rec.dealId) as SimDeal
    switch (a.kind) {
      case 'fetch': {
        const tryFetch = (): void => {
          const t = this.net.directDelay(d.provider.node, d.attempt.job.jc, c.resultBytes)
          if (t >= 0) {
            this.metrics.resultFetchTimes.push(t)
            this.engine.after(t, () => { done({ type: 'fetched', path: 'sim', exitCode: 0 }) })
            return
          }
          // unreachable (partition, provider gone): tried again until the fetch deadline
          if (simNowMs(this.engine) + c.fetchRetry * 1000 < a.deadline) this.engine.after(c.fetchRetry, tryFetch)
          else this.engine.at(a.deadline / 1000 - EPOCH, () => { done({ type: 'fetch-failed', reason: 'the provider could not be reached' }) })
        }
        tryFetch()
        return
      }
      case 'send-acceptance': {
        // the signed acceptance to the provider, which submits it with the result
        const t = this.net.directDelay(d.attempt.job.jc, d.provider.node, 256)
        this.engine.after(Math.max(0, t), () => {
          const ph = d.provider.deals.get(rec.dealId)
          if (t < 0 || ph === undefined || ph.rec.terminal || !d.provider.up) { done({ type: 'acceptance-failed', reason: 'the provider could not be reached' }); return }
          this.providerDriver.step(ph, { type: 'acceptance', cid: a.cid, signature: 'sim-acceptance' })
          done({ type: 'acceptance-sent' })
        })
        return
      }
      case 'accept':
        this.engine.after(c.chainDelay, () => {
          const r = this.chain({ kind: 'accept', caller: d.deal.jobCreator, deals: [{ dealId: rec.dealId, terms: d.deal }] })
          done(r.ok ? { type: 'accepted' } : { type: 'accept-failed', reason: r.error })
          this.onChain(rec.dealId)
        })
        return
      case 'refund': {
        const attempt = (n: number): void => {
          this.engine.after(c.chainDelay, () => {
            const r = this.chain({ kind: 'timeoutResult', dealId: rec.dealId, terms: d.deal })
            // the chain's clock not past the deadline yet: retried, as the node's driver does
            if (!r.ok && r.error === 'ResultWindowOpen' && n < 10) { this.engine.after(1, () => { attempt(n + 1) }); return }
            if (r.ok) this.metrics.timeoutsRefunded++
            done(r.ok ? { type: 'refunded' } : { type: 'refund-failed', reason: r.error })
            this.onChain(rec.dealId)
          })
        }
        attempt(0)
        return
      }
      case 'hand-off': this.handOff(d.attempt.job.jc, d, rec.dealId, () => { done({ type: 'handed-off' }) }); return
      case 'draw-audit': this.draw('drawAudit', rec.dealId, d, (ok, reason) => { done(ok ? { type: 'audit-drawn' } : { type: 'draw-audit-failed', reason }) }); return
      case 'draw-mediator': this.draw('drawMediator', rec.dealId, d, (ok, reason) => { done(ok ? { type: 'mediator-drawn' } : { type: 'draw-mediator-failed', reason }) }); return
      case 'reveal-seed': {
        const job = rec.job.value
        this.revealSeed(d, rec.dealId, { provider: false, secret: simSeedSecret('JobOffer', job.jobCreator, job.nonce), commit: job.seedCommit }, done)
        return
      }
      case 'challenge':
        this.engine.after(c.chainDelay, () => {
          const r = this.chain({ kind: 'challenge', caller: d.deal.jobCreator, dealId: rec.dealId, terms: d.deal })
          if (r.ok) this.metrics.challenges++
          done(r.ok ? { type: 'challenge-sent' } : { type: 'challenge-failed', reason: r.error })
          this.onChain(rec.dealId)
        })
        return
      case 'timeout-mediation':
        this.engine.after(c.chainDelay, () => { this.closeMediation(rec.dealId, d, a.committee, done) })
    }
  }

  /** The job waiting on a deal reacts to the deal's record as the node's `run` does (core jobView). */
  private jobFollows (h: SimRecord<JobCreatorDeal>, prev: JobCreatorDeal): void {
    const d = this.dealStates.get(h.rec.dealId)
    if (d === undefined || d.attempt.done) return
    const a = d.attempt
    const view = jobView(h.rec)
    if (view.status === 'waiting' || jobView(prev).status === view.status) return
    a.done = true
    if (view.status === 'done') {
      if (d.wrong && (h.rec.outcome === undefined || h.rec.outcome === 'Settled')) { a.job.wrongAccepted = true; this.metrics.cheats.undetected++ }
      this.finishJob(a.job, 'completed')
    } else if (view.status === 'failed') {
      this.finishJob(a.job, 'failed')
    } else {
      const failure = providerFailureOf(h.rec)
      this.bansOf(a.job.jc).record(d.deal.resourceProvider, failure, simNowMs(this.engine))
      if (!h.rec.terminal) this.jcDriver.step(h, { type: 'abandon', reason: view.reason })
      this.startAttempt(a.job)
    }
  }

  private finishJob (job: Job, outcome: JobOutcome): void {
    if (job.outcome !== undefined) return
    job.outcome = outcome
    this.metrics.jobOutcomes[outcome]++
    this.metrics.jobLatencies.push(this.engine.now - job.submittedAt)
  }

  // ---------------------------------------------------------------- sampling and invariants

  private sample (): void {
    let busy = 0
    let upSlots = 0
    for (const p of this.providers) {
      if (!p.up || p.capacity === undefined) continue
      upSlots += p.slots
      busy += p.slots - p.capacity.freeSlots().length
    }
    this.metrics.utilisation.push({ t: this.engine.now, busy, upSlots, value: upSlots === 0 ? 0 : busy / upSlots })
    this.checkConservation()
  }

  /** Σ deposits + Σ escrow held by live deals must equal what was deposited. */
  checkConservation (): void {
    const total = totalHeld(this.model, this.terms)
    this.metrics.conservationChecks++
    if (total !== this.initialTotal) {
      this.metrics.conservationViolations++
      throw new ConservationError(`tokens not conserved at t=${this.engine.now}: ${total} != ${this.initialTotal}`)
    }
  }

  /** Runs arrivals for the configured hours, then lets every started job and every deal reach an end (bounded drain). */
  run (): void {
    const c = this.config
    const end = c.hours * 3600
    this.engine.run(end)
    const drainLimit = end + c.jobPatience + c.maxAttempts * (c.jobTimeout + c.judgeWindow + c.mediateTimeout + 600)
    // heartbeats keep the queue alive forever: drain until every job has an outcome and every deal has ended
    const step = 60
    while ((this.jobs.some(j => j.outcome === undefined) || this.openDeals() > 0) && this.engine.now < drainLimit) this.engine.run(this.engine.now + step)
    this.checkConservation()
    this.metrics.finish(this)
  }

  /** Per-actor token deltas (deposit now − deposit at start), and the provider's execution costs. */
  providerResults (): Array<{ address: string, cheater: boolean, tokenDelta: bigint, costs: bigint, deals: number }> {
    const c = this.config
    return this.providers.map(p => ({
      address: p.address,
      cheater: p.cheater,
      tokenDelta: depositOf(this.model, p.address) - c.deposits.provider * BigInt(p.slots),
      costs: p.costs,
      deals: p.dealsDone
    }))
  }

  /** Lifecycle steps taken by every role's step function (how much of the run is the shared core). */
  lifecycleSteps (): { provider: number, jobCreator: number, mediator: number } {
    return { provider: this.providerDriver.steps, jobCreator: this.jcDriver.steps, mediator: this.mediatorAgents.reduce((n, m) => n + m.driver.steps, 0) }
  }

  dealStateCounts (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const r of this.model.deals.values()) { const n = stateName(r.state); out[n] = (out[n] ?? 0) + 1 }
    return out
  }

  openDeals (): number {
    let n = 0
    for (const r of this.model.deals.values()) if (!isFinal(r.state)) n++
    return n
  }

  unitLP (): bigint { return LP }
}

export class ConservationError extends Error {
  static override name = 'ConservationError'
  override name = ConservationError.name
}

function assignRoles (c: MarketConfig): Role[] {
  const roles: Role[] = new Array(c.nodes)
  let i = 0
  for (let k = 0; k < c.mediators; k++) roles[i++] = 'mediator'
  for (let k = 0; k < c.solvers; k++) roles[i++] = 'solver'
  for (let k = 0; k < c.spammers; k++) roles[i++] = 'spammer'
  const rest = c.nodes - i
  const nRp = Math.round(rest * c.providerFraction)
  for (let k = 0; k < nRp; k++) roles[i++] = 'rp'
  while (i < c.nodes) roles[i++] = 'jc'
  return roles
}

/** Seconds between the simulated chain's blocks (an L2's 2 s): a committee dispute's seed phase lasts 256 of them at most. */
const SIM_BLOCK_SECONDS = 2

/** A simulated block's hash: fixed per block number (the draw reads the dispute block's). */
function simBlockHash (n: number): string {
  return keccak256(toUtf8Bytes(`sim block ${n}`))
}

/**
 * The seed secret a simulated party's offer commits to: fixed by the offer (the node derives it from its key and the
 * offer the same way, protocols/settlement/seed.ts), so the party can reveal it later without storing it.
 */
function simSeedSecret (kind: 'JobOffer' | 'ResourceOffer', party: string, nonce: bigint, slot = 0): string {
  return keccak256(toUtf8Bytes(`sim seed ${kind} ${party.toLowerCase()} ${nonce} ${slot}`))
}
