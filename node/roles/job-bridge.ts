// The job bridge ("lilypad jobcreator"): contract-triggered jobs. Its key must be approved as a bridge by the
// Directory's owner and hold a bond in the JobManager. It registers as job creator and bridge; the chain follower
// tells it of JobRequested on the JobManager (and, after a restart, it looks for the ones it missed from the block
// it had reached). Each job follows the bridge lifecycle (core/lifecycle/bridge.ts): picked up (so the client can
// no longer cancel it), run through the network as an ordinary deal with its JobCreator, then
// completeJob(jobId, jobOffer, deal, resultCid, exitCode, stdout's first KiB) once the Market stands by the result —
// the JobManager checks that the job offer is the deal's and asked for the requested module and inputs, locks
// payment + bond until the dispute window passes and calls the client back; failJob(jobId, reason) refunds the
// client when the request is refused, the job cannot run, its result was judged wrong or never came, or its
// deadline passed. A job the chain shows closed or picked up by another bridge is skipped, so restarts and several
// bridges never act twice on one job. When a client disputes one of its jobs, it draws the job's mediator at once
// from the dispute block's hash (`drawJobMediator`, retried each block while the hash does not exist yet, until the
// 256 blocks the draw may use have passed). (docs/contracts.md: what a bridge must still gain.)
import { EventEmitter } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { getBytes } from 'ethers'
import type { NetworkFile } from '../config/network.ts'
import { Roles, ContractRevertError, type ChainClient, type JobManagerChainEvent } from '../chain/index.ts'
import { BlockCursor } from '../chain/cursor.ts'
import { nextBlock } from '../chain/follower.ts'
import { DealStore } from '../deal-store/deal-store.ts'
import type { Deal } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { clip, vetRequest, defaultAllowedModules, checkTemplateInputs, MAX_REASON_BYTES } from '../../protocols/contract-job/index.ts'
import { reportError, type Components } from '../components.ts'
import { loadRegistry, resolveModule } from '../modules/refs.ts'
import { contractOutput } from './delivery.ts'
import { readModuleTemplate } from '../modules/index.ts'
import { templateInputs } from '../modules/declared-inputs.ts'
import { LifecycleDriver, followClock, type Lifecycle } from '../lifecycle/driver.ts'
import { chainCall } from '../lifecycle/chain-call.ts'
import { FetchSlots } from '../inputs/fetch-slots.ts'
import { requestedJob, stepBridge, bridgeFailure, type BridgeJob, type BridgeEvent, type BridgeAction, type BridgeFacts } from '../../core/lifecycle/bridge.ts'

/** What the bridge needs of a job creator (node/roles/job-creator.ts `JobCreator` fits). */
export interface JobRunner {
  run: (req: { module: string, inputs: Record<string, string>, maxPrice?: bigint, signal?: AbortSignal }) => Promise<{ dealId: string, deal: Deal, resultCid: string, jobOffer: Envelope<'JobOffer'>, exitCode: number, path: string }>
}

/** The bridge's record of one job: the lifecycle's data. */
export type BridgeJobRecord = BridgeJob

export interface JobBridgeInit {
  chain: ChainClient
  jobCreator: JobRunner
  network: NetworkFile
  /** state lives in <dataDir>/bridge */
  dataDir: string
  /** the libp2p peer id registered with the job-creator role (so mediators can pull dispute cases from it) */
  peerId?: string
  /** jobs run at once (default 2) */
  concurrency?: number
  /** register in the Directory contract (default true) */
  register?: boolean
  /**
   * The modules a contract may have this bridge run, exactly as named (default: the built-in registry's
   * versioned names, `defaultAllowedModules`). A request naming anything else — a local path or file:// URL
   * (never run), an unpinned git URL, a name not listed — is failed on chain with the rule it broke
   * (protocols/contract-job `vetRequest`), before the bridge resolves or fetches anything for it.
   */
  allowedModules?: string[]
  /** where the built-in registry lives (tests; default the repository's modules/) */
  modulesDir?: string
}

export interface JobBridgeMetrics { requested: number, completed: number, failed: number, skipped: number }

export class JobBridge extends EventEmitter<{ completed: [BridgeJobRecord], failed: [BridgeJobRecord], failure: [Error] }> {
  readonly metrics: JobBridgeMetrics = { requested: 0, completed: 0, failed: 0, skipped: 0 }
  readonly jobs: DealStore<BridgeJobRecord>
  readonly driver: LifecycleDriver<BridgeJob, BridgeEvent, BridgeAction, BridgeFacts>
  private readonly init: JobBridgeInit
  private readonly c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  private readonly dir: string
  private readonly cursor: BlockCursor
  private readonly offs: Array<() => void> = []
  /** jobs allowed to run at once; the rest wait for a turn, and one aborted while waiting leaves the line */
  private readonly turns: FetchSlots
  /** the modules contracts may ask for, fixed at start (the option, or the built-in registry's names) */
  private allowed: string[] = []
  private started = false
  /** aborted at stop: ends the mediator draws waiting for a block */
  private draws = new AbortController()
  /** disputes whose draw is under way (a dispute seen live and again in the restart scan is drawn once) */
  private readonly drawing = new Set<string>()

  private constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, init: JobBridgeInit) {
    super()
    this.init = init
    this.c = { ...components, logger: components.logger.child({ component: 'job-bridge' }) }
    this.dir = join(init.dataDir, 'bridge')
    this.turns = new FetchSlots(init.concurrency ?? 2)
    this.cursor = new BlockCursor(join(this.dir, 'cursor.json'), init.network.deployBlock)
    this.jobs = new DealStore<BridgeJobRecord>(join(this.dir, 'jobs'))
    this.driver = new LifecycleDriver(components, this.lifecycle(), this.jobs, { now: () => init.chain.follower.chainNow(), clockMoved: listener => followClock(init.chain.follower, listener) })
    this.driver.on('change', (rec, prev) => {
      if (!rec.terminal || prev?.terminal === true) return
      this.metrics[rec.phase as 'completed' | 'failed' | 'skipped']++
      if (rec.phase === 'completed') this.emit('completed', rec)
      if (rec.phase === 'failed') this.emit('failed', rec)
    })
  }

  static async create (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, init: JobBridgeInit): Promise<JobBridge> {
    return new JobBridge(components, init)
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    await mkdir(this.dir, { recursive: true })
    this.allowed = this.init.allowedModules ?? defaultAllowedModules(Object.keys(loadRegistry(this.init.modulesDir)))
    const chain = this.init.chain
    if (this.init.register !== false) await chain.ensureRole(Roles.JobCreator | Roles.Bridge, this.init.peerId)
    this.draws = new AbortController()
    this.offs.push(chain.follower.subscribe({ contract: 'JobManager', event: 'JobRequested' }, async e => { await this.onRequested(e as JobManagerChainEvent) }))
    this.offs.push(chain.follower.subscribe({ contract: 'JobManager', event: 'JobDisputed' }, e => { this.onDisputed(e as JobManagerChainEvent) }))
    // a job closed on chain (by us, another bridge, the client's refund) is re-read at once
    this.offs.push(chain.follower.subscribe({ contract: 'JobManager' }, e => {
      const jobId = (e.args as { jobId?: bigint }).jobId
      if (jobId !== undefined && e.name !== 'JobRequested') this.driver.refresh(`job-${jobId}`)
    }))
    const blockListener = (n: number): void => { void this.cursor.save(n + 1).catch(err => { reportError(this.c, 'job-bridge', err, 'could not save the bridge cursor') }) }
    chain.follower.on('block', blockListener)
    this.offs.push(() => { chain.follower.off('block', blockListener) })
    if (!chain.follower.running) await chain.follower.start()
    const from = await this.cursor.load()
    for (const e of await chain.follower.findJobs('JobRequested', from)) await this.onRequested(e)
    // disputes of the last 256 blocks, missed while stopped, can still be drawn
    for (const e of await chain.follower.findJobs('JobDisputed', from)) this.onDisputed(e)
    await this.driver.resume()
  }

  /** Stops following and aborts running jobs; their records stay open and resume at the next start. */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.draws.abort()
    for (const off of this.offs.splice(0)) off()
    // (jobs waiting for a turn are aborted with the driver's signal)
    await this.driver.stop()
  }

  private async onRequested (e: JobManagerChainEvent): Promise<void> {
    if (e.name !== 'JobRequested') return
    const a = e.args
    const id = `job-${a.jobId}`
    if (await this.jobs.get(id) !== undefined) return
    this.metrics.requested++
    // the request is vetted at the edge (protocols/contract-job vetRequest: the module allow-list, the inputs'
    // form): one that cannot be run as asked, or came after its deadline, is failed at once
    const vetted = vetRequest({ jobId: a.jobId, module: a.module, inputs: a.inputs, deadline: Number(a.deadline) }, { allowed: this.allowed, minSecondsLeft: 0 }, Math.floor(this.init.chain.follower.chainNow() / 1000))
    const inputs: Record<string, string> = vetted.action === 'run' ? vetted.inputs : {}
    const refused = vetted.action === 'fail' ? vetted.reason : undefined
    this.c.logger.info({ jobId: String(a.jobId), module: a.module, client: a.client, ...(refused !== undefined ? { refused } : {}) }, 'a contract asked for a job')
    await this.driver.add(requestedJob({ jobId: String(a.jobId), client: a.client, module: a.module, inputs, payment: a.payment, deadline: Number(a.deadline) }, refused))
  }

  /** A client disputed a job: if it is ours, its mediator is drawn now (the job's client may never draw it). */
  private onDisputed (e: JobManagerChainEvent): void {
    if (e.name !== 'JobDisputed') return
    const jobId = e.args.jobId
    const key = String(jobId)
    if (this.drawing.has(key)) return
    this.drawing.add(key)
    void this.drawMediator(jobId, e.blockNumber, this.draws.signal)
      .catch(err => { reportError(this.c, 'job-bridge', err, 'could not draw a disputed job\'s mediator', { jobId: key }) })
      .finally(() => { this.drawing.delete(key) })
  }

  /**
   * Sends `drawJobMediator` from the block after the dispute's (`MediatorDrawNotReady` before it, or when the RPC
   * fails: tried again at the next block) until 256 blocks after it; the chain decides who else got there first.
   */
  private async drawMediator (jobId: bigint, disputeBlock: number, signal: AbortSignal): Promise<void> {
    const chain = this.init.chain
    const job = await chain.contractJob(jobId)
    if (job.bridge.toLowerCase() !== chain.address.toLowerCase()) return
    const fields = { jobId: String(jobId), disputeBlock }
    for (;;) {
      if (signal.aborted) return
      try {
        const mediator = await chain.drawJobMediator(jobId)
        this.c.logger.info({ ...fields, mediator }, 'drew a disputed job\'s mediator')
        return
      } catch (err) {
        if (err instanceof ContractRevertError && err.reason !== 'MediatorDrawNotReady') {
          // MediatorAlreadyDrawn / WrongJobStatus: someone drew, or the dispute ended; MediatorDrawClosed: too late
          this.c.logger.info({ ...fields, reason: err.reason }, 'no mediator draw for a disputed job')
          return
        }
        if (!(err instanceof ContractRevertError)) reportError(this.c, 'job-bridge', err, 'drawJobMediator failed; trying again at the next block', fields)
      }
      const head = await nextBlock(this.init.chain.follower, signal)
      if (head > disputeBlock + 256) {
        this.c.logger.warn(fields, 'a disputed job\'s mediator was not drawn within 256 blocks: the dispute times out')
        return
      }
    }
  }

  private lifecycle (): Lifecycle<BridgeJob, BridgeEvent, BridgeAction, BridgeFacts> {
    const chain = this.init.chain
    return {
      role: 'job-bridge',
      step: (rec, input) => stepBridge(rec, input),
      failure: bridgeFailure,
      facts: async rec => {
        const job = await chain.contractJob(BigInt(rec.jobId))
        const mine = job.bridge.toLowerCase() === chain.address.toLowerCase()
        if (rec.dealId === undefined) return { job: job.status, mine }
        const d = await chain.dealRecord(rec.dealId)
        return { job: job.status, mine, deal: { state: d.state, since: d.since } }
      },
      watch: (rec, changed) => rec.dealId === undefined ? () => {} : chain.follower.onDeal(rec.dealId, () => { changed() }),
      perform: async (rec, a, signal) => await this.perform(rec, a, signal),
      longRunning: a => a.kind === 'run',
      refetch: (prev, next) => prev.dealId !== next.dealId || (next.pickUpRefused !== undefined && prev.pickUpRefused === undefined),
      describe: rec => ({ jobId: rec.jobId, ...(rec.dealId !== undefined ? { dealId: rec.dealId } : {}), ...(rec.reason !== undefined ? { reason: rec.reason } : {}) })
    }
  }

  private async perform (rec: BridgeJob, a: BridgeAction, signal: AbortSignal): Promise<BridgeEvent> {
    const chain = this.init.chain
    switch (a.kind) {
      case 'pick-up': {
        // claimed before anything is spent on it: the client can no longer cancel, no other bridge can take it
        return await chainCall<BridgeEvent>(async () => await chain.pickUpJob(BigInt(rec.jobId)), { type: 'picked-up' }, reason => ({ type: 'pick-up-failed', reason }))
      }
      case 'run': {
        const release = await this.turns.acquire(signal) // aborted while waiting: stopping, resumed at the next start
        try {
          // an input the template never reads (a misspelt key) or reads unguarded and lacks would otherwise
          // silently fall back to a default: the client is told which, and refunded
          const wrong = await this.templateInputsProblem(rec)
          if (wrong !== null) return { type: 'run-failed', reason: wrong }
          const out = await this.init.jobCreator.run({ module: rec.module, inputs: rec.inputs, maxPrice: rec.payment, signal })
          // the deal is watched from now on (its result must stand before completeJob)
          this.offs.push(chain.follower.onDeal(out.dealId, () => { this.driver.refresh(rec.id) }))
          return { type: 'ran', dealId: out.dealId, deal: out.deal, jobOffer: out.jobOffer.value, resultCid: out.resultCid, exitCode: out.exitCode, output: await contractOutput(out.path) }
        } catch (err) {
          if (signal.aborted) throw err // stopping: resumed at the next start
          return { type: 'run-failed', reason: `${(err as Error).name}: ${(err as Error).message}` }
        } finally {
          release()
        }
      }
      case 'complete':
        return await chainCall<BridgeEvent>(async () => await chain.completeJob(BigInt(rec.jobId), rec.jobOffer!, rec.deal!, rec.resultCid!, rec.exitCode ?? -1, getBytes(rec.output ?? '0x')), { type: 'completed' }, reason => ({ type: 'complete-failed', reason }))
      case 'fail': {
        return await chainCall<BridgeEvent>(async () => await chain.failJob(BigInt(rec.jobId), clip(a.reason, MAX_REASON_BYTES)), { type: 'failed' }, reason => ({ type: 'fail-failed', reason }))
      }
    }
  }

  /** What is wrong with the request's inputs for its module's template, or null. */
  private async templateInputsProblem (rec: BridgeJob): Promise<string | null> {
    const module = await resolveModule(rec.module, this.init.modulesDir !== undefined ? { modulesDir: this.init.modulesDir } : {})
    return checkTemplateInputs(rec.module, templateInputs(await readModuleTemplate(module)), rec.inputs)
  }
}
