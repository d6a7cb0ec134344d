// The job creator role: resolves the module, signs and gossips a JobOffer, matches it against its own order book
// (kept fresh by gossip and by order-book sync on connect), ranks away from providers that failed it (a local ban
// list), negotiates — proposing to each slot the job offer asking for that whole slot (protocols/slot-ask.ts), so
// every job proposed to one slot asks the same, a canary's too — and follows the countersigned deal with the job creator lifecycle (core/lifecycle/
// job-creator.ts): the provider's agree, the result (delivered over a stream, or read from the chain), fetched
// and verified over bitswap, accepted early; an audit handed to the drawn mediator; a provider that never delivers
// refunded with timeoutResult. When a deal will not give the job its result (no agree in time, the provider says
// its agree failed, refunded) the job moves on to the next provider with a new job offer nonce, while the old deal
// is still watched until it ends. This file is the shell: matching, negotiation, and the lifecycle's actions.
import { EventEmitter } from 'node:events'
import { peerIdFromString } from '@libp2p/peer-id'
import { join } from 'node:path'
import { ZeroAddress, ZeroHash, getAddress, type Signer, type TypedDataDomain, type TypedDataField } from 'ethers'
import { CustomProgressEvent, type ProgressEvent, type ProgressOptions } from 'progress-events'
import { signMessage, domainOf, typesOf, type Deal, type JobOffer } from '../../protocols/eip712.ts'
import { deriveSeedSecret, offerWords, seedCommitOf } from '../../protocols/settlement/seed.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { OrderBook } from '../../protocols/order-book.ts'
import { defaultDealTerms, type DealTerms } from '../../protocols/negotiation/messages.ts'
import type { Candidate } from '../../protocols/matcher.ts'
import { askKey, jobOfferForSlot } from '../../protocols/slot-ask.ts'
import { decodeDealLog, chainSeconds, type ChainClient, type MarketChainEvent } from '../chain/index.ts'
import type { NetworkFile } from '../config/network.ts'
import type { LilypadHost } from '../host/create-host.ts'
import { domainOfNetwork } from '../host/from-network.ts'
import { GossipService } from '../gossip/gossip.ts'
import { DealNegotiator, NoDealError, proposalFailureOf, type AgreedDeal } from '../negotiation/negotiator.ts'
import { loadModule, machineRequirement, type GpuRequirement, type CpuRequirement } from '../modules/index.ts'
import type { HeldInput, ResultStore } from '../result-store/index.ts'
import { DealStore } from '../deal-store/deal-store.ts'
import { OfferSync } from '../offer-sync/index.ts'
import { ResultReceiver, sendAcceptance } from '../result-delivery/index.ts'
import { followLogs, type LogLimits } from '../job-logs/index.ts'
import { reportError, type Components } from '../components.ts'
import { LifecycleDriver, followClock, type Lifecycle } from '../lifecycle/driver.ts'
import { chainCall } from '../lifecycle/chain-call.ts'
import { COMMITTEE, UNDRAWN, auditDrawDue } from '../../protocols/settlement/index.ts'
import { judgedByCommittee, nameableMediators } from '../../protocols/settlement/committee.ts'
import { formatLP } from '../../core/lp.ts'
import { setNewest } from '../../core/bounded.ts'
import {
  jobCreatorDeal, stepJobCreator, jobCreatorFailure, jobView, providerFailureOf, defaultJobCreatorPolicy,
  type JobCreatorDeal, type JobCreatorEvent, type JobCreatorAction, type JobCreatorPolicy, type JobView
} from '../../core/lifecycle/job-creator.ts'
import { isFinalState, type DealFacts } from '../../core/lifecycle/facts.ts'
import { noteRecent } from '../../core/bounded.ts'
import { BanList, afterProposal, type BanPolicy, type ProposalFailure } from '../../core/policy/ban.ts'
import { queueDecision, fittingProviders, defaultQueuePolicy, type QueuePolicy } from '../../core/policy/queue.ts'
import { resultBytesBound } from '../../core/policy/result-size.ts'
import { nonceWordOf, pickNonce, NONCE_WORDS_PER_HOUR } from '../../core/policy/nonce.ts'
import type { Reputation } from '../../core/reputation/index.ts'
import { handOffDispute, DisputeRefusedError, type DisputeService } from '../dispute/index.ts'
import { resultExitCode } from './delivery.ts'
import { revealOwnSeed } from '../dispute/seed-reveal.ts'

/**
 * A job creator key held elsewhere (a browser wallet): asked for a signature or a transaction, with the request
 * withdrawn on `signal`. node/jobs/remote-signer.ts is the one the API makes.
 */
export interface WalletJobCreator extends Signer {
  askSignature: (domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>, opts?: { signal?: AbortSignal }) => Promise<string>
  askTransaction: (kind: string, tx: { to: string, data: string, chainId: number }, opts?: { signal?: AbortSignal }) => Promise<string>
}
function isWallet (s: Signer | undefined): s is WalletJobCreator {
  return s !== undefined && typeof (s as Partial<WalletJobCreator>).askSignature === 'function' && typeof (s as Partial<WalletJobCreator>).askTransaction === 'function'
}

/** The same phases cli/progress.ts renders. */
export type Phase = 'offered' | 'matched' | 'agreed' | 'running' | 'result' | 'downloaded' | 'settled'

/** What `run` reports as it goes (Helia-style typed progress events). */
export type JobProgressEvents =
  | ProgressEvent<'lilypad:job:phase', { phase: Phase, detail?: string, ms: number, /** on 'matched': the countersigned deal */ dealId?: string }>
  | ProgressEvent<'lilypad:job:tx', { what: string, hash: string, gasUsed: bigint }>
  | ProgressEvent<'lilypad:job:note', { message: string }>
  /** live output of the deal's container, as the provider streams it (advisory: the result is the CID-verified one) */
  | ProgressEvent<'lilypad:job:log', { stream: 'stdout' | 'stderr', data: string }>
  /** every provider that fits is busy: the job waits in a queue (sent on entering it and whenever the count changes) */
  | ProgressEvent<'lilypad:job:queued', { busyProviders: number, waitedMs: number, deadlineMs: number, /** the fitting offers are held by this node's own other jobs, not busy with others' */ ownJobs: boolean }>

export interface JobRequest extends ProgressOptions<JobProgressEvents> {
  module: string
  inputs: Record<string, string>
  /**
   * Local files or directories passed as inputs (`lilypad run --input-file Name=./path`): each is added to
   * this node's store, served by CID while the job runs, and given to the module as input Name = its CID.
   */
  inputFiles?: Record<string, string>
  target?: string
  mediators?: string[]
  maxPrice?: bigint
  /** GPUs asked for on top of the module's (`lilypad run --gpu --gpu-model --vram`) */
  gpu?: GpuRequirement
  /** CPU and memory asked for on top of the module's (`lilypad run --cpu --ram`; a canary asks for its slot's) */
  machine?: CpuRequirement
  /** 0..1: the deal's auditPpm; the contract draws the audit from the hash of the submission's block, which a provider cannot know when it submits */
  auditProbability?: number
  /** default true: accept early on success */
  accept?: boolean
  /**
   * The job creator's key when it is not the node's (a browser wallet, through the API): signs the job offer and
   * each deal proposed. Its address is the deal's job creator, whose Market deposit pays. The node sends no
   * transaction for it: a verified result is accepted off chain with its signature (when it can ask for one), and a
   * result that cannot be fetched or verified is challenged by a transaction the wallet sends itself.
   */
  signer?: Signer | WalletJobCreator
  signal?: AbortSignal
  /**
   * Propose only to this provider, without naming it in the job offer (its target stays zero): the validator's
   * canaries, which must look like any job.
   */
  provider?: string
}

export interface JobOutcome {
  dealId: string
  deal: Deal
  jobOffer: Envelope<'JobOffer'>
  resultCid: string
  path: string
  exitCode: number
  providerPeer: string
  challenged: boolean
  phasesMs: Record<string, number>
  /** set when the job was challenged and mediated */
  verdict?: 'correct' | 'wrong' | 'timed-out'
  /** providers that failed before this one (their deals refunded or abandoned) */
  retries: Array<{ provider: string, dealId?: string, reason: string }>
  /** the CID each input file was passed as */
  inputFiles?: Record<string, string>
}

/** the most deals whose chain details (the submitted CID) the job creator keeps: a safety valve; they
 * go when a deal's facts are final */
const MAX_DETAILS = 10_000

export interface JobCreatorOptions {
  host: LilypadHost
  chain: ChainClient
  store: ResultStore
  network: NetworkFile
  /** deals in <dataDir>/jc-deals; results under the store's data dir */
  dataDir: string
  /** a gossip service with an order book (made here when absent) */
  gossip?: GossipService
  /** an order-book sync already serving on this host (made here, pull only, when absent) */
  offerSync?: OfferSync
  /** the host's dispute service (audited deals are handed to the mediator through it) */
  disputes?: DisputeService
  /** deal terms; the devnet's network file carries tight ones so a dead provider is noticed in seconds */
  terms?: Partial<DealTerms>
  /** how long to wait for a matching offer (default 5 s) */
  matchTimeoutMs?: number
  /** how long to wait for busy providers to free a slot (default 120 s) */
  queueTimeoutMs?: number
  /** how long the provider gets to have its agree mined (default 15 s) */
  agreeTimeoutMs?: number
  /** providers tried before giving up (default 3) */
  maxAttempts?: number
  fetchTimeoutMs?: number
  modulesDir?: string
  /** how providers that failed us are demoted and banned */
  bans?: Partial<BanPolicy>
  /** bounds a provider's live log stream is held to (node/job-logs/constants.ts) */
  logLimits?: Partial<LogLimits>
  /** providers' records on chain (node/incentives/reputation-feed.ts): the ban list's second source, and the matcher's tie-break */
  reputation?: Reputation
}

export class NoProviderError extends Error {
  static override name = 'NoProviderError'
  override name = 'NoProviderError'
}
/** No provider could ever serve this job: no offer known, free or busy, fits it (resources, price, mediators, module, target). */
export class NoMatchingProviderError extends NoProviderError {
  static override name = 'NoMatchingProviderError'
  override name = 'NoMatchingProviderError'
  readonly hint = 'check the module\'s resources, --max-price, --target and the mediators (SERVICE_MEDIATORS); is a resource provider running?'
}
/** Providers fit the job but every one stayed busy for the whole queue time. */
export class QueueTimeoutError extends NoProviderError {
  static override name = 'QueueTimeoutError'
  override name = 'QueueTimeoutError'
  readonly busyProviders: number
  readonly waitedMs: number
  readonly hint = 'the providers that fit were busy the whole time; try again later, or wait longer (queueTimeoutMs)'
  constructor (message: string, busyProviders: number, waitedMs: number) {
    super(message)
    this.busyProviders = busyProviders
    this.waitedMs = waitedMs
  }
}
/** An input file the module's spec does not mount: it would be uploaded for nothing. */
export class InputFileNotUsedError extends Error {
  static override name = 'InputFileNotUsedError'
  override name = 'InputFileNotUsedError'
  readonly hint: string
  constructor (name: string, module: string) {
    super(`the module ${module} does not mount input ${name} (no input source of its job names the file's CID)`)
    this.hint = `"lilypad module inputs ${module}" lists the inputs it reads; a file input must be one its template puts in the job's Inputs/InputSources as a CID`
  }
}
export class InputNameConflictError extends Error {
  static override name = 'InputNameConflictError'
  override name = 'InputNameConflictError'
  readonly hint = 'give each input once: -i Name=value or --input-file Name=./path'
  constructor (name: string) { super(`input ${name} is given both as a value and as a file`) }
}
export class InsufficientDepositError extends Error {
  static override name = 'InsufficientDepositError'
  override name = 'InsufficientDepositError'
  readonly needed: bigint
  readonly available: bigint
  constructor (needed: bigint, available: bigint) {
    super(`the job needs ${needed} LP wei in the Market deposit, there are ${available}`)
    this.needed = needed
    this.available = available
  }
}
export class ProvidersFailedError extends Error {
  static override name = 'ProvidersFailedError'
  override name = 'ProvidersFailedError'
  readonly retries: JobOutcome['retries']
  constructor (retries: JobOutcome['retries'], opts?: ErrorOptions) {
    super(`every provider tried failed: ${retries.map(r => `${r.provider}: ${r.reason}`).join('; ')}${opts?.cause instanceof Error ? ` (then: ${opts.cause.message})` : ''}`, opts)
    this.retries = retries
  }
}
/** A result exists (on chain or delivered) but could not be fetched from the provider in time. */
export class ResultUnavailableError extends Error {
  static override name = 'ResultUnavailableError'
  override name = 'ResultUnavailableError'
  readonly dealId: string
  readonly hint = 'the provider may be unreachable; a result that could not be fetched or verified in the judge window is challenged (a mediator re-runs the job), and "lilypad get <dealId>" tries the fetch again'
  constructor (dealId: string, reason: string) {
    super(`the result of deal ${dealId} could not be fetched: ${reason}`)
    this.dealId = dealId
  }
}

/** Where live output goes (text, decoded per stream). */
type LogSink = (stream: 'stdout' | 'stderr', data: string) => void
/** Where the queue's state goes. */
type QueueSink = (busyProviders: number, waitedMs: number, deadlineMs: number, ownJobs: boolean) => void

/** The job creator's record of a deal: the lifecycle's data. */
export type JcDealRecord = JobCreatorDeal

const MAX_UINT96 = (1n << 96n) - 1n
/** how long after one of our own jobs took a provider's slot its replaced offers and silence are our own jobs' contention */
const CONTENTION_MS = 30_000
/** one fetch attempt; the fetch as a whole is retried until the lifecycle's fetch deadline */
const FETCH_ATTEMPT_MS = 10_000
/** A fetch that ends in one of these proves the provider's result wrong: not retried, challenged. */
const BAD_RESULT_ERRORS = new Set(['ResultVerificationError', 'NotADirectoryResultError', 'ResultTooLargeError'])
/** how long a transaction a wallet says it sent may take to be mined before it is asked again */
const WALLET_TX_WAIT_MS = 60_000
/** how long a fetch attempt first spends reaching (re-resolving) the provider */
const REACH_BEFORE_FETCH_MS = 10_000

function canonicalInputs (inputs: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(inputs).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)))
}

/**
 * One job's wait for a provider: when it started, what the queue policy says, and the `lilypad:job:queued` events
 * (on entering the queue and whenever the number of busy providers changes) and metrics that go with it.
 */
class JobQueue {
  private readonly c: Pick<Components, 'clock' | 'metrics'>
  private readonly policy: QueuePolicy
  private readonly sink: QueueSink
  private readonly startedAt: number
  private inQueue = false
  busyProviders = 0
  private ownJobs = false

  constructor (c: Pick<Components, 'clock' | 'metrics'>, policy: QueuePolicy, sink: QueueSink) {
    this.c = c
    this.policy = policy
    this.sink = sink
    this.startedAt = c.clock.now()
  }

  waitedMs (): number { return Math.max(0, this.c.clock.now() - this.startedAt) }

  /** `ownJobs`: the providers counted are held by this node's other jobs (their offers are claimed or just taken) */
  decide (s: { free: number, busyProviders: number, providersSeen: boolean, ruledOut?: number, ownJobs?: boolean }): ReturnType<typeof queueDecision> {
    const d = queueDecision({ ...s, waitedMs: this.waitedMs() }, this.policy)
    const own = s.ownJobs === true
    if (d.kind === 'wait' && d.queued && (!this.inQueue || s.busyProviders !== this.busyProviders || own !== this.ownJobs)) {
      if (!this.inQueue) this.c.metrics.queuedJobs.inc()
      this.inQueue = true
      this.busyProviders = s.busyProviders
      this.ownJobs = own
      this.sink(s.busyProviders, this.waitedMs(), this.policy.queueTimeoutMs, own)
    }
    return d
  }

  /** Time left of a wait decision. */
  leftMs (d: ReturnType<typeof queueDecision>): number {
    return d.kind === 'wait' ? Math.max(0, d.untilMs - this.waitedMs()) : 0
  }

  close (): void {
    if (!this.inQueue) return
    this.inQueue = false
    this.c.metrics.queuedJobs.dec()
    this.c.metrics.queueSeconds.observe(this.waitedMs() / 1000)
  }
}

export class JobCreator {
  readonly deals: DealStore<JcDealRecord>
  readonly gossip: GossipService
  readonly book: OrderBook
  readonly offerSync: OfferSync
  readonly results: ResultReceiver
  readonly negotiator: DealNegotiator
  readonly driver: LifecycleDriver<JobCreatorDeal, JobCreatorEvent, JobCreatorAction, DealFacts>
  /** providers that failed us, demoted or skipped for a while */
  readonly bans: BanList
  private readonly opts: JobCreatorOptions
  private readonly c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  private readonly policy: JobCreatorPolicy
  private readonly ownsGossip: boolean
  private readonly ownsSync: boolean
  private readonly stopController = new AbortController()
  /** what the chain's events told us beyond the deal record (the submitted CID, the drawn mediator) */
  private readonly details = new Map<string, { resultCid?: string }>()
  /** a run's transaction reporter per deal */
  private readonly txHooks = new Map<string, (what: string, hash: string, gasUsed: bigint) => void>()
  /** the wallets that are the job creators of deals their jobs still follow (in memory: gone after a restart) */
  private readonly wallets = new Map<string, WalletJobCreator>()
  private readonly offs: Array<() => void> = []
  private lastNonce = 0n
  /** nonces of our job offers this hour (a deal not agreed yet leaves its bit free on chain) */
  private readonly takenNonces = new Set<bigint>()
  /** provider (lower case) → when one of our jobs last got its countersignature (noteCountersigned) */
  private readonly recentDeals = new Map<string, number>()
  /**
   * Offers one of this node's jobs is proposing on now, and offers one of them got countersigned lately (the
   * provider books that slot and announces a new offer for it): another job passes them over ('held'), so jobs at
   * once spread over the offers instead of queueing behind the one slot only one of them can get. Bounded: an
   * entry per proposal in flight, and the taken ones for CONTENTION_MS, at most 1,024.
   */
  private readonly proposing = new Set<string>()
  private readonly taken = new Map<string, number>()
  /** says 'released' when a held offer is free again; one listener per job waiting for a turn (bounded by the jobs in flight) */
  private readonly released = new EventEmitter().setMaxListeners(0)
  /** a job offer's only provider (JobRequest.provider), kept off the wire */
  private readonly onlyProvider = new WeakMap<JobOffer, string>()

  private constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, opts: JobCreatorOptions) {
    this.opts = opts
    this.c = { ...components, logger: components.logger.child({ component: 'job-creator' }) }
    const domain = domainOfNetwork(opts.network)
    const networkId = opts.network.networkId
    this.ownsGossip = opts.gossip === undefined
    this.book = opts.gossip?.book ?? new OrderBook()
    this.gossip = opts.gossip ?? new GossipService(opts.host, { networkId, domain, book: this.book, jobOffers: false })
    if (this.gossip.book === undefined) throw new TypeError('the job creator needs a gossip service with an order book')
    this.ownsSync = opts.offerSync === undefined
    this.offerSync = opts.offerSync ?? new OfferSync(opts.host, { networkId, domain, book: this.book })
    this.results = new ResultReceiver(opts.host, { networkId, domain })
    this.negotiator = new DealNegotiator(opts.host, { networkId, domain, dialTimeoutMs: 5000, stepTimeoutMs: 5000, chainNow: chainSeconds(opts.chain) })
    this.deals = new DealStore<JcDealRecord>(join(opts.dataDir, 'jc-deals'))
    this.bans = new BanList(opts.bans, opts.reputation)
    this.policy = {
      ...defaultJobCreatorPolicy,
      ...(opts.agreeTimeoutMs !== undefined ? { agreeTimeoutMs: opts.agreeTimeoutMs } : {}),
      ...(opts.fetchTimeoutMs !== undefined ? { fetchTimeoutMs: opts.fetchTimeoutMs } : {})
    }
    this.driver = new LifecycleDriver(components, this.lifecycle(), this.deals, { now: () => opts.chain.follower.chainNow(), clockMoved: listener => followClock(opts.chain.follower, listener) })
    this.driver.on('change', rec => {
      if (rec.terminal) { this.results.forget(rec.dealId); this.details.delete(rec.dealId) }
    })
  }

  static async create (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, opts: JobCreatorOptions): Promise<JobCreator> {
    const jc = new JobCreator(components, opts)
    jc.gossip.start()
    await jc.results.start()
    await jc.negotiator.start()
    if (jc.ownsSync) await jc.offerSync.start({ serve: false, pull: true })
    else jc.offerSync.enablePull()
    jc.offs.push(jc.results.onResult(r => {
      jc.driver.notify(r.result.dealId.toLowerCase(), { type: 'result', cid: r.result.resultCid, addrs: r.addrs.filter(a => a.includes('/p2p/')) }, 'a step on a provider\'s result failed')
    }))
    jc.offs.push(jc.results.onNotice(n => {
      jc.onNotice(n.notice.dealId.toLowerCase(), n.notice.detail, n.from).catch(err => { if (!jc.stopController.signal.aborted) reportError(jc.c, 'job-creator', err, 'a provider\'s notice was not handled', { dealId: n.notice.dealId }) })
    }))
    if (!opts.chain.follower.running) await opts.chain.follower.start()
    for (const rec of await jc.deals.open()) jc.results.expect({ deal: rec.deal, dealId: rec.dealId, accepting: rec.accept })
    // input files an earlier process held and never released (it died) stop being served once their time is up
    await opts.store.releaseExpiredInputs().catch(err => { reportError(jc.c, 'job-creator', err, 'releasing expired input files failed') })
    // open deals of earlier runs: refunded at their deadline, accepted once fetched, closed when the chain closes them
    void jc.driver.resume().catch(err => { reportError(jc.c, 'job-creator', err, 'resuming stored deals failed') })
    return jc
  }

  get address (): string { return this.opts.chain.address }

  async stop (): Promise<void> {
    this.stopController.abort(new Error('job creator stopping'))
    for (const off of this.offs.splice(0)) off()
    await this.driver.stop()
    await this.negotiator.stop()
    await this.results.stop()
    if (this.ownsSync) await this.offerSync.stop()
    if (this.ownsGossip) this.gossip.stop()
  }

  /**
   * A nonce on a bitmap word our earlier deals already use (core/policy/nonce.ts: ~17,000 gas less per agree than a
   * fresh word), free on chain and not taken by one of our job offers; a time-based one if the chain cannot be read.
   */
  private async nextNonce (): Promise<bigint> {
    const first = nonceWordOf(this.c.clock.now())
    // offers of earlier hours are long expired (10 minutes): their nonces need no remembering
    for (const n of this.takenNonces) if ((n >> 8n) < first) this.takenNonces.delete(n)
    try {
      for (let word = first; word < first + NONCE_WORDS_PER_HOUR; word++) {
        const bitmap = await this.opts.chain.market.nonceBitmap(this.opts.chain.address, word)
        const nonce = pickNonce(word, bitmap, n => this.takenNonces.has(n), Math.random)
        if (nonce !== undefined) { this.takenNonces.add(nonce); return nonce }
      }
    } catch (err) {
      this.c.logger.debug({ err }, 'could not read our nonce bitmap: a time-based nonce (its agree opens a new word)')
    }
    const t = BigInt(this.c.clock.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000))
    this.lastNonce = t > this.lastNonce ? t : this.lastNonce + 1n
    return this.lastNonce
  }

  private get terms (): DealTerms { return { ...defaultDealTerms, ...this.opts.terms } }

  /** A provider's notice that its agree failed: believed only from the deal's provider, and only while the chain shows no agree. */
  private async onNotice (dealId: string, detail: string, from: string): Promise<void> {
    const rec = await this.deals.get(dealId)
    if (rec === undefined || rec.providerPeer !== from) return
    this.c.logger.info({ dealId, provider: rec.deal.resourceProvider, detail }, 'the provider says its agree failed: moving on')
    await this.driver.dispatch(dealId, { type: 'agree-notice', reason: detail })
  }

  async run (req: JobRequest): Promise<JobOutcome> {
    const signal = req.signal !== undefined ? AbortSignal.any([req.signal, this.stopController.signal]) : this.stopController.signal
    const t0 = performance.now()
    let last = t0
    const phasesMs: Record<string, number> = {}
    const phase = (p: Phase, detail?: string, dealId?: string): void => {
      const t = performance.now()
      const ms = Math.round(t - last)
      phasesMs[p] = ms
      last = t
      this.c.metrics.phaseSeconds.observe({ phase: p }, ms / 1000)
      req.onProgress?.(new CustomProgressEvent('lilypad:job:phase', { phase: p, ...(detail !== undefined ? { detail } : {}), ms, ...(dealId !== undefined ? { dealId } : {}) }))
    }
    const note = (message: string): void => { req.onProgress?.(new CustomProgressEvent('lilypad:job:note', { message })); this.c.logger.info(message) }
    const tx = (what: string, hash: string, gasUsed: bigint): void => { req.onProgress?.(new CustomProgressEvent('lilypad:job:tx', { what, hash, gasUsed })) }
    const queued = (busyProviders: number, waitedMs: number, deadlineMs: number, ownJobs: boolean): void => {
      req.onProgress?.(new CustomProgressEvent('lilypad:job:queued', { busyProviders, waitedMs, deadlineMs, ownJobs }))
      const waited = `${Math.round(waitedMs / 1000)} s of ${Math.round(deadlineMs / 1000)} s`
      note(ownJobs
        ? `every provider that fits is taken by this node's other jobs (${busyProviders}): waiting for one of them to free a slot (${waited})`
        : `every provider that fits is busy (${busyProviders}): waiting for a free slot (${waited})`)
    }
    const log = req.onProgress === undefined ? undefined : (stream: 'stdout' | 'stderr', data: string): void => { req.onProgress?.(new CustomProgressEvent('lilypad:job:log', { stream, data })) }
    // input files are served from this node's store while the job runs (retries and mediation included)
    const held: HeldInput[] = []
    try {
      const inputs = { ...req.inputs }
      const inputFiles: Record<string, string> = {}
      for (const [name, path] of Object.entries(req.inputFiles ?? {})) {
        if (name in inputs) throw new InputNameConflictError(name)
        const h = await this.opts.store.holdInput(path, { signal })
        held.push(h)
        inputs[name] = inputFiles[name] = h.cid.toString()
        note(`input ${name}: ${path} is ${inputFiles[name]} (${h.bytes} bytes), served by this node while the job runs`)
      }
      const outcome = await this.runWith({ ...req, inputs }, inputFiles, { signal, note, tx, phase, phasesMs, queued, ...(log !== undefined ? { log } : {}) })
      return { ...outcome, ...(held.length > 0 ? { inputFiles } : {}) }
    } finally {
      for (const h of held) await h.release().catch(err => { reportError(this.c, 'job-creator', err, 'releasing an input file failed (it is unpinned when its hold time passes)') })
    }
  }

  private async runWith (req: JobRequest, inputFiles: Record<string, string>, ctx: { signal: AbortSignal, note: (m: string) => void, tx: (what: string, hash: string, gasUsed: bigint) => void, phase: (p: Phase, detail?: string, dealId?: string) => void, phasesMs: Record<string, number>, log?: LogSink, queued: QueueSink }): Promise<JobOutcome> {
    const { signal, note, tx, phase, phasesMs, log, queued } = ctx
    const loaded = await loadModule(req.module, req.inputs, this.opts.modulesDir !== undefined ? { modulesDir: this.opts.modulesDir } : {})
    for (const [name, cid] of Object.entries(inputFiles)) {
      if (!loaded.spec.inputSources.some(s => s.cid === cid)) throw new InputFileNotUsedError(name, req.module)
    }
    for (const w of loaded.warnings) note(`warning: ${w.message}`)
    const chain = this.opts.chain
    const domain = chain.domain
    const signer: Signer = req.signer ?? chain.wallet
    const jobCreator = req.signer !== undefined ? getAddress(await req.signer.getAddress()) : chain.address
    const named = (req.mediators ?? this.opts.network.mediators ?? []).map(a => getAddress(a))
    if (named.length === 0) throw new NoProviderError('no mediators: the network file names none and none were given (SERVICE_MEDIATORS or --mediator)')
    const mediators = await this.nameableMediators(named, jobCreator, note)
    const audit = req.auditProbability ?? 0
    if (!(audit >= 0 && audit <= 1)) throw new RangeError('auditProbability must be between 0 and 1')
    const r = loaded.spec.resources
    const retries: JobOutcome['retries'] = []
    const excluded = new Set<string>()
    const maxAttempts = this.opts.maxAttempts ?? 3
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const nonce = await this.nextNonce()
      const job: JobOffer = {
        jobCreator,
        module: loaded.module.kind === 'git' ? loaded.module.pinned : req.module,
        inputs: canonicalInputs(req.inputs),
        spec: machineRequirement(r, req.gpu, req.machine),
        maxPrice: req.maxPrice ?? MAX_UINT96,
        mediators,
        target: req.target !== undefined ? getAddress(req.target) : ZeroAddress,
        timeout: loaded.spec.timeoutSec,
        auditPpm: Math.round(audit * 1_000_000),
        expiry: BigInt(Math.floor(this.c.clock.now() / 1000)) + 600n,
        nonce,
        seedCommit: ZeroHash
      }
      job.seedCommit = seedCommitOf(await this.seedSecret(job))
      if (req.provider !== undefined) this.onlyProvider.set(job, req.provider.toLowerCase())
      const jobOffer: Envelope<'JobOffer'> = { kind: 'JobOffer', value: job, signature: await signMessage('JobOffer', domain, job, signer) }
      // others (solvers, the audit trail) hear of it; we match it ourselves without waiting for anyone
      void this.gossip.publishJobOffer(jobOffer).catch(err => { this.c.logger.debug({ err }, 'job offer not gossiped (no peers on the topic yet)') })
      phase('offered', `${req.module} nonce ${job.nonce}`)
      let agreed
      try {
        agreed = await this.negotiate(jobOffer, signer, excluded, signal, note, queued, attempt > 1)
      } catch (err) {
        // after a failed deal, "no other provider" is best told with what happened to the ones tried
        if (retries.length > 0 && err instanceof NoProviderError) throw new ProvidersFailedError(retries, { cause: err })
        throw err
      }
      // the deal names the offer as proposed: the job asking for the slot it was matched to
      const outcome = await this.follow(agreed.job ?? jobOffer, agreed, req, { phase, note, tx, signal, ...(log !== undefined ? { log } : {}) })
      if ('failed' in outcome) {
        retries.push({ provider: agreed.deal.resourceProvider, dealId: agreed.dealId, reason: outcome.failed })
        excluded.add(agreed.deal.resourceProvider.toLowerCase())
        if (attempt < maxAttempts) note(`retrying with another provider (${outcome.failed})`)
        continue
      }
      return { ...outcome, retries, phasesMs }
    }
    throw new ProvidersFailedError(retries)
  }

  private get queuePolicy (): QueuePolicy {
    return { matchTimeoutMs: this.opts.matchTimeoutMs ?? defaultQueuePolicy.matchTimeoutMs, queueTimeoutMs: this.opts.queueTimeoutMs ?? defaultQueuePolicy.queueTimeoutMs }
  }

  /**
   * The secret a job offer commits to (docs/mediation.md, "Unbiasable draws"): derived from this node's key, which
   * reveals it in a committee dispute, so a restart loses nothing.
   */
  private async seedSecret (job: JobOffer): Promise<string> {
    const wallet = this.opts.chain.wallet
    return await deriveSeedSecret(async m => await wallet.signMessage(m), this.opts.chain.domain, 'JobOffer', job.jobCreator, job.nonce)
  }

  /**
   * Matches and proposes until a provider countersigns. When every provider that fits is busy (their booked slots
   * stay in the book as busy, or they answered NO_CAPACITY) the job waits in a queue for a slot to free, up to
   * the queue deadline (core/policy/queue.ts); when no provider fits at all it fails fast.
   */
  private async negotiate (jobOffer: Envelope<'JobOffer'>, signer: Signer, excluded: Set<string>, signal: AbortSignal, note: (m: string) => void, queued: QueueSink, retrying: boolean): Promise<AgreedDeal> {
    const job = jobOffer.value
    const queue = new JobQueue(this.c, this.queuePolicy, queued)
    // every job asks for the whole slot it is proposed to (protocols/slot-ask.ts): one signed offer per slot shape,
    // the same nonce and seed commitment, so a wallet signs each shape once and at most one deal is agreed
    const forSlot = new Map<string, Promise<Envelope<'JobOffer'>>>()
    const jobFor = async (c: Candidate): Promise<Envelope<'JobOffer'>> => {
      const value = jobOfferForSlot(job, c.live.offer)
      const key = askKey(value.spec)
      let signed = forSlot.get(key)
      if (signed === undefined) {
        signed = (async () => ({ kind: 'JobOffer' as const, value, signature: await signMessage('JobOffer', this.opts.chain.domain, value, signer) }))()
        forSlot.set(key, signed)
        signed.catch(() => { forSlot.delete(key) })
      }
      return await signed
    }
    let checkedDeposit = false
    // on a retry, or once providers answered busy, providers are known to exist: they may just have no free slot now
    let providersSeen = retrying
    try {
      for (;;) {
        const candidates = await this.candidates(job, excluded, signal, queue, providersSeen)
        providersSeen = true
        if (!checkedDeposit) {
          const need = candidates[0].price + this.terms.mediationFee
          const have = await this.opts.chain.depositOf(job.jobCreator)
          if (have < need) throw new InsufficientDepositError(need, have)
          checkedDeposit = true
        }
        try {
          // A proposal on the wire is not cut by the job's own signal (a cancel, Ctrl-C): the provider may countersign
          // it and have its agree mined after we stopped listening, and a deal must be known to be followed (paid
          // for its result or refunded). The round is bounded by the negotiator's dial and step timeouts; a deal
          // countersigned after the job's abort is recorded by follow(), which then gives up on it at once.
          const agreed = await this.negotiator.propose(jobOffer, candidates, signer, {
            terms: this.terms, signal: this.stopController.signal, claim: id => this.claimOffer(id), onOutcome: o => { if (o.outcome === 'accepted') this.noteTaken(o.resourceOfferId) }, jobFor
          })
          this.c.metrics.negotiations.inc({ side: 'proposer', outcome: 'countersigned' })
          this.noteCountersigned(agreed.deal.resourceProvider)
          return agreed
        } catch (err) {
          if (!(err instanceof NoDealError)) throw err
          const now = this.c.clock.now()
          const verdicts = err.attempts.map(a => ({ a, v: afterProposal(this.contended(proposalFailureOf(a), a.provider, a.resourceOfferId, candidates, now)) }))
          const busy = verdicts.every(({ v }) => !v.exclude && v.failure === undefined)
          for (const { a, v } of verdicts) {
            // (each outcome was counted in the negotiations metric as it happened) core/policy/ban.ts: a passing fault leaves the provider in this job's queue; a hard one does not
            if (v.exclude) excluded.add(a.provider.toLowerCase())
            if (v.failure === undefined) continue
            const standing = this.bans.record(a.provider, v.failure, now)
            if (standing === 'banned') this.c.logger.info({ provider: a.provider, outcome: a.outcome, reason: a.reason, detail: a.detail }, 'provider banned for a while')
          }
          if (!busy) {
            note(`no provider agreed (${err.message}); trying others`)
            this.c.logger.info({ attempts: err.attempts.map(a => ({ provider: a.provider, outcome: a.outcome, reason: a.reason, detail: a.detail, ms: a.ms })) }, 'no provider agreed: trying others')
          }
          // the providers that answered busy are the queue, whether or not the book shows them busy yet
          // every offer held by another of this node's jobs (claimed by its proposal, or just taken): our own queue
          const ownJobs = busy && err.attempts.every(a => a.outcome === 'held')
          const d = queue.decide({ free: 0, busyProviders: busy ? new Set(err.attempts.map(a => a.provider.toLowerCase())).size : 0, providersSeen: true, ownJobs })
          if (d.kind === 'fail') throw new QueueTimeoutError(`no provider had a free slot in time (${err.message})`, queue.busyProviders, queue.waitedMs())
          await this.bookChange(signal, Math.min(2000, queue.leftMs(d)))
        }
      }
    } finally {
      queue.close()
    }
  }

  /** Holds `offerId` for one proposal of this node's (see `proposing`): a release, or undefined when it is held or taken. */
  private claimOffer (offerId: string): (() => void) | undefined {
    const at = this.taken.get(offerId)
    if (this.proposing.has(offerId) || (at !== undefined && at > this.c.clock.now() - CONTENTION_MS)) return undefined
    this.proposing.add(offerId)
    return () => {
      this.proposing.delete(offerId)
      this.released.emit('released')
    }
  }

  private noteTaken (offerId: string): void {
    noteRecent(this.taken, offerId, this.c.clock.now(), CONTENTION_MS, 1024)
  }

  /** A provider's slot taken by one of this job creator's own jobs, remembered briefly (bounded). */
  private noteCountersigned (provider: string): void {
    noteRecent(this.recentDeals, provider.toLowerCase(), this.c.clock.now(), CONTENTION_MS, 1024)
  }

  /**
   * A replaced offer or no answer is contention among this job creator's own jobs (no mark on the provider,
   * core/policy/ban.ts) when one of them took a slot of that provider moments ago, or the offer proposed on is no
   * longer the provider's live offer for its slot in our book (booked, replaced). Without this, ten jobs at once
   * to one provider banned it: each lost race read as the provider's fault.
   */
  private contended (f: ProposalFailure, provider: string, offerId: string, candidates: Candidate[], now: number): ProposalFailure {
    if (f.outcome !== 'no-answer' && !(f.outcome === 'declined' && (f.reason === 'UNKNOWN_OFFER' || f.reason === 'EXPIRED'))) return f
    const tookSlot = (this.recentDeals.get(provider.toLowerCase()) ?? -Infinity) > now - CONTENTION_MS
    const proposed = candidates.find(c => c.live.id === offerId)?.live.offer
    const replaced = f.outcome === 'declined' && proposed !== undefined && this.book.get(proposed.provider, proposed.slot)?.id !== offerId
    return tookSlot || replaced ? { ...f, contended: true } : f
  }

  /**
   * The mediators this job's deals name: on a network with committees, each must have the least bond when the deal
   * names more than two (else every provider's agree fails with MediatorUnbonded), and none may be a party.
   */
  private async nameableMediators (named: string[], jobCreator: string, note: (line: string) => void): Promise<string[]> {
    const chain = this.opts.chain
    const rules = await chain.committeeRules()
    const bonds = new Map<string, bigint>()
    if (judgedByCommittee(named.length, rules)) {
      await Promise.all(named.map(async m => { bonds.set(m.toLowerCase(), (await chain.mediatorBond(m)).amount) }))
    }
    const { kept, left } = nameableMediators(named, rules, m => bonds.get(m.toLowerCase()) ?? 0n, jobCreator)
    for (const l of left) {
      const why = l.why === 'unbonded' ? `its bond is ${formatLP(l.bond ?? 0n)} LP, less than the ${formatLP(rules.minBond)} LP a committee member needs` : l.why === 'party' ? 'it is this job\'s creator' : 'named twice'
      note(`mediator ${l.mediator} left out: ${why}`)
    }
    if (kept.length === 0) throw new NoProviderError(`no mediator this job can name: ${left.map(l => `${l.mediator} (${l.why})`).join(', ')}`)
    return kept
  }

  private async candidates (job: JobOffer, excluded: Set<string>, signal: AbortSignal, queue: JobQueue, providersSeen: boolean): Promise<Candidate[]> {
    // a sync still pulling may yet bring the offers (a loaded node verifies them slowly): waited for, this long more
    let syncGrace = 30_000
    for (;;) {
      const nowMs = this.c.clock.now()
      const now = BigInt(Math.floor(nowMs / 1000))
      this.book.evictExpired(now)
      // ask the matcher for enough candidates that skipping banned and excluded providers, and ranking demoted ones last, still leaves some
      const limit = Math.min(1024, 16 + excluded.size + this.bans.markedCount(nowMs))
      // excluded providers are skipped inside the matcher, so they use none of the limit
      const only = this.onlyProvider.get(job)
      const exclude = (p: string): boolean => excluded.has(p.toLowerCase()) || (only !== undefined && p.toLowerCase() !== only)
      const matched = this.book.match(job, { now, limit, exclude, ...(this.opts.reputation !== undefined ? { reputation: this.opts.reputation.scores() } : {}) })
      const c = this.bans.rank(matched, x => x.live.offer.provider, nowMs).slice(0, 16)
      if (c.length > 0) return c
      // booked slots that fit: their providers exist and will free a slot — a queue, not "none"; unless every provider
      // that fits (free or busy) failed this job or is banned: then there is nothing to wait for
      const notTarget = (p: string): boolean => only !== undefined && p.toLowerCase() !== only
      const fitting = {
        free: this.book.match(job, { now, limit: 1024, exclude: notTarget }).map(x => x.live.offer.provider),
        busy: this.book.busyMatching(job, { now, exclude: notTarget }).map(l => l.offer.provider)
      }
      const ruledOut = (p: string): boolean => excluded.has(p) || this.bans.banned(p, nowMs)
      const fit = fittingProviders(fitting, ruledOut)
      const d = queue.decide({ free: 0, busyProviders: fit.busyProviders, ruledOut: fit.ruledOut, providersSeen })
      let left = d.kind === 'wait' ? queue.leftMs(d) : 0
      if (d.kind === 'fail' && d.reason === 'no-match' && this.offerSync.pullsInFlight > 0 && syncGrace > 0) left = Math.min(1000, syncGrace)
      if (left <= 0) {
        if (d.kind === 'fail' && d.reason === 'queue-timeout') {
          throw new QueueTimeoutError(`every provider that fits stayed busy for ${Math.round(queue.waitedMs() / 1000)} s (${queue.busyProviders} busy)`, queue.busyProviders, queue.waitedMs())
        }
        const n = this.book.size
        throw new NoMatchingProviderError(n === 0 && this.book.busy(now).length === 0
          ? 'no resource provider offers are known (no peer answered, or none is on the network)'
          : `none of the ${n + this.book.busy(now).length} known offers (free or busy) fits the job (resources, price, mediators, module or target)${this.ruledOutNote(fitting, ruledOut, fit.ruledOut, nowMs)}`)
      }
      const t = performance.now()
      await this.bookChange(signal, left)
      if (d.kind === 'fail') syncGrace -= performance.now() - t
    }
  }

  /** " apart from N provider(s) that …", naming up to three of the fitting providers ruled out and why; '' when none. */
  private ruledOutNote (fitting: { free: string[], busy: string[] }, ruledOut: (p: string) => boolean, count: number, nowMs: number): string {
    if (count === 0) return ''
    const named = [...new Set([...fitting.free, ...fitting.busy].map(p => p.toLowerCase()))].filter(ruledOut).slice(0, 3)
      .map(p => `${p}: ${this.bans.lastFailure(p, nowMs) ?? (this.bans.banned(p, nowMs) ? 'its record on chain' : 'failed this job')}`)
    return ` apart from ${count} provider${count === 1 ? ' that' : 's that'} failed this job or ${count === 1 ? 'is' : 'are'} banned for a while (${named.join('; ')}${count > named.length ? '; …' : ''})`
  }

  /** Resolves when gossip or sync brought offers, or after `ms`. */
  private async bookChange (signal: AbortSignal, ms: number): Promise<void> {
    const offs: Array<() => void> = []
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms)
        const done = (): void => { clearTimeout(t); resolve() }
        offs.push(this.gossip.onVerified(v => { if (v.kind === 'ResourceOffer') done() }))
        offs.push(this.offerSync.onSynced(done))
        // an offer another of our jobs was proposing on is free again (that job got another, or none)
        this.released.on('released', done)
        offs.push(() => { this.released.off('released', done) })
        const onAbort = (): void => { clearTimeout(t); reject(signal.reason) }
        if (signal.aborted) { onAbort(); return }
        signal.addEventListener('abort', onAbort, { once: true })
        offs.push(() => { signal.removeEventListener('abort', onAbort) })
      })
    } finally {
      for (const off of offs) off()
    }
  }

  /** One deal from countersignature to its outcome for the job, or `{ failed }` when the job must move on. */
  private async follow (
    jobOffer: Envelope<'JobOffer'>, agreed: AgreedDeal, req: JobRequest,
    ctx: { phase: (p: Phase, d?: string, dealId?: string) => void, note: (m: string) => void, tx: (what: string, hash: string, gasUsed: bigint) => void, signal: AbortSignal, log?: LogSink }
  ): Promise<Omit<JobOutcome, 'retries' | 'phasesMs'> | { failed: string }> {
    const { deal, dealId } = agreed
    const chain = this.opts.chain
    const id = dealId.toLowerCase()
    // whether this job answers a verified result with its signed acceptance; if not, the ack of the result says so
    const accepting = req.accept !== false && (req.signer === undefined || isWallet(req.signer))
    this.results.expect({ deal, dealId, accepting })
    const reported = new Set<string>()
    const reportTx = (what: string, hash: string): void => {
      if (reported.has(what)) return
      reported.add(what)
      void chain.provider.getTransactionReceipt(hash).then(r => {
        if (r === null) return
        // a result that settled the deal in its own transaction carried our acceptance (submitAcceptedResult)
        const settledToo = what === 'submitResult (provider)' && r.logs.some(l => decodeDealLog(l)?.kind === 'DealSettled')
        ctx.tx(settledToo ? 'submitAcceptedResult (provider)' : what, r.hash, r.gasUsed)
      })
        .catch(err => { this.c.logger.debug({ err, hash }, 'no receipt for a provider transaction (reported without it)') })
    }
    this.txHooks.set(id, (what, hash, gasUsed) => { ctx.tx(what, hash, gasUsed) })
    if (isWallet(req.signer)) this.wallets.set(id, req.signer)
    const offTx = chain.follower.onDeal(id, e => {
      if (e.contract !== 'Market') return
      if (e.name === 'DealAgreed') reportTx('agree (provider)', e.txHash)
      if (e.name === 'ResultSubmitted') reportTx('submitResult (provider)', e.txHash)
    })
    const onDisconnect = (evt: CustomEvent<{ toString: () => string }>): void => {
      if (evt.detail.toString() === agreed.providerPeer) ctx.note('lost the connection to the provider; if no result comes, the deal is refunded at its deadline')
    }
    this.opts.host.addEventListener('peer:disconnect', onDisconnect as never)
    const logsDone = new AbortController()
    try {
      // recorded before anything else: a Ctrl-C from here on leaves a deal the next run can refund
      const rec0 = jobCreatorDeal({ dealId: id, deal, job: jobOffer, providerPeer: agreed.providerPeer, accept: accepting, ...(req.signer !== undefined ? { wallet: true, jobCreatorSignature: agreed.jobCreatorSignature } : {}) }, this.driver.now(), this.policy)
      await this.driver.add(rec0)
      // matched once the deal is on record: whoever hears of the deal id can look it up
      ctx.phase('matched', `${deal.resourceProvider} (peer ${agreed.providerPeer.slice(-8)})`, id)
      if (ctx.log !== undefined) this.followLogs(id, agreed.providerPeer, ctx.log, AbortSignal.any([logsDone.signal, ctx.signal]))
      const shown = new Set<Phase>()
      const show = (p: Phase, d?: string): void => { if (!shown.has(p)) { shown.add(p); ctx.phase(p, d) } }
      const progress = (r: JobCreatorDeal): void => {
        if (r.agreedAt !== undefined) { show('agreed'); show('running', `deadline in ${deal.resultTimeout} s`) }
        if (r.resultCid !== undefined && (r.phase === 'result' || r.phase === 'downloaded' || r.phase === 'challenged')) { show('agreed'); show('running'); show('result', r.resultCid) }
        if (r.path !== undefined) show('downloaded', r.path)
        if (r.phase === 'challenged' && !shown.has('settled') && r.mediator !== undefined && !noted) { noted = true; ctx.note(`the contract drew an audit: mediator ${r.mediator} re-runs the job`) }
        if (r.phase === 'refunded') ctx.note('no result by the deadline: the payment was reclaimed (timeoutResult)')
      }
      let noted = false
      const onChange = (r: JobCreatorDeal): void => { if (r.id === id) progress(r) }
      this.driver.on('change', onChange)
      let rec: JobCreatorDeal
      try {
        rec = await this.driver.until(id, r => jobView(r).status !== 'waiting', ctx.signal)
      } finally {
        this.driver.off('change', onChange)
      }
      progress(rec)
      const view: JobView = jobView(rec)
      if (view.status === 'moved-on') {
        // the deal stays recorded and watched until it ends; the job goes on elsewhere
        if (rec.phase === 'abandoned' || rec.phase === 'countersigned') await this.driver.dispatch(id, { type: 'abandon', reason: view.reason })
        const standing = this.bans.record(deal.resourceProvider, providerFailureOf(rec), this.c.clock.now())
        this.c.logger.info({ dealId: id, provider: deal.resourceProvider, reason: view.reason, standing }, 'the job moves on from this deal')
        return { failed: view.reason }
      }
      if (view.status === 'failed') throw new ResultUnavailableError(id, view.reason)
      const challenged = rec.phase === 'mediated' || rec.phase === 'challenged' || rec.challengedAt !== undefined
      const verdict = rec.outcome === 'MediatedCorrect' ? 'correct' : rec.outcome === 'MediatedWrong' ? 'wrong' : rec.outcome === 'TimedOutMediation' ? 'timed-out' : undefined
      if (rec.path === undefined || rec.resultCid === undefined) throw new ResultUnavailableError(id, 'the deal ended without a result we could fetch')
      ctx.phase('settled', challenged ? `mediated: result ${verdict ?? 'pending'}` : rec.accepted ? 'accepted' : rec.acceptanceSent === true && rec.phase === 'settled' ? 'accepted off chain, settled with the result' : 'left to settle after the judge window')
      return { dealId: id, deal, jobOffer, resultCid: rec.resultCid, path: rec.path, exitCode: rec.exitCode ?? -1, providerPeer: agreed.providerPeer, challenged, ...(verdict !== undefined ? { verdict } : {}) }
    } finally {
      logsDone.abort(new Error('the job is done with this deal'))
      offTx()
      this.txHooks.delete(id)
      this.wallets.delete(id)
      this.opts.host.removeEventListener('peer:disconnect', onDisconnect as never)
    }
  }

  /**
   * Follows the deal's live output from the provider peer it was negotiated with, in the background, until the
   * provider ends it or the job is done with the deal. The provider may not know the deal for a moment after its
   * countersignature reached us (it records it after replying), so UNKNOWN_DEAL is asked again twice, briefly.
   */
  private followLogs (dealId: string, peer: string, log: LogSink, signal: AbortSignal): void {
    const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() }
    const opts = {
      networkId: this.opts.network.networkId, peer, dealId, signal,
      onChunk: (c: { stream: 'stdout' | 'stderr', data: Uint8Array }) => { const text = decoders[c.stream].decode(c.data, { stream: true }); if (text !== '') log(c.stream, text) },
      onDropped: (bytes: number) => { this.c.logger.debug({ dealId, bytes }, 'the provider dropped live output over its rate') },
      ...(this.opts.logLimits !== undefined ? { limits: this.opts.logLimits } : {})
    }
    void (async () => {
      for (const waitMs of [250, 1000, -1]) {
        const r = await followLogs(this.opts.host, this.c, opts)
        if (r.code !== 'UNKNOWN_DEAL' || waitMs < 0 || signal.aborted) {
          this.c.logger.debug({ dealId, code: r.code, bytes: r.bytes, dropped: r.dropped }, 'live log stream ended')
          return
        }
        await new Promise<void>(resolve => { const t = setTimeout(resolve, waitMs); signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true }) })
      }
    })().catch(err => {
      if (!signal.aborted) this.c.logger.info({ dealId, peer, err }, 'live logs unavailable (the result is unaffected)')
    })
  }

  // ---- the lifecycle's shell ----

  private lifecycle (): Lifecycle<JobCreatorDeal, JobCreatorEvent, JobCreatorAction, DealFacts> {
    const chain = this.opts.chain
    return {
      role: 'job-creator',
      step: (rec, input) => stepJobCreator(rec, input, this.policy),
      failure: jobCreatorFailure,
      facts: async rec => await this.facts(rec),
      watch: (rec, changed) => chain.follower.onDeal(rec.dealId, e => { this.remember(e); changed() }),
      perform: async (rec, a, signal) => await this.perform(rec, a, signal),
      describe: rec => ({ dealId: rec.dealId, provider: rec.deal.resourceProvider, ...(rec.abandoned !== undefined ? { abandoned: rec.abandoned } : {}) })
    }
  }

  private remember (e: MarketChainEvent | { contract: string }): void {
    if (e.contract !== 'Market') return
    const m = e as MarketChainEvent
    if (m.name === 'ResultSubmitted') { const id = m.args.dealId.toLowerCase(); setNewest(this.details, id, { ...this.details.get(id), resultCid: m.args.resultCid }, MAX_DETAILS) }
  }

  private async facts (rec: JobCreatorDeal): Promise<DealFacts> {
    const chain = this.opts.chain
    const r = await chain.dealRecord(rec.dealId)
    let d = this.details.get(rec.dealId)
    const past = r.state !== 'None' && r.state !== 'Agreed'
    if (past && d?.resultCid === undefined && r.state !== 'TimedOutResult') {
      for (const e of await chain.follower.history(rec.dealId)) this.remember(e)
      d = this.details.get(rec.dealId)
    }
    // a committee's dispute: its seed phase (our reveal first), then its committee (docs/mediation.md, "Unbiasable draws")
    const committee = r.state === 'Challenged' && r.mediatorIndex === COMMITTEE ? await chain.committeeDisputeFacts(rec.dealId, r.since, rec.deal) : undefined
    // a single mediator is known once drawn (MediatorDrawn): before that, the draw is due
    const undrawn = r.state === 'Challenged' && r.mediatorIndex === UNDRAWN
    const mediator = r.state === 'Challenged' && !undrawn ? (committee !== undefined ? ZeroAddress : rec.deal.mediators[r.mediatorIndex]) : undefined
    // a final deal's details are in these facts (the record keeps the CID): a read that overlapped the record's
    // terminal step, or a re-read later, would otherwise leave them here for good (one entry per job; soak12)
    if (isFinalState(r.state)) this.details.delete(rec.dealId)
    return { state: r.state, since: r.since, ...(d?.resultCid !== undefined ? { resultCid: d.resultCid } : {}), ...(mediator !== undefined ? { mediator } : {}), ...(auditDrawDue(rec.deal, r) ? { auditDue: true } : {}), ...(undrawn ? { mediatorDrawDue: true } : {}), ...committee }
  }

  /** One bounded fetch attempt of a deal's result (the driver retries until the action's deadline). */
  private async fetchResult (rec: JobCreatorDeal, cid: string, from: string[], a: JobCreatorAction, signal: AbortSignal): Promise<JobCreatorEvent> {
    let fetched
    try {
      // no more than the job could have produced: a hostile provider's endless DAG stops there
      const maxBytes = resultBytesBound(rec.job.value.spec.diskMb)
      fetched = await this.opts.store.fetch(cid, { from, timeoutMs: Math.max(1000, Math.min(FETCH_ATTEMPT_MS, a.deadline - this.driver.now())), signal, maxBytes })
    } catch (err) {
      const name = (err as Error).name
      if (BAD_RESULT_ERRORS.has(name)) return { type: 'fetch-failed', reason: `${name}: ${(err as Error).message}` }
      throw err
    }
    return { type: 'fetched', path: fetched.dir, exitCode: await resultExitCode(fetched.dir) }
  }

  private async perform (rec: JobCreatorDeal, a: JobCreatorAction, signal: AbortSignal): Promise<JobCreatorEvent> {
    const chain = this.opts.chain
    switch (a.kind) {
      case 'fetch': {
        const cid = rec.resultCid as string
        // after an upheld challenge the provider failed us once: any connected peer that has it (the mediator) will do
        if (rec.refetched === true) return await this.fetchResult(rec, cid, [], a, signal)
        const from = [...(rec.resultAddrs ?? []), rec.providerPeer]
        // Bounded attempts, retried by the driver until the fetch deadline: bitswap sends a want to a peer once,
        // and a want whose send failed (a stream reset under load) is only sent again when the want list
        // changes — a fresh attempt cancels the old want and wants the block anew from every peer.
        // a provider that restarted on a new port since the deal is re-resolved first (bitswap asks connected peers)
        const reachMs = Math.max(1000, Math.min(REACH_BEFORE_FETCH_MS, a.deadline - this.driver.now()))
        await this.opts.host.services.reach.connect(peerIdFromString(rec.providerPeer), { signal: AbortSignal.any([signal, AbortSignal.timeout(reachMs)]) })
          .catch(err => {
            // when the action itself is aborted the fetch below ends it; otherwise the announced addresses are tried
            if (!signal.aborted) this.c.logger.info({ dealId: rec.dealId, peer: rec.providerPeer, err }, 'could not reach the provider before fetching; trying its announced addresses')
          })
        return await this.fetchResult(rec, cid, from, a, signal)
      }
      case 'accept': {
        const e = await chainCall<JobCreatorEvent>(async () => await chain.accept([rec.deal]), { type: 'accepted' }, reason => ({ type: 'accept-failed', reason }))
        if (e.type === 'accept-failed') return e
        const tx = chain.gasLog.findLast(g => g.what === 'accept(1)')
        if (tx !== undefined) this.txHooks.get(rec.dealId)?.(tx.what, tx.hash, tx.gasUsed)
        return { type: 'accepted' }
      }
      case 'send-acceptance': {
        // Accept(dealId, cid) for the result we fetched and verified: the provider submits it with the result and
        // the deal settles in that transaction (it can settle only this deal, with this result, on this Market)
        const accept = { dealId: rec.dealId, resultCid: a.cid }
        let signature: string
        if (rec.wallet === true) {
          // the wallet is asked for exactly this Accept (the deal and the result the node fetched and verified); a
          // wallet gone (a node restart) or one that does not answer leaves the deal to settle after the judge window
          const wallet = this.wallets.get(rec.dealId)
          if (wallet === undefined) return { type: 'acceptance-failed', reason: 'the job creator\'s wallet is not connected to this node any more' }
          try {
            signature = await wallet.askSignature(domainOf(chain.domain), typesOf('Accept'), accept, { signal })
          } catch (err) {
            if (signal.aborted) throw err
            return { type: 'acceptance-failed', reason: `the wallet did not sign the acceptance: ${(err as Error).message}` }
          }
        } else {
          signature = await signMessage('Accept', chain.domain, accept, chain.wallet)
        }
        try {
          await sendAcceptance(this.opts.host, this.opts.network.networkId, rec.providerPeer, { accept, signature }, signal)
        } catch (err) {
          // refused (the provider no longer holds that result), or a provider that does not take acceptances: it
          // submits alone and we accept on chain; an unreachable one is tried again until the result deadline
          const name = (err as Error).name
          if (name === 'ResultRejectedError' || name === 'UnsupportedProtocolError') return { type: 'acceptance-failed', reason: (err as Error).message }
          throw err
        }
        this.c.logger.debug({ dealId: rec.dealId, resultCid: a.cid }, 'result accepted off chain: the provider settles it with its submission')
        return { type: 'acceptance-sent' }
      }
      // the chain's clock not past the deadline yet (ResultWindowOpen): retried
      case 'refund': return await chainCall<JobCreatorEvent>(async () => await chain.timeoutResult(rec.deal), { type: 'refunded' }, reason => ({ type: 'refund-failed', reason }), ['ResultWindowOpen'])
      case 'hand-off': {
        const disputes = this.opts.disputes
        if (disputes === undefined) return { type: 'hand-off-failed', reason: 'no dispute service' }
        // a wallet's deal goes with the signature the wallet gave it (the node's key is not the job creator's)
        const c = { dealId: rec.dealId, deal: { kind: 'Deal' as const, value: rec.deal, signature: rec.jobCreatorSignature ?? await signMessage('Deal', chain.domain, rec.deal, chain.wallet) }, jobOffer: rec.job }
        try {
          await handOffDispute(disputes, a.mediator, c, { chain, signal, connected: peer => this.opts.host.getConnections().some(x => x.remotePeer.toString() === peer) })
        } catch (err) {
          if (err instanceof DisputeRefusedError) return { type: 'hand-off-failed', reason: err.code }
          throw err
        }
        return { type: 'handed-off' }
      }
      case 'reveal-seed': {
        // a committee dispute's seed phase (docs/mediation.md, "Unbiasable draws"): our secret, retried until the
        // phase ends; then the draw awaited, or a phase its 256 blocks ended (which the lifecycle's clock cannot see)
        // closed with finalizeCommittee
        const seed = { provider: false, secret: await this.seedSecret(rec.job.value), words: offerWords('JobOffer', rec.job.value) }
        await revealOwnSeed(chain, rec.dealId, rec.deal, seed, { signal, onError: err => { this.c.logger.warn({ dealId: rec.dealId, err }, 'revealing our dispute seed failed: retrying until the seed phase ends') } })
        return { type: 'seed-revealed' }
      }
      case 'challenge': {
        this.c.logger.warn({ dealId: rec.dealId, provider: rec.deal.resourceProvider, resultCid: rec.resultCid, why: rec.fetchFailed }, 'challenging a result we could not fetch or verify: a mediator re-runs the job')
        if (rec.wallet === true) return await this.walletChallenge(rec, signal)
        // a revert: the judge window closed, or the deal moved on (accepted, audited): nothing to challenge
        return await chainCall<JobCreatorEvent>(async () => await chain.challenge(rec.deal), { type: 'challenge-sent' }, reason => ({ type: 'challenge-failed', reason }))
      }
      // a committee's dispute is closed by finalizeCommittee once its seed phase or its vote is over (a withheld seed
      // draws no member who would do it); the single mediator's by timeoutMediation
      case 'timeout-mediation': return await chainCall<JobCreatorEvent>(async () => { await (a.committee ? chain.finalizeCommittee(rec.deal) : chain.timeoutMediation(rec.deal)) }, { type: 'mediation-timed-out' }, reason => ({ type: 'timeout-mediation-failed', reason }), ['MediationWindowOpen', 'VotingOpen', 'SeedRevealOpen'])
      case 'draw-audit': return await chainCall<JobCreatorEvent>(async () => { await chain.drawAudit(rec.deal) }, { type: 'audit-drawn' }, reason => ({ type: 'draw-audit-failed', reason }), ['AuditDrawNotReady'])
      // MediatorDrawNotReady: the dispute's block is still the pending one; the next block can read its hash
      case 'draw-mediator': return await chainCall<JobCreatorEvent>(async () => { await chain.drawMediator(rec.deal) }, { type: 'mediator-drawn' }, reason => ({ type: 'draw-mediator-failed', reason }), ['MediatorDrawNotReady'])
    }
  }
  /**
   * The Market takes a challenge from the job creator only: the wallet is asked to send it (the node encodes
   * `challenge(deal)`, as it encodes a wallet's deposit) and answers with the hash, which is checked on chain — a
   * mined, successful call from the wallet to the Market that challenged this deal — before the deal goes on. An
   * unanswered request is asked again until the judge window closes (the action's deadline); then the result is
   * left to settle, as for a job creator that could not challenge in time.
   */
  private async walletChallenge (rec: JobCreatorDeal, signal: AbortSignal): Promise<JobCreatorEvent> {
    const chain = this.opts.chain
    const wallet = this.wallets.get(rec.dealId)
    if (wallet === undefined) return { type: 'challenge-failed', reason: 'the job creator\'s wallet is not connected to this node any more' }
    const tx = await chain.market.challenge.populateTransaction(rec.deal)
    const market = this.opts.network.contracts.market
    const hash = await wallet.askTransaction('Challenge', { to: market, data: tx.data, chainId: this.opts.network.chainId }, { signal })
    // bounded, and ended with the action (the deal moved on): a hash of nothing is not waited on forever
    let onAbort: (() => void) | undefined
    const aborted = new Promise<never>((_resolve, reject) => { onAbort = () => { reject(signal.reason) }; signal.addEventListener('abort', onAbort, { once: true }) })
    const receipt = await Promise.race([chain.provider.waitForTransaction(hash, 1, WALLET_TX_WAIT_MS), aborted])
      .finally(() => { if (onAbort !== undefined) signal.removeEventListener('abort', onAbort) })
    if (receipt === null) throw new Error(`the wallet's challenge ${hash} was not mined`)
    const challenged = receipt.logs.some(l => { const d = getAddress(l.address) === getAddress(market) ? decodeDealLog(l) : null; return d?.kind === 'DealChallenged' && d.dealId.toLowerCase() === rec.dealId })
    if (receipt.status !== 1 || getAddress(receipt.from) !== getAddress(rec.deal.jobCreator) || receipt.to === null || getAddress(receipt.to) !== getAddress(market) || !challenged) {
      throw new Error(`the transaction ${hash} the wallet answered with is not its challenge of deal ${rec.dealId}`)
    }
    this.txHooks.get(rec.dealId)?.('challenge (wallet)', hash, receipt.gasUsed)
    return { type: 'challenge-sent' }
  }
}
