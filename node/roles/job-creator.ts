// The job creator role: resolves the module, signs and gossips a JobOffer, matches it against its own order
// book (kept fresh by gossip and by order-book sync on connect), negotiates, waits for the provider's agree
// on chain, waits for the signed Result (stream, or the ResultSubmitted event), fetches and verifies the result
// directory over bitswap, then accepts early — or, when the contract drew an audit (the deal's auditPpm), hands
// the dispute to the mediator side and waits for the verdict. A provider that never delivers is detected by the
// deal's deadline (connection loss is reported earlier as a hint); the deal is then refunded with
// timeoutResult and the job retried on another provider with a new job offer nonce.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ZeroAddress, getAddress } from 'ethers'
import { idOf, signMessage, type Deal, type JobOffer } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { OrderBook } from '../../protocols/order-book.ts'
import { defaultDealTerms, type DealTerms } from '../../protocols/negotiation/messages.ts'
import type { Candidate } from '../../protocols/matcher.ts'
import { nowSeconds } from '../../protocols/validation.ts'
import type { ChainClient, DealView, DealWatcher } from '../chain/index.ts'
import type { NetworkFile } from '../config/network.ts'
import type { LilypadHost } from '../host/create-host.ts'
import { domainOfNetwork } from '../host/from-network.ts'
import { GossipService } from '../gossip/gossip.ts'
import { DealNegotiator, NoDealError, type AgreedDeal } from '../negotiation/negotiator.ts'
import { loadModule, machineRequirement, type GpuRequirement } from '../modules/index.ts'
import type { HeldInput, ResultStore } from '../result-store/index.ts'
import { DealStore, type StoredRecord } from '../deal-store/deal-store.ts'
import { OfferSync } from '../offer-sync/index.ts'
import { ResultReceiver, type ReceivedResult } from '../result-delivery/index.ts'

/** The same phases cli/progress.ts renders. */
export type Phase = 'offered' | 'matched' | 'agreed' | 'running' | 'result' | 'downloaded' | 'settled'

export interface JobRequest {
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
  /** 0..1: the deal's auditPpm; the contract draws the audit at result submission, so a provider cannot know in advance */
  auditProbability?: number
  /** default true: accept early on success */
  accept?: boolean
  signal?: AbortSignal
  onPhase?: (phase: Phase, detail?: string) => void
  onTx?: (what: string, hash: string, gasUsed: bigint) => void
  /** human notes: retries, fallbacks, a provider that went away */
  onNote?: (message: string) => void
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
  /** providers that failed before this one (their deals refunded) */
  retries: Array<{ provider: string, dealId?: string, reason: string }>
  /** the CID each input file was passed as */
  inputFiles?: Record<string, string>
}

export interface DisputeInfo { dealId: string, deal: Deal, jobOffer: Envelope<'JobOffer'>, mediator: string }

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
  log?: (msg: string, fields?: Record<string, unknown>) => void
}

export type JcDealState = 'proposed' | 'agreed' | 'result' | 'downloaded' | 'challenged' | 'accepted' | 'settled' | 'refunded' | 'abandoned' | 'closed'

export interface JcDealRecord extends StoredRecord {
  dealId: string
  deal: Deal
  job: Envelope<'JobOffer'>
  providerPeer: string
  state: JcDealState
  resultCid?: string
}

export class NoProviderError extends Error {
  static override name = 'NoProviderError'
  override name = 'NoProviderError'
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
  constructor (retries: JobOutcome['retries']) {
    super(`every provider tried failed: ${retries.map(r => `${r.provider}: ${r.reason}`).join('; ')}`)
    this.retries = retries
  }
}

const MAX_UINT96 = (1n << 96n) - 1n
const LATER_THAN_AGREED = ['Agreed', 'ResultSubmitted', 'Challenged', 'MediatedCorrect', 'MediatedWrong', 'Settled', 'TimedOutResult', 'TimedOutMediation'] as const

function canonicalInputs (inputs: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(inputs).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)))
}

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); reject(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export class JobCreator {
  readonly deals: DealStore<JcDealRecord>
  readonly gossip: GossipService
  readonly book: OrderBook
  readonly offerSync: OfferSync
  readonly results: ResultReceiver
  readonly negotiator: DealNegotiator
  private readonly opts: JobCreatorOptions
  private readonly ownsGossip: boolean
  private readonly ownsSync: boolean
  private readonly disputeHooks: Array<(d: DisputeInfo) => Promise<void>> = []
  private readonly tasks = new Set<Promise<unknown>>()
  private readonly stopController = new AbortController()
  private lastNonce = 0n
  private fromBlock = 0

  private constructor (opts: JobCreatorOptions) {
    this.opts = opts
    const domain = domainOfNetwork(opts.network)
    const networkId = opts.network.networkId
    this.ownsGossip = opts.gossip === undefined
    this.book = opts.gossip?.book ?? new OrderBook()
    this.gossip = opts.gossip ?? new GossipService(opts.host, { networkId, domain, book: this.book, jobOffers: false })
    if (this.gossip.book === undefined) throw new TypeError('the job creator needs a gossip service with an order book')
    this.ownsSync = opts.offerSync === undefined
    this.offerSync = opts.offerSync ?? new OfferSync(opts.host, { networkId, domain, book: this.book })
    this.results = new ResultReceiver(opts.host, { networkId, domain })
    this.negotiator = new DealNegotiator(opts.host, { networkId, domain, dialTimeoutMs: 5000, stepTimeoutMs: 5000 })
    this.deals = new DealStore<JcDealRecord>(join(opts.dataDir, 'jc-deals'))
  }

  static async create (opts: JobCreatorOptions): Promise<JobCreator> {
    const jc = new JobCreator(opts)
    jc.gossip.start()
    await jc.results.start()
    await jc.negotiator.start()
    if (jc.ownsSync) await jc.offerSync.start({ serve: false, pull: true })
    else jc.offerSync.enablePull()
    jc.fromBlock = Math.max(0, (await opts.chain.provider.getBlockNumber()) - 1)
    jc.track(jc.resume())
    return jc
  }

  get address (): string { return this.opts.chain.address }

  onDispute (hook: (d: DisputeInfo) => Promise<void>): void {
    this.disputeHooks.push(hook)
  }

  async stop (): Promise<void> {
    this.stopController.abort(new Error('job creator stopping'))
    await Promise.allSettled([...this.tasks])
    await this.negotiator.stop()
    await this.results.stop()
    if (this.ownsSync) await this.offerSync.stop()
    if (this.ownsGossip) this.gossip.stop()
  }

  private log (msg: string, fields?: Record<string, unknown>): void { this.opts.log?.(msg, fields) }

  private track<T> (p: Promise<T>): Promise<T> {
    const q = p.catch(err => { this.log('job creator task failed', { error: (err as Error).message }) })
    this.tasks.add(q)
    void q.finally(() => { this.tasks.delete(q) })
    return p
  }

  private nextNonce (): bigint {
    const t = BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000))
    this.lastNonce = t > this.lastNonce ? t : this.lastNonce + 1n
    return this.lastNonce
  }

  private get terms (): DealTerms { return { ...defaultDealTerms, ...this.opts.terms } }

  async run (req: JobRequest): Promise<JobOutcome> {
    const signal = req.signal !== undefined ? AbortSignal.any([req.signal, this.stopController.signal]) : this.stopController.signal
    const t0 = performance.now()
    let last = t0
    const phasesMs: Record<string, number> = {}
    const phase = (p: Phase, detail?: string): void => {
      const t = performance.now()
      phasesMs[p] = Math.round(t - last)
      last = t
      req.onPhase?.(p, detail)
    }
    const note = (m: string): void => { req.onNote?.(m); this.log(m) }
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
      const outcome = await this.runWith({ ...req, inputs }, inputFiles, { signal, note, phase, phasesMs })
      return { ...outcome, ...(held.length > 0 ? { inputFiles } : {}) }
    } finally {
      for (const h of held) await h.release().catch(err => { this.log('releasing an input file failed (it is unpinned when its hold time passes)', { error: (err as Error).message }) })
    }
  }

  private async runWith (req: JobRequest, inputFiles: Record<string, string>, ctx: { signal: AbortSignal, note: (m: string) => void, phase: (p: Phase, detail?: string) => void, phasesMs: Record<string, number> }): Promise<JobOutcome> {
    const { signal, note, phase, phasesMs } = ctx
    const loaded = await loadModule(req.module, req.inputs, this.opts.modulesDir !== undefined ? { modulesDir: this.opts.modulesDir } : {})
    for (const [name, cid] of Object.entries(inputFiles)) {
      if (!loaded.spec.inputSources.some(s => s.cid === cid)) throw new InputFileNotUsedError(name, req.module)
    }
    for (const w of loaded.warnings) note(`warning: ${w.message}`)
    const chain = this.opts.chain
    const domain = chain.domain
    const mediators = (req.mediators ?? this.opts.network.mediators ?? []).map(a => getAddress(a))
    if (mediators.length === 0) throw new NoProviderError('no mediators: the network file names none and none were given (SERVICE_MEDIATORS or --mediator)')
    const audit = req.auditProbability ?? 0
    if (!(audit >= 0 && audit <= 1)) throw new RangeError('auditProbability must be between 0 and 1')
    const r = loaded.spec.resources
    const retries: JobOutcome['retries'] = []
    const excluded = new Set<string>()
    const maxAttempts = this.opts.maxAttempts ?? 3
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const job: JobOffer = {
        jobCreator: chain.address,
        module: loaded.module.kind === 'git' ? loaded.module.pinned : req.module,
        inputs: canonicalInputs(req.inputs),
        spec: machineRequirement(r, req.gpu),
        maxPrice: req.maxPrice ?? MAX_UINT96,
        mediators,
        target: req.target !== undefined ? getAddress(req.target) : ZeroAddress,
        timeout: loaded.spec.timeoutSec,
        auditPpm: Math.round(audit * 1_000_000),
        expiry: nowSeconds() + 600n,
        nonce: this.nextNonce()
      }
      const jobOffer: Envelope<'JobOffer'> = { kind: 'JobOffer', value: job, signature: await signMessage('JobOffer', domain, job, chain.wallet) }
      // others (solvers, the audit trail) hear of it; we match it ourselves without waiting for anyone
      void this.gossip.publishJobOffer(jobOffer).catch(() => {})
      phase('offered', `${req.module} nonce ${job.nonce}`)
      const agreed = await this.negotiate(jobOffer, excluded, signal, note, attempt > 1)
      phase('matched', `${agreed.deal.resourceProvider} (peer ${agreed.providerPeer.slice(-8)})`)
      const outcome = await this.follow(jobOffer, agreed, req, { phase, note, signal, phasesMs })
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

  /** Matches and proposes until a provider countersigns; waits for the book to change when all are busy. */
  private async negotiate (jobOffer: Envelope<'JobOffer'>, excluded: Set<string>, signal: AbortSignal, note: (m: string) => void, retrying: boolean): Promise<AgreedDeal> {
    const job = jobOffer.value
    const queueDeadline = performance.now() + (this.opts.queueTimeoutMs ?? 120_000)
    let checkedDeposit = false
    for (;;) {
      // on a retry providers are known to exist: the others may just be busy (their booked slots withdrawn)
      const candidates = await this.candidates(job, excluded, signal, retrying ? (this.opts.queueTimeoutMs ?? 120_000) : (this.opts.matchTimeoutMs ?? 5000))
      if (!checkedDeposit) {
        const need = candidates[0].price + this.terms.mediationFee
        const have = await this.opts.chain.depositOf()
        if (have < need) throw new InsufficientDepositError(need, have)
        checkedDeposit = true
      }
      try {
        return await this.negotiator.propose(jobOffer, candidates, this.opts.chain.wallet, { terms: this.terms, signal })
      } catch (err) {
        if (!(err instanceof NoDealError)) throw err
        const busy = err.attempts.every(a => a.outcome === 'declined NO_CAPACITY')
        if (!busy) {
          // a provider that declined for another reason, or could not be reached, is not asked again for this job
          for (const a of err.attempts) if (a.outcome !== 'declined NO_CAPACITY') excluded.add(a.provider.toLowerCase())
          note(`no provider agreed (${err.message}); trying others`)
        }
        if (performance.now() > queueDeadline) throw new NoProviderError(`no provider had a free slot in time (${err.message})`)
        await this.bookChange(signal, 2000)
      }
    }
  }

  private async candidates (job: JobOffer, excluded: Set<string>, signal: AbortSignal, waitMs: number): Promise<Candidate[]> {
    const deadline = performance.now() + waitMs
    for (;;) {
      const now = nowSeconds()
      this.book.evictExpired(now)
      const c = this.book.match(job, { now }).filter(x => !excluded.has(x.live.offer.provider.toLowerCase()))
      if (c.length > 0) return c
      const left = deadline - performance.now()
      if (left <= 0) {
        const n = this.book.size
        throw new NoProviderError(n === 0
          ? 'no resource provider offers are known (no peer answered, or none is on the network)'
          : `none of the ${n} known offers fits the job (resources, price, mediators, module or target)${excluded.size > 0 ? ` apart from providers that already failed it (${excluded.size})` : ''}`)
      }
      await this.bookChange(signal, left)
    }
  }

  /** Resolves when gossip or sync brought offers, or after `ms`. */
  private async bookChange (signal: AbortSignal, ms: number): Promise<void> {
    const ac = new AbortController()
    const any = AbortSignal.any([signal, ac.signal])
    const offs: Array<() => void> = []
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms)
        const done = (): void => { clearTimeout(t); resolve() }
        offs.push(this.gossip.onVerified(v => { if (v.kind === 'ResourceOffer') done() }))
        offs.push(this.offerSync.onSynced(done))
        any.addEventListener('abort', () => { clearTimeout(t); if (signal.aborted) reject(signal.reason); else resolve() }, { once: true })
      })
    } finally {
      for (const off of offs) off()
      ac.abort()
    }
  }

  private async save (rec: JcDealRecord, patch: Partial<JcDealRecord>): Promise<JcDealRecord> {
    return await this.deals.update(rec.id, cur => ({ ...(cur ?? rec), ...patch }))
  }

  /** One deal from countersignature to settlement, or `{ failed }` when the provider let it down (refunded). */
  private async follow (
    jobOffer: Envelope<'JobOffer'>, agreed: AgreedDeal, req: JobRequest,
    ctx: { phase: (p: Phase, d?: string) => void, note: (m: string) => void, signal: AbortSignal, phasesMs: Record<string, number> }
  ): Promise<Omit<JobOutcome, 'retries' | 'phasesMs'> | { failed: string }> {
    const { deal, dealId } = agreed
    const chain = this.opts.chain
    const expected = { deal, dealId }
    this.results.expect(expected)
    let rec: JcDealRecord = { id: dealId, dealId, deal, job: jobOffer, providerPeer: agreed.providerPeer, state: 'proposed', terminal: false, updatedAt: 0 }
    // recorded before anything else: a Ctrl-C from here on leaves a deal the next run can refund
    rec = await this.deals.put(rec)
    const watcher = await chain.watchDeal(dealId, this.fromBlock)
    // safety net for an event the log filter missed (see DealWatcher.resync); cheap: one getLogs a second
    const resync = setInterval(() => { void watcher.resync().catch(() => {}) }, 1000)
    const local = new AbortController()
    const signal = AbortSignal.any([ctx.signal, local.signal])
    try {
      let view: DealView
      try {
        view = await reach(watcher, [...LATER_THAN_AGREED], AbortSignal.any([signal, AbortSignal.timeout(this.opts.agreeTimeoutMs ?? 15_000)]))
      } catch (err) {
        if (signal.aborted) throw err
        // Left open: if the provider's agree lands after all, the next resume refunds it after its deadline.
        await this.save(rec, { state: 'abandoned' })
        return { failed: 'agree was not mined in time' }
      }
      const agreedEvent = view.events.find(e => e.kind === 'DealAgreed')
      const since = (await chain.dealRecord(dealId)).since
      rec = await this.save(rec, { state: 'agreed' })
      ctx.phase('agreed', agreedEvent !== undefined ? `tx ${agreedEvent.txHash}` : '')
      // the provider's transactions belong to the job's record too (--json lists every transaction of the deal)
      const providerTxs: Array<Promise<void>> = []
      const reportTx = (what: string, hash: string): void => {
        providerTxs.push(chain.provider.getTransactionReceipt(hash).then(r => { if (r !== null) req.onTx?.(what, r.hash, r.gasUsed) }).catch(() => {}))
      }
      if (agreedEvent !== undefined) reportTx('agree (provider)', agreedEvent.txHash)
      ctx.phase('running', `deadline in ${deal.resultTimeout} s`)
      const deadlineMs = (since + deal.resultTimeout) * 1000
      const onDisconnect = (evt: CustomEvent<{ toString: () => string }>): void => {
        if (evt.detail.toString() === agreed.providerPeer) ctx.note(`lost the connection to the provider; if no result comes, the deal is refunded at its deadline (${new Date(deadlineMs).toISOString()})`)
      }
      this.opts.host.addEventListener('peer:disconnect', onDisconnect as never)
      let got: ReceivedResult | { fromChain: string } | 'deadline'
      try {
        got = await Promise.race([
          this.results.wait(expected, signal),
          reach(watcher, ['ResultSubmitted', 'Challenged'], signal).then(v => ({ fromChain: v.resultCid as string })),
          sleep(Math.max(0, deadlineMs - Date.now() + 1000), signal).then(() => 'deadline' as const)
        ])
      } finally {
        this.opts.host.removeEventListener('peer:disconnect', onDisconnect as never)
      }
      if (got === 'deadline') {
        ctx.note(`no result by the deadline: reclaiming the payment (timeoutResult)`)
        await this.refund(deal, deadlineMs, signal)
        await this.save(rec, { state: 'refunded', terminal: true })
        return { failed: 'no result before the deadline (refunded)' }
      }
      const cid = 'fromChain' in got ? got.fromChain : got.result.resultCid
      const from = 'fromChain' in got ? [agreed.providerPeer] : [...got.addrs.filter(a => a.includes('/p2p/')), agreed.providerPeer]
      rec = await this.save(rec, { state: 'result', resultCid: cid })
      ctx.phase('result', cid)
      const fetched = await this.opts.store.fetch(cid, { from, timeoutMs: this.opts.fetchTimeoutMs ?? 30_000, signal })
      const exitCode = Number((await readFile(join(fetched.dir, 'exitCode'), 'utf8').catch(() => '-1')).trim())
      rec = await this.save(rec, { state: 'downloaded' })
      ctx.phase('downloaded', fetched.dir)
      // the chain must have the submission before we can accept or learn of an audit
      view = await reach(watcher, ['ResultSubmitted', 'Challenged', 'MediatedCorrect', 'MediatedWrong', 'Settled', 'TimedOutMediation'], AbortSignal.any([signal, AbortSignal.timeout(Math.max(5000, deadlineMs - Date.now() + 5000))]))
      const base = { dealId, deal, jobOffer, resultCid: cid, path: fetched.dir, exitCode, providerPeer: agreed.providerPeer }
      const submitted = view.events.find(e => e.kind === 'ResultSubmitted')
      if (submitted !== undefined) reportTx('submitResult (provider)', submitted.txHash)
      if (view.state !== 'ResultSubmitted' && view.state !== 'Settled') {
        const mediator = view.mediator ?? ''
        rec = await this.save(rec, { state: 'challenged' })
        ctx.note(`the contract drew an audit: mediator ${mediator} re-runs the job`)
        for (const hook of this.disputeHooks) await hook({ dealId, deal, jobOffer, mediator }).catch(err => { this.log('dispute hook failed', { dealId, error: (err as Error).message }) })
        const v = await reach(watcher, ['MediatedCorrect', 'MediatedWrong', 'TimedOutMediation'], AbortSignal.any([signal, AbortSignal.timeout(deal.mediateTimeout * 1000 + 10_000)]))
        const verdict = v.state === 'MediatedCorrect' ? 'correct' : v.state === 'MediatedWrong' ? 'wrong' : 'timed-out'
        await this.save(rec, { state: 'closed', terminal: true })
        ctx.phase('settled', `mediated: result ${verdict}`)
        return { ...base, challenged: true, verdict }
      }
      if (req.accept !== false && view.state === 'ResultSubmitted') {
        await chain.accept([deal])
        const tx = chain.gasLog.at(-1)
        if (tx !== undefined) req.onTx?.(tx.what, tx.hash, tx.gasUsed)
        await this.save(rec, { state: 'accepted', terminal: true })
        ctx.phase('settled', tx !== undefined ? `accepted, tx ${tx.hash}` : 'accepted')
        await Promise.all(providerTxs)
      } else {
        await this.save(rec, { state: 'downloaded', terminal: req.accept === false })
      }
      return { ...base, challenged: false }
    } finally {
      clearInterval(resync)
      local.abort()
      this.results.forget(dealId)
      await watcher.stop()
    }
  }

  /** timeoutResult as soon as the chain's clock has passed the deadline. */
  private async refund (deal: Deal, deadlineMs: number, signal?: AbortSignal): Promise<void> {
    for (let i = 0; ; i++) {
      const wait = deadlineMs + 1000 - Date.now()
      if (wait > 0) await sleep(wait, signal)
      try {
        await this.opts.chain.timeoutResult(deal)
        return
      } catch (err) {
        const reason = (err as { reason?: string }).reason ?? ''
        if (reason === 'ResultWindowOpen' && i < 10) { await sleep(1000, signal); continue }
        const state = (await this.opts.chain.dealRecord(this.opts.chain.dealId(deal))).state
        if (state !== 'Agreed') return // someone else closed it, or the result came in after all
        throw err
      }
    }
  }

  /** Open deals of earlier runs: refund agreed deals past their deadline, accept downloaded ones, close the rest. */
  private async resume (): Promise<void> {
    // input files an earlier process held and never released (it died) stop being served once their time is up
    await this.opts.store.releaseExpiredInputs().catch(err => { this.log('releasing expired input files failed', { error: (err as Error).message }) })
    await Promise.all((await this.deals.open()).map(async rec => { await this.resumeOne(rec) }))
  }

  private async resumeOne (rec: JcDealRecord): Promise<void> {
    {
      if (this.stopController.signal.aborted) return
      let onChain
      try { onChain = await this.opts.chain.dealRecord(rec.dealId) } catch { return }
      const now = Math.floor(Date.now() / 1000)
      if (onChain.state === 'None') {
        if (rec.deal.expiry < BigInt(now)) await this.save(rec, { state: 'closed', terminal: true })
      } else if (onChain.state === 'Agreed') {
        // refunded at its deadline unless the provider submits meanwhile (refund() then finds it no longer Agreed)
        const deadline = onChain.since + rec.deal.resultTimeout
        this.log('an agreed deal left open by an earlier run: refunding it at its deadline unless a result comes', { dealId: rec.dealId, deadline })
        await this.refund(rec.deal, deadline * 1000, this.stopController.signal)
        const state = (await this.opts.chain.dealRecord(rec.dealId)).state
        await this.save(rec, state === 'TimedOutResult' ? { state: 'refunded', terminal: true } : { state: 'result' })
      } else if (onChain.state === 'ResultSubmitted' && rec.state === 'downloaded') {
        await this.opts.chain.accept([rec.deal])
        await this.save(rec, { state: 'accepted', terminal: true })
      } else if (onChain.state !== 'ResultSubmitted' && onChain.state !== 'Challenged') {
        await this.save(rec, { state: 'closed', terminal: true })
      }
    }
  }
}

/** Resolves when the deal reaches one of `states`; rejects when `signal` aborts. Leaves no timer or listener behind. */
async function reach (watcher: DealWatcher, states: string[], signal: AbortSignal): Promise<DealView> {
  if (states.includes(watcher.view.state)) return watcher.view
  return await new Promise((resolve, reject) => {
    const onT = (v: DealView): void => {
      if (!states.includes(v.state)) return
      cleanup()
      resolve(v)
    }
    const onAbort = (): void => { cleanup(); reject(signal.reason) }
    const cleanup = (): void => { watcher.off('transition', onT); signal.removeEventListener('abort', onAbort) }
    if (signal.aborted) { reject(signal.reason); return }
    watcher.on('transition', onT)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

export { idOf }
