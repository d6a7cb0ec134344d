// The mediator role. It watches the Market for challenges (and on-chain random audits) that drew it, obtains the
// disputed job (pushed by a party over the dispute protocol, or pulled from the job creator or the provider by
// deal id when no push came in time), checks that the job is exactly what the deal names, re-runs it with the
// same pinned module, image, inputs and limits, adds its result directory to its own Helia store and posts
// mediate(deal, resultCorrect) — correct when its CID equals the one the provider submitted.
// Disputes are kept on disk (one record per deal) with the last scanned block, so a restarted mediator resumes
// where it stopped. A dispute it cannot obtain or run before the mediation deadline is left alone: anyone can
// then call timeoutMediation, which lets the provider's result stand and refunds the fee (docs/mediation.md).
import { EventEmitter } from 'node:events'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Interface, zeroPadValue, type Log } from 'ethers'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { MarketAbi } from '../../contracts/generated/index.ts'
import type { NetworkFile } from '../config/network.ts'
import { Roles, ContractRevertError, type ChainClient } from '../chain/index.ts'
import { DealStore, type StoredRecord } from '../deal-store/deal-store.ts'
import type { ResultStore } from '../result-store/index.ts'
import type { Executor } from '../executor/index.ts'
import { loadModule, pinSpecImage, type ResolveOptions } from '../modules/index.ts'
import { Directory } from '../directory/index.ts'
import { DisputeService, type DisputeNode } from '../dispute/dispute-service.ts'
import { locatePeer, dhtRecords } from '../dispute/locate.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { verifyDisputeCase, NotChallengedError, DisputeVerificationError, type DisputeCase } from '../../protocols/dispute/index.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Multiaddr } from '@multiformats/multiaddr'
import { BlockCursor } from '../chain/cursor.ts'
import { FetchSlots, inputPolicy, isJobInputFault, stageInputs, writeInputErrorResult, type InputPolicy, type StagedInputs } from '../inputs/index.ts'

const market = new Interface(MarketAbi as unknown as string[])
const CHALLENGED = market.getEvent('DealChallenged')!.topicHash
const SUBMITTED = market.getEvent('ResultSubmitted')!.topicHash

export type DisputeStage = 'awaiting-case' | 'running' | 'verdict-posted' | 'done' | 'abandoned'

export interface DisputeRecord extends StoredRecord {
  stage: DisputeStage
  jobCreator: string
  resourceProvider?: string
  /** true when an on-chain random audit started it (no job creator involved) */
  audit: boolean
  /** the provider's result CID, from its ResultSubmitted event */
  resultCid?: string
  deal?: Envelope<'Deal'>
  jobOffer?: Envelope<'JobOffer'>
  /** how the case arrived */
  via?: 'push' | 'pull'
  mediatorCid?: string
  resultCorrect?: boolean
  reason?: string
  seenAt: number
}

export interface MediatorHost extends DisputeNode {
  getMultiaddrs: () => Multiaddr[]
  getConnections?: (peer?: PeerId) => unknown[]
  services: { dht: KadDHT }
}

export interface MediatorInit {
  host: MediatorHost
  /** the libp2p key of `host`, to publish a signed directory record (skipped when absent) */
  peerKey?: PrivateKey
  chain: ChainClient
  store: ResultStore
  executor: Executor
  network: NetworkFile
  /** state lives in <dataDir>/mediator */
  dataDir: string
  /** how long to wait for a push before pulling the case (default 5 s) */
  pullAfterMs?: number
  /** between pull rounds (default 5 s) */
  pullIntervalMs?: number
  /** between chain scans (default 1 s) */
  pollMs?: number
  /** a verdict is not attempted when less than this remains before the deadline (default 30 s) */
  marginSec?: number
  /** register in the Directory contract with this host's peer id (default true; the owner must have approved the key) */
  register?: boolean
  modules?: ResolveOptions
  /** what a job's inputs may make this mediator fetch (default DEFAULT_INPUT_POLICY, as providers) */
  inputPolicy?: Partial<InputPolicy>
}

export interface MediatorMetrics {
  disputesSeen: number
  casesPushed: number
  casesPulled: number
  casesRefused: number
  verdicts: { correct: number, wrong: number }
  abandoned: number
  failedRuns: number
}

export interface VerdictEvent { dealId: string, resultCorrect: boolean, resultCid: string, mediatorCid: string }

const same = (a: string | undefined, b: string | undefined): boolean => a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase()

export class Mediator extends EventEmitter<{ verdict: [VerdictEvent], abandoned: [{ dealId: string, reason: string }], failure: [Error] }> {
  readonly metrics: MediatorMetrics = { disputesSeen: 0, casesPushed: 0, casesPulled: 0, casesRefused: 0, verdicts: { correct: 0, wrong: 0 }, abandoned: 0, failedRuns: 0 }
  readonly disputes: DisputeService
  readonly records: DealStore<DisputeRecord>
  readonly directory: Directory | undefined
  private readonly init: MediatorInit
  private readonly fetchSlots: FetchSlots
  private readonly domain: LilypadDomain
  private readonly dir: string
  private nextBlock = 0
  private readonly cursor: BlockCursor
  private timer: NodeJS.Timeout | undefined
  private scanning: Promise<void> | undefined
  private readonly working = new Map<string, Promise<void>>()
  private queue: Promise<void> = Promise.resolve()
  private readonly abort = new AbortController()
  private running = false
  private dropHandler: (() => void) | undefined

  private constructor (init: MediatorInit) {
    super()
    this.init = init
    this.fetchSlots = new FetchSlots(inputPolicy(init.inputPolicy).maxConcurrentFetches)
    this.domain = { chainId: BigInt(init.network.chainId), verifyingContract: init.network.contracts.market }
    this.dir = join(init.dataDir, 'mediator')
    this.cursor = new BlockCursor(join(this.dir, 'cursor.json'), init.network.deployBlock)
    this.records = new DealStore<DisputeRecord>(join(this.dir, 'disputes'))
    this.disputes = DisputeService.shared(init.host, init.network.networkId)
    this.directory = init.peerKey !== undefined
      ? new Directory(init.host, { networkId: init.network.networkId, domain: this.domain, signer: init.chain.wallet, privateKey: init.peerKey })
      : undefined
  }

  static async create (init: MediatorInit): Promise<Mediator> {
    return new Mediator(init)
  }

  get address (): string { return this.init.chain.address }

  /** Registers, publishes its record, resumes stored disputes and starts watching the chain. */
  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    await mkdir(this.dir, { recursive: true })
    if (this.init.register !== false) await this.init.chain.ensureRole(Roles.Mediator, this.init.host.peerId.toString())
    this.dropHandler = this.disputes.setCaseHandler(async (c, from) => { await this.takeCase(c, 'push', from) })
    await this.disputes.start()
    // Best effort, in the background: a fresh DHT may have no peers yet, and the chain record names us anyway.
    if (this.directory !== undefined) void this.directory.publish({ roles: ['mediator'] }).catch(() => {})
    this.nextBlock = await this.cursor.load()
    for (const r of await this.records.open()) this.schedule(r.id)
    await this.scan()
    this.timer = setInterval(() => { if (this.scanning === undefined) void this.scan() }, this.init.pollMs ?? 1000)
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    if (this.timer !== undefined) clearInterval(this.timer)
    this.abort.abort(new Error('mediator stopped'))
    await this.scanning
    this.dropHandler?.()
    await this.disputes.stop()
    await Promise.allSettled([...this.working.values()])
  }


  // ---- the chain ----




  private scan (): Promise<void> {
    this.scanning = (async () => {
      try {
        const latest = await this.init.chain.provider.getBlockNumber()
        if (latest < this.nextBlock) return
        const logs = await this.init.chain.provider.getLogs({
          address: this.init.network.contracts.market,
          topics: [CHALLENGED, null, null, zeroPadValue(this.address, 32)],
          fromBlock: this.nextBlock,
          toBlock: latest
        })
        for (const log of logs) await this.onChallenged(log)
        this.nextBlock = latest + 1
        await this.cursor.save(this.nextBlock)
        // A step that failed (RPC error) is retried on the next scan.
        for (const r of await this.records.open()) this.schedule(r.id)
      } catch (err) {
        if (this.running) this.emit('failure', err as Error)
      } finally {
        this.scanning = undefined
      }
    })()
    return this.scanning
  }

  private async onChallenged (log: Log): Promise<void> {
    const e = market.parseLog({ topics: [...log.topics], data: log.data })
    if (e === null) return
    const dealId = (e.args.dealId as string).toLowerCase()
    if (await this.records.get(dealId) !== undefined) return
    this.metrics.disputesSeen++
    await this.records.put({ id: dealId, terminal: false, updatedAt: 0, stage: 'awaiting-case', jobCreator: e.args.jobCreator, audit: e.args.audit, seenAt: Date.now() })
    this.schedule(dealId)
  }

  /** The provider and result CID of a deal, from its ResultSubmitted event. */
  private async submission (dealId: string): Promise<{ resultCid: string, resourceProvider: string } | undefined> {
    const logs = await this.init.chain.provider.getLogs({ address: this.init.network.contracts.market, topics: [SUBMITTED, dealId], fromBlock: this.init.network.deployBlock, toBlock: 'latest' })
    const e = logs.length > 0 ? market.parseLog({ topics: [...logs[0].topics], data: logs[0].data }) : null
    return e === null ? undefined : { resultCid: e.args.resultCid, resourceProvider: e.args.resourceProvider }
  }

  // ---- cases ----

  /** Verifies a case against the chain and keeps it. Throws a DisputeVerificationError to refuse it. */
  private async takeCase (c: DisputeCase, via: 'push' | 'pull', _from?: string): Promise<void> {
    const dealId = c.dealId.toLowerCase()
    verifyDisputeCase(c, this.domain, dealId)
    let rec = await this.records.get(dealId)
    if (rec === undefined) {
      // The push can beat our scan: look for the challenge on chain now.
      const logs = await this.init.chain.provider.getLogs({ address: this.init.network.contracts.market, topics: [CHALLENGED, dealId, null, zeroPadValue(this.address, 32)], fromBlock: this.init.network.deployBlock, toBlock: 'latest' })
      if (logs.length === 0) throw new NotChallengedError(`no challenge of deal ${dealId} drew mediator ${this.address}`)
      await this.onChallenged(logs[0])
      rec = await this.records.get(dealId)
    }
    if (rec === undefined) throw new NotChallengedError(`deal ${dealId} is not a dispute of ours`)
    if (rec.deal !== undefined) return // already have it (the same deal: its id binds every term)
    if (via === 'push') this.metrics.casesPushed++
    else this.metrics.casesPulled++
    await this.records.update(dealId, r => ({ ...(r ?? rec), deal: c.deal, jobOffer: c.jobOffer, via }))
    this.schedule(dealId)
  }

  // ---- work ----

  /** Runs each dispute's next step; one job at a time (a mediator re-runs jobs on its own machine). */
  private schedule (dealId: string): void {
    if (!this.running || this.working.has(dealId)) return
    const p = (async () => {
      try {
        await this.advance(dealId)
      } catch (err) {
        if (this.running) this.emit('failure', err as Error)
      } finally {
        this.working.delete(dealId)
      }
    })()
    this.working.set(dealId, p)
  }

  private async chainNow (): Promise<number> {
    return (await this.init.chain.provider.getBlock('latest'))!.timestamp
  }

  private async abandon (dealId: string, reason: string): Promise<void> {
    this.metrics.abandoned++
    await this.records.update(dealId, r => ({ ...r!, stage: 'abandoned', terminal: true, reason }))
    this.emit('abandoned', { dealId, reason })
  }

  private async advance (dealId: string): Promise<void> {
    const signal = this.abort.signal
    let rec = await this.records.get(dealId)
    if (rec === undefined || rec.terminal) return
    if (rec.resultCid === undefined) {
      const s = await this.submission(dealId)
      if (s === undefined) { await this.abandon(dealId, 'no ResultSubmitted event'); return }
      rec = await this.records.update(dealId, r => ({ ...r!, ...s }))
    }
    // The deal's own terms give the deadline once we have them; before that, the chain's record and any stage.
    const onChain = await this.init.chain.dealRecord(dealId)
    if (onChain.state !== 'Challenged') {
      await this.records.update(dealId, r => ({ ...r!, stage: 'done', terminal: true, reason: `deal is ${onChain.state}` }))
      return
    }
    if (rec.deal === undefined) {
      rec = await this.obtainCase(dealId, onChain.since, signal)
      if (rec?.deal === undefined) return // abandoned or stopping
    }
    const deal = rec.deal!.value
    const deadline = onChain.since + deal.mediateTimeout
    const margin = this.init.marginSec ?? 30
    if (!same(deal.mediators[onChain.mediatorIndex], this.address)) { await this.abandon(dealId, 'another mediator was drawn'); return }
    if (await this.chainNow() > deadline - margin) { await this.abandon(dealId, 'too late to mediate before the deadline'); return }

    let mediatorCid = rec.mediatorCid
    if (mediatorCid === undefined) {
      await this.records.update(dealId, r => ({ ...r!, stage: 'running' }))
      await this.enqueue(async () => { mediatorCid = await this.rerun(dealId, rec!.jobOffer!, signal) })
      if (mediatorCid === undefined) return // stopped, or failed and abandoned
      await this.records.update(dealId, r => ({ ...r!, mediatorCid }))
    }
    if (await this.chainNow() > deadline) { await this.abandon(dealId, 'the re-run finished after the deadline'); return }
    const resultCorrect = mediatorCid === rec.resultCid
    try {
      await this.init.chain.mediate(deal, resultCorrect)
    } catch (err) {
      if (err instanceof ContractRevertError) {
        const now = await this.init.chain.dealRecord(dealId)
        if (now.state !== 'Challenged') { await this.records.update(dealId, r => ({ ...r!, stage: 'done', terminal: true, reason: `mediate reverted ${err.reason}; deal is ${now.state}` })); return }
        await this.abandon(dealId, `mediate reverted: ${err.reason}`)
        return
      }
      throw err
    }
    if (resultCorrect) this.metrics.verdicts.correct++
    else this.metrics.verdicts.wrong++
    await this.records.update(dealId, r => ({ ...r!, stage: 'done', terminal: true, resultCorrect }))
    this.emit('verdict', { dealId, resultCorrect, resultCid: rec.resultCid!, mediatorCid: mediatorCid! })
  }

  private async enqueue (fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn, fn)
    this.queue = run.then(() => undefined, () => undefined)
    await run
  }

  /** Waits for a push, then pulls from the job creator and the provider until the case arrives or time runs out. */
  private async obtainCase (dealId: string, since: number, signal: AbortSignal): Promise<DisputeRecord | undefined> {
    const pullAfter = this.init.pullAfterMs ?? 5000
    const interval = this.init.pullIntervalMs ?? 5000
    const rec0 = (await this.records.get(dealId))!
    let wait = Math.max(0, rec0.seenAt + pullAfter - Date.now())
    for (;;) {
      if (wait > 0) await this.sleepOrCase(dealId, wait, signal)
      if (signal.aborted) return undefined
      let rec = (await this.records.get(dealId))!
      if (rec.deal !== undefined) return rec
      // Without the deal we do not know its mediate timeout; the shortest a deal can name is bounded below only
      // by the contract, so give up when the chain says someone else closed it.
      const state = await this.init.chain.dealRecord(dealId)
      if (state.state !== 'Challenged') { await this.records.update(dealId, r => ({ ...r!, stage: 'done', terminal: true, reason: `deal is ${state.state}` })); return undefined }
      for (const party of [rec.jobCreator, rec.resourceProvider]) {
        if (party === undefined) continue
        const targets = await locatePeer(party, {
          chain: this.init.chain,
          directory: this.directory ?? dhtRecords(this.init.host, this.domain),
          roles: ['job-creator', 'resource-provider'],
          timeoutMs: 3000,
          connected: peerId => {
            const get = this.init.host.getConnections
            try { return get !== undefined && get.call(this.init.host, peerIdFromString(peerId)).length > 0 } catch { return false }
          }
        }).catch(() => [])
        for (const t of targets) {
          if (signal.aborted) return undefined
          try {
            const c = await this.disputes.pull(t, dealId, signal)
            if (c === undefined) continue
            await this.takeCase(c, 'pull')
            rec = (await this.records.get(dealId))!
            if (rec.deal !== undefined) return rec
          } catch (err) {
            if (err instanceof DisputeVerificationError) this.metrics.casesRefused++
          }
        }
      }
      void since
      wait = interval
    }
  }

  /** Resolves after `ms`, or as soon as a pushed case for `dealId` is stored, or on abort. */
  private async sleepOrCase (dealId: string, ms: number, signal: AbortSignal): Promise<void> {
    const end = Date.now() + ms
    while (Date.now() < end && !signal.aborted) {
      if ((await this.records.get(dealId))?.deal !== undefined) return
      await new Promise<void>(resolve => {
        const t = setTimeout(done, Math.min(100, end - Date.now()))
        function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
        signal.addEventListener('abort', done, { once: true })
      })
    }
  }

  /** Re-runs the job exactly as the offer names it and returns the CID of the result directory. */
  private async rerun (dealId: string, jobOffer: Envelope<'JobOffer'>, signal: AbortSignal): Promise<string | undefined> {
    if (signal.aborted) return undefined
    const job = jobOffer.value
    const resultDir = join(this.dir, 'runs', dealId)
    try {
      let inputs: Record<string, string>
      try { inputs = JSON.parse(job.inputs) as Record<string, string> } catch { throw new DisputeVerificationError('MALFORMED', 'job inputs are not JSON') }
      const loaded = await loadModule(job.module, inputs, this.init.modules)
      const spec = await pinSpecImage(this.init.executor.docker, loaded.spec, this.init.modules?.modulesDir !== undefined ? { modulesDir: this.init.modules.modulesDir } : {})
      await rm(resultDir, { recursive: true, force: true })
      // the inputs as the provider staged them: from whichever connected party serves them (the job creator
      // holds them while its job is open, the provider caches what it fetched), within the job's time
      const startedAt = Date.now()
      const deadline = startedAt + job.timeout * 1000
      let staged: StagedInputs | undefined
      try {
        staged = await this.init.store.readBlocks(async blocks => await stageInputs(spec, {
          signal, deadline, dir: join(this.dir, 'inputs', dealId), policy: this.init.inputPolicy ?? {}, blocks, slots: this.fetchSlots
        }), { signal })
      } catch (err) {
        if (!isJobInputFault(err)) throw err
        await writeInputErrorResult(resultDir, err, spec.outputs)
      }
      if (staged !== undefined) {
        try {
          // the status of a timed-out run records job.timeout, as the provider's does: the fetch's share only
          // shortens the container's time
          await this.init.executor.run(spec, { resultDir, timeoutSec: job.timeout, usedMs: Date.now() - startedAt, signal, jobId: dealId, inputMounts: staged.mounts })
        } finally {
          await staged.release()
        }
      }
      const cid = await this.init.store.addDirectory(resultDir, { signal })
      return cid.toString()
    } catch (err) {
      if (signal.aborted) return undefined
      this.metrics.failedRuns++
      await this.abandon(dealId, `re-run failed: ${(err as Error).name}: ${(err as Error).message}`)
      return undefined
    }
  }
}
