// The job bridge ("lilypad jobcreator"): contract-triggered jobs. Its key must be approved as a bridge by the
// Directory's owner and hold a bond in the JobManager. It registers as job creator and bridge, follows
// JobRequested on the JobManager from the network's deploy block (resuming from the last block it processed, kept
// on disk), picks each job up (so the client can no longer cancel it), runs it through the network as an ordinary
// deal with its JobCreator, and calls completeJob(jobId, jobOffer, deal, resultCid, exitCode, stdout's first KiB)
// — the JobManager checks that the job offer is the deal's and asked for the requested module and inputs, and that
// the Market holds that CID as the deal's standing result, locks payment + bond until the dispute window passes
// and calls the client back. A job that cannot run (unknown module, no provider, job error, result judged wrong,
// deadline passed) is failed with failJob(jobId, reason), which refunds the client. A job the chain already shows
// completed, failed or refunded is skipped, so restarts and several bridges never act twice on one job.
// (See docs/contracts.md for what a bridge must still gain: its own allow-list, template-input checks, releases.)
import { EventEmitter } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { Interface, hexlify, getBytes } from 'ethers'
import { JobManagerAbi } from '../../contracts/generated/index.ts'
import type { NetworkFile } from '../config/network.ts'
import { Roles, ContractRevertError, type ChainClient } from '../chain/index.ts'
import { DealStore, type StoredRecord } from '../deal-store/deal-store.ts'
import type { Deal, JobOffer } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { parseRequestInputs, inlineOutput, clip, MAX_REASON_BYTES } from '../../protocols/contract-job/index.ts'
import { BlockCursor } from '../chain/cursor.ts'

const jobManager = new Interface(JobManagerAbi as unknown as string[])
const REQUESTED = jobManager.getEvent('JobRequested')!.topicHash

/** What the bridge needs of a job creator (node/roles/job-creator.ts `JobCreator` fits). */
export interface JobRunner {
  run: (req: { module: string, inputs: Record<string, string>, maxPrice?: bigint, signal?: AbortSignal }) => Promise<{ dealId: string, deal: Deal, resultCid: string, jobOffer: Envelope<'JobOffer'>, exitCode: number, path: string }>
}

export type BridgeStage = 'running' | 'ran' | 'completed' | 'failed' | 'skipped'

export interface BridgeJobRecord extends StoredRecord {
  jobId: string
  client: string
  module: string
  inputs: Record<string, string>
  payment: bigint
  deadline: number
  stage: BridgeStage
  dealId?: string
  deal?: Deal
  jobOffer?: JobOffer
  resultCid?: string
  exitCode?: number
  /** hex of the first KiB of stdout, as the callback carries it */
  output?: string
  reason?: string
}

export interface JobBridgeInit {
  chain: ChainClient
  jobCreator: JobRunner
  network: NetworkFile
  /** state lives in <dataDir>/bridge */
  dataDir: string
  /** the libp2p peer id registered with the job-creator role (so mediators can pull dispute cases from it) */
  peerId?: string
  /** between chain scans (default 1 s) */
  pollMs?: number
  /** jobs run at once (default 2) */
  concurrency?: number
  /** register in the Directory contract (default true) */
  register?: boolean
}

export interface JobBridgeMetrics { requested: number, completed: number, failed: number, skipped: number }

export class JobBridge extends EventEmitter<{ completed: [BridgeJobRecord], failed: [BridgeJobRecord], failure: [Error] }> {
  readonly metrics: JobBridgeMetrics = { requested: 0, completed: 0, failed: 0, skipped: 0 }
  readonly jobs: DealStore<BridgeJobRecord>
  private readonly init: JobBridgeInit
  private readonly dir: string
  private nextBlock = 0
  private readonly cursor: BlockCursor
  private timer: NodeJS.Timeout | undefined
  private scanning: Promise<void> | undefined
  private readonly working = new Map<string, Promise<void>>()
  private readonly waiting: string[] = []
  private readonly abort = new AbortController()
  private running = false

  private constructor (init: JobBridgeInit) {
    super()
    this.init = init
    this.dir = join(init.dataDir, 'bridge')
    this.cursor = new BlockCursor(join(this.dir, 'cursor.json'), init.network.deployBlock)
    this.jobs = new DealStore<BridgeJobRecord>(join(this.dir, 'jobs'))
  }

  static async create (init: JobBridgeInit): Promise<JobBridge> {
    return new JobBridge(init)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    await mkdir(this.dir, { recursive: true })
    if (this.init.register !== false) await this.init.chain.ensureRole(Roles.JobCreator | Roles.Bridge, this.init.peerId)
    this.nextBlock = await this.cursor.load()
    for (const r of await this.jobs.open()) this.schedule(r.id)
    await this.scan()
    this.timer = setInterval(() => { if (this.scanning === undefined) void this.scan() }, this.init.pollMs ?? 1000)
  }

  /** Stops scanning and aborts running jobs; their records stay open and resume at the next start. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    if (this.timer !== undefined) clearInterval(this.timer)
    this.abort.abort(new Error('bridge stopped'))
    await this.scanning
    await Promise.allSettled([...this.working.values()])
  }





  private scan (): Promise<void> {
    this.scanning = (async () => {
      try {
        const provider = this.init.chain.provider
        const latest = await provider.getBlockNumber()
        if (latest < this.nextBlock) return
        const logs = await provider.getLogs({ address: this.init.network.contracts.jobManager, topics: [REQUESTED], fromBlock: this.nextBlock, toBlock: latest })
        for (const log of logs) {
          const e = jobManager.parseLog({ topics: [...log.topics], data: log.data })
          if (e === null) continue
          const id = `job-${String(e.args.jobId)}`
          if (await this.jobs.get(id) !== undefined) continue
          this.metrics.requested++
          let inputs: Record<string, string> = {}
          let refused: string | undefined
          try { inputs = parseRequestInputs(e.args.inputs as string) } catch (err) { refused = clip(`inputs refused: ${(err as Error).message}`, MAX_REASON_BYTES) }
          await this.jobs.put({
            id, terminal: false, updatedAt: 0, jobId: String(e.args.jobId), client: e.args.client, module: e.args.module, inputs,
            payment: e.args.payment, deadline: Number(e.args.deadline), stage: 'running', ...(refused !== undefined ? { reason: refused } : {})
          })
          this.schedule(id)
        }
        this.nextBlock = latest + 1
        await this.cursor.save(this.nextBlock)
        // a job whose last step failed (RPC error) is retried on the next scan
        for (const r of await this.jobs.open()) this.schedule(r.id)
      } catch (err) {
        if (this.running) this.emit('failure', err as Error)
      } finally {
        this.scanning = undefined
      }
    })()
    return this.scanning
  }

  private schedule (id: string): void {
    if (!this.running || this.working.has(id) || this.waiting.includes(id)) return
    this.waiting.push(id)
    this.pump()
  }

  private pump (): void {
    while (this.running && this.working.size < (this.init.concurrency ?? 2) && this.waiting.length > 0) {
      const id = this.waiting.shift()!
      const p = (async () => {
        try {
          await this.handle(id)
        } catch (err) {
          if (this.running) this.emit('failure', err as Error)
        } finally {
          this.working.delete(id)
          this.pump()
        }
      })()
      this.working.set(id, p)
    }
  }

  private async finish (id: string, stage: 'completed' | 'failed' | 'skipped', extra: Partial<BridgeJobRecord> = {}): Promise<BridgeJobRecord> {
    const r = await this.jobs.update(id, cur => ({ ...cur!, ...extra, stage, terminal: true }))
    this.metrics[stage]++
    if (stage === 'completed') this.emit('completed', r)
    if (stage === 'failed') this.emit('failed', r)
    return r
  }

  private async handle (id: string): Promise<void> {
    const signal = this.abort.signal
    let rec = (await this.jobs.get(id))!
    const jobId = BigInt(rec.jobId)
    const chain = this.init.chain
    const onChain = await chain.contractJob(jobId)
    const mine = onChain.status === 'PickedUp' && onChain.bridge === chain.address
    if (onChain.status !== 'Open' && !mine) { await this.finish(id, 'skipped', { reason: `job ${onChain.status} on chain` }); return }
    const now = (await chain.provider.getBlock('latest'))!.timestamp
    // failJob is allowed after the deadline: the client learns why, at once, instead of finding it expired later
    if (now > rec.deadline) { await this.fail(id, jobId, 'expired: the deadline passed before the bridge could run it'); return }
    if (rec.reason !== undefined && rec.stage === 'running') { await this.fail(id, jobId, rec.reason); return }
    if (!mine) {
      // claimed before anything is spent on it: the client can no longer cancel, no other bridge can take it
      try {
        await chain.pickUpJob(jobId)
      } catch (err) {
        if (err instanceof ContractRevertError && ['WrongJobStatus', 'JobExpired'].includes(err.reason)) { await this.finish(id, 'skipped', { reason: `not picked up: ${err.reason}` }); return }
        throw err
      }
    }

    if (rec.stage === 'running' || rec.deal === undefined || rec.resultCid === undefined || rec.jobOffer === undefined) {
      try {
        const out = await this.init.jobCreator.run({ module: rec.module, inputs: rec.inputs, maxPrice: rec.payment, signal })
        const stdout = await readFile(join(out.path, 'stdout')).catch(() => new Uint8Array(0))
        rec = await this.jobs.update(id, cur => ({
          ...cur!, stage: 'ran', dealId: out.dealId, deal: out.deal, jobOffer: out.jobOffer.value, resultCid: out.resultCid, exitCode: out.exitCode, output: hexlify(inlineOutput(stdout))
        }))
      } catch (err) {
        if (signal.aborted) return // resumes at the next start
        await this.fail(id, jobId, `${(err as Error).name}: ${(err as Error).message}`)
        return
      }
    }

    // completeJob needs a result the Market stands by: not under challenge, not judged wrong.
    const verdict = await this.awaitStandingResult(rec.dealId!, rec.deadline, signal)
    if (verdict === 'aborted') return
    if (verdict !== 'ok') { await this.fail(id, jobId, verdict); return }
    try {
      await chain.completeJob(jobId, rec.jobOffer!, rec.deal!, rec.resultCid!, rec.exitCode ?? -1, getBytes(rec.output ?? '0x'))
      await this.finish(id, 'completed')
    } catch (err) {
      if (err instanceof ContractRevertError && err.reason === 'WrongJobStatus') { await this.finish(id, 'skipped', { reason: 'completed or failed meanwhile' }); return }
      if (err instanceof ContractRevertError && err.reason === 'JobExpired') { await this.fail(id, jobId, 'expired: the result came after the job deadline'); return }
      throw err
    }
  }

  private async fail (id: string, jobId: bigint, reason: string): Promise<void> {
    const short = clip(reason, MAX_REASON_BYTES)
    try {
      await this.init.chain.failJob(jobId, short)
      await this.finish(id, 'failed', { reason: short })
    } catch (err) {
      if (err instanceof ContractRevertError && ['WrongJobStatus', 'PickedUpByAnother'].includes(err.reason)) { await this.finish(id, 'skipped', { reason: 'completed or failed meanwhile' }); return }
      throw err
    }
  }

  /** 'ok' once the deal's result stands (submitted, settled or upheld); a reason when it never will. */
  private async awaitStandingResult (dealId: string, deadline: number, signal: AbortSignal): Promise<'ok' | 'aborted' | string> {
    const watcher = await this.init.chain.watchDeal(dealId)
    const aborted = new Promise<void>(resolve => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
    try {
      const standing = ['ResultSubmitted', 'Settled', 'MediatedCorrect', 'TimedOutMediation'] as const
      const final = [...standing, 'MediatedWrong', 'TimedOutResult'] as const
      for (;;) {
        const state = (await this.init.chain.dealRecord(dealId)).state
        if ((standing as readonly string[]).includes(state)) return 'ok'
        if (state === 'MediatedWrong') return 'the result was judged wrong by the mediator'
        if (state === 'TimedOutResult') return 'the provider submitted no result'
        if (signal.aborted) return 'aborted'
        const now = (await this.init.chain.provider.getBlock('latest'))!.timestamp
        if (now > deadline) return 'the deal was not settled before the job deadline'
        // a challenged (audited) deal: wait for the verdict, re-checking now and then
        await Promise.race([watcher.waitFor([...final], 5000).catch(() => undefined), aborted])
      }
    } finally {
      await watcher.stop()
    }
  }
}
