// The discrete-event market: resource providers, job creators, solvers and mediators as agents whose every
// protocol decision goes through the real core — ResourceOffers into the real OrderBook, the real matcher
// (through OrderBook.match), deals built by the real negotiation `buildDeal`, and every deal step applied to
// the real Market model (protocols/settlement) that mirrors the contract, with its payouts. Only time, the
// network and the agents' behaviour (arrivals, execution, churn, cheating, spam) are modelled here.
import { OrderBook } from '../protocols/order-book.ts'
import { match as matchOffers, prepareOffers, type Candidate, type LiveOffer, type PreparedOffers } from '../protocols/matcher.ts'
import { buildDeal, defaultDealTerms, type DealTerms as NegotiationTerms } from '../protocols/negotiation/messages.ts'
import { idOf, type Deal, type JobOffer, type LilypadDomain, type MachineSpec, type ResourceOffer } from '../protocols/eip712.ts'
import { apply, emptyMarket, totalHeld, depositOf, DealState, isFinal, stateName, type MarketModel, type MarketAction, type DealTerms } from '../protocols/settlement/index.ts'
import { Engine } from './engine.ts'
import { Network } from './network.ts'
import { Rng, mix32 } from './rng.ts'
import type { MarketConfig } from './config.ts'
import { Metrics } from './metrics.ts'
import type { SpamSource } from './spam.ts'

export const EPOCH = 1_800_000_000 // simulated time 0 in unix seconds
const LP = 10n ** 18n
const ZERO = '0x0000000000000000000000000000000000000000'
const MODULES = ['cowsay:v0.0.1', 'lilysay:v0.5.2', 'sdxl:v0.9-lilypad1', 'llama3:8b-lilypad1']

export type Role = 'mediator' | 'solver' | 'rp' | 'jc' | 'spammer'

export function addressOf (node: number): string {
  return '0x' + (node + 1).toString(16).padStart(40, '0')
}

interface Slot {
  index: number
  /** 0 free, 1 reserved (countersigned, waiting for agree), 2 running */
  state: number
  job: Attempt | undefined
  nonce: bigint
  /** ids of this slot's offers still unexpired (the announcer's `ownOffer`) */
  issued: Map<string, bigint>
}

interface Provider {
  node: number
  address: string
  slots: Slot[]
  spec: MachineSpec
  priceFactor: number
  cheater: boolean
  up: boolean
  incarnation: number
  /** slots taken since the last heartbeat, for the adaptive price */
  taken: number
  costs: bigint
  dealsDone: number
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
  backoff: number
  deal: Deal | undefined
  dealId: string | undefined
  provider: Provider | undefined
  slot: Slot | undefined
  incarnation: number
  wrong: boolean
  done: boolean
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
  readonly net: Network
  readonly metrics: Metrics
  readonly model: MarketModel
  readonly terms = new Map<string, DealTerms>()
  readonly roles: Role[]
  readonly providers: Provider[] = []
  readonly jcs: number[] = []
  readonly mediators: string[] = []
  readonly jobs: Job[] = []
  readonly dealStates = new Map<string, Attempt>()
  private readonly rng: Rng
  private readonly netRng: Rng
  private readonly matchers: Matcher[] = []
  /** node → index into matchers */
  private readonly matcherOf: Int32Array
  private readonly providerByAddress = new Map<string, Provider>()
  readonly domain: LilypadDomain = { chainId: 1337n, verifyingContract: '0x00000000000000000000000000000000000b0a4d' }
  private readonly negotiationTerms: NegotiationTerms
  private readonly bans: Array<Map<string, number>>
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
    this.rng = new Rng(`market:${config.seed}`)
    this.netRng = new Rng(`network:${config.seed}`)
    this.net = new Network(config.nodes, config.network, this.netRng)
    this.metrics = new Metrics(config)
    this.roles = assignRoles(config)
    this.matcherOf = new Int32Array(config.nodes).fill(-1)
    this.bans = Array.from({ length: config.nodes }, () => new Map<string, number>())
    this.negotiationTerms = { ...defaultDealTerms, mediationFee: config.pricing.mediationFee, judgeWindow: config.judgeWindow, mediateTimeout: config.mediateTimeout }
    for (let i = 0; i < config.nodes; i++) if (this.roles[i] === 'mediator') this.mediators.push(addressOf(i))
    this.model = emptyMarket(this.mediators)
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

  /** Applies an action to the real Market model; a refusal is a bug in the agents, except where noted. */
  private chain (action: MarketAction): ReturnType<typeof apply> {
    const r = apply(this.model, action, { now: this.chainNow(), prevrandao: BigInt(this.rng.nextU32()) << 32n | BigInt(this.rng.nextU32()) })
    this.metrics.chainCalls[action.kind] = (this.metrics.chainCalls[action.kind] ?? 0) + 1
    if (!r.ok) this.metrics.chainErrors[r.error] = (this.metrics.chainErrors[r.error] ?? 0) + 1
    if (this.config.checkEveryEvent && this.ready) this.checkConservation()
    return r
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
          slots: Array.from({ length: nSlots }, (_, k) => ({ index: k, state: 0, job: undefined, nonce: 0n, issued: new Map() })),
          spec: c.uniformSpecs ? { cpu: 4000, ramMb: 8192, diskMb: 50_000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 } : { cpu: rng.pick([2000, 4000, 8000]), ramMb: rng.pick([4096, 8192, 16384]), diskMb: 50_000, gpus: gpu ? 1 : 0, gpuVramMb: gpu ? rng.pick([8192, 24576]) : 0, gpuModel: '', cudaVersion: 0 },
          priceFactor: rng.lognormal(1, c.priceSigma),
          cheater: false,
          up: true,
          incarnation: 0,
          taken: 0,
          costs: 0n,
          dealsDone: 0
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
    for (const p of this.providers) this.chain({ kind: 'deposit', account: p.address, amount: c.deposits.provider * BigInt(p.slots.length) })
    this.initialTotal = totalHeld(this.model, this.terms)
    this.ready = true
    this.metrics.slotsTotal = slotsTotal

    // first announcements, spread over one heartbeat so they do not all land at t=0
    for (const p of this.providers) {
      this.engine.at(rng.next() * c.heartbeat, () => { this.heartbeat(p) })
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
    const provider = live.offer.provider.toLowerCase()
    for (const m of this.matchers) {
      if (this.config.localBans && this.banned(m.node, provider)) { if (kind === 'spam') this.metrics.spam.droppedByBan++; continue }
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

  private heartbeat (p: Provider): void {
    if (!p.up) return
    const c = this.config
    // adaptive price: busy providers creep up, idle ones down (bounded)
    // adaptive price (per minute of heartbeats): busy providers creep up, idle ones down, never below cost
    const free = p.slots.filter(s => s.state === 0).length
    const step = c.priceStep * c.heartbeat / 60
    const floor = c.execCostPpm / 1_000_000 * 1.1
    if (p.taken > 0 && free === 0) p.priceFactor = Math.min(3, p.priceFactor * (1 + step))
    else if (p.taken === 0 && free === p.slots.length) p.priceFactor = Math.max(floor, p.priceFactor * (1 - step))
    p.taken = 0
    // once arrivals have stopped and no job is looking for a provider, heartbeats have nobody to serve
    if (this.arrivalsOpen || this.seeking > 0) for (const s of p.slots) if (s.state === 0) this.announce(p, s)
    const inc = p.incarnation
    this.engine.after(c.heartbeat, () => { if (p.incarnation === inc) this.heartbeat(p) })
  }

  private announce (p: Provider, s: Slot): void {
    const c = this.config
    const nowMs = BigInt(Math.floor((EPOCH + this.engine.now) * 1000))
    s.nonce = nowMs > s.nonce ? nowMs : s.nonce + 1n
    const price = this.priceOf(p)
    const offer: ResourceOffer = {
      provider: p.address,
      slot: s.index,
      spec: p.spec,
      modules: [],
      price,
      collateral: this.collateralOf(price),
      mediators: this.mediators,
      expiry: this.nowBig() + BigInt(c.offerTtl),
      nonce: s.nonce
    }
    const id = this.id('ResourceOffer', offer)
    const now = this.nowBig()
    for (const [k, exp] of s.issued) if (exp <= now) s.issued.delete(k)
    s.issued.set(id, offer.expiry)
    this.metrics.announcements++
    this.deliverOffer(p.node, { offer, id, signature: '0x', peer: String(p.node) }, 'honest')
  }

  /** The booked slot's offer leaves every book (the real announcer's signed OfferWithdrawal, gossiped). */
  private withdraw (p: Provider, s: Slot): void {
    const nowMs = BigInt(Math.floor((EPOCH + this.engine.now) * 1000))
    s.nonce = nowMs > s.nonce ? nowMs : s.nonce + 1n
    const nonce = s.nonce
    const expiry = this.nowBig() + BigInt(this.config.offerTtl)
    this.metrics.withdrawals++
    for (const m of this.matchers) {
      const d = this.net.gossipDelay(p.node, m.node)
      if (d < 0) { this.metrics.gossipMissed++; continue }
      this.engine.after(d, () => { m.book.withdraw(p.address, s.index, nonce, expiry, this.nowBig()) })
    }
  }

  private leave (p: Provider): void {
    if (!p.up) return
    p.up = false
    p.incarnation++
    this.net.up[p.node] = 0
    this.metrics.churn.left++
    for (const s of p.slots) {
      if (s.job !== undefined && s.state === 2) this.metrics.churn.jobsInterrupted++
      s.state = 0
      s.job = undefined
      s.issued.clear()
    }
    const c = this.config.churn
    if (c !== undefined) this.engine.after(this.rng.exp(c.meanDown), () => { this.rejoin(p) })
  }

  private rejoin (p: Provider): void {
    p.up = true
    p.incarnation++
    this.net.up[p.node] = 1
    this.metrics.churn.rejoined++
    this.heartbeat(p)
    const c = this.config.churn
    if (c !== undefined) this.engine.after(this.rng.exp(c.meanUp), () => { this.leave(p) })
  }

  /** The provider's answer to a proposal: reserve the slot if it is free and the offer is its own (capacity is its call). */
  private answerProposal (p: Provider, offerSlot: number, offerId: string, a: Attempt): 'accept' | 'NO_CAPACITY' | 'UNKNOWN_OFFER' {
    const s = p.slots[offerSlot]
    if (s === undefined) return 'UNKNOWN_OFFER'
    const exp = s.issued.get(offerId)
    if (exp === undefined || exp <= this.nowBig()) return 'UNKNOWN_OFFER'
    if (s.state !== 0) return 'NO_CAPACITY'
    s.state = 1
    s.job = a
    p.taken++
    this.withdraw(p, s)
    const inc = p.incarnation
    // a reservation lapses unless the deal is agreed on chain in time
    this.engine.after(this.config.reservationTtl, () => {
      if (p.incarnation === inc && s.state === 1 && s.job === a) { s.state = 0; s.job = undefined; this.announce(p, s) }
    })
    return 'accept'
  }

  private execute (a: Attempt): void {
    const p = a.provider as Provider
    const s = a.slot as Slot
    const inc = p.incarnation
    s.state = 2
    a.incarnation = inc
    const runtime = p.cheater ? a.job.duration * this.config.cheatRuntimeFraction : a.job.duration
    a.wrong = p.cheater
    if (!p.cheater) p.costs += this.execCost(a)
    this.engine.after(runtime, () => {
      if (p.incarnation !== inc || s.job !== a) return // the provider died mid-job: the deal times out
      this.engine.after(this.config.chainDelay, () => { this.submitResult(a) })
    })
  }

  private execCost (a: Attempt): bigint {
    // running a job costs the same whatever it was sold for
    return this.config.pricing.basePrice * BigInt(this.config.execCostPpm) / 1_000_000n
  }

  private submitResult (a: Attempt): void {
    const p = a.provider as Provider
    const s = a.slot as Slot
    if (p.incarnation !== a.incarnation) return
    const deal = a.deal as Deal
    const cid = `bafy${a.wrong ? 'wrong' : 'good'}${(a.dealId as string).slice(2, 26)}`
    const r = this.chain({ kind: 'submitResult', caller: p.address, dealId: a.dealId as string, terms: deal, cid })
    // the slot is free again either way
    s.state = 0
    s.job = undefined
    this.announce(p, s)
    if (!r.ok) return
    p.dealsDone++
    if (a.wrong) this.metrics.cheats.submitted++
    const step = r.steps[0]
    if (step.audited === true) {
      this.metrics.audits++
      this.mediate(a, step.mediator as string)
    } else {
      this.fetchResult(a, 0)
    }
  }

  // ---------------------------------------------------------------- mediators

  private mediate (a: Attempt, mediator: string): void {
    const deal = a.deal as Deal
    const medNode = Number(BigInt(mediator)) - 1
    // the mediator fetches the result and re-runs the job; a result it cannot fetch counts as wrong
    const rpNode = a.provider?.node ?? 0
    // a lost transfer is retried; a provider it cannot reach at all (gone, cut off) fails the check
    const reachable = this.net.reachable(rpNode, medNode)
    const once = this.net.directDelay(rpNode, medNode, this.config.resultBytes)
    const fetch = !reachable ? 0 : once >= 0 ? once : this.config.fetchRetry + this.net.linkLatency() + this.config.resultBytes / this.net.params.bandwidth
    const correct = !a.wrong && reachable
    this.metrics.mediatorCosts += this.execCost(a)
    this.engine.after(Math.max(0, fetch) + a.job.duration + this.config.chainDelay, () => {
      const r = this.chain({ kind: 'mediate', caller: mediator, dealId: a.dealId as string, terms: deal, resultCorrect: correct })
      if (!r.ok) return
      if (correct) { this.finish(a, 'completed') } else {
        if (a.wrong) this.metrics.cheats.detected++
        this.rematch(a)
      }
    })
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
      mediators: this.mediators,
      target: ZERO,
      timeout: job.timeout,
      auditPpm: c.auditPpm,
      expiry: this.nowBig() + BigInt(c.jobPatience + 60),
      nonce
    }
    const a: Attempt = {
      job,
      offer,
      offerId: this.id('JobOffer', offer),
      startedAt: this.engine.now,
      patienceUntil: this.engine.now + c.jobPatience,
      tried: new Set(),
      proposalsThisRound: 0,
      backoff: c.retryDelay,
      deal: undefined,
      dealId: undefined,
      provider: undefined,
      slot: undefined,
      incarnation: 0,
      wrong: false,
      done: false
    }
    if (job.attempts > 1) this.metrics.rematched++
    this.seeking++
    this.requestCandidates(a)
  }

  private requestCandidates (a: Attempt): void {
    if (this.engine.now > a.patienceUntil) { this.seeking--; this.finishJob(a.job, 'unmatched'); return }
    a.proposalsThisRound = 0
    const jc = a.job.jc
    const m = this.matchers[this.matcherOf[jc]]
    const match = (): Candidate[] => {
      this.metrics.matchCalls++
      return m.book.match(a.offer, { now: this.nowBig(), limit: this.config.candidateLimit })
    }
    if (m.node === jc) {
      this.engine.after(this.config.matchProcessing, () => { this.negotiate(a, match(), 0) })
      return
    }
    // the job offer reaches the solver by gossip; the candidates come back on a direct stream
    const there = this.net.gossipDelay(jc, m.node)
    if (there < 0) { this.retryLater(a, this.config.negotiationTimeout); return }
    this.engine.after(there, () => {
      const candidates = this.solverMatch(m, a.offer)
      const back = this.net.directDelay(m.node, jc, 1024 * Math.max(1, candidates.length))
      if (back < 0) { this.retryLater(a, this.config.negotiationTimeout); return }
      this.engine.after(back + this.config.matchProcessing, () => { this.negotiate(a, candidates, 0) })
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

  private retryLater (a: Attempt, extra = 0): void {
    const d = a.backoff + extra
    a.backoff = Math.min(this.config.maxRetryDelay, a.backoff * 2)
    this.metrics.retries++
    this.engine.after(d, () => { this.requestCandidates(a) })
  }

  /**
   * The job creator skips a provider that failed to answer or declined an offer it never issued. With
   * `localBans` it also keeps that provider out of its own book for the ban (a local ban list in front of the
   * book: not in the node today, the mitigation the spam scenario evaluates).
   */
  private ban (jc: number, provider: string): void {
    this.bans[jc].set(provider, this.engine.now + this.config.banDuration)
    if (!this.config.localBans) return
    const m = this.matchers[this.matcherOf[jc]]
    if (m.node !== jc) return
    for (const l of m.book.offers()) if (l.offer.provider.toLowerCase() === provider) m.book.delete(l.offer.provider, l.offer.slot)
  }

  private banned (jc: number, provider: string): boolean {
    const until = this.bans[jc].get(provider)
    return until !== undefined && until > this.engine.now
  }

  /** Proposes to candidates in rank order (the real negotiation's fallback), skipping banned providers. */
  private negotiate (a: Attempt, candidates: Candidate[], k: number): void {
    const c = this.config
    const jc = a.job.jc
    while (k < candidates.length && (this.banned(jc, candidates[k].live.offer.provider.toLowerCase()) || a.tried.has(candidates[k].live.id))) k++
    if (k >= candidates.length || a.proposalsThisRound >= c.maxProposals) { this.retryLater(a); return }
    const cand = candidates[k]
    a.tried.add(cand.live.id)
    a.proposalsThisRound++
    const deal = buildDeal(a.offer, a.offerId, cand.live.offer, cand.live.id, cand.mediators, this.negotiationTerms, this.nowBig())
    const providerAddr = cand.live.offer.provider.toLowerCase()
    const p = this.providerByAddress.get(providerAddr)
    const target = p?.node ?? Number(cand.live.peer ?? -1)
    this.metrics.proposals++
    const raw = target >= 0 ? this.net.directDelay(jc, target, 3072) : -1
    const there = raw < 0 ? -1 : raw + c.proposalProcessing
    const timeout = (): void => {
      this.metrics.negotiationTimeouts++
      this.ban(jc, providerAddr)
      this.engine.after(c.negotiationTimeout, () => { this.negotiate(a, candidates, k + 1) })
    }
    if (there < 0) { timeout(); return }
    this.engine.after(there + c.rpProcessing, () => {
      if (p === undefined) {
        // a spammer's offer: nobody honest behind it
        const spamAnswer = this.spam?.answer(target)
        if (spamAnswer === 'silent' || spamAnswer === undefined) { this.engine.after(c.negotiationTimeout - there - c.rpProcessing, () => { this.metrics.negotiationTimeouts++; this.ban(jc, providerAddr); this.negotiate(a, candidates, k + 1) }); return }
        const back = this.net.directDelay(target, jc, 256)
        this.engine.after(Math.max(0, back), () => { this.metrics.declines.UNKNOWN_OFFER = (this.metrics.declines.UNKNOWN_OFFER ?? 0) + 1; this.ban(jc, providerAddr); this.negotiate(a, candidates, k + 1) })
        return
      }
      if (!p.up) { this.engine.after(c.negotiationTimeout - there - c.rpProcessing, () => { this.metrics.negotiationTimeouts++; this.negotiate(a, candidates, k + 1) }); return }
      const answer = this.answerProposal(p, cand.live.offer.slot, cand.live.id, a)
      const back = this.net.directDelay(target, jc, 512)
      if (back < 0) {
        // the reply is lost: the job creator times out; the provider's reservation lapses on its own
        this.engine.after(c.negotiationTimeout - there - c.rpProcessing, () => { this.metrics.negotiationTimeouts++; this.negotiate(a, candidates, k + 1) })
        return
      }
      this.engine.after(back + c.jcProcessing, () => {
        if (answer !== 'accept') {
          this.metrics.declines[answer] = (this.metrics.declines[answer] ?? 0) + 1
          if (c.dropDeclined) this.dropStale(a, cand)
          this.negotiate(a, candidates, k + 1)
          return
        }
        this.agreed(a, deal, p, p.slots[cand.live.offer.slot])
      })
    })
  }

  private agreed (a: Attempt, deal: Deal, p: Provider, s: Slot): void {
    this.seeking--
    const latency = this.engine.now - a.startedAt
    const cross = this.config.partition !== undefined && this.net.side[a.job.jc] !== this.net.side[p.node]
    this.metrics.recordMatch(this.engine.now, latency, cross, this.net.partitioned, this.metrics.partitionEvents.length > 1)
    a.deal = deal
    a.dealId = this.id('Deal', deal)
    a.provider = p
    a.slot = s
    this.engine.after(this.config.chainDelay, () => {
      // the escrow audit reads each live deal's terms, so they are known before the deal exists
      this.terms.set(a.dealId as string, deal)
      const r = this.chain({ kind: 'agree', dealId: a.dealId as string, terms: deal })
      if (!r.ok) {
        if (s.job === a) { s.state = 0; s.job = undefined; this.announce(p, s) }
        this.finishAttemptAndRetry(a)
        return
      }
      this.dealStates.set(a.dealId as string, a)
      this.metrics.deals++
      this.metrics.prices.push(deal.price)
      // anyone may close a deal whose result never came
      this.engine.at(this.engine.now + deal.resultTimeout + 1, () => { this.checkResultTimeout(a) })
      if (s.job === a && p.incarnation === a.incarnation + 0 && p.up) this.execute(a)
    })
    a.incarnation = p.incarnation
  }

  private finishAttemptAndRetry (a: Attempt): void {
    a.done = true
    this.startAttempt(a.job)
  }

  private checkResultTimeout (a: Attempt): void {
    const rec = this.model.deals.get(a.dealId as string)
    if (rec === undefined || rec.state !== DealState.Agreed) return
    const r = this.chain({ kind: 'timeoutResult', dealId: a.dealId as string, terms: a.deal as Deal })
    if (r.ok) {
      this.metrics.timeoutsRefunded++
      this.rematch(a)
    }
  }

  private fetchResult (a: Attempt, tries: number): void {
    const c = this.config
    const p = a.provider as Provider
    const d = this.net.directDelay(p.node, a.job.jc, c.resultBytes)
    const deal = a.deal as Deal
    const rec = this.model.deals.get(a.dealId as string)
    if (d < 0) {
      // unreachable (partition, provider gone): keep trying inside the judge window, then challenge
      const deadline = (rec?.since ?? this.chainNow()) + deal.judgeWindow - EPOCH
      if (this.engine.now + c.fetchRetry < deadline - c.chainDelay * 4) {
        this.engine.after(c.fetchRetry, () => { this.fetchResult(a, tries + 1) })
      } else {
        const r = this.chain({ kind: 'challenge', caller: deal.jobCreator, dealId: a.dealId as string, terms: deal })
        if (r.ok) { this.metrics.challenges++; this.mediate(a, r.steps[0].mediator as string) }
      }
      return
    }
    this.metrics.resultFetchTimes.push(d)
    this.engine.after(d + c.chainDelay, () => {
      const r = this.chain({ kind: 'accept', caller: deal.jobCreator, deals: [{ dealId: a.dealId as string, terms: deal }] })
      if (!r.ok) return
      if (a.wrong) { a.job.wrongAccepted = true; this.metrics.cheats.undetected++ }
      this.finish(a, 'completed')
    })
  }

  private finish (a: Attempt, outcome: JobOutcome): void {
    a.done = true
    this.finishJob(a.job, outcome)
  }

  private rematch (a: Attempt): void {
    a.done = true
    this.startAttempt(a.job)
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
      if (!p.up) continue
      for (const s of p.slots) { upSlots++; if (s.state !== 0) busy++ }
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

  /** Runs arrivals for the configured hours, then lets every started job reach an end (bounded drain). */
  run (): void {
    const c = this.config
    const end = c.hours * 3600
    this.engine.run(end)
    const drainLimit = end + c.jobPatience + c.maxAttempts * (c.jobTimeout + c.judgeWindow + c.mediateTimeout + 600)
    // stop heartbeats from keeping the queue alive forever: drain until every job has an outcome
    const step = 60
    while (this.jobs.some(j => j.outcome === undefined) && this.engine.now < drainLimit) this.engine.run(this.engine.now + step)
    this.checkConservation()
    this.metrics.finish(this)
  }

  /** Per-actor token deltas (deposit now − deposit at start), and the provider's execution costs. */
  providerResults (): Array<{ address: string, cheater: boolean, tokenDelta: bigint, costs: bigint, deals: number }> {
    const c = this.config
    return this.providers.map(p => ({
      address: p.address,
      cheater: p.cheater,
      tokenDelta: depositOf(this.model, p.address) - c.deposits.provider * BigInt(p.slots.length),
      costs: p.costs,
      deals: p.dealsDone
    }))
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
