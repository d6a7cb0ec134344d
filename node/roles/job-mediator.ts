// The mediator's side of contract-job disputes (JobManager; docs/contracts.md, "the job-dispute mediator's duties").
// A client disputed a delivered job and `drawJobMediator` named us (JobMediatorDrawn). We re-run the job the
// contract asked for — its module and inputs as the chain's JobRequested carries them, vetted by the bridges' own
// rules (the module allow-list, the inputs' form), never anything a party pushes — with the Market mediator's re-run
// (Mediator.reexecute: the same pinned image, staging and limits), judge the whole delivery JobCompleted records —
// the result directory's CID, the exit code and the inline output (stdout's first KiB) must all be the re-run's —
// and send mediateJob(jobId, correct), again at each block while the RPC fails, until the
// mediation window ends. A job we cannot re-run (a module off the allow-list, inputs that fail to stage here, no
// request on chain) is logged with the reason and left to time out (`timeoutJobDispute` lets the result stand):
// never judged wrong for our own failure. Each dispute is kept on disk; a restarted mediator resumes the open ones
// and looks for draws naming it from the block it had reached.
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { ContractRevertError, type ChainClient, type JobManagerChainEvent } from '../chain/index.ts'
import { nextBlock } from '../chain/follower.ts'
import { DealStore } from '../deal-store/deal-store.ts'
import { loadRegistry } from '../modules/refs.ts'
import { checkModule, defaultAllowedModules, parseRequestInputs, RequestInputsError } from '../../protocols/contract-job/index.ts'
import { reportError, type Components } from '../components.ts'
import { contractOutput, resultExitCode } from './delivery.ts'

/** One contract job's dispute as this mediator sees it. */
export interface JobDisputeRecord {
  /** `job-<jobId>` */
  id: string
  terminal: boolean
  updatedAt: number
  jobId: string
  /** open: being judged; judged: our verdict is on chain; abstained: left to time out; closed: ended without us */
  phase: 'open' | 'judged' | 'abstained' | 'closed'
  /** the CID the bridge delivered */
  resultCid?: string
  /** the CID of our re-run's result directory */
  mediatorCid?: string
  /** what in the delivery differs from the re-run (a wrong verdict's grounds) */
  mismatch?: string
  resultCorrect?: boolean
  reason?: string
}

export interface JobVerdictEvent { jobId: string, resultCorrect: boolean, resultCid: string, mediatorCid: string }

export interface JobMediatorMetrics {
  drawn: number
  verdicts: { correct: number, wrong: number }
  /** cases we could not judge (left to time out) */
  abstained: number
  /** cases that ended on chain before our verdict (someone timed the dispute out, or we were not its mediator) */
  closed: number
}

export interface JobMediatorInit {
  chain: ChainClient
  /** state lives in <dir>/job-disputes */
  dir: string
  /** the Market mediator's re-run (Mediator.reexecute) */
  rerun: (id: string, job: { module: string, inputs: Record<string, string> }, deliveredCid: string, signal: AbortSignal) => Promise<{ cid: string, resultDir: string }>
  /** the modules a contract job may name (default: the built-in registry's versioned names, as bridges) */
  allowedModules?: string[]
  /** where the built-in registry lives (tests; default the repository's modules/) */
  modulesDir?: string
}

export class JobMediator extends EventEmitter<{ verdict: [JobVerdictEvent], abstained: [{ jobId: string, reason: string }], closed: [{ jobId: string, reason: string }], retrying: [{ jobId: string, err: Error }] }> {
  readonly metrics: JobMediatorMetrics = { drawn: 0, verdicts: { correct: 0, wrong: 0 }, abstained: 0, closed: 0 }
  readonly records: DealStore<JobDisputeRecord>
  private readonly init: JobMediatorInit
  private readonly c: Pick<Components, 'logger' | 'metrics'>
  private readonly working = new Map<string, Promise<void>>()
  private readonly taking = new Set<string>()
  private readonly offs: Array<() => void> = []
  private abort = new AbortController()
  private allowed: string[] = []

  constructor (components: Pick<Components, 'logger' | 'metrics'>, init: JobMediatorInit) {
    super()
    this.init = init
    this.c = { ...components, logger: components.logger.child({ component: 'job-mediator' }) }
    this.records = new DealStore<JobDisputeRecord>(join(init.dir, 'job-disputes'))
  }

  private get address (): string { return this.init.chain.address }

  /** Follows draws naming us, takes up those since block `from` and resumes the open ones on disk. */
  async start (from: number): Promise<void> {
    const chain = this.init.chain
    if (chain.network.contracts.jobManager === undefined) return
    this.abort = new AbortController()
    this.allowed = this.init.allowedModules ?? defaultAllowedModules(Object.keys(loadRegistry(this.init.modulesDir)))
    this.offs.push(chain.follower.subscribe({ contract: 'JobManager', event: 'JobMediatorDrawn' }, async e => { await this.onDrawn(e as JobManagerChainEvent) }))
    for (const e of await chain.follower.findJobs('JobMediatorDrawn', from, { mediator: this.address })) await this.onDrawn(e)
    for (const rec of await this.records.open()) this.judge(rec)
  }

  /** Stops following and aborts the cases under way; they stay open on disk and resume at the next start. */
  async stop (): Promise<void> {
    for (const off of this.offs.splice(0)) off()
    this.abort.abort()
    await Promise.all(this.working.values())
  }

  private async onDrawn (e: JobManagerChainEvent): Promise<void> {
    if (e.name !== 'JobMediatorDrawn') return
    if (e.args.mediator.toLowerCase() !== this.address.toLowerCase()) return
    const jobId = String(e.args.jobId)
    const id = `job-${jobId}`
    // (a draw seen live and again in the start's scan is taken up once)
    if (this.taking.has(id)) return
    this.taking.add(id)
    try {
      if (await this.records.get(id) === undefined) await this.takeUp(e, id, jobId)
    } finally {
      this.taking.delete(id)
    }
  }

  private async takeUp (e: JobManagerChainEvent & { name: 'JobMediatorDrawn' }, id: string, jobId: string): Promise<void> {
    this.metrics.drawn++
    this.c.metrics.jobDisputes.inc({ outcome: 'drawn' })
    this.c.logger.info({ jobId, client: e.args.client }, 'a contract job\'s dispute drew us')
    this.judge(await this.records.put({ id, terminal: false, updatedAt: 0, jobId, phase: 'open' }))
  }

  /** Judges one case in the background (once at a time per job). */
  private judge (rec: JobDisputeRecord): void {
    if (this.working.has(rec.id)) return
    const signal = this.abort.signal
    const work = this.decide(rec, signal)
      .catch(err => { if (!signal.aborted) reportError(this.c, 'job-mediator', err, 'a contract job\'s dispute failed here; resumed at the next start', { jobId: rec.jobId }) })
      .finally(() => { this.working.delete(rec.id) })
    this.working.set(rec.id, work)
  }

  private async decide (start: JobDisputeRecord, signal: AbortSignal): Promise<void> {
    const chain = this.init.chain
    const jobId = BigInt(start.jobId)
    let rec = start
    const job = await chain.contractJob(jobId)
    const d = await chain.jobManager.disputes(jobId)
    if (job.status !== 'Disputed') { await this.close(rec, `the job is ${job.status}, no longer disputed`); return }
    if (d.mediator.toLowerCase() !== this.address.toLowerCase()) { await this.close(rec, `the dispute's mediator is ${d.mediator}`); return }
    const deadline = Number(d.deadline)
    const fields = { jobId: rec.jobId, deadline }
    if (rec.resultCorrect === undefined) {
      // (a mediator back after the window: nothing it sends can count)
      if (Math.floor(chain.follower.chainNow() / 1000) > deadline) { await this.close(rec, 'the mediation window passed before the re-run'); return }
      const judged = await this.rerun(jobId, signal)
      if (signal.aborted) return
      if ('abstain' in judged) { await this.abstain(rec, judged.abstain); return }
      rec = await this.records.put({ ...rec, ...judged })
      this.c.logger.info({ ...fields, resultCid: rec.resultCid, mediatorCid: rec.mediatorCid, resultCorrect: rec.resultCorrect, ...(rec.mismatch !== undefined ? { mismatch: rec.mismatch } : {}) }, 'a disputed contract job re-run')
    }
    const resultCorrect = rec.resultCorrect!
    for (;;) {
      if (signal.aborted) return
      try {
        await chain.mediateJob(jobId, resultCorrect)
        await this.records.put({ ...rec, phase: 'judged', terminal: true })
        if (resultCorrect) this.metrics.verdicts.correct++
        else this.metrics.verdicts.wrong++
        this.c.metrics.jobDisputes.inc({ outcome: resultCorrect ? 'correct' : 'wrong' })
        this.c.logger.info({ ...fields, resultCorrect }, 'mediated a contract job')
        this.emit('verdict', { jobId: rec.jobId, resultCorrect, resultCid: rec.resultCid ?? '', mediatorCid: rec.mediatorCid ?? '' })
        return
      } catch (err) {
        // WrongJobStatus (timed out meanwhile), MediationWindowClosed, NotJobMediator: the chain has decided
        if (err instanceof ContractRevertError) { await this.close(rec, `mediateJob reverted: ${err.reason}`); return }
        reportError(this.c, 'job-mediator', err, 'mediateJob failed; trying again at the next block', fields)
        this.emit('retrying', { jobId: rec.jobId, err: err as Error })
      }
      await nextBlock(chain.follower, signal)
      if (Math.floor(chain.follower.chainNow() / 1000) > deadline) { await this.abstain(rec, 'the mediation window passed while mediateJob kept failing'); return }
    }
  }

  /**
   * The job the contract asked for, re-run and held against the delivery JobCompleted recorded: the verdict and its
   * grounds, or why we cannot judge it.
   */
  private async rerun (jobId: bigint, signal: AbortSignal): Promise<Pick<JobDisputeRecord, 'resultCid' | 'mediatorCid' | 'resultCorrect' | 'mismatch'> | { abstain: string }> {
    const chain = this.init.chain
    const [req] = await chain.follower.findJobs('JobRequested', chain.network.deployBlock, { jobId })
    if (req === undefined || req.name !== 'JobRequested') return { abstain: 'no JobRequested for the job on chain' }
    const [done] = await chain.follower.findJobs('JobCompleted', chain.network.deployBlock, { jobId })
    if (done === undefined || done.name !== 'JobCompleted') return { abstain: 'no JobCompleted for the job on chain' }
    const m = checkModule(req.args.module, this.allowed)
    if (!m.ok) return { abstain: `not a module this mediator runs for a contract: ${m.reason ?? req.args.module}` }
    let inputs: Record<string, string>
    try {
      inputs = parseRequestInputs(req.args.inputs)
    } catch (err) {
      if (err instanceof RequestInputsError) return { abstain: `inputs refused: ${err.message}` }
      throw err
    }
    const delivered = { cid: done.args.resultCid, exitCode: Number(done.args.exitCode), output: done.args.output.toLowerCase() }
    let ran: { cid: string, resultDir: string }
    try {
      ran = await this.init.rerun(`job-${jobId}`, { module: req.args.module, inputs }, delivered.cid, signal)
    } catch (err) {
      if (signal.aborted) throw err
      return { abstain: `the re-run failed: ${(err as Error).name}: ${(err as Error).message}` }
    }
    const exitCode = await resultExitCode(ran.resultDir)
    const output = (await contractOutput(ran.resultDir)).toLowerCase()
    const mismatch = [
      ...(ran.cid !== delivered.cid ? [`result CID ${delivered.cid}, the re-run's ${ran.cid}`] : []),
      ...(exitCode !== delivered.exitCode ? [`exit code ${delivered.exitCode}, the re-run's ${exitCode}`] : []),
      ...(output !== delivered.output ? ['the inline output differs from the re-run\'s stdout'] : [])
    ]
    return { resultCid: delivered.cid, mediatorCid: ran.cid, resultCorrect: mismatch.length === 0, ...(mismatch.length > 0 ? { mismatch: mismatch.join('; ') } : {}) }
  }

  private async abstain (rec: JobDisputeRecord, reason: string): Promise<void> {
    this.c.logger.warn({ jobId: rec.jobId, reason }, 'cannot judge a disputed contract job: left to time out (the result stands)')
    await this.end(rec, 'abstained', reason)
  }

  private async close (rec: JobDisputeRecord, reason: string): Promise<void> {
    this.c.logger.info({ jobId: rec.jobId, reason }, 'a contract job\'s dispute ended without our verdict')
    await this.end(rec, 'closed', reason)
  }

  private async end (rec: JobDisputeRecord, phase: 'abstained' | 'closed', reason: string): Promise<void> {
    await this.records.put({ ...rec, phase, terminal: true, reason })
    this.metrics[phase]++
    this.c.metrics.jobDisputes.inc({ outcome: phase })
    this.emit(phase, { jobId: rec.jobId, reason })
  }
}
