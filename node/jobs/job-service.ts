// The jobs of one node's key: many at once through one JobCreator (so one nonce-owning transaction queue and one
// deal store), each with an id, its request, a state, its deals, a bounded event history and its outcome or a
// named error. Records are small JSON files (one per job, written atomically by the DealStore) in
// <dataDir>/jobs, so the list survives a restart; a job whose deal was countersigned when the node stopped is
// followed again — the JobCreator's lifecycle resumes the deal itself (fetches, accepts or refunds) — and a job
// still looking for a provider is marked failed, nothing having been spent.
//
// A job settles on one chain of the network (`chainId`, default the network's first): it runs through that chain's
// job creator (its key's deposit and nonce queue there), and its record says which chain.
//
// Cancel follows the money. Before any deal is countersigned the job offer is only a signed message: the run is
// aborted and nothing is spent. Once a provider countersigned, it may have its agree mined, which locks price +
// mediation fee from the deposit; nothing the job creator can send undoes that (the Market has no cancel for an
// agreed deal): the deal runs to its end — the result is fetched and paid for if delivered, the lock refunded
// with the provider's collateral at the deadline if not — and cancel says so instead of pretending.
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import type { ProgressEvent } from 'progress-events'
import { DealStore, type StoredRecord } from '../deal-store/deal-store.ts'
import { reportError, type Components } from '../components.ts'
import type { JobCreator, JobRequest, Phase } from '../roles/job-creator.ts'
import { jobView } from '../../core/lifecycle/job-creator.ts'
import { readResultStatus, type ResultStatus } from '../executor/status.ts'
import type { GpuRequirement, CpuRequirement } from '../modules/index.ts'
import { formatLP } from '../../core/lp.ts'
import { JobCancelledError, JobEndedError, JobNotFoundError, NodeRestartedError, TooManyJobsError } from './errors.ts'
import type { RemoteSigner } from './remote-signer.ts'

export const JOB_STATES = ['queued', 'matching', 'running', 'done', 'failed', 'cancelled'] as const
export type JobState = typeof JOB_STATES[number]
const TERMINAL: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled'])

/** What a job asks for: JobCreator.run's request without the callbacks. */
export interface JobSubmission {
  module: string
  inputs: Record<string, string>
  /** absolute paths of local files or directories, served by this node while the job runs */
  inputFiles?: Record<string, string>
  maxPrice?: bigint
  target?: string
  mediators?: string[]
  auditProbability?: number
  gpu?: GpuRequirement
  machine?: CpuRequirement
  accept?: boolean
  /** the chain the job settles on (default: the network's first) */
  chainId?: number
}

/** The job creator of each chain the jobs may settle on. */
export interface JobCreators {
  /** the chain a job that names none settles on (the network's first) */
  readonly defaultChainId: number
  /** that chain's job creator; the chain's own error when it is not served or could not be joined */
  jobCreatorOn: (chainId: number) => Promise<JobCreator>
  /** the same, once the chain is joined (a chain down at start is waited for): a resumed job's deal */
  jobCreatorWhenJoined?: (chainId: number) => Promise<JobCreator>
}

/**
 * One entry of a job's history. `type` is the progress event's last segment (phase, tx, note; log once the
 * job creator reports container output) or `state` for the job's own state changes; `data` is the event's
 * detail with bigints as decimal strings. New kinds of progress event arrive here without changing the shape.
 */
export interface JobEvent { seq: number, at: number, type: string, data: Record<string, unknown> }

export interface JobResult {
  dealId: string
  resultCid: string
  path: string
  exitCode: number
  /** the result's status file (node/executor/status.ts); null when it has none or it is malformed */
  status: ResultStatus | null
  challenged: boolean
  verdict?: string
  retries: Array<{ provider: string, dealId?: string, reason: string }>
  phasesMs: Record<string, number>
  /** the CID each input file was passed as */
  inputFiles?: Record<string, string>
}

export interface JobError { name: string, message: string, hint?: string }

export interface JobRecord extends StoredRecord {
  createdAt: number
  request: JobSubmission
  /** the chain the job settles on (records written before there were several: absent, the network's first) */
  chainId?: number
  state: JobState
  phase?: Phase
  /** every deal countersigned for the job, oldest first (a retry adds one) */
  dealIds: string[]
  events: JobEvent[]
  /** events dropped from the front of the history (it keeps the newest) */
  eventsDropped: number
  outcome?: JobResult
  error?: JobError
  /** the node restarted while the job's deal was open: the job follows the resumed deal */
  resumed?: boolean
}

/** What cancel did, in money. */
export interface CancelAnswer {
  id: string
  /** true: the job ends as cancelled; false: a deal was countersigned and runs to its end */
  cancelled: boolean
  state: JobState
  dealId?: string
  /** what happens to the money, in words a person reads */
  money: string
}

export interface JobServiceInit {
  /** jobs not yet ended (queued + running) at most; beyond, submit throws TooManyJobsError (default 256) */
  maxUnfinished?: number
  /** jobs given to the job creator at once (default 64); the rest wait as `queued` */
  maxRunning?: number
  /** events kept per job (default 256) */
  maxEvents?: number
  /** ended jobs kept; the oldest beyond are removed (default 1000) */
  maxKept?: number
}

export const defaultJobServiceInit: Required<JobServiceInit> = { maxUnfinished: 256, maxRunning: 64, maxEvents: 256, maxKept: 1000 }

interface JobServiceEvents {
  event: [id: string, e: JobEvent]
  change: [job: JobRecord]
}

/** bigints → decimal strings, so a detail is plain JSON */
function plain (detail: unknown): Record<string, unknown> {
  if (detail === null || typeof detail !== 'object') return { value: detail }
  return JSON.parse(JSON.stringify(detail, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v)) as Record<string, unknown>
}

function errorOf (err: unknown): JobError {
  const e = err as Error & { hint?: unknown }
  return { name: typeof e?.name === 'string' ? e.name : 'Error', message: String(e?.message ?? err).slice(0, 2000), ...(typeof e?.hint === 'string' ? { hint: e.hint } : {}) }
}

export class JobService extends EventEmitter<JobServiceEvents> {
  readonly store: DealStore<JobRecord>
  private readonly c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  private readonly creators: JobCreators
  private readonly init: Required<JobServiceInit>
  private readonly jobs = new Map<string, JobRecord>()
  /** remote job creators (a browser wallet) of jobs not yet ended */
  private readonly signers = new Map<string, RemoteSigner>()
  private readonly queue: string[] = []
  private readonly live = new Map<string, { ac: AbortController, cancel?: boolean, done: Promise<void> }>()
  private readonly followed = new Set<Promise<void>>()
  private readonly writes = new Map<string, Promise<void>>()
  private readonly pending = new Set<string>()
  private readonly stopController = new AbortController()
  private stopping = false

  constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, jobCreators: JobCreators, dataDir: string, init: JobServiceInit = {}) {
    super()
    this.setMaxListeners(0)
    this.c = { ...components, logger: components.logger.child({ component: 'jobs' }) }
    this.creators = jobCreators
    this.init = { ...defaultJobServiceInit, ...init }
    this.store = new DealStore<JobRecord>(join(dataDir, 'jobs'), { clock: components.clock })
  }

  /** Loads the stored jobs; a job that was looking for a provider fails, one with a deal follows it again. */
  async start (): Promise<void> {
    const { records, corrupt } = await this.store.load()
    for (const f of corrupt) this.c.logger.warn({ file: f }, 'a job record could not be read (left in place)')
    for (const r of records) this.jobs.set(r.id, r)
    for (const job of records) {
      if (TERMINAL.has(job.state)) continue
      const dealId = job.dealIds.at(-1)
      if (dealId === undefined) { this.finish(job, 'failed', { error: errorOf(new NodeRestartedError()) }); continue }
      job.resumed = true
      this.event(job, 'note', { message: `the node restarted: following deal ${dealId}, resumed by the job creator's lifecycle` })
      this.setState(job, 'running')
      this.follow(job, dealId)
    }
    this.countStates()
  }

  /** Stops taking jobs; running ones are left as they are on disk (a restart resumes their deals). */
  async stop (): Promise<void> {
    this.stopping = true
    this.stopController.abort(new Error('job service stopping'))
    for (const signer of this.signers.values()) signer.close(new Error('the node is stopping'))
    this.signers.clear()
    for (const l of this.live.values()) l.ac.abort(new Error('node stopping'))
    await Promise.allSettled([...this.live.values()].map(async l => { await l.done }))
    await Promise.allSettled([...this.followed])
    await Promise.allSettled([...this.writes.values()])
  }

  /**
   * Queues a job. `opts.signer` signs as its job creator instead of the node's key (a browser wallet through the
   * API's RemoteSigner); it lives only in memory: after a restart such a job's deal is still followed, but a job
   * not yet matched fails like any other.
   */
  submit (request: JobSubmission, opts: { signer?: RemoteSigner } = {}): JobRecord {
    if (this.stopping) throw new Error('the job service is stopping')
    let unfinished = 0
    for (const j of this.jobs.values()) if (!TERMINAL.has(j.state)) unfinished++
    if (unfinished >= this.init.maxUnfinished) throw new TooManyJobsError(this.init.maxUnfinished)
    const now = this.c.clock.now()
    const chainId = request.chainId ?? this.creators.defaultChainId
    const job: JobRecord = { id: `job-${randomBytes(8).toString('hex')}`, terminal: false, createdAt: now, updatedAt: now, request, chainId, state: 'queued', dealIds: [], events: [], eventsDropped: 0 }
    this.jobs.set(job.id, job)
    if (opts.signer !== undefined) this.signers.set(job.id, opts.signer)
    this.event(job, 'state', { state: 'queued' })
    this.c.logger.info({ job: job.id, module: request.module, chainId }, 'job submitted')
    this.queue.push(job.id)
    this.pump()
    this.countStates()
    return job
  }

  /** The remote signer of a job that has one and has not ended. */
  signerOf (id: string): RemoteSigner | undefined { return this.signers.get(id) }

  /** Adds an event to a job's history and stream (a remote signer's requests and answers). */
  note (id: string, type: string, data: Record<string, unknown>): void {
    const job = this.get(id)
    if (!job.terminal) this.event(job, type, data)
  }

  /** The chain a job settles on. */
  chainOf (job: JobRecord): number { return job.chainId ?? this.creators.defaultChainId }

  /** The job creator of the job's chain: the one its deals are kept by. */
  async jobCreatorOf (job: JobRecord, opts: { waitForChain?: boolean } = {}): Promise<JobCreator> {
    const chainId = this.chainOf(job)
    const when = this.creators.jobCreatorWhenJoined
    return opts.waitForChain === true && when !== undefined ? await when(chainId) : await this.creators.jobCreatorOn(chainId)
  }

  /** Newest first. */
  list (): JobRecord[] {
    return [...this.jobs.values()].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
  }

  get (id: string): JobRecord {
    const job = this.jobs.get(id)
    if (job === undefined) throw new JobNotFoundError(id)
    return job
  }

  /** Calls `listener` with each new event of the job until the returned function is called. */
  subscribe (id: string, listener: (e: JobEvent) => void): () => void {
    const on = (jobId: string, e: JobEvent): void => { if (jobId === id) listener(e) }
    this.on('event', on)
    return () => { this.off('event', on) }
  }

  async cancel (id: string): Promise<CancelAnswer> {
    const job = this.get(id)
    if (job.state === 'cancelled') return { id, cancelled: true, state: job.state, money: 'nothing was spent: the job was cancelled before any deal was agreed' }
    if (TERMINAL.has(job.state)) throw new JobEndedError(id, job.state)
    const dealId = job.dealIds.at(-1)
    if (dealId === undefined) {
      const q = this.queue.indexOf(id)
      if (q >= 0) {
        this.queue.splice(q, 1)
        this.finish(job, 'cancelled', { error: errorOf(new JobCancelledError(id)) })
      } else {
        const l = this.live.get(id)
        if (l !== undefined) {
          l.cancel = true
          l.ac.abort(new JobCancelledError(id))
          // a signature the wallet was asked for is not waited for any more
          this.signers.get(id)?.close(new JobCancelledError(id))
          await l.done
        }
      }
      // a provider may have countersigned in the same moment: then the job follows that deal (below)
      if ((job.state as JobState) === 'cancelled') return { id, cancelled: true, state: job.state, money: 'nothing was spent: no provider had agreed a deal, the deposit is untouched' }
    }
    return await this.tooLate(job)
  }

  private async tooLate (job: JobRecord): Promise<CancelAnswer> {
    const dealId = job.dealIds.at(-1) as string
    const rec = await (await this.jobCreatorOf(job)).deals.get(dealId)
    let money = `deal ${dealId} was countersigned by its provider and runs to its end`
    if (rec !== undefined) {
      const price = formatLP(rec.deal.price)
      const fee = formatLP(rec.deal.mediationFee)
      money = `deal ${dealId} was countersigned by ${rec.deal.resourceProvider}; the Market has no cancel for it, so it runs to its end: ` +
        `once its agree is mined ${price} LP + ${fee} LP mediation fee are locked from the deposit; if the provider delivers a result within ${rec.deal.resultTimeout} s of the agree, ` +
        `the result is fetched and ${price} LP paid (the fee comes back); if not, the ${price} LP + ${fee} LP come back with the provider's collateral at the deadline; ` +
        'if the agree is never mined, nothing is spent'
    }
    this.event(job, 'note', { message: `cancel asked too late: ${money}` })
    return { id: job.id, cancelled: false, state: job.state, dealId, money }
  }

  // ---- running ----

  private pump (): void {
    while (!this.stopping && this.live.size < this.init.maxRunning && this.queue.length > 0) {
      const id = this.queue.shift() as string
      const job = this.jobs.get(id)
      if (job === undefined || job.state !== 'queued') continue
      const ac = new AbortController()
      const entry: { ac: AbortController, cancel?: boolean, done: Promise<void> } = { ac, done: Promise.resolve() }
      this.live.set(id, entry)
      entry.done = this.run(job, ac.signal, entry).finally(() => { this.live.delete(id); this.pump() })
    }
  }

  private async run (job: JobRecord, signal: AbortSignal, entry: { cancel?: boolean }): Promise<void> {
    this.setState(job, 'matching')
    const r = job.request
    const req: JobRequest = {
      module: r.module,
      inputs: r.inputs,
      signal,
      onProgress: (evt: ProgressEvent) => { this.onProgress(job, evt) },
      ...(r.inputFiles !== undefined ? { inputFiles: r.inputFiles } : {}),
      ...(r.maxPrice !== undefined ? { maxPrice: r.maxPrice } : {}),
      ...(r.target !== undefined ? { target: r.target } : {}),
      ...(r.mediators !== undefined ? { mediators: r.mediators } : {}),
      ...(r.auditProbability !== undefined ? { auditProbability: r.auditProbability } : {}),
      ...(r.gpu !== undefined ? { gpu: r.gpu } : {}),
      ...(r.machine !== undefined ? { machine: r.machine } : {}),
      ...(r.accept !== undefined ? { accept: r.accept } : {}),
      ...(this.signers.has(job.id) ? { signer: this.signers.get(job.id) } : {})
    }
    try {
      const o = await (await this.jobCreatorOf(job)).run(req)
      const status = await this.statusOf(job, o.path)
      this.finish(job, 'done', {
        outcome: {
          dealId: o.dealId, resultCid: o.resultCid, path: o.path, exitCode: o.exitCode, status, challenged: o.challenged,
          retries: o.retries, phasesMs: o.phasesMs, ...(o.verdict !== undefined ? { verdict: o.verdict } : {}), ...(o.inputFiles !== undefined ? { inputFiles: o.inputFiles } : {})
        }
      })
    } catch (err) {
      // stopping: the record stays as it is; the next start follows its deal or fails it
      if (this.stopping) return
      const dealId = job.dealIds.at(-1)
      if (signal.aborted && entry.cancel === true) {
        // a deal countersigned in the moment of the cancel stays with the job: its lifecycle decides the money
        if (dealId !== undefined) { this.follow(job, dealId); return }
        this.finish(job, 'cancelled', { error: errorOf(new JobCancelledError(job.id)) })
        return
      }
      this.finish(job, 'failed', { error: errorOf(err) })
    }
  }

  /** Follows a deal the job creator's lifecycle drives (after a restart, or a cancel that came too late). */
  private follow (job: JobRecord, dealId: string): void {
    const p = (async () => {
      // (a chain down at start: its deal is followed once the node has joined it)
      const jc = await this.jobCreatorOf(job, { waitForChain: true })
      const rec0 = await jc.deals.get(dealId)
      if (rec0 === undefined) { this.finish(job, 'failed', { error: errorOf(new NodeRestartedError()) }); return }
      const rec = await jc.driver.until(dealId, r => jobView(r).status !== 'waiting', this.stopController.signal)
      const view = jobView(rec)
      if (view.status === 'done' && rec.path !== undefined && rec.resultCid !== undefined) {
        const status = await this.statusOf(job, rec.path)
        const challenged = rec.phase === 'mediated' || rec.phase === 'challenged' || rec.challengedAt !== undefined
        this.finish(job, 'done', { outcome: { dealId, resultCid: rec.resultCid, path: rec.path, exitCode: rec.exitCode ?? -1, status, challenged, retries: [], phasesMs: {} } })
        return
      }
      const reason = 'reason' in view ? view.reason : 'the deal ended without a result we hold'
      this.finish(job, 'failed', { error: { name: view.status === 'moved-on' ? 'DealEndedError' : 'ResultUnavailableError', message: `deal ${dealId}: ${reason}`, hint: 'the deal\'s money was settled by its lifecycle; submit the job again' } })
    })().catch(err => {
      if (!this.stopping) { reportError(this.c, 'jobs', err, 'following a job\'s deal failed', { job: job.id, dealId }); this.finish(job, 'failed', { error: errorOf(err) }) }
    })
    this.followed.add(p)
    void p.finally(() => { this.followed.delete(p) })
  }

  private async statusOf (job: JobRecord, path: string): Promise<ResultStatus | null> {
    try {
      return (await readResultStatus(path)) ?? null
    } catch (err) {
      this.event(job, 'note', { message: `the result's status file is malformed: ${(err as Error).message}` })
      return null
    }
  }

  private onProgress (job: JobRecord, evt: ProgressEvent): void {
    const type = evt.type.split(':').at(-1) ?? evt.type
    const data = plain(evt.detail)
    if (type !== 'phase') { this.event(job, type, data); return }
    const phase = data.phase as Phase
    job.phase = phase
    if (typeof data.dealId === 'string' && !job.dealIds.includes(data.dealId)) job.dealIds.push(data.dealId)
    // the phase first, then the state it moves the job to
    this.event(job, type, data)
    if (phase !== 'offered' && job.state === 'matching') this.setState(job, 'running')
    // a retry with another provider offers the job again
    if (phase === 'offered' && job.state === 'running') this.setState(job, 'matching')
  }

  // ---- records ----

  private event (job: JobRecord, type: string, data: Record<string, unknown>): void {
    const last = job.events.at(-1)
    const e: JobEvent = { seq: (last?.seq ?? job.eventsDropped) + 1, at: this.c.clock.now(), type, data }
    job.events.push(e)
    if (job.events.length > this.init.maxEvents) { job.events.shift(); job.eventsDropped++ }
    job.updatedAt = e.at
    this.persist(job)
    this.emit('event', job.id, e)
  }

  private setState (job: JobRecord, state: JobState): void {
    if (job.state === state) return
    job.state = state
    job.terminal = TERMINAL.has(state)
    this.event(job, 'state', { state })
    this.countStates()
    this.emit('change', job)
  }

  private finish (job: JobRecord, state: 'done' | 'failed' | 'cancelled', end: { outcome?: JobResult, error?: JobError }): void {
    if (TERMINAL.has(job.state)) return
    const signer = this.signers.get(job.id)
    if (signer !== undefined) { this.signers.delete(job.id); signer.close(new JobEndedError(job.id, state)) }
    if (end.outcome !== undefined) job.outcome = end.outcome
    if (end.error !== undefined) job.error = end.error
    this.c.logger.info({ job: job.id, state, ...(end.error !== undefined ? { error: end.error.name } : {}), ...(end.outcome !== undefined ? { dealId: end.outcome.dealId } : {}) }, 'job ended')
    this.setState(job, state)
    this.prune()
  }

  private persist (job: JobRecord): void {
    if (this.pending.has(job.id)) return
    this.pending.add(job.id)
    const prev = this.writes.get(job.id) ?? Promise.resolve()
    const next = prev.then(async () => {
      // changes made from here on schedule another write
      this.pending.delete(job.id)
      if (!this.jobs.has(job.id)) return
      await this.store.put({ ...job, events: [...job.events], dealIds: [...job.dealIds] })
    }).catch(err => { reportError(this.c, 'jobs', err, 'a job record was not written', { job: job.id }) })
    this.writes.set(job.id, next)
    void next.finally(() => { if (this.writes.get(job.id) === next) this.writes.delete(job.id) })
  }

  /** Keeps the newest `maxKept` ended jobs. */
  private prune (): void {
    const ended = [...this.jobs.values()].filter(j => j.terminal).sort((a, b) => a.updatedAt - b.updatedAt)
    for (const j of ended.slice(0, Math.max(0, ended.length - this.init.maxKept))) {
      this.jobs.delete(j.id)
      const prev = this.writes.get(j.id) ?? Promise.resolve()
      const next = prev.then(async () => { await this.store.remove(j.id) }).catch(err => { reportError(this.c, 'jobs', err, 'an old job record was not removed', { job: j.id }) })
      this.writes.set(j.id, next)
      void next.finally(() => { if (this.writes.get(j.id) === next) this.writes.delete(j.id) })
    }
  }

  private countStates (): void {
    const n = Object.fromEntries(JOB_STATES.map(s => [s, 0])) as Record<JobState, number>
    for (const j of this.jobs.values()) n[j.state]++
    for (const s of JOB_STATES) this.c.metrics.userJobs.set({ state: s }, n[s])
  }
}
