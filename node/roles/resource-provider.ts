// The resource provider role: announces offers for its machine's slots (only while its Market deposit covers the
// collateral), answers negotiation, and follows every deal it countersigned with the provider lifecycle
// (core/lifecycle/provider.ts) until the deal ends: agree (it holds both signatures) while already running the
// job, add the result to Helia, submit the CID on chain (piggybacking the settlement of its earlier deals whose
// judge windows passed) and deliver a signed Result to the job creator. This file is the shell: it carries out
// the lifecycle's actions with the chain client, the executor, the capacity and the streams.
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { EventEmitter } from 'node:events'
import { cpus, totalmem } from 'node:os'
import { statfs, appendFile, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ZeroAddress, formatEther, getAddress } from 'ethers'
import { signMessage, type Deal, type MachineSpec, type Result } from '../../protocols/eip712.ts'
import { deriveSeedSecret, offerWords } from '../../protocols/settlement/seed.ts'
import { COMMITTEE, UNDRAWN, auditDrawDue } from '../../protocols/settlement/index.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { ContractRevertError, chainSeconds, type ChainClient } from '../chain/index.ts'
import type { NetworkFile } from '../config/network.ts'
import type { LilypadHost } from '../host/create-host.ts'
import { domainOfNetwork } from '../host/from-network.ts'
import type { GossipService } from '../gossip/gossip.ts'
import { ResourceOfferAnnouncer, type BusySlot, type OfferTemplate } from '../gossip/announcer.ts'
import { SlotCapacity, type CapacityProvider } from '../negotiation/capacity.ts'
import { DealNegotiator, type AgreedDeal } from '../negotiation/negotiator.ts'
import { depositReader } from '../negotiation/deposit.ts'
import type { ModulePolicy } from '../modules/policy.ts'
import type { ProviderTermsPolicy } from '../../protocols/negotiation/terms.ts'
import { loadModule, pinSpecImage, containerResources } from '../modules/index.ts'
import { DockerUnavailableError, EngineLostError, SwarmConfigError, type JobExecutor } from '../executor/index.ts'
import type { ClusterNode, SlotShape } from '../../core/policy/cluster-slots.ts'
import type { ResultStore } from '../result-store/index.ts'
import { DealStore } from '../deal-store/deal-store.ts'
import { AcceptanceReceiver, deliverResult, sendDealNotice } from '../result-delivery/index.ts'
import { LiveLogs, type LogLimits } from '../job-logs/index.ts'
import { reportError, type Components } from '../components.ts'
import { LifecycleDriver, followClock, type Lifecycle } from '../lifecycle/driver.ts'
import { gpuSlots, type GpuInventory, type SlotGpus } from '../gpu/index.ts'
import {
  countersignedDeal, stepProvider, providerFailure, defaultProviderPolicy, stillToRun,
  type ProviderDeal, type ProviderEvent, type ProviderAction, type ProviderPolicy
} from '../../core/lifecycle/provider.ts'
import type { DealFacts } from '../../core/lifecycle/facts.ts'
import { handOffDispute, DisputeRefusedError, type DisputeService } from '../dispute/index.ts'
import { revealOwnSeed } from '../dispute/seed-reveal.ts'
import { caseOfDeal } from '../dispute/cases.ts'
import { chainCall } from '../lifecycle/chain-call.ts'
import { FetchSlots, INPUT_ERROR_EXIT_CODE, inputPolicy, isJobInputFault, stageJobInputs, writeInputErrorResult, type InputPolicy, type StagedInputs } from '../inputs/index.ts'

/**
 * Faults a test provider can be told to commit: a tampered result; a CID of nothing (a result withheld); the right
 * CID, whose blocks it then drops (an honest result nobody can fetch from it).
 */
export type ProviderFault = 'wrong-result' | 'withheld-result' | 'unserved-result' | 'withheld-seed'

/** The provider's deal record: the lifecycle's data (phase, deadlines' inputs, what is done). */
export type RpDealRecord = ProviderDeal

export interface ResourceProviderOptions {
  host: LilypadHost
  chain: ChainClient
  store: ResultStore
  executor: JobExecutor
  network: NetworkFile
  gossip: GossipService
  /** the host's dispute service (cases of our deals are answered from our deal store, pushes when audited) */
  disputes?: DisputeService
  /** deals in <dataDir>/rp-deals, result directories in <dataDir>/jobs */
  dataDir: string
  /**
   * capacity slots (default 1); the machine's resources are split evenly between them. With a cluster: the slots
   * its largest node is split into (a slot is that share of one node; how many are offered follows the cluster)
   */
  slots?: number
  /**
   * The cluster the executor runs jobs on (SwarmExecutor.cluster()): slots are sized from its largest node, and no
   * more are offered (or booked) than fit on its ready, active nodes now, besides what other work reserves there.
   */
  cluster?: ClusterView
  /** with a cluster: the most slots this provider holds at once however large the cluster grows (default 64) */
  maxSlots?: number
  /** the whole machine (default: this host's cpus, memory and the data dir's free disk) */
  machine?: Partial<MachineSpec>
  /**
   * The GPUs detected on this machine (node/gpu detectGpus; the node detects them at start). Each slot offers
   * its own share — count, model, the smallest VRAM, the CUDA version — and its jobs get exactly those devices
   * (by UUID), so two jobs never share a GPU. Without it, `machine.gpus` is split as a bare count.
   */
  gpus?: GpuInventory
  price?: bigint
  collateral?: bigint
  /** accepted mediators (default the network's) */
  mediators?: string[]
  /** module names served; empty = all */
  modules?: string[]
  announceIntervalMs?: number
  offerTtlSec?: number
  /** how often the Docker engine and our deposit are checked (default: the announce interval) */
  healthIntervalMs?: number
  modulesDir?: string
  /** what a job's inputs may make this provider fetch (default DEFAULT_INPUT_POLICY: no private addresses) */
  inputPolicy?: Partial<InputPolicy>
  /** fault injection for tests and simulations: a real provider behaving badly */
  fault?: ProviderFault
  lifecycle?: Partial<ProviderPolicy>
  /** which modules this provider fetches and runs (default: the pinned built-ins; git modules only when configured) */
  modulePolicy?: ModulePolicy
  /** the terms it countersigns: minimum result window, bounds on windows and expiry (protocols/negotiation/terms.ts) */
  terms?: Partial<ProviderTermsPolicy>
  /** bounds on the live logs it streams to job creators (node/job-logs/constants.ts) */
  logLimits?: Partial<LogLimits>
  /**
   * The slots, when they are shared: a node serving several chains runs one provider per chain over one pool
   * (docs/multichain.md), so a slot booked on one chain is busy on all of them. Its owner stops it; `slots` is
   * then its size. Default: a pool of this provider's own.
   */
  capacity?: SlotCapacity
  /** containers to keep when tidying the executor: those of deals another provider on the same executor runs */
  keepContainer?: (dealId: string) => boolean
}

export interface ResourceProviderEvents {
  'job:start': [{ dealId: string, slot: number }]
  'job:end': [{ dealId: string, slot: number, resultCid?: string, exitCode?: number, status?: string, runMs?: number, error?: string, inputError?: string, /** a killed run: whether the engine recorded an OOM kill */ engineOom?: boolean | 'unknown' }]
  /** the job's inputs are staged (fetched and checked) and its container is about to start */
  'job:inputs': [{ dealId: string, bytes: number, mounts: number }]
  deal: [RpDealRecord]
}

/** A cluster's capacity as the provider sees it (node/executor/swarm.ts SwarmCluster). */
export interface ClusterView {
  start: () => Promise<void>
  stop: () => void
  refresh: () => Promise<readonly ClusterNode[]>
  /** slot-shaped jobs its nodes can hold now; jobs under this owner id that `booked` names are not counted (their slot is) */
  slots: (shape: SlotShape, booked?: (jobId: string) => boolean) => number
  largest: () => ClusterNode | undefined
  snapshot: () => readonly ClusterNode[]
  onChange: (fn: (nodes: readonly ClusterNode[]) => void) => () => void
}

export const DEFAULT_CLUSTER_MAX_SLOTS = 64

/** Wraps the slots so the provider offers (and accepts) nothing while Docker is down or its deposit is too low. */
class GatedCapacity implements CapacityProvider {
  readonly inner: SlotCapacity
  readonly usable: () => number
  constructor (inner: SlotCapacity, usable: () => number) { this.inner = inner; this.usable = usable }
  tryReserve (slot: number, dealId: string, ttlMs: number, owner?: string): boolean { return this.freeSlots().includes(slot) && this.inner.tryReserve(slot, dealId, ttlMs, owner) }
  reservationsOf (owner: string): number { return this.inner.reservationsOf(owner) }
  freeSlots (): number[] { return this.inner.freeSlots().slice(0, Math.max(0, this.usable())) }
}

export async function machineSpec (dataDir: string): Promise<MachineSpec> {
  let diskMb = 10_000
  try {
    await mkdir(dataDir, { recursive: true })
    const s = await statfs(dataDir)
    diskMb = Math.floor(Number(s.bavail) * Number(s.bsize) / 1048576)
  } catch {
    // an unreadable data dir is reported when the store first writes to it; until then a modest default
  }
  return { cpu: cpus().length * 1000, ramMb: Math.floor(totalmem() / 1048576), diskMb, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }
}

const formatLP = (wei: bigint): string => `${formatEther(wei)} LP`

/** The peer answered but does not serve the protocol asked for (libp2p's multistream-select refusal). */
function isUnsupportedProtocol (err: unknown): boolean {
  return (err as Error)?.name === 'UnsupportedProtocolError'
}

/** Reverts of agree that will not change by retrying. */
const FINAL_AGREE = new Set(['InsufficientBalance', 'DealExpired', 'NonceUsed', 'InvalidSignature', 'NoMediators', 'TooManyMediators', 'NotAMediator', 'CollateralBelowFee'])


export class ResourceProvider extends EventEmitter<ResourceProviderEvents> {
  readonly capacity: SlotCapacity
  readonly announcer: ResourceOfferAnnouncer
  readonly negotiator: DealNegotiator
  /** the containers' live output, served to each deal's job creator peer only */
  readonly logs: LiveLogs
  /** job creators' acceptances of our results, signed off chain: submitted with the result, they settle the deal */
  readonly acceptances: AcceptanceReceiver
  readonly deals: DealStore<RpDealRecord>
  readonly driver: LifecycleDriver<ProviderDeal, ProviderEvent, ProviderAction, DealFacts>
  readonly template: OfferTemplate
  /** each slot's GPUs (spec and device UUIDs), when the machine's GPUs were detected */
  readonly gpuShares: SlotGpus[] | undefined
  /** deals whose container is running now (tests check it never exceeds the slots) */
  running = 0
  maxRunning = 0
  /** slots this provider books at most: `slots`, or with a cluster `maxSlots` (the cluster bounds how many are usable) */
  readonly slotCount: number
  private readonly opts: ResourceProviderOptions
  private readonly c: Pick<Components, 'clock' | 'logger' | 'metrics'>
  private readonly policy: ProviderPolicy
  private readonly gated: GatedCapacity
  private readonly modulePolicy: ModulePolicy
  /** input fetches at once across all of this provider's jobs */
  readonly fetchSlots: FetchSlots
  /** inputs staged for a run lost with the engine, kept for its re-run (which may adopt the container binding them) */
  private readonly staged = new Map<string, { inputs: StagedInputs, usedMs: number }>()
  private healthTimer: NodeJS.Timeout | undefined
  private dockerUp = true
  /** how many collaterals our free deposit covers (undefined until first read) */
  private fundedSlots: number | undefined
  private depositNote = ''
  private depositFailures = 0
  private stopped = false
  private readonly offs: Array<() => void> = []
  private settleBatch: { deals: Map<string, Deal>, done: Promise<void> } | undefined
  // A peer that just subscribed to the offers topic (a bootstrap node, a job creator) hears our offers at once,
  // not at the next heartbeat (rate-limited by the announcer).
  private readonly onSubscription = (evt: CustomEvent<{ subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    if (!evt.detail.subscriptions.some(s => s.subscribe && s.topic === this.opts.gossip.topics.resourceOffers)) return
    if (!this.stopped) this.announcer.requestAnnouncement()
  }

  private constructor (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, opts: ResourceProviderOptions, template: OfferTemplate, gpuShares?: SlotGpus[]) {
    super()
    this.opts = opts
    this.gpuShares = gpuShares
    this.c = { ...components, logger: components.logger.child({ component: 'provider' }) }
    this.template = template
    this.policy = { ...defaultProviderPolicy, ...opts.lifecycle }
    this.modulePolicy = { ...(opts.modulesDir !== undefined ? { modulesDir: opts.modulesDir } : {}), ...opts.modulePolicy }
    this.fetchSlots = new FetchSlots(inputPolicy(opts.inputPolicy).maxConcurrentFetches)
    const domain = domainOfNetwork(opts.network)
    this.slotCount = opts.cluster !== undefined ? opts.maxSlots ?? DEFAULT_CLUSTER_MAX_SLOTS : opts.slots ?? 1
    const slots = [...Array(this.slotCount).keys()]
    this.capacity = opts.capacity ?? new SlotCapacity(slots, { clock: components.clock })
    this.gated = new GatedCapacity(this.capacity, () => this.usableSlots())
    this.announcer = new ResourceOfferAnnouncer(opts.gossip, {
      domain, signer: opts.chain.wallet, template: slot => this.templateOf(slot), freeSlots: [], intervalMs: opts.announceIntervalMs ?? 10_000, ttlSec: opts.offerTtlSec ?? 60, clock: components.clock,
      onError: (err, what) => { this.c.logger.debug({ err, what }, 'could not publish (no peers yet?)') }
    })
    this.negotiator = new DealNegotiator(opts.host, {
      networkId: opts.network.networkId,
      domain,
      components,
      chainNow: chainSeconds(opts.chain),
      provider: {
        signer: opts.chain.wallet,
        capacity: this.gated,
        ownOffer: (id, now) => this.announcer.ownOffer(id, now),
        onDealAccepted: d => {
          // before the container can start: only the peer that negotiated the deal may follow its output
          if (d.jobCreatorPeer !== undefined) this.logs.expect(d.dealId, d.jobCreatorPeer)
          void this.onDeal(d)
        },
        // terms it can meet, modules it serves, and a job creator whose deposit covers the deal: checked before a
        // slot is reserved or anything signed
        depositOf: depositReader(opts.chain),
        modules: this.modulePolicy,
        ...(opts.terms !== undefined ? { terms: opts.terms } : {})
      }
    })
    this.logs = new LiveLogs(opts.host, components, { networkId: opts.network.networkId, ...(opts.logLimits !== undefined ? { limits: opts.logLimits } : {}) })
    this.offs.push(this.capacity.onChange(() => { this.refreshOffers() }))
    this.deals = new DealStore<RpDealRecord>(join(opts.dataDir, 'rp-deals'))
    this.driver = new LifecycleDriver(components, this.lifecycle(), this.deals, { now: () => opts.chain.follower.chainNow(), clockMoved: listener => followClock(opts.chain.follower, listener) })
    this.acceptances = new AcceptanceReceiver(opts.host, {
      networkId: opts.network.networkId,
      domain: domainOfNetwork(opts.network),
      lookup: async dealId => {
        const rec = await this.deals.get(dealId)
        return rec === undefined || rec.terminal ? undefined : { deal: rec.deal, ...(rec.resultCid !== undefined ? { resultCid: rec.resultCid } : {}), ...(rec.jobCreatorPeer !== undefined ? { jobCreatorPeer: rec.jobCreatorPeer } : {}) }
      },
      onAcceptance: (accept, signature) => { this.driver.notify(accept.dealId, { type: 'acceptance', cid: accept.resultCid, signature }, 'a step after an acceptance failed') }
    })
    this.driver.on('change', rec => {
      // agreed on chain (by us or by anyone): the job creator has paid, its reservation stops counting against its cap
      if (rec.agreedAt !== undefined) this.capacity.agreed(rec.dealId)
      if (rec.terminal) this.logs.forget(rec.dealId)
      this.emit('deal', rec)
    })
  }

  /** What slot `slot` offers: the machine's share, with the slot's own GPUs when they were detected. */
  templateOf (slot: number): OfferTemplate {
    const gpus = this.gpuShares?.[slot]
    return gpus === undefined ? this.template : { ...this.template, spec: { ...this.template.spec, ...gpus.spec } }
  }

  static async create (components: Pick<Components, 'clock' | 'logger' | 'metrics'>, opts: ResourceProviderOptions): Promise<ResourceProvider> {
    const slots = opts.slots ?? 1
    if (!Number.isInteger(slots) || slots < 1) throw new TypeError('slots must be a positive integer')
    let node: Partial<MachineSpec> = {}
    if (opts.cluster !== undefined) {
      // a slot is a share of one node (a job runs on one): the largest ready, active node sets its size
      await opts.cluster.refresh()
      const big = opts.cluster.largest()
      if (big === undefined) throw new SwarmConfigError('the cluster has no ready, active node to size the provider\'s slots by', 'check the nodes (docker node ls) and make one active: docker node update --availability active NODE')
      node = { cpu: big.cpu, ramMb: big.ramMb, gpus: big.gpus }
    }
    const m = { ...(await machineSpec(opts.dataDir)), ...node, ...opts.machine }
    const per: MachineSpec = { ...m, cpu: Math.floor(m.cpu / slots), ramMb: Math.floor(m.ramMb / slots), diskMb: Math.floor(m.diskMb / slots), gpus: Math.floor(m.gpus / slots) }
    const mediators = (opts.mediators ?? opts.network.mediators ?? []).map(a => getAddress(a))
    if (mediators.length === 0) throw new TypeError('a resource provider needs at least one accepted mediator (the network file names none)')
    const template: OfferTemplate = { spec: per, modules: opts.modules ?? [], price: opts.price ?? 10n ** 18n, collateral: opts.collateral ?? 2n * 10n ** 18n, mediators }
    // (a cluster's GPUs are its nodes' generic resources, assigned by the cluster: no per-slot devices)
    const shares = opts.gpus !== undefined && opts.cluster === undefined ? gpuSlots(opts.gpus, slots) : undefined
    return new ResourceProvider(components, opts, template, shares)
  }

  get address (): string { return this.opts.chain.address }

  async start (): Promise<void> {
    const chain = this.opts.chain
    // our deposit moves with every deal of ours (and with deposits and withdrawals): re-read it then
    this.offs.push(chain.follower.subscribe({ contract: 'Market', args: { account: chain.address } }, () => { void this.checkDeposit() }))
    this.offs.push(chain.follower.subscribe({ contract: 'Market', args: { resourceProvider: chain.address } }, () => { void this.checkDeposit() }))
    if (this.opts.cluster !== undefined) {
      await this.opts.cluster.start()
      const measure = (nodes: readonly ClusterNode[]): { nodes: number, usable: number, slots: number } => {
        const usable = nodes.filter(n => n.ready && n.active).length
        const slots = this.clusterSlots()
        this.c.metrics.clusterNodes.set({ state: 'usable' }, usable)
        this.c.metrics.clusterNodes.set({ state: 'unusable' }, nodes.length - usable)
        this.c.metrics.clusterSlots.set(slots)
        return { nodes: nodes.length, usable, slots }
      }
      this.c.logger.info(measure(this.opts.cluster.snapshot()), 'running jobs on a cluster: offers follow its nodes')
      this.offs.push(this.opts.cluster.onChange(nodes => {
        this.c.logger.info(measure(nodes), 'cluster changed: offers follow')
        this.refreshOffers()
      }))
    }
    await Promise.all([this.checkDocker(), this.checkDeposit()])
    // Containers a killed predecessor left: those of deals still open stay for their re-run to adopt or replace,
    // the rest go, before a new deal can take their slot.
    const open = await this.dealsToRun()
    await this.reconcileContainers(id => open.has(id) || this.opts.keepContainer?.(id) === true)
    this.opts.gossip.start()
    for (const rec of await this.deals.open()) if (rec.jobCreatorPeer !== undefined) this.logs.expect(rec.dealId, rec.jobCreatorPeer)
    await this.logs.start()
    await this.acceptances.start()
    await this.negotiator.start()
    this.announcer.start()
    this.refreshOffers()
    this.opts.host.services.pubsub.addEventListener('subscription-change', this.onSubscription as never)
    const every = this.opts.healthIntervalMs ?? this.opts.announceIntervalMs ?? 10_000
    this.healthTimer = setInterval(() => { void this.checkDocker(); void this.checkDeposit() }, every)
    this.healthTimer.unref()
    await this.driver.resume()
    // containers kept above for deals that turned out not to be run again (a deal still to run keeps its
    // container even when its run has not reached the executor yet: the run adopts it)
    const still = await this.dealsToRun()
    await this.reconcileContainers(id => still.has(id) || this.runningNow(id) || this.opts.keepContainer?.(id) === true)
  }

  /** Deals whose job is still to run (or running): their left-over containers are for the run to adopt. */
  async dealsToRun (): Promise<Set<string>> {
    return new Set((await this.deals.open()).filter(stillToRun).map(r => r.dealId))
  }

  /** A run of this deal is under way in this process. */
  private runningNow (dealId: string): boolean {
    return this.driver.inflight(dealId).includes('run')
  }

  private async reconcileContainers (keep: (dealId: string) => boolean): Promise<void> {
    try {
      const r = await this.opts.executor.reconcile(keep)
      if (r.removed.length > 0) this.c.logger.info({ deals: r.removed }, 'removed containers of deals no longer run')
    } catch (err) {
      reportError(this.c, 'provider', err, 'could not list left-over containers (the engine does not answer)')
    }
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.healthTimer)
    for (const off of this.offs.splice(0)) off()
    this.opts.host.services.pubsub.removeEventListener('subscription-change', this.onSubscription as never)
    await this.announcer.stop()
    await this.negotiator.stop()
    await this.driver.stop()
    await this.acceptances.stop()
    await this.logs.stop()
    // (kept inputs are left on disk: the next process stages its deals' inputs anew, replacing them)
    this.staged.clear()
    this.opts.cluster?.stop()
    if (this.opts.capacity === undefined) this.capacity.stop()
  }

  /** Live offers of free slots, for order-book sync. */
  liveOffers (now: bigint): Array<Envelope<'ResourceOffer'>> {
    return this.usableSlots() > 0 ? this.announcer.liveOffers(now) : []
  }

  /** Slot-shaped jobs the cluster holds now besides other work (our own running jobs not counted against it). */
  private clusterSlots (): number {
    const s = this.template.spec
    // a job of ours that holds a slot is counted by the slot; others under our owner id (a mediator's re-runs) as work
    return this.opts.cluster?.slots({ cpu: s.cpu, ramMb: s.ramMb, gpus: s.gpus }, dealId => this.capacity.holds(dealId)) ?? this.slotCount
  }

  /**
   * Slots we may offer: none while Docker is down; no more than our deposit covers collateral for; with a cluster,
   * no more than fit on it beside the slots already booked (so the cluster is never booked past what it holds).
   */
  private usableSlots (): number {
    if (!this.dockerUp) return 0
    const free = this.capacity.freeSlots().length
    // an agree in flight will lock its collateral too
    const funded = this.fundedSlots === undefined ? free : Math.max(0, this.fundedSlots - this.agreeing.size)
    if (this.opts.cluster === undefined) return funded
    return Math.min(funded, Math.max(0, this.clusterSlots() - (this.slotCount - free)))
  }

  /** deals whose agree is in flight (collateral not yet locked) */
  private readonly agreeing = new Set<string>()

  /** Free slots are offered; booked ones (a deal or a reservation holds them) stay visible as busy while Docker answers. */
  private refreshOffers (): void {
    const free = this.gated.freeSlots()
    const open = new Set(this.capacity.freeSlots())
    const busy = this.dockerUp ? [...Array(this.slotCount).keys()].filter(s => !open.has(s)) : []
    this.announcer.setFreeSlots(free, busy)
  }

  /** Booked slots' last offers with the withdrawals that mark them busy, for order-book sync. */
  busySlots (now: bigint): BusySlot[] {
    return this.dockerUp ? this.announcer.busySlots(now) : []
  }

  private async checkDocker (): Promise<void> {
    let up = true
    try { await this.opts.executor.ping() } catch { up = false }
    if (up !== this.dockerUp) {
      this.dockerUp = up
      if (up) this.c.logger.info('docker engine is back: offering slots')
      else this.c.logger.warn('docker engine unreachable: withdrawing offers')
      this.refreshOffers()
      // what a run lost with the engine left behind and nobody runs again
      if (up && !this.stopped) {
        const still = await this.dealsToRun()
        await this.reconcileContainers(id => still.has(id) || this.runningNow(id) || this.opts.keepContainer?.(id) === true)
      }
    }
  }

  private async checkDeposit (): Promise<void> {
    if (this.stopped) return
    let deposit: bigint
    try {
      deposit = await this.opts.chain.depositOf()
      this.depositFailures = 0
    } catch (err) {
      // one line per outage, not one per check
      if (this.depositFailures++ === 0) reportError(this.c, 'provider', err, 'cannot read our Market deposit; keeping the last known figure')
      return
    }
    const collateral = this.template.collateral
    const wanted = Math.min(this.slotCount, this.clusterSlots())
    const covered = collateral === 0n ? this.slotCount : Number(deposit / collateral)
    const note = covered === 0
      ? `deposit ${formatLP(deposit)} is below the collateral of one deal (${formatLP(collateral)}): not advertising (deposit more LP to offer slots)`
      : covered < wanted ? `deposit ${formatLP(deposit)} covers the collateral of ${covered} of ${wanted} slots: advertising ${covered}` : ''
    if (note !== this.depositNote) {
      if (note !== '') this.c.logger.warn({ deposit: formatLP(deposit), collateral: formatLP(collateral) }, note)
      else if (this.depositNote !== '') this.c.logger.info({ deposit: formatLP(deposit) }, 'deposit covers every slot again: advertising them')
      this.depositNote = note
    }
    const changed = covered !== this.fundedSlots
    this.fundedSlots = covered
    if (changed) this.refreshOffers()
  }

  private async onDeal (a: AgreedDeal): Promise<void> {
    if (a.job === undefined) { this.c.logger.error({ dealId: a.dealId }, 'negotiator gave no job offer: dropping the deal'); this.capacity.release(a.dealId); return }
    // the lifecycle owns the slot from here (it releases it if the deal does not go ahead)
    this.capacity.confirm(a.dealId)
    const slot = this.announcer.schedule.slotOf(a.deal.resourceOfferId) ?? -1
    // kept with the deal: a committee dispute's seed reveal proves our secret against this offer, after a restart too
    const offer = this.announcer.schedule.own(a.deal.resourceOfferId, 0n)?.offer
    const rec = countersignedDeal({ dealId: a.dealId, deal: a.deal, job: a.job, jobCreatorSignature: a.jobCreatorSignature, providerSignature: a.providerSignature, slot, ...(offer !== undefined ? { offer } : {}), ...(a.jobCreatorPeer !== undefined ? { jobCreatorPeer: a.jobCreatorPeer } : {}) }, this.driver.now())
    this.c.metrics.negotiations.inc({ side: 'provider', outcome: 'countersigned' })
    try {
      await this.driver.add(rec, { facts: { state: 'None', since: 0 } })
    } catch (err) {
      reportError(this.c, 'provider', err, 'could not record a countersigned deal: releasing its slot', { dealId: a.dealId })
      this.capacity.release(a.dealId)
    }
  }

  // ---- the lifecycle's shell ----

  private lifecycle (): Lifecycle<ProviderDeal, ProviderEvent, ProviderAction, DealFacts> {
    const chain = this.opts.chain
    return {
      role: 'provider',
      step: (rec, input) => stepProvider(rec, input, this.policy),
      failure: providerFailure,
      facts: async rec => {
        const r = await chain.dealRecord(rec.dealId)
        if (r.state !== 'Challenged') return { state: r.state, since: r.since, ...(auditDrawDue(rec.deal, r) ? { auditDue: true } : {}) }
        // a committee's dispute: DealChallenged names no single mediator; our seed is revealed first (its seed phase),
        // then the case goes to every member drawn (docs/mediation.md, "Unbiasable draws")
        if (r.mediatorIndex === COMMITTEE) return { state: r.state, since: r.since, mediator: ZeroAddress, ...await chain.committeeDisputeFacts(rec.dealId, r.since, rec.deal) }
        // a single mediator is known once drawn (MediatorDrawn): before that, the draw is due
        if (r.mediatorIndex === UNDRAWN) return { state: r.state, since: r.since, mediatorDrawDue: true }
        return { state: r.state, since: r.since, mediator: rec.deal.mediators[r.mediatorIndex] }
      },
      watch: (rec, changed) => chain.follower.onDeal(rec.dealId, () => { changed() }),
      perform: async (rec, a, signal) => await this.perform(rec, a, signal),
      longRunning: a => a.kind === 'run' || a.kind === 'hold',
      describe: rec => ({ dealId: rec.dealId, slot: rec.slot, ...(rec.error !== undefined ? { error: rec.error } : {}), ...(rec.agreeFailed !== undefined ? { agreeFailed: rec.agreeFailed } : {}) })
    }
  }

  private async perform (rec: ProviderDeal, a: ProviderAction, signal: AbortSignal): Promise<ProviderEvent> {
    const chain = this.opts.chain
    switch (a.kind) {
      case 'agree': {
        this.agreeing.add(rec.dealId)
        try {
          const r = await chain.agree(rec.deal, rec.jobCreatorSignature, rec.providerSignature)
          const block = await chain.provider.getBlock(r.blockNumber)
          return { type: 'agreed', at: block?.timestamp ?? Math.floor(this.c.clock.now() / 1000) }
        } catch (err) {
          if (!(err instanceof ContractRevertError)) throw err
          if (err.reason === 'DealExists') {
            // someone holding both signatures agreed it first: it is ours to run all the same
            const d = await chain.dealRecord(rec.dealId)
            return { type: 'agreed', at: d.since }
          }
          if (err.reason === 'InsufficientBalance') void this.checkDeposit()
          if (FINAL_AGREE.has(err.reason) || err.reason === 'Reverted') return { type: 'agree-failed', reason: err.reason }
          throw err
        } finally {
          this.agreeing.delete(rec.dealId)
        }
      }
      case 'hold': return await this.hold(rec, signal)
      case 'release':
        this.capacity.release(rec.dealId)
        // inputs kept for a re-run that will not come
        await this.releaseInputs(rec.dealId)
        return { type: 'released' }
      case 'run': return await this.run(rec, a.timeoutSec, a.deadline, signal)
      case 'abort-run':
        this.driver.abort(rec.dealId, 'run', 'the deal does not go ahead')
        return { type: 'run-aborted' }
      case 'notify': {
        if (rec.jobCreatorPeer === undefined) return { type: 'notify-failed', reason: 'no job creator peer' }
        try {
          await sendDealNotice(this.opts.host, this.opts.network.networkId, rec.jobCreatorPeer, { dealId: rec.dealId, code: 'AGREE_FAILED', detail: a.reason }, signal)
        } catch (err) {
          if (isUnsupportedProtocol(err)) return { type: 'notify-failed', reason: (err as Error).message }
          throw err
        }
        return { type: 'notified' }
      }
      case 'submit': return await this.submit(rec, a.acceptance)
      case 'deliver': {
        if (rec.jobCreatorPeer === undefined || rec.resultCid === undefined) return { type: 'deliver-failed', reason: 'nothing to deliver' }
        const result: Result = { dealId: rec.dealId, resultCid: rec.resultCid, exitCode: rec.exitCode ?? -1, timestamp: BigInt(Math.floor(this.c.clock.now() / 1000)) }
        const signature = await signMessage('Result', chain.domain, result, chain.wallet)
        try {
          const ack = await deliverResult(this.opts.host, this.opts.network.networkId, rec.jobCreatorPeer, { result, signature, addrs: this.opts.host.getMultiaddrs().map(m => m.toString()) }, signal)
          // no acceptance will follow: submit alone now rather than after the wait for one
          if (ack.acceptance === 'none') return { type: 'delivered', noAcceptance: true }
        } catch (err) {
          // the job creator refused it (it no longer waits for this deal), or its peer does not speak the result
          // protocol (a client driving the chain by hand, the contract bridge, a node not started yet): it reads the
          // CID from chain, so dialling it every few seconds until the deadline would only cost both sides
          if ((err as Error).name === 'ResultRejectedError' || isUnsupportedProtocol(err)) return { type: 'deliver-failed', reason: (err as Error).message }
          throw err
        }
        return { type: 'delivered' }
      }
      case 'settle': return await chainCall<ProviderEvent>(async () => { await this.settle(rec.deal) }, { type: 'settled' }, reason => ({ type: 'settle-failed', reason }), ['JudgeWindowOpen'])
      // AuditDrawNotReady: the submission's block is still the pending one; the next block can read its hash
      case 'draw-audit': return await chainCall<ProviderEvent>(async () => { await chain.drawAudit(rec.deal) }, { type: 'audit-drawn' }, reason => ({ type: 'draw-audit-failed', reason }), ['AuditDrawNotReady'])
      // MediatorDrawNotReady: the dispute's block is still the pending one; the next block can read its hash
      case 'draw-mediator': return await chainCall<ProviderEvent>(async () => { await chain.drawMediator(rec.deal) }, { type: 'mediator-drawn' }, reason => ({ type: 'draw-mediator-failed', reason }), ['MediatorDrawNotReady'])
      case 'hand-off': {
        const disputes = this.opts.disputes
        if (disputes === undefined) return { type: 'hand-off-failed', reason: 'no dispute service' }
        try {
          await handOffDispute(disputes, a.mediator, caseOfDeal(rec), { chain, signal, connected: peer => this.connected(peer) })
        } catch (err) {
          if (err instanceof DisputeRefusedError) return { type: 'hand-off-failed', reason: err.code }
          throw err
        }
        return { type: 'handed-off' }
      }
      case 'reveal-seed': {
        // a committee dispute's seed phase (docs/mediation.md, "Unbiasable draws"): our secret, retried until the
        // phase ends; then the draw awaited, or a phase its 256 blocks ended closed with finalizeCommittee. A test
        // provider told to withhold it says it did, and sends nothing.
        const offer = rec.offer
        if (this.opts.fault === 'withheld-seed') return { type: 'seed-revealed' }
        if (offer === undefined) {
          this.c.logger.error({ dealId: rec.dealId }, 'a committee dispute, and the resource offer the deal names is not known: our seed cannot be revealed, and withholding it loses the dispute')
          return { type: 'seed-revealed' }
        }
        const seed = { provider: true, secret: await deriveSeedSecret(async m => await chain.wallet.signMessage(m), chain.domain, 'ResourceOffer', offer.provider, offer.nonce, offer.slot), words: offerWords('ResourceOffer', offer) }
        await revealOwnSeed(chain, rec.dealId, rec.deal, seed, { signal, onError: err => { this.c.logger.warn({ dealId: rec.dealId, err }, 'revealing our dispute seed failed: retrying until the seed phase ends') } })
        return { type: 'seed-revealed' }
      }
      // a committee's dispute is closed by finalizeCommittee once its seed phase or its vote is over (a withheld seed
      // draws no member who would do it); the single mediator's by timeoutMediation
      case 'timeout-mediation': return await chainCall<ProviderEvent>(async () => { await (a.committee ? chain.finalizeCommittee(rec.deal) : chain.timeoutMediation(rec.deal)) }, { type: 'mediation-timed-out' }, reason => ({ type: 'timeout-mediation-failed', reason }), ['MediationWindowOpen', 'VotingOpen', 'SeedRevealOpen'])
    }
  }

  private connected (peerId: string): boolean {
    return this.opts.host.getConnections().some(c => c.remotePeer.toString() === peerId)
  }

  /** A slot for a deal that has none in this process (after a restart, or agreed after we released it). */
  private async hold (rec: ProviderDeal, signal: AbortSignal): Promise<ProviderEvent> {
    for (;;) {
      signal.throwIfAborted()
      const slots = [rec.slot, ...this.capacity.freeSlots()]
      for (const s of slots) {
        if (s >= 0 && this.capacity.tryReserve(s, rec.dealId, 60_000)) {
          this.capacity.confirm(rec.dealId)
          return { type: 'held', slot: s }
        }
      }
      // every slot is busy: wait for one to free up (or for the deadline, which aborts us)
      await new Promise<void>((resolve, reject) => {
        const off = this.capacity.onChange(() => { off(); signal.removeEventListener('abort', onAbort); resolve() })
        const onAbort = (): void => { off(); reject(signal.reason) }
        signal.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  private async run (rec: ProviderDeal, timeoutSec: number, deadlineMs: number, signal: AbortSignal): Promise<ProviderEvent> {
    const job = rec.job.value
    let end: ResourceProviderEvents['job:end'][0] = { dealId: rec.dealId, slot: rec.slot }
    let started = false
    let keepInputs = false
    try {
      const inputs = JSON.parse(job.inputs) as Record<string, string>
      const modOpts = this.opts.modulesDir !== undefined ? { modulesDir: this.opts.modulesDir } : {}
      const git = this.modulePolicy.git
      // a git module's fetch is bounded in time and size, and abandoned with the deal
      const loaded = await loadModule(job.module, inputs, { ...modOpts, signal, ...(git?.timeoutMs !== undefined ? { fetchTimeoutMs: git.timeoutMs } : {}), ...(git?.maxBytes !== undefined ? { maxFetchBytes: git.maxBytes } : {}) })
      // the container gets the CPU and memory the job asked for when it asked for more than its module's (`lilypad
      // run --cpu --ram`, a canary asking for its whole slot): what the deal booked, never more than the slot offered
      const spec = await pinSpecImage(this.opts.executor.docker, { ...loaded.spec, resources: containerResources(loaded.spec.resources, job.spec) }, modOpts)
      signal.throwIfAborted()
      // (the executor replaces what an earlier attempt left in it, or adopts that attempt's container)
      const resultDir = join(this.opts.dataDir, 'jobs', rec.dealId)
      started = true
      this.running++
      this.maxRunning = Math.max(this.maxRunning, this.running)
      this.emit('job:start', { dealId: rec.dealId, slot: rec.slot })
      // The job's time starts now: fetching its inputs comes out of it. A re-run after a lost engine uses the
      // inputs its first run staged (the container it may adopt binds those very directories).
      let staged = this.staged.get(rec.dealId)
      if (staged === undefined) {
        const t0 = this.c.clock.now()
        let got: StagedInputs
        try {
          got = await stageJobInputs(spec, {
            signal, deadline: t0 + timeoutSec * 1000, dir: join(this.opts.dataDir, 'inputs', rec.dealId), policy: this.opts.inputPolicy ?? {}, slots: this.fetchSlots, clock: this.c.clock
          }, this.opts.store, rec.jobCreatorPeer)
        } catch (err) {
          if (!isJobInputFault(err)) throw err
          // the job's own inputs failed it: that is its result (paid for, and what a mediator's re-run writes too)
          this.c.logger.info({ dealId: rec.dealId, err }, 'the job\'s inputs were refused: its result says why')
          await rm(resultDir, { recursive: true, force: true })
          await writeInputErrorResult(resultDir, err, spec.outputs)
          this.c.metrics.jobs.inc({ status: 'input-error' })
          const cid = (await this.opts.store.addDirectory(resultDir)).toString()
          end = { ...end, resultCid: cid, exitCode: INPUT_ERROR_EXIT_CODE, status: 'input-error', inputError: err.name }
          return { type: 'run-done', cid, exitCode: INPUT_ERROR_EXIT_CODE }
        }
        staged = { inputs: got, usedMs: this.c.clock.now() - t0 }
        this.staged.set(rec.dealId, staged)
        if (got.mounts.length > 0) this.emit('job:inputs', { dealId: rec.dealId, bytes: got.bytes, mounts: got.mounts.length })
      }
      let r
      try {
        const gpuDeviceIds = this.gpuShares?.[rec.slot]?.deviceIds ?? []
        r = await this.opts.executor.run(spec, {
          resultDir, timeoutSec, usedMs: staged.usedMs, signal, jobId: rec.dealId, inputMounts: staged.inputs.mounts, ...(gpuDeviceIds.length > 0 ? { gpuDeviceIds } : {}),
          onOutput: chunk => { this.logs.publish(rec.dealId, chunk) }
        })
      } catch (err) {
        // a run the engine lost may be run again (and adopt its container): its inputs stay until then
        keepInputs = (err instanceof EngineLostError || err instanceof DockerUnavailableError) && !signal.aborted
        throw err
      }
      // the container's output is complete: its followers hear the end before the result is added and delivered
      this.logs.end(rec.dealId)
      // the engine's OOM record is not in the result (it can be lost) but tells the operator why a job was killed
      this.c.metrics.jobs.inc({ status: r.status === 'ok' && r.exitCode !== 0 ? 'exit-nonzero' : r.status === 'killed' && r.oomKilled === true ? 'oom' : r.status })
      this.c.metrics.containerSeconds.inc(r.runMs / 1000)
      if (this.opts.fault === 'wrong-result') await appendFile(join(resultDir, 'stdout'), 'tampered\n')
      let cid = (await this.opts.store.addDirectory(resultDir)).toString()
      // a CID of nothing: the job creator cannot fetch it, and must challenge to get its money back
      if (this.opts.fault === 'withheld-result') cid = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
      if (this.opts.fault === 'unserved-result') await this.opts.store.unpin(cid)
      end = { ...end, resultCid: cid, exitCode: r.exitCode, status: r.status, runMs: r.runMs, ...(r.status === 'killed' ? { engineOom: r.oomKilled ?? 'unknown' } : {}) }
      if (r.status === 'killed') this.c.logger.info({ dealId: rec.dealId, engineOom: end.engineOom }, 'the job was killed by a SIGKILL it did not ask for (engineOom: whether the engine saw an OOM kill)')
      return { type: 'run-done', cid, exitCode: r.exitCode }
    } catch (err) {
      const e = err as Error
      end = { ...end, error: e.message }
      if (signal.aborted) throw err
      const lost = err instanceof EngineLostError || err instanceof DockerUnavailableError
      this.c.metrics.jobs.inc({ status: lost ? 'engine-lost' : 'error' })
      if (!lost) {
        this.c.logger.warn({ dealId: rec.dealId, err: e }, 'job failed')
        return { type: 'run-failed', reason: `${e.name}: ${e.message}`, retryable: false }
      }
      // A lost or absent engine: the lifecycle runs it again (the executor adopting the container if it is still
      // there) once the engine answers, while the result deadline leaves time; until then, nothing to run on.
      this.c.logger.warn({ dealId: rec.dealId, err: e }, 'docker engine lost during the job: running it again when it answers')
      const back = await this.opts.executor.waitForEngine({ timeoutMs: Math.max(0, deadlineMs - this.driver.now()), signal })
      if (!back) keepInputs = false
      return { type: 'run-failed', reason: `${e.name}: ${e.message}`, retryable: back }
    } finally {
      this.logs.end(rec.dealId)
      if (!keepInputs) await this.releaseInputs(rec.dealId)
      if (started) {
        this.running--
        this.emit('job:end', end)
      }
    }
  }

  /** Removes a deal's staged inputs (after its run, or once the deal no longer goes ahead). */
  private async releaseInputs (dealId: string): Promise<void> {
    const staged = this.staged.get(dealId)
    if (staged === undefined) return
    this.staged.delete(dealId)
    try { await staged.inputs.release() } catch (err) { reportError(this.c, 'provider', err, 'could not remove a job\'s staged inputs', { dealId }) }
  }

  /**
   * Submits the result: with the job creator's acceptance, settling the deal in the same transaction; else settling
   * our earlier deals whose judge windows passed in the same transaction.
   */
  private async submit (rec: ProviderDeal, acceptance?: string): Promise<ProviderEvent> {
    const chain = this.opts.chain
    if (rec.resultCid === undefined) return { type: 'submit-failed', reason: 'no result' }
    if (acceptance !== undefined) {
      try {
        const { settled } = await chain.submitAcceptedResult(rec.deal, rec.resultCid, acceptance)
        // (a deal with audits keeps the acceptance until its draw: settled then, by our drawAudit if it misses)
        return { type: 'submitted', accepted: settled }
      } catch (err) {
        if (!(err instanceof ContractRevertError)) throw err
        // a submission whose receipt we lost (the RPC stalled) may have landed after all
        const now = await chain.dealRecord(rec.dealId)
        if (now.state === 'Settled' || now.state === 'ResultSubmitted' || now.state === 'Challenged') return { type: 'submitted', accepted: now.state === 'Settled' }
        // (the acceptance was checked before it was taken: a revert here is a bug, or a job creator's contract
        // wallet that changed its mind) the result goes on chain alone, as without an acceptance
        this.c.logger.warn({ dealId: rec.dealId, reason: err.reason }, 'submitting with the job creator\'s acceptance reverted: submitting the result alone')
      }
    }
    const ready = await this.readyToSettle(rec.dealId)
    try {
      await chain.submitResult(rec.deal, rec.resultCid, { settle: ready.map(r => r.deal) })
    } catch (err) {
      if (!(err instanceof ContractRevertError)) throw err
      // a submission whose receipt we lost (the RPC stalled) may have landed after all
      const now = await chain.dealRecord(rec.dealId)
      if (now.state === 'ResultSubmitted' || now.state === 'Challenged') return { type: 'submitted' }
      if (ready.length > 0) {
        // one of the piggybacked settlements no longer applies: submit alone
        try { await chain.submitResult(rec.deal, rec.resultCid) } catch (again) {
          if (again instanceof ContractRevertError) return { type: 'submit-failed', reason: again.reason }
          throw again
        }
        return { type: 'submitted' }
      }
      return { type: 'submit-failed', reason: err.reason }
    }
    for (const r of ready) this.driver.notify(r.dealId, { type: 'settled' }, 'a step after a batched settlement failed')
    return { type: 'submitted' }
  }

  /** Our submitted deals whose judge window has passed (settled in our next submission). */
  private async readyToSettle (except: string, limit = 16): Promise<ProviderDeal[]> {
    const now = Math.floor(this.driver.now() / 1000)
    const out: ProviderDeal[] = []
    for (const r of await this.deals.open()) {
      if (out.length >= limit) break
      // one second of margin: the block that settles is mined at least at our clock
      if (r.dealId !== except && r.phase === 'submitted' && !r.settleSent && r.submittedAt !== undefined && r.submittedAt + r.deal.judgeWindow < now - 1) out.push(r)
    }
    return out
  }

  /** Settles in batches: deals whose settle falls within one second go in one transaction. */
  private async settle (deal: Deal): Promise<void> {
    const id = this.opts.chain.dealId(deal)
    if (this.settleBatch === undefined) {
      const deals = new Map<string, Deal>()
      const done = this.c.clock.sleep(1000).then(async () => {
        this.settleBatch = undefined
        try {
          await this.opts.chain.settle([...deals.values()])
        } catch (err) {
          if (!(err instanceof ContractRevertError) || deals.size === 1) throw err
          // one deal of the batch was closed meanwhile: settle them one by one
          for (const d of deals.values()) {
            await this.opts.chain.settle([d]).catch(e => { reportError(this.c, 'provider', e, 'settle failed (closed by someone else?)', { dealId: this.opts.chain.dealId(d) }) })
          }
        }
      })
      this.settleBatch = { deals, done }
    }
    this.settleBatch.deals.set(id, deal)
    await this.settleBatch.done
  }
}
