// The resource provider role: announces offers for its machine's slots, answers negotiation, and for every
// deal it countersigned submits `agree` itself (it holds both signatures) while already running the job —
// optimistic execution: only its own compute is at risk if agree fails, and nothing is published before agree
// is mined. The result directory goes into Helia, the CID on chain (piggybacking settlement of its earlier
// deals whose judge windows passed: two transactions per job), and a signed Result to the job creator.
// Deals are kept in a DealStore and resumed after a restart.
import { EventEmitter } from 'node:events'
import { cpus, totalmem } from 'node:os'
import { statfs, appendFile, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { getAddress } from 'ethers'
import { signMessage, type Deal, type MachineSpec, type Result } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { ChainClient } from '../chain/index.ts'
import type { NetworkFile } from '../config/network.ts'
import type { LilypadHost } from '../host/create-host.ts'
import { domainOfNetwork } from '../host/from-network.ts'
import type { GossipService } from '../gossip/gossip.ts'
import { ResourceOfferAnnouncer, type OfferTemplate } from '../gossip/announcer.ts'
import { SlotCapacity, type CapacityProvider } from '../negotiation/capacity.ts'
import { DealNegotiator, type AgreedDeal } from '../negotiation/negotiator.ts'
import { loadModule, pinSpecImage } from '../modules/index.ts'
import { DockerUnavailableError, EngineLostError, type Executor } from '../executor/index.ts'
import type { ResultStore } from '../result-store/index.ts'
import { DealStore, type StoredRecord } from '../deal-store/deal-store.ts'
import { deliverResult } from '../result-delivery/index.ts'
import { FetchSlots, INPUT_ERROR_EXIT_CODE, inputPolicy, isJobInputFault, stageInputs, writeInputErrorResult, type InputPolicy, type StagedInputs } from '../inputs/index.ts'

export type ProviderFault = 'wrong-result'

export type RpDealState = 'accepted' | 'agreed' | 'submitted' | 'settled' | 'failed' | 'closed'

export interface RpDealRecord extends StoredRecord {
  dealId: string
  deal: Deal
  job: Envelope<'JobOffer'>
  jobCreatorSignature: string
  providerSignature: string
  jobCreatorPeer?: string
  slot: number
  state: RpDealState
  /** chain time (s) of the agree block */
  agreedAt?: number
  resultCid?: string
  exitCode?: number
  error?: string
}

export interface ResourceProviderOptions {
  host: LilypadHost
  chain: ChainClient
  store: ResultStore
  executor: Executor
  network: NetworkFile
  gossip: GossipService
  /** deals in <dataDir>/rp-deals, result directories in <dataDir>/jobs */
  dataDir: string
  /** capacity slots (default 1); the machine's resources are split evenly between them */
  slots?: number
  /** the whole machine (default: this host's cpus, memory and the data dir's free disk) */
  machine?: Partial<MachineSpec>
  price?: bigint
  collateral?: bigint
  /** accepted mediators (default the network's) */
  mediators?: string[]
  /** module names served; empty = all */
  modules?: string[]
  announceIntervalMs?: number
  offerTtlSec?: number
  /** how often leftovers are batch-settled (default 30 s) */
  settleIntervalMs?: number
  modulesDir?: string
  /** what a job's inputs may make this provider fetch (default DEFAULT_INPUT_POLICY: no private addresses) */
  inputPolicy?: Partial<InputPolicy>
  /** fault injection for tests and simulations: a real provider behaving badly */
  fault?: ProviderFault
  log?: (msg: string, fields?: Record<string, unknown>) => void
}

export interface ResourceProviderEvents {
  'job:start': [{ dealId: string, slot: number }]
  'job:end': [{ dealId: string, slot: number, resultCid?: string, exitCode?: number, status?: string, runMs?: number, error?: string, inputError?: string }]
  /** the job's inputs are staged (fetched and checked) and its container is about to start */
  'job:inputs': [{ dealId: string, bytes: number, mounts: number }]
  deal: [RpDealRecord]
}

/** Wraps the slots so the provider declines (NO_CAPACITY) while its Docker engine does not answer. */
class GatedCapacity implements CapacityProvider {
  readonly inner: SlotCapacity
  readonly healthy: () => boolean
  constructor (inner: SlotCapacity, healthy: () => boolean) { this.inner = inner; this.healthy = healthy }
  tryReserve (slot: number, dealId: string, ttlMs: number): boolean { return this.healthy() && this.inner.tryReserve(slot, dealId, ttlMs) }
  freeSlots (): number[] { return this.healthy() ? this.inner.freeSlots() : [] }
}

export async function machineSpec (dataDir: string): Promise<MachineSpec> {
  let diskMb = 10_000
  try {
    await mkdir(dataDir, { recursive: true })
    const s = await statfs(dataDir)
    diskMb = Math.floor(Number(s.bavail) * Number(s.bsize) / 1048576)
  } catch {}
  return { cpu: cpus().length * 1000, ramMb: Math.floor(totalmem() / 1048576), diskMb, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }
}

export class ResourceProvider extends EventEmitter<ResourceProviderEvents> {
  readonly capacity: SlotCapacity
  readonly announcer: ResourceOfferAnnouncer
  readonly negotiator: DealNegotiator
  readonly deals: DealStore<RpDealRecord>
  readonly template: OfferTemplate
  /** deals whose container is running now (tests check it never exceeds the slots) */
  running = 0
  maxRunning = 0
  private readonly opts: ResourceProviderOptions
  /** input fetches at once across all of this provider's jobs */
  readonly fetchSlots: FetchSlots
  private readonly tasks = new Set<Promise<void>>()
  private readonly aborts = new Map<string, AbortController>()
  private settleTimer: NodeJS.Timeout | undefined
  private healthTimer: NodeJS.Timeout | undefined
  private dockerUp = true
  private stopped = false
  private reannounce: NodeJS.Timeout | undefined
  // A peer that just subscribed to the offers topic (a bootstrap node, a job creator) hears our offers at once,
  // not at the next heartbeat.
  private readonly onSubscription = (evt: CustomEvent<{ subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    if (!evt.detail.subscriptions.some(s => s.subscribe && s.topic === this.opts.gossip.topics.resourceOffers)) return
    if (this.reannounce !== undefined || this.stopped) return
    this.reannounce = setTimeout(() => { this.reannounce = undefined; void this.announcer.announce().catch(() => {}) }, 50)
  }

  private constructor (opts: ResourceProviderOptions, template: OfferTemplate) {
    super()
    this.opts = opts
    this.template = template
    this.fetchSlots = new FetchSlots(inputPolicy(opts.inputPolicy).maxConcurrentFetches)
    const domain = domainOfNetwork(opts.network)
    const slots = [...Array(opts.slots ?? 1).keys()]
    this.capacity = new SlotCapacity(slots)
    const gated = new GatedCapacity(this.capacity, () => this.dockerUp)
    this.announcer = new ResourceOfferAnnouncer(opts.gossip, { domain, signer: opts.chain.wallet, template: () => template, freeSlots: gated.freeSlots(), intervalMs: opts.announceIntervalMs ?? 10_000, ttlSec: opts.offerTtlSec ?? 60 })
    this.negotiator = new DealNegotiator(opts.host, {
      networkId: opts.network.networkId,
      domain,
      provider: { signer: opts.chain.wallet, capacity: gated, ownOffer: (id, now) => this.announcer.ownOffer(id, now), onDealAccepted: d => { this.track(this.onDeal(d)) } }
    })
    this.capacity.onChange(free => { this.announcer.setFreeSlots(this.dockerUp ? free : []) })
    this.deals = new DealStore<RpDealRecord>(join(opts.dataDir, 'rp-deals'))
  }

  static async create (opts: ResourceProviderOptions): Promise<ResourceProvider> {
    const slots = opts.slots ?? 1
    if (!Number.isInteger(slots) || slots < 1) throw new TypeError('slots must be a positive integer')
    const m = { ...(await machineSpec(opts.dataDir)), ...opts.machine }
    const per: MachineSpec = { ...m, cpu: Math.floor(m.cpu / slots), ramMb: Math.floor(m.ramMb / slots), diskMb: Math.floor(m.diskMb / slots), gpus: Math.floor(m.gpus / slots) }
    const mediators = (opts.mediators ?? opts.network.mediators ?? []).map(a => getAddress(a))
    if (mediators.length === 0) throw new TypeError('a resource provider needs at least one accepted mediator (the network file names none)')
    const template: OfferTemplate = { spec: per, modules: opts.modules ?? [], price: opts.price ?? 10n ** 18n, collateral: opts.collateral ?? 2n * 10n ** 18n, mediators }
    return new ResourceProvider(opts, template)
  }

  get address (): string { return this.opts.chain.address }

  async start (): Promise<void> {
    await this.checkDocker()
    // Containers a killed predecessor left: those of deals still open stay for their re-run to adopt or
    // replace, the rest go, before a new deal can take their slot.
    const open = new Set((await this.deals.open()).filter(r => r.state === 'accepted' || r.state === 'agreed').map(r => r.dealId))
    await this.reconcileContainers(id => open.has(id))
    this.opts.gossip.start()
    await this.negotiator.start()
    this.announcer.start()
    this.opts.host.services.pubsub.addEventListener('subscription-change', this.onSubscription as never)
    this.healthTimer = setInterval(() => { void this.checkDocker() }, this.opts.announceIntervalMs ?? 10_000)
    this.healthTimer.unref()
    this.settleTimer = setInterval(() => { this.track(this.settleLeftovers().then(() => {})) }, this.opts.settleIntervalMs ?? 30_000)
    this.settleTimer.unref()
    this.track(this.resume())
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.settleTimer)
    clearInterval(this.healthTimer)
    clearTimeout(this.reannounce)
    this.opts.host.services.pubsub.removeEventListener('subscription-change', this.onSubscription as never)
    await this.announcer.stop()
    await this.negotiator.stop()
    for (const a of this.aborts.values()) a.abort(new Error('provider stopping'))
    await Promise.allSettled([...this.tasks])
    this.capacity.stop()
  }

  /** Live offers of free slots, for order-book sync. */
  liveOffers (now: bigint): Array<Envelope<'ResourceOffer'>> {
    return this.dockerUp ? this.announcer.liveOffers(now) : []
  }

  private log (msg: string, fields?: Record<string, unknown>): void { this.opts.log?.(msg, fields) }

  private track (p: Promise<void>): void {
    const q = p.catch(err => { this.log('provider task failed', { error: (err as Error).message }) })
    this.tasks.add(q)
    void q.finally(() => { this.tasks.delete(q) })
  }

  private async checkDocker (): Promise<void> {
    let up = true
    try { await this.opts.executor.ping() } catch { up = false }
    if (up !== this.dockerUp) {
      this.dockerUp = up
      this.log(up ? 'docker engine is back: offering slots' : 'docker engine unreachable: withdrawing offers')
      this.announcer.setFreeSlots(up ? this.capacity.freeSlots() : [])
      // what a run lost with the engine left behind and nobody re-runs
      if (up && !this.stopped) await this.reconcileContainers(id => this.aborts.has(id))
    }
  }

  private async reconcileContainers (keep: (dealId: string) => boolean): Promise<void> {
    try {
      const r = await this.opts.executor.reconcile(keep)
      if (r.removed.length > 0) this.log('removed containers of deals no longer run', { deals: r.removed })
    } catch (err) {
      this.log('could not list left-over containers (the engine does not answer)', { error: (err as Error).message })
    }
  }

  private async save (rec: RpDealRecord, patch: Partial<RpDealRecord>): Promise<RpDealRecord> {
    const next = await this.deals.update(rec.id, cur => ({ ...(cur ?? rec), ...patch }))
    this.emit('deal', next)
    return next
  }

  private async onDeal (a: AgreedDeal): Promise<void> {
    if (a.job === undefined) throw new Error('negotiator gave no job offer')
    const slot = this.announcer.ownOffer(a.deal.resourceOfferId, 0n)?.offer.slot ?? -1
    const rec: RpDealRecord = {
      id: a.dealId, dealId: a.dealId, deal: a.deal, job: a.job, jobCreatorSignature: a.jobCreatorSignature, providerSignature: a.providerSignature,
      ...(a.jobCreatorPeer !== undefined ? { jobCreatorPeer: a.jobCreatorPeer } : {}), slot, state: 'accepted', terminal: false, updatedAt: 0
    }
    await this.deals.put(rec)
    await this.execute(rec, true)
  }

  /** Agree (when asked) and run concurrently; then publish, submit and deliver. */
  private async execute (rec: RpDealRecord, agree: boolean): Promise<void> {
    const ac = new AbortController()
    this.aborts.set(rec.dealId, ac)
    const chain = this.opts.chain
    try {
      const agreed = agree
        ? chain.agree(rec.deal, rec.jobCreatorSignature, rec.providerSignature).then(async r => {
          this.capacity.confirm(rec.dealId)
          const block = await chain.provider.getBlock(r.blockNumber)
          rec = await this.save(rec, { state: 'agreed', agreedAt: block?.timestamp ?? Math.floor(Date.now() / 1000) })
        })
        : Promise.resolve()
      agreed.catch(err => { ac.abort(err) })
      const ran = this.runJob(rec, ac.signal)
      ran.catch(() => {})
      try {
        await agreed
      } catch (err) {
        this.log('agree failed: dropping the job', { dealId: rec.dealId, error: (err as Error).message })
        await ran.catch(() => {})
        this.capacity.release(rec.dealId)
        await this.save(rec, { state: 'failed', terminal: true, error: `agree: ${(err as Error).message}` })
        return
      }
      let out: { cid: string, exitCode: number }
      try {
        out = await ran
      } catch (err) {
        this.log('job failed', { dealId: rec.dealId, error: (err as Error).message })
        await this.save(rec, { state: 'failed', terminal: true, error: (err as Error).message })
        return
      } finally {
        this.capacity.release(rec.dealId)
      }
      const deadline = (rec.agreedAt ?? 0) + rec.deal.resultTimeout
      if (Math.floor(Date.now() / 1000) > deadline) {
        await this.save(rec, { state: 'failed', terminal: true, error: 'result deadline passed before the job finished' })
        return
      }
      rec = await this.save(rec, { resultCid: out.cid, exitCode: out.exitCode })
      const result: Result = { dealId: rec.dealId, resultCid: out.cid, exitCode: out.exitCode, timestamp: BigInt(Math.floor(Date.now() / 1000)) }
      const signature = await signMessage('Result', chain.domain, result, chain.wallet)
      // the job creator can fetch while our submission is mined
      const delivered = rec.jobCreatorPeer === undefined
        ? Promise.resolve()
        : deliverResult(this.opts.host, this.opts.network.networkId, rec.jobCreatorPeer, { result, signature, addrs: this.opts.host.getMultiaddrs().map(m => m.toString()) }, ac.signal)
            .catch(err => { this.log('result delivery failed (the job creator can still read it from chain)', { dealId: rec.dealId, error: (err as Error).message }) })
      const ready = await this.readyToSettle(rec.dealId)
      await chain.submitResult(rec.deal, out.cid, { settle: ready.map(r => r.deal) })
      for (const r of ready) await this.save(r, { state: 'settled', terminal: true })
      await this.save(rec, { state: 'submitted' })
      await delivered
    } finally {
      this.aborts.delete(rec.dealId)
    }
  }

  private async runJob (rec: RpDealRecord, signal: AbortSignal): Promise<{ cid: string, exitCode: number }> {
    const job = rec.job.value
    const inputs = JSON.parse(job.inputs) as Record<string, string>
    const loaded = await loadModule(job.module, inputs, this.opts.modulesDir !== undefined ? { modulesDir: this.opts.modulesDir } : {})
    const spec = await pinSpecImage(this.opts.executor.docker, loaded.spec, this.opts.modulesDir !== undefined ? { modulesDir: this.opts.modulesDir } : {})
    signal.throwIfAborted()
    // (the executor replaces what an earlier attempt left in it, or adopts that attempt's container)
    const resultDir = join(this.opts.dataDir, 'jobs', rec.dealId)
    this.running++
    this.maxRunning = Math.max(this.maxRunning, this.running)
    this.emit('job:start', { dealId: rec.dealId, slot: rec.slot })
    let end: ResourceProviderEvents['job:end'][0] = { dealId: rec.dealId, slot: rec.slot }
    try {
      // the job's time starts now: fetching its inputs comes out of it
      const timeoutSec = Math.min(job.timeout, rec.deal.resultTimeout)
      const startedAt = Date.now()
      let staged: StagedInputs | undefined
      try {
        staged = await this.opts.store.readBlocks(async blocks => await stageInputs(spec, {
          signal, deadline: startedAt + timeoutSec * 1000, dir: join(this.opts.dataDir, 'inputs', rec.dealId), policy: this.opts.inputPolicy ?? {}, blocks, slots: this.fetchSlots
        }), { signal, ...(rec.jobCreatorPeer !== undefined ? { from: rec.jobCreatorPeer } : {}) })
      } catch (err) {
        if (!isJobInputFault(err)) throw err
        // the job's own inputs failed it: that is its result (paid for, and what a mediator's re-run writes too)
        this.log('the job\'s inputs were refused: its result says why', { dealId: rec.dealId, error: err.message })
        end = { ...end, inputError: err.name }
        await rm(resultDir, { recursive: true, force: true })
        await writeInputErrorResult(resultDir, err, spec.outputs)
      }
      let r: { exitCode: number, status: string, runMs?: number } = { exitCode: INPUT_ERROR_EXIT_CODE, status: 'input-error' }
      if (staged !== undefined) {
        this.emit('job:inputs', { dealId: rec.dealId, bytes: staged.bytes, mounts: staged.mounts.length })
        // fixed once: a re-run after a lost engine (or the container it adopts) gets the same share of the job's time
        const usedMs = Date.now() - startedAt
        try {
          for (;;) {
            try {
              r = await this.opts.executor.run(spec, { resultDir, timeoutSec, usedMs, signal, jobId: rec.dealId, inputMounts: staged.mounts })
              break
            } catch (err) {
              // A lost or absent engine: run again (adopting the container if it is still there) while the result
              // deadline leaves time for a whole run; otherwise the deal fails as before.
              if (!(err instanceof EngineLostError || err instanceof DockerUnavailableError) || signal.aborted) throw err
              const agreedAt = (await this.deals.get(rec.dealId))?.agreedAt ?? Math.floor(Date.now() / 1000)
              const spareSec = agreedAt + rec.deal.resultTimeout - Math.floor(Date.now() / 1000) - timeoutSec
              if (spareSec <= 0) throw err
              this.log('docker engine lost during the job: running it again when it answers', { dealId: rec.dealId, error: err.message })
              if (!await this.opts.executor.waitForEngine({ timeoutMs: spareSec * 1000, signal })) throw err
            }
          }
        } finally {
          await staged.release()
        }
      }
      if (this.opts.fault === 'wrong-result') await appendFile(join(resultDir, 'stdout'), 'tampered\n')
      const cid = (await this.opts.store.addDirectory(resultDir)).toString()
      end = { ...end, resultCid: cid, exitCode: r.exitCode, status: r.status, ...(r.runMs !== undefined ? { runMs: r.runMs } : {}) }
      return { cid, exitCode: r.exitCode }
    } catch (err) {
      end = { ...end, error: (err as Error).message }
      throw err
    } finally {
      this.running--
      this.emit('job:end', end)
    }
  }

  /** Our submitted deals whose judge window has passed unchallenged (settled in our next submission). */
  private async readyToSettle (except?: string, limit = 16): Promise<RpDealRecord[]> {
    const now = Math.floor(Date.now() / 1000)
    const out: RpDealRecord[] = []
    for (const r of await this.deals.open()) {
      if (r.state !== 'submitted' || r.dealId === except) continue
      if (out.length >= limit) break
      try {
        const onChain = await this.opts.chain.dealRecord(r.dealId)
        if (onChain.state === 'ResultSubmitted') {
          // one second of margin: the block that settles is mined at least at our clock
          if (onChain.since + r.deal.judgeWindow < now - 1) out.push(r)
        } else if (onChain.state !== 'Challenged') {
          await this.save(r, { state: 'closed', terminal: true })
        }
      } catch {}
    }
    return out
  }

  /** Batch-settles what no submission of ours carried. */
  async settleLeftovers (): Promise<number> {
    if (this.stopped) return 0
    const ready = await this.readyToSettle()
    if (ready.length === 0) return 0
    await this.opts.chain.settle(ready.map(r => r.deal))
    for (const r of ready) await this.save(r, { state: 'settled', terminal: true })
    return ready.length
  }

  /** After a restart: finish what was accepted or agreed, leave submitted deals to the settle loop. */
  private async resume (): Promise<void> {
    for (const rec of await this.deals.open()) {
      if (rec.state === 'submitted') continue
      let state = 'None'
      try { state = (await this.opts.chain.dealRecord(rec.dealId)).state } catch { continue }
      const now = Math.floor(Date.now() / 1000)
      // a resumed deal holds its slot like a fresh one, so the provider is not double-booked while it reruns
      const hold = (): void => { if (this.capacity.tryReserve(rec.slot, rec.dealId, 60_000)) this.capacity.confirm(rec.dealId) }
      if (state === 'None' && rec.deal.expiry > BigInt(now)) {
        hold()
        this.log('resuming an unagreed deal', { dealId: rec.dealId })
        this.track(this.execute(rec, true))
      } else if (state === 'Agreed') {
        const since = (await this.opts.chain.dealRecord(rec.dealId)).since
        if (since + rec.deal.resultTimeout > now + rec.job.value.timeout) {
          hold()
          this.log('resuming an agreed deal: re-running the job', { dealId: rec.dealId })
          this.track(this.execute({ ...rec, agreedAt: since }, false))
        } else {
          await this.save(rec, { state: 'failed', terminal: true, error: 'no time left to re-run after restart' })
        }
      } else if (state === 'ResultSubmitted' || state === 'Challenged') {
        await this.save(rec, { state: 'submitted' })
      } else {
        await this.save(rec, { state: 'closed', terminal: true })
      }
    }
    // containers kept at start for deals that turned out not to be re-run
    await this.reconcileContainers(id => this.aborts.has(id))
  }
}

