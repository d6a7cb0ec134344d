// One process per node. It assembles the components every service shares — clock, logger, metrics — with the
// node's host (one libp2p host for gossip, negotiation, results, sync, disputes, the DHT and the Helia store), its
// chain client (one nonce-owning queue and one chain follower for the node's key) and its stores, then gives each
// role the slice it uses, the way libp2p passes components. Start and stop order live here, in one place.
import { join } from 'node:path'
import { concat, getBytes, isAddress, keccak256, parseEther, toUtf8Bytes } from 'ethers'
import { multiaddr } from '@multiformats/multiaddr'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { NetworkFile } from './config/network.ts'
import { ChainClient, ChainUnavailableError } from './chain/index.ts'
import { Wallet } from 'ethers'
import { SlotCapacity } from './negotiation/capacity.ts'
import { DealStore } from './deal-store/deal-store.ts'
import { stillToRun, resultWindowEnd } from '../core/lifecycle/provider.ts'
import { ReputationFeed } from './incentives/reputation-feed.ts'
import { agreedDealsOf } from './incentives/chain-facts.ts'
import { CanaryRetriesFile } from './incentives/retries-file.ts'
import { nativeRecoverUnavailable } from './crypto/native-recover.ts'
import { Validator, NotAValidatorError, type ValidatorOptions } from './roles/validator.ts'
import { RewardsClient, NoRewardsContractError } from './incentives/rewards-client.ts'
import { deriveCanaryKey, setupFromJson } from '../protocols/incentives/index.ts'
import { createHost, localMeshOptions, hostOptionsFromNetwork, domainOfNetwork, watchConnections, LOCAL_LISTEN, PUBLIC_LISTEN, type HostOptions, type LilypadHost } from './host/index.ts'
import { loadOrCreatePeerKey } from './host/keys.ts'
import { GossipService } from './gossip/gossip.ts'
import { OrderBook } from '../protocols/order-book.ts'
import { OfferSync } from './offer-sync/index.ts'
import { ResultStore, ResultRetention, OpenResults, type RetentionOptions } from './result-store/index.ts'
import type { InputPolicy } from './inputs/index.ts'
import { Executor, loadExecutorOwner, SwarmExecutor, type JobExecutor } from './executor/index.ts'
import { Solver } from './solver/index.ts'
import { Directory } from './directory/index.ts'
import { detectGpus, describeGpus, usableDevices } from './gpu/index.ts'
import { ResourceProvider, DEFAULT_CLUSTER_MAX_SLOTS, type ResourceProviderOptions, type RpDealRecord } from './roles/resource-provider.ts'
import { JobCreator, type JobCreatorOptions } from './roles/job-creator.ts'
import { Mediator, type MediatorInit } from './roles/mediator.ts'
import { JobBridge, type JobBridgeInit } from './roles/job-bridge.ts'
import { DisputeService, caseSource, jobCreatorCaseSource, drawnMediatorOnly } from './dispute/index.ts'
import { createComponents, reportError, type Components } from './components.ts'
import type { Logger, LoggerOptions } from './observability/logger.ts'
import type { LilypadMetrics } from './observability/metrics.ts'
import type { Clock, Timer } from '../core/clock.ts'
import type { RoleName } from './role-names.ts'
import { Housekeeping, type HousekeepingInit } from './housekeeping/index.ts'
import type { StoredRecord } from './deal-store/deal-store.ts'
import { JobService, type JobServiceInit } from './jobs/index.ts'
import { ChainContext } from './chain-context.ts'
import { chainsOf, UnknownChainError } from './config/chains.ts'

export { ROLE_NAMES, parseRoles, UnknownRoleError, type RoleName } from './role-names.ts'

/** The deal terms a network file sets for its job creators. */
function dealTermsOf (t: NetworkFile['dealTerms']): NonNullable<JobCreatorOptions['terms']> {
  return {
    ...(t?.resultSlack !== undefined ? { resultSlack: t.resultSlack } : {}),
    ...(t?.judgeWindow !== undefined ? { judgeWindow: t.judgeWindow } : {}),
    ...(t?.mediateTimeout !== undefined ? { mediateTimeout: t.mediateTimeout } : {}),
    ...(t?.mediationFee !== undefined ? { mediationFee: BigInt(t.mediationFee) } : {})
  }
}

/** Provider settings a node takes (the rest comes from the node). */
export type ProviderSettings = Partial<Omit<ResourceProviderOptions, 'host' | 'chain' | 'store' | 'executor' | 'network' | 'gossip' | 'dataDir' | 'disputes'>>
/** Job creator settings a node takes. */
export type JobCreatorSettings = Partial<Omit<JobCreatorOptions, 'host' | 'chain' | 'store' | 'network' | 'dataDir' | 'gossip' | 'offerSync' | 'disputes'>>
/** Mediator settings a node takes. */
export type MediatorSettings = Partial<Pick<MediatorInit, 'pullAfterMs' | 'pullIntervalMs' | 'marginSec' | 'register' | 'modules' | 'fault' | 'jobModules'>>
/** Validator settings a node takes: rounds per epoch, round options, how canaries with no deal are judged, the LP and ETH each epoch's canary key gets. */
export type ValidatorSettings = Partial<Pick<ValidatorOptions, 'rounds' | 'round' | 'tailSec' | 'rng' | 'decline'>> & {
  /** LP moved to each epoch's canary key and deposited in the Market (its canaries' prices and fees; default 50 LP) */
  canaryDeposit?: bigint
  /** ETH moved to each epoch's canary key for its gas (default 0.05) */
  canaryGas?: bigint
}
/** Job bridge settings a node takes. */
export type BridgeSettings = Partial<Pick<JobBridgeInit, 'concurrency' | 'register' | 'allowedModules'>>

export interface NodeOptions {
  network: NetworkFile
  /** the network file's path (relative swarm key paths resolve against it) */
  networkPath: string
  /** the node's Ethereum key; never logged */
  privateKey: string
  /**
   * The chains this node serves, by id (default: every chain of the network). The network's first chain is always
   * served (it is the node's own: `node.chain`); each further one gets a ChainContext (docs/multichain.md).
   */
  chains?: number[]
  /** node state: peer key, deals, Helia blocks, downloads, the chain cursor */
  dataDir: string
  roles: RoleName[]
  /** default: loopback when `local`, else every interface plus a relay reservation (PUBLIC_LISTEN) */
  listen?: string[]
  /** many nodes on one machine (devnet, tests): loopback allow-list, no colocation penalty, fast heartbeat */
  local?: boolean
  host?: Partial<HostOptions>
  provider?: ProviderSettings
  jobCreator?: JobCreatorSettings
  mediator?: MediatorSettings
  bridge?: BridgeSettings
  validator?: ValidatorSettings
  /** what jobs' inputs may make this node's provider and mediator fetch (node/inputs; default: no private addresses) */
  inputPolicy?: Partial<InputPolicy>
  executor?: JobExecutor
  /**
   * Which executor the node makes when none is given: 'docker' runs jobs on this machine's engine (default),
   * 'swarm' runs each as a one-shot service on the Docker Swarm whose manager the engine is (one provider identity
   * over a cluster; docs/operators.md). The engine is found from the usual Docker environment (DOCKER_HOST).
   */
  executorKind?: 'docker' | 'swarm'
  /** the components to build on (default: the system clock, a logger to stderr, a registry of our own) */
  components?: { clock?: Clock, logger?: Logger | LoggerOptions, metrics?: LilypadMetrics }
  /** put libp2p's own metrics in the node's registry (default true; one host per registry) */
  libp2pMetrics?: boolean
  /** how the chain follower reads the chain (default: the network file's confirmations or none, 100 ms polls on local networks, 1 s otherwise) */
  chain?: { confirmations?: number, pollMs?: number }
  /** status line and sweep intervals, deal-record retention (node/housekeeping) */
  housekeeping?: HousekeepingInit
  /** the signed directory record's lifetime and republish interval (providers and directory nodes keep one) */
  directoryRecord?: { ttlSec?: number, intervalMs?: number }
  /** how long and how much a provider keeps of its results (node/result-store/retention.ts; default 7 days, 20 GB) */
  resultRetention?: Omit<RetentionOptions, 'keep' | 'log'>
  /**
   * A provider's deal of a chain not joined yet keeps its container and slot until the deal's result window has
   * closed on the local clock plus this margin (ms; default 1 h, for a chain whose clock runs behind ours)
   */
  parkMarginMs?: number
}

export class LilypadNode {
  readonly components: Components
  readonly host: LilypadHost
  /** the first chain's client, once joined (its RPC may be down at start: then it joins later, as a further chain does) */
  private firstChain: ChainClient | undefined
  /** providers' chain records, kept current while a job creator runs here */
  reputation: ReputationFeed | undefined
  readonly store: ResultStore
  readonly gossip: GossipService
  readonly book: OrderBook
  readonly offerSync: OfferSync
  readonly disputes: DisputeService
  readonly roles: RoleName[]
  provider?: ResourceProvider
  jobCreator?: JobCreator
  solver?: Solver
  directory?: Directory
  mediator?: Mediator
  bridge?: JobBridge
  validator?: Validator
  /** the job bridge on each further chain, by chain id */
  readonly chainBridges = new Map<number, JobBridge>()
  /** the mediator role on each further chain, by chain id */
  readonly chainMediators = new Map<number, Mediator>()
  /** each epoch's canary job creator (its own key and chain client) */
  private readonly canaryRunners = new Map<number, { jc: JobCreator, chain: ChainClient }>()
  /** the network's further chains this node serves, by chain id (its first chain is `chain`) */
  readonly chainContexts = new Map<number, ChainContext>()
  /**
   * further chains not joined yet (their RPC down, another chain's id), with the last error: logged, and tried again
   * with backoff until they join or the node stops
   */
  readonly unavailableChains = new Map<number, Error>()
  /** what joining a further chain late needs of the start: whether offer sync pulls, the GPUs found */
  private chainJoin?: { pull: boolean, gpus: Awaited<ReturnType<typeof detectGpus>> | undefined }
  private readonly chainRetries = new Map<number, Timer>()
  /** while the providers start: further chains' deals still to run, whose left-over containers are kept for them */
  private readonly containersToAdopt = new Set<string>()
  /** the one pool of slots every chain's provider books from (made by the node: a provider's first chain may join late) */
  private capacity?: SlotCapacity
  private slotCount = 1
  /**
   * Deals still to run of chains not joined yet (provider role): their containers are kept (neither adopted nor
   * removed) and their slots held until their chain joins and its provider takes them over, or until their result
   * window has closed for certain (then removed, logged), whichever comes first.
   */
  private readonly parked = new Map<string, { chainId: number, timer: Timer }>()
  /** result CIDs of open deals on any chain, joined or not (result retention keeps them) */
  private readonly openResults = new OpenResults()
  private readonly joinWaiters = new Map<number, Array<{ resolve: (ctx: ChainContext | undefined) => void, reject: (err: Error) => void }>>()
  /** the user's jobs (the local API's), once startJobs() ran */
  jobs?: JobService
  housekeeping?: Housekeeping
  retention?: ResultRetention
  private executor?: JobExecutor
  private readonly opts: NodeOptions
  private readonly logger: Logger
  private readonly dropSources: Array<() => void> = []
  /** The executor was made here (not passed in), so stop() stops it. */
  private ownsExecutor = false
  private stopped = false
  private unwatch?: () => void
  /** the host's key, kept for the mediators of further chains joined late */
  private peerKey?: import('@libp2p/interface').PrivateKey

  private constructor (components: Components, host: LilypadHost, store: ResultStore, opts: NodeOptions) {
    this.components = components
    this.logger = components.logger.child({ component: 'node' })
    this.host = host
    this.store = store
    this.opts = opts
    this.roles = opts.roles
    this.book = new OrderBook()
    const domain = domainOfNetwork(opts.network)
    const networkId = opts.network.networkId
    this.gossip = new GossipService(host, { networkId, domain, book: this.book, jobOffers: opts.roles.includes('solver'), components })
    this.offerSync = new OfferSync(host, { networkId, domain, book: this.book, components, ownOffers: () => this.provider?.liveOffers(BigInt(Math.floor(components.clock.now() / 1000))) ?? [], ownBusy: () => this.provider?.busySlots(BigInt(Math.floor(components.clock.now() / 1000))) ?? [] })
    // a party's cases go only to the mediator the chain drew for the deal, at the peer id it registered
    this.disputes = new DisputeService(host, { networkId, components, authorizePull: drawnMediatorOnly(() => this.chain) })
  }

  /**
   * The node's first chain (the network's first): its client, which owns this key's nonces there.
   * ChainUnavailableError while it has not joined (its RPC was down at start; see unavailableChains).
   */
  get chain (): ChainClient {
    if (this.firstChain === undefined) throw new ChainUnavailableError(this.opts.network.chainId, this.unavailableChains.get(this.opts.network.chainId))
    return this.firstChain
  }

  /** this node's key's address (on every chain) */
  get address (): string { return new Wallet(this.opts.privateKey).address }

  static async create (opts: NodeOptions): Promise<LilypadNode> {
    const components = createComponents(opts.components ?? {})
    let host: LilypadHost | undefined
    let store: ResultStore | undefined
    try {
      const hostOpts = await hostOptionsFromNetwork(opts.network, opts.networkPath, opts.dataDir, {
        ...(opts.local === true ? localMeshOptions : {}),
        listen: opts.listen ?? (opts.local === true ? LOCAL_LISTEN : PUBLIC_LISTEN),
        ...(opts.libp2pMetrics !== false ? { metrics: prometheusMetrics({ registry: components.metrics.registry, collectDefaultMetrics: false, preserveExistingMetrics: true }) } : {}),
        // the host's reach service logs, counts and keeps time with the node's components
        components,
        ...opts.host
      })
      host = await createHost(hostOpts)
      // on a real network the operator sees how each peer is reached (direct, relayed, upgraded by DCUtR)
      const hostLog = components.logger.child({ component: 'host' })
      const unwatch = opts.local !== true ? watchConnections(host, (msg, fields) => { hostLog.info(fields, msg) }) : undefined
      await host.start()
      // The bootstrap discovery module waits a second before its first dial; a CLI run cannot afford that.
      const h = host
      for (const b of opts.network.bootstrap) {
        void h.dial(multiaddr(b), { signal: AbortSignal.timeout(5000) }).catch(err => { components.logger.warn({ component: 'node', bootstrap: b, err }, 'bootstrap peer not reached (discovery keeps trying)') })
      }
      store = await ResultStore.create({ dataDir: opts.dataDir, libp2p: host, onSweepError: err => { reportError(components, 'result-store', err, 'the bitswap want sweep failed (wants may pile up until the connection closes)') } })
      const node = new LilypadNode(components, host, store, opts)
      node.unwatch = unwatch
      try {
        await node.start(hostOpts.privateKey ?? await loadOrCreatePeerKey(join(opts.dataDir, 'peer.key')))
      } catch (err) {
        for (const ctx of node.chainContexts.values()) await ctx.stop().catch(e => { reportError(components, 'node', e, 'a chain did not stop cleanly') })
        await node.firstChain?.stop()
        throw err
      }
      return node
    } catch (err) {
      await store?.stop().catch(e => { reportError(components, 'node', e, 'store did not stop cleanly') })
      try { await host?.stop() } catch (e) { reportError(components, 'node', e, 'host did not stop cleanly') }
      throw err
    }
  }

  private async start (peerKey: import('@libp2p/interface').PrivateKey): Promise<void> {
    const { network, dataDir, roles } = this.opts
    const c = this.components
    const domain = domainOfNetwork(network)
    const firstId = network.chainId
    this.peerKey = peerKey
    const peers = (): void => { c.metrics.peers.set(this.host.getPeers().length) }
    this.host.addEventListener('peer:connect', peers)
    this.host.addEventListener('peer:disconnect', peers)
    this.dropSources.push(this.gossip.onVerdict((verdict, code) => { c.metrics.gossipVerdicts.inc({ topic: 'gossip', verdict: String(verdict), code: code ?? '' }) }))
    if (roles.includes('resource-provider') || roles.includes('mediator')) {
      // The owner id labels this node's containers on the engine: stable per data directory, so a restart finds
      // (and adopts or removes) what a killed predecessor left, and other nodes sharing the engine are left alone.
      this.ownsExecutor = this.opts.executor === undefined
      const owner = await loadExecutorOwner(dataDir)
      this.executor = this.opts.executor ?? (this.opts.executorKind === 'swarm' ? new SwarmExecutor({ owner }) : new Executor({ owner }))
      if (this.executor instanceof SwarmExecutor) {
        // a swarm provider needs a manager now: a clear error at start rather than offers that never run
        await this.executor.ping()
        this.logger.info({ executor: 'swarm' }, 'running jobs as services on the Docker Swarm')
      }
    }
    // the first chain's mesh services need no RPC: the mesh serves its namespace even while its RPC is down
    this.gossip.start()
    const pull = roles.includes('job-bridge') || roles.includes('solver') || roles.includes('validator')
    await this.offerSync.start({ serve: true, pull })
    await this.disputes.start()
    let gpus: Awaited<ReturnType<typeof detectGpus>> | undefined
    if (roles.includes('resource-provider')) {
      // the machine's GPUs, unless the settings give an inventory (or a bare machine.gpus count) themselves
      const swarm = this.executor instanceof SwarmExecutor
      // (a cluster's GPUs are its nodes' generic resources: the cluster view counts them, not this machine)
      gpus = this.opts.provider?.gpus ?? (this.opts.provider?.machine?.gpus !== undefined || swarm ? undefined : await detectGpus({ docker: (this.executor as JobExecutor).docker }))
      if (gpus !== undefined) this.logger.info({ gpus: describeGpus(gpus), usable: usableDevices(gpus).length }, 'GPUs detected')
      const slots = swarm ? this.opts.provider?.maxSlots ?? DEFAULT_CLUSTER_MAX_SLOTS : this.opts.provider?.slots ?? 1
      if (!Number.isInteger(slots) || slots < 1) throw new TypeError('slots must be a positive integer')
      this.slotCount = slots
      this.capacity = new SlotCapacity([...Array(slots).keys()], { clock: c.clock })
      // results of open deals on every chain, joined or not, are kept (read from each chain's deal records)
      await this.startResultRetention()
    }
    this.chainJoin = { pull, gpus }
    try {
      await this.joinFirstChain()
    } catch (err) {
      this.unavailableChains.set(firstId, err as Error)
      reportError(c, 'node', err, 'the network\'s first chain could not be joined: its roles wait for it, tried again', { chainId: firstId })
    }
    await this.joinFurtherChains(pull)
    for (const ch of chainsOf(network)) c.metrics.chainJoined.set({ chain: String(ch.chainId) }, this.unavailableChains.has(ch.chainId) ? 0 : 1)
    if (roles.includes('resource-provider')) {
      // a chain not joined: its deals still to run keep their containers and slots until it joins
      for (const chainId of this.unavailableChains.keys()) await this.park(chainId)
      // Every chain's provider is made before any of them tidies the shared executor at its start: a container a
      // killed predecessor left for a deal still to run on any chain is kept for that chain's provider to adopt.
      const providers: ResourceProvider[] = []
      if (this.firstChain !== undefined) providers.push(await this.createFirstProvider())
      for (const ctx of this.chainContexts.values()) providers.push(await this.createProviderOn(ctx))
      for (const p of providers) for (const id of await p.dealsToRun()) this.containersToAdopt.add(id)
      for (const p of providers) await p.start()
      this.containersToAdopt.clear()
    }
    if (roles.includes('solver')) {
      // (matching reads the first chain's book only: it needs the mesh, not the RPC)
      this.solver = new Solver(this.host, this.gossip, { networkId: network.networkId, domain })
      this.solver.start()
    }
    if (roles.includes('directory') || roles.includes('resource-provider')) {
      // a signed record of our addresses in the DHT: where a job creator that cannot dial us looks (node/host/reach.ts).
      // Kept published: records expire, a restarted DHT server forgets them, our addresses may change.
      this.directory = new Directory(this.host, { networkId: network.networkId, domain, signer: new Wallet(this.opts.privateKey), privateKey: peerKey })
      this.directory.keepPublished({ roles, ...this.opts.directoryRecord, log: c.logger.child({ component: 'directory' }) })
    }
    if (this.firstChain !== undefined) await this.startFirstChainRoles({ provider: false })
    for (const ctx of this.chainContexts.values()) {
      if (roles.includes('mediator')) await this.startMediatorOn(ctx)
      if (roles.includes('job-bridge')) await this.startBridgeOn(ctx)
    }
    this.startHousekeeping()
    for (const chainId of this.unavailableChains.keys()) this.retryChain(chainId, 0)
    this.logger.info({ roles, peer: this.host.peerId.toString(), address: this.address, signatures: nativeRecoverUnavailable === undefined ? 'libsecp256k1' : 'javascript', ...(this.unavailableChains.size > 0 ? { waitingFor: [...this.unavailableChains.keys()] } : {}) }, 'node started')
    if (nativeRecoverUnavailable !== undefined) this.logger.warn({ err: nativeRecoverUnavailable.message }, 'the native secp256k1 binding did not load: signatures are recovered in JavaScript (about 30 times the CPU per message)')
  }

  /** Connects to the network's first chain (the node's own) and starts its follower. */
  private async joinFirstChain (): Promise<void> {
    const { network, roles, dataDir } = this.opts
    const needsHistory = roles.includes('mediator') || roles.includes('job-bridge')
    const chain = await ChainClient.create({
      network,
      privateKey: this.opts.privateKey,
      components: this.components,
      follow: {
        // a node with no role that needs the past starts at the head; the others resume where they stopped
        startBlock: needsHistory ? network.deployBlock : 'latest',
        ...(roles.length > 0 ? { cursorFile: join(dataDir, `chain-cursor-${network.chainId}.json`) } : {}),
        confirmations: this.opts.chain?.confirmations ?? network.confirmations ?? 0,
        pollMs: this.opts.chain?.pollMs ?? (this.opts.local === true ? 100 : 1000)
      }
    })
    try {
      await chain.follower.start()
    } catch (err) {
      await chain.stop().catch(e => { reportError(this.components, 'node', e, 'a chain that failed to start did not stop cleanly', { chainId: network.chainId }) })
      throw err
    }
    this.firstChain = chain
  }

  /**
   * The roles that run on the first chain, at start or once it joins late: its provider (when `provider`: at start
   * the providers of every chain start together), the mediator, the job bridge, the validator and the job creator
   * of the node's jobs.
   */
  private async startFirstChainRoles (opts: { provider: boolean }): Promise<void> {
    const { network, dataDir, roles } = this.opts
    const c = this.components
    if (opts.provider && roles.includes('resource-provider')) {
      const p = await this.createFirstProvider()
      this.unpark(network.chainId)
      await p.start()
      await this.releaseUnrun(p, network.chainId)
    }
    if (roles.includes('mediator')) {
      this.mediator = await Mediator.create(c, { host: this.host, peerKey: this.peerKey as import('@libp2p/interface').PrivateKey, chain: this.chain, store: this.store, executor: this.executor as JobExecutor, network, dataDir, disputes: this.disputes, ...(this.opts.inputPolicy !== undefined ? { inputPolicy: this.opts.inputPolicy } : {}), ...this.opts.mediator })
      await this.mediator.start()
    }
    if (roles.includes('job-bridge')) {
      const jobCreator = await this.createJobCreator(this.opts)
      this.bridge = await JobBridge.create(c, { chain: this.chain, jobCreator, network, dataDir, peerId: this.host.peerId.toString(), ...this.opts.bridge })
      await this.bridge.start()
    }
    if (roles.includes('validator')) await this.startValidator()
    // the node's jobs on the first chain: its job creator follows their open deals
    if (this.jobs !== undefined) await this.createJobCreator(this.opts)
  }

  /** The first chain's provider over the node's pool of slots (not started). */
  private async createFirstProvider (): Promise<ResourceProvider> {
    const c = this.components
    const swarm = this.executor instanceof SwarmExecutor ? this.executor : undefined
    const gpus = this.chainJoin?.gpus
    // (the other chains' providers share its slots: their containers are kept when it tidies the executor)
    const p = this.provider = await ResourceProvider.create(c, { ...(gpus !== undefined ? { gpus } : {}), ...(swarm !== undefined ? { cluster: swarm.cluster({ onError: (err, what) => { reportError(c, 'provider', err, what) } }) } : {}), host: this.host, chain: this.chain, store: this.store, executor: this.executor as JobExecutor, network: this.opts.network, gossip: this.gossip, disputes: this.disputes, dataDir: this.opts.dataDir, ...(this.opts.inputPolicy !== undefined ? { inputPolicy: this.opts.inputPolicy } : {}), ...this.opts.provider, capacity: this.capacity as SlotCapacity, keepContainer: id => this.keepsContainer(id) })
    this.dropSources.push(this.disputes.addSource(caseSource(p.deals)))
    this.retainResultsOf(p, this.opts.network.chainId)
    return p
  }

  /**
   * Parks the deals still to run of chain `chainId`, not joined (read from its deal records on disk): each holds
   * its slot in the pool, so its container is kept by every provider's tidying and no other deal is booked on it,
   * until the chain joins, or until the deal's result window has closed for certain — the chain's time is not
   * known then, so the local clock with a margin (`NodeOptions.parkMarginMs`, default 1 h) — when its container
   * is removed and its slot freed (logged; its chain's provider then sees a deal that was not run in time).
   */
  private async park (chainId: number): Promise<void> {
    const c = this.components
    const capacity = this.capacity as SlotCapacity
    const margin = this.opts.parkMarginMs ?? 3_600_000
    for (const rec of (await new DealStore<RpDealRecord>(join(this.chainDataDir(chainId), 'rp-deals')).open()).filter(stillToRun)) {
      if (this.parked.has(rec.dealId)) continue
      const untilMs = resultWindowEnd(rec) * 1000 + margin
      const timer = c.clock.setTimeout(() => { void this.expireParked(rec.dealId, untilMs) }, Math.max(0, untilMs - c.clock.now()))
      this.parked.set(rec.dealId, { chainId, timer })
      // (its own slot: nothing else holds one yet at start, and a restarted run asks for that slot first)
      if (capacity.tryReserve(rec.slot, rec.dealId, 60_000)) capacity.confirm(rec.dealId)
      this.logger.info({ chainId, dealId: rec.dealId, slot: rec.slot, keptUntil: new Date(untilMs).toISOString() }, 'a deal of a chain not joined yet: its container and slot are kept for it')
    }
    c.metrics.parkedDeals.set({ chain: String(chainId) }, [...this.parked.values()].filter(p => p.chainId === chainId).length)
  }

  /** Chain `chainId` joined: its provider takes its parked deals over (their slots stay held for its runs). */
  private unpark (chainId: number): string[] {
    const ids: string[] = []
    for (const [id, p] of this.parked) {
      if (p.chainId !== chainId) continue
      p.timer.cancel()
      this.parked.delete(id)
      ids.push(id)
    }
    this.components.metrics.parkedDeals.set({ chain: String(chainId) }, 0)
    this.unparked.set(chainId, ids)
    return ids
  }

  private readonly unparked = new Map<number, string[]>()

  /** After chain `chainId`'s provider started: a parked deal it does not run (ended meanwhile) gives its slot back. */
  private async releaseUnrun (p: ResourceProvider, chainId: number): Promise<void> {
    const still = await p.dealsToRun()
    for (const id of this.unparked.get(chainId) ?? []) if (!still.has(id)) this.capacity?.release(id)
    this.unparked.delete(chainId)
  }

  /** A parked deal's result window has closed for certain, its chain still not joined: its container goes. */
  private async expireParked (dealId: string, untilMs: number): Promise<void> {
    const p = this.parked.get(dealId)
    if (p === undefined || this.stopped) return
    this.parked.delete(dealId)
    this.capacity?.release(dealId)
    this.components.metrics.parkedDeals.set({ chain: String(p.chainId) }, [...this.parked.values()].filter(x => x.chainId === p.chainId).length)
    this.components.metrics.parkedExpired.inc({ chain: String(p.chainId) })
    this.logger.warn({ chainId: p.chainId, dealId, keptUntil: new Date(untilMs).toISOString() }, 'a deal\'s chain was not joined before its result window closed: its container is removed and its slot freed')
    try {
      const r = await (this.executor as JobExecutor).reconcile(id => id !== dealId || this.keepsContainer(id))
      if (r.removed.length > 0) this.logger.info({ chainId: p.chainId, deals: r.removed }, 'removed the container of a deal whose chain did not come back in time')
    } catch (err) {
      reportError(this.components, 'node', err, 'could not remove the container of a parked deal (the engine does not answer; the next start tidies it)', { chainId: p.chainId, dealId })
    }
  }

  /** where chain `chainId`'s state is kept: the node's data dir for its first chain, chains/<id> for a further one */
  private chainDataDir (chainId: number): string {
    return chainId === this.opts.network.chainId ? this.opts.dataDir : join(this.opts.dataDir, 'chains', String(chainId))
  }

  /**
   * A context for each further chain this node serves. A chain that cannot be joined (its RPC down, serving
   * another chain) is logged and left out: the others run without it.
   */
  private async joinFurtherChains (pull: boolean): Promise<void> {
    const wanted = this.opts.chains
    for (const ch of chainsOf(this.opts.network).slice(1)) {
      if (wanted !== undefined && !wanted.includes(ch.chainId)) continue
      try {
        await this.joinChain(ch.chainId, pull)
      } catch (err) {
        this.unavailableChains.set(ch.chainId, err as Error)
        reportError(this.components, 'node', err, 'a chain of the network could not be joined: left out for now, tried again', { chainId: ch.chainId })
      }
    }
  }

  /** Connects to one further chain and starts its services (not its roles). */
  private async joinChain (chainId: number, pull: boolean): Promise<ChainContext> {
    const { network, roles, dataDir } = this.opts
    const ctx = await ChainContext.create(this.host, this.components, {
      network,
      chainId,
      privateKey: this.opts.privateKey,
      dataDir,
      needsHistory: roles.includes('mediator') || roles.includes('job-bridge'),
      keepCursor: roles.length > 0,
      ...(this.opts.chain?.confirmations !== undefined ? { confirmations: this.opts.chain.confirmations } : {}),
      pollMs: this.opts.chain?.pollMs ?? (this.opts.local === true ? 100 : 1000),
      jobOffers: roles.includes('solver')
    })
    try {
      await ctx.start({ pull })
    } catch (err) {
      await ctx.stop().catch(e => { reportError(this.components, 'node', e, 'a chain that failed to start did not stop cleanly', { chainId }) })
      throw err
    }
    this.chainContexts.set(chainId, ctx)
    this.logger.info({ chainId, namespace: ctx.network.networkId }, 'serving a further chain')
    return ctx
  }

  /**
   * Resolves with further chain `chainId`'s context once this node serves it and its roles run (at once when it
   * does): a chain down at start is joined when it is back. UnknownChainError for a chain the node does not serve;
   * rejects when the node stops first.
   */
  async chainJoined (chainId: number): Promise<ChainContext> {
    const ctx = this.chainContexts.get(chainId)
    if (!this.unavailableChains.has(chainId)) {
      if (ctx === undefined) throw new UnknownChainError(String(chainId), this.opts.network)
      return ctx
    }
    return await this.joined(chainId) as ChainContext
  }

  /** Resolves once the network's first chain is joined and its roles run (at once when it is). */
  async firstChainJoined (): Promise<void> {
    if (this.unavailableChains.has(this.opts.network.chainId)) await this.joined(this.opts.network.chainId)
  }

  private async joined (chainId: number): Promise<ChainContext | undefined> {
    return await new Promise((resolve, reject) => {
      const list = this.joinWaiters.get(chainId) ?? []
      list.push({ resolve, reject })
      this.joinWaiters.set(chainId, list)
    })
  }

  private settleJoinWaiters (chainId: number, outcome: { ctx: ChainContext | undefined } | { err: Error }): void {
    for (const w of this.joinWaiters.get(chainId) ?? []) {
      if ('ctx' in outcome) w.resolve(outcome.ctx)
      else w.reject(outcome.err)
    }
    this.joinWaiters.delete(chainId)
  }

  /**
   * Tries a further chain that could not be joined again after a backoff (2 s doubling to 60 s), until it joins or
   * the node stops; once joined, this node's roles start on it as they would have at start.
   */
  private retryChain (chainId: number, attempt: number): void {
    const ms = chainRetryMs(attempt)
    this.chainRetries.set(chainId, this.components.clock.setTimeout(() => {
      this.chainRetries.delete(chainId)
      if (this.stopped) return
      void (async () => {
        const first = chainId === this.opts.network.chainId
        let ctx: ChainContext | undefined
        let connected = false
        try {
          if (first) {
            await this.joinFirstChain()
            connected = true
            if (this.stopped) return
            // (a mediator or bridge of a further chain started already; the first chain's are started now)
            await this.startFirstChainRoles({ provider: true })
          } else {
            ctx = await this.joinChain(chainId, this.chainJoin?.pull ?? false)
            connected = true
            if (this.stopped) { await ctx.stop(); this.chainContexts.delete(chainId); return }
            await this.startRolesOn(ctx)
          }
          this.unavailableChains.delete(chainId)
          this.components.metrics.chainJoined.set({ chain: String(chainId) }, 1)
          this.logger.info({ chainId, attempt: attempt + 1, first }, first ? 'joined the network\'s first chain, down at start; its roles run' : 'joined a further chain that was down at start; its roles run')
          this.settleJoinWaiters(chainId, { ctx })
        } catch (err) {
          if (!connected) {
            this.unavailableChains.set(chainId, err as Error)
            this.logger.warn({ chainId, attempt: attempt + 1, err: (err as Error).message, retryInMs: chainRetryMs(attempt + 1) }, 'a chain of the network still cannot be joined; trying again')
            if (!this.stopped) this.retryChain(chainId, attempt + 1)
          } else {
            reportError(this.components, 'node', err, 'a further chain joined late, but a role on it did not start', { chainId })
            this.settleJoinWaiters(chainId, { err: err as Error })
          }
        }
      })()
    }, ms))
  }

  /** This node's roles on a further chain, as the start gives each chain (one pool of slots for every provider). */
  private async startRolesOn (ctx: ChainContext): Promise<void> {
    const roles = this.opts.roles
    if (roles.includes('resource-provider')) await this.startProviderOn(ctx)
    if (roles.includes('mediator')) await this.startMediatorOn(ctx)
    if (roles.includes('job-bridge')) await this.startBridgeOn(ctx)
  }

  /** one pool of slots for every chain: a slot booked on one is busy on all (never double-booked across them) */
  private async startProviderOn (ctx: ChainContext): Promise<void> {
    const p = await this.createProviderOn(ctx)
    // its parked deals are its own now: their slots stay held, their containers kept by its start, for its runs
    this.unpark(ctx.chainId)
    await p.start()
    await this.releaseUnrun(p, ctx.chainId)
  }

  /** A further chain's provider over the first one's slots (not started). */
  private async createProviderOn (ctx: ChainContext): Promise<ResourceProvider> {
    const gpus = this.chainJoin?.gpus
    const slots = this.capacity as SlotCapacity
    const p = await ResourceProvider.create(this.components, { ...(gpus !== undefined ? { gpus } : {}), host: this.host, chain: ctx.chain, store: this.store, executor: this.executor as JobExecutor, network: ctx.network, gossip: ctx.gossip, disputes: ctx.disputes, dataDir: ctx.dataDir, ...(this.opts.inputPolicy !== undefined ? { inputPolicy: this.opts.inputPolicy } : {}), ...this.opts.provider, slots: this.slotCount, capacity: slots, keepContainer: id => this.keepsContainer(id) })
    ctx.provider = p
    this.dropSources.push(ctx.disputes.addSource(caseSource(p.deals)))
    this.retainResultsOf(p, ctx.network.chainId)
    return p
  }

  /**
   * Whether a provider tidying the shared executor keeps a deal's container: the deal holds a slot in the pool
   * (some chain's provider runs it), or, while the providers start, it is a further chain's deal still to run
   * (its provider adopts the container once started).
   */
  private keepsContainer (dealId: string): boolean {
    return this.capacity?.holds(dealId) === true || this.containersToAdopt.has(dealId) || this.parked.has(dealId)
  }

  private async startMediatorOn (ctx: ChainContext): Promise<void> {
    const m = await Mediator.create(this.components, { host: this.host, peerKey: this.peerKey as import('@libp2p/interface').PrivateKey, chain: ctx.chain, store: this.store, executor: this.executor as JobExecutor, network: ctx.network, dataDir: ctx.dataDir, disputes: ctx.disputes, ...(this.opts.inputPolicy !== undefined ? { inputPolicy: this.opts.inputPolicy } : {}), ...this.opts.mediator })
    this.chainMediators.set(ctx.chainId, m)
    await m.start()
  }

  /** each chain's JobManager is served by a bridge on that chain: a contract's job settles, and its callback comes, on the chain it was asked on */
  private async startBridgeOn (ctx: ChainContext): Promise<void> {
    const jc = await this.jobCreatorOn(ctx.chainId)
    const b = await JobBridge.create(this.components, { chain: ctx.chain, jobCreator: jc, network: ctx.network, dataDir: ctx.dataDir, peerId: this.host.peerId.toString(), ...this.opts.bridge })
    this.chainBridges.set(ctx.chainId, b)
    await b.start()
  }

  /** The chain client of chain `chainId` (the node's own for its first chain); UnknownChainError if not served, ChainUnavailableError if not joined yet. */
  chainOf (chainId: number): ChainClient {
    if (chainId === this.opts.network.chainId) return this.chain
    const ctx = this.chainContexts.get(chainId)
    if (ctx === undefined) throw new UnknownChainError(String(chainId), this.opts.network)
    return ctx.chain
  }

  /**
   * The job creator that settles on chain `chainId`: this node's own for its first chain, else one on that chain's
   * context (its key's deposit there, that chain's offers). UnknownChainError when the network has no such chain or
   * the node does not serve it; the chain's own error (RpcUnreachableError…) when it could not be joined at start.
   * `dataDir`: where its deals are kept (default the node's; a further chain's under chains/<chain id>).
   */
  async jobCreatorOn (chainId: number, opts: { settings?: JobCreatorSettings, dataDir?: string } = {}): Promise<JobCreator> {
    const settings = opts.settings ?? this.opts.jobCreator ?? {}
    if (chainId === this.opts.network.chainId) {
      if (this.firstChain === undefined) throw new ChainUnavailableError(chainId, this.unavailableChains.get(chainId))
      return await this.createJobCreator({ network: this.opts.network, dataDir: opts.dataDir ?? this.opts.dataDir, jobCreator: settings })
    }
    const ctx = this.chainContexts.get(chainId)
    if (ctx === undefined) throw this.unavailableChains.get(chainId) ?? new UnknownChainError(String(chainId), this.opts.network)
    if (ctx.jobCreator === undefined) {
      const terms = { ...dealTermsOf(ctx.network.dealTerms), ...settings.terms }
      // providers' records on this chain: its job creator bans and ranks by them, not by another chain's
      if (settings.reputation === undefined) ctx.reputation ??= await this.reputationFeed(ctx.chain, ctx.network, ctx.dataDir)
      const reputation = settings.reputation ?? ctx.reputation?.book
      // (its deals beside the others': <dataDir>/chains/<chain id>/jc-deals)
      const dataDir = opts.dataDir !== undefined ? join(opts.dataDir, 'chains', String(chainId)) : ctx.dataDir
      ctx.jobCreator = await JobCreator.create(this.components, { host: this.host, chain: ctx.chain, store: this.store, network: ctx.network, dataDir, gossip: ctx.gossip, offerSync: ctx.offerSync, disputes: ctx.disputes, ...settings, ...(reputation !== undefined ? { reputation } : {}), terms })
      this.dropSources.push(ctx.disputes.addSource(jobCreatorCaseSource(ctx.jobCreator.deals, ctx.chain)))
    }
    return ctx.jobCreator
  }

  /** A job creator on this node's host, chain and store (the CLI's `run`; the bridge). */
  async createJobCreator (opts: Pick<NodeOptions, 'network' | 'dataDir' | 'jobCreator'>): Promise<JobCreator> {
    const terms = { ...dealTermsOf(opts.network.dealTerms), ...opts.jobCreator?.terms }
    if (this.jobCreator === undefined) {
      // providers' records on chain (deals settled, slashed, timed out; canaries passed and failed): the job
      // creator's ban list takes them as its second source and the matcher ranks equal prices by them
      if (opts.jobCreator?.reputation === undefined) await this.startReputation()
      const reputation = opts.jobCreator?.reputation ?? this.reputation?.book
      this.jobCreator = await JobCreator.create(this.components, { host: this.host, chain: this.chain, store: this.store, network: opts.network, dataDir: opts.dataDir, gossip: this.gossip, offerSync: this.offerSync, disputes: this.disputes, ...opts.jobCreator, ...(reputation !== undefined ? { reputation } : {}), terms })
      this.dropSources.push(this.disputes.addSource(jobCreatorCaseSource(this.jobCreator.deals, this.chain)))
    }
    return this.jobCreator
  }

  /** Providers' chain records on the first chain, read once per node (a job creator's and a validator's). */
  private async startReputation (): Promise<ReputationFeed> {
    this.reputation ??= await this.reputationFeed(this.chain, this.opts.network, this.opts.dataDir)
    return this.reputation
  }

  /** Providers' records on one chain, from its Market (and Rewards), followed as its follower moves on. */
  private async reputationFeed (chain: ChainClient, network: NetworkFile, dataDir: string): Promise<ReputationFeed> {
    const feed = new ReputationFeed(this.components, {
      source: { provider: chain.provider, market: network.contracts.market, deployBlock: network.deployBlock, ...(network.contracts.rewards !== undefined ? { rewards: network.contracts.rewards } : {}) },
      follower: chain.follower,
      stateFile: join(dataDir, `reputation-${network.chainId}.json`)
    })
    await feed.start()
    return feed
  }

  /**
   * The validator role: canaries go through an ordinary job creator on this host, from a key derived for each epoch
   * (funded from this node's key with `canaryDeposit` LP, deposited, and `canaryGas` ETH), so the key a provider sees
   * is new every epoch and is not the validator's.
   */
  private async startValidator (): Promise<void> {
    const network = this.opts.network
    if (network.contracts.rewards === undefined || network.rewards === undefined) throw new NoRewardsContractError(`the network "${network.networkId}" has no Rewards contract: a validator has nothing to report to`)
    const setup = setupFromJson(network.rewards, isAddress)
    if (!setup.validators.some(v => v.toLowerCase() === this.chain.address.toLowerCase())) throw new NotAValidatorError(`${this.chain.address} is not a validator of the Rewards contract ${network.contracts.rewards}`)
    const rewards = new RewardsClient(this.chain, network.contracts.rewards)
    const settings = this.opts.validator ?? {}
    // the canary keys' secret: from this node's key, so a restarted validator finds its keys again; nobody else can derive them
    const secret = keccak256(concat([getBytes(this.opts.privateKey), toUtf8Bytes('lilypad canary keys')]))
    const runnerFor = async (epoch: number): Promise<{ run: JobCreator['run'], address: string }> => {
      let r = this.canaryRunners.get(epoch)
      if (r === undefined) {
        const key = deriveCanaryKey(secret, epoch, 0)
        const chain = await ChainClient.create({ network, privateKey: key, components: this.components })
        const lp = settings.canaryDeposit ?? parseEther('50')
        if (await chain.depositOf() < lp) {
          await this.chain.queue.send('fund canary key (gas)', async () => ({ to: chain.address, value: settings.canaryGas ?? parseEther('0.05') }))
          await this.chain.queue.send('fund canary key (LP)', async () => await this.chain.token.transfer.populateTransaction(chain.address, lp))
          await chain.deposit(lp)
        }
        await chain.follower.start()
        const dataDir = join(this.opts.dataDir, 'canaries', `epoch-${epoch}`)
        const jc = await JobCreator.create(this.components, { host: this.host, chain, store: this.store, network, dataDir, gossip: this.gossip, offerSync: this.offerSync, disputes: this.disputes, maxAttempts: 1, terms: dealTermsOf(network.dealTerms) })
        r = { jc, chain }
        this.canaryRunners.set(epoch, r)
        this.logger.info({ epoch, canaryKey: chain.address }, 'canary key of the epoch funded')
      }
      const jc = r.jc
      return { run: async req => await jc.run(req), address: r.chain.address }
    }
    // the canaries races deferred, owed by their keys: kept in the data dir, so a restart forgives none
    const retriesFile = new CanaryRetriesFile(join(this.opts.dataDir, 'validator-retries.json'))
    const retries = await retriesFile.load()
    this.validator = new Validator(this.components, {
      offers: () => this.book.offers(),
      retries,
      saveRetries: async r => { await retriesFile.save(r) },
      schedule: setup.config,
      domain: rewards.domain,
      signer: this.chain.wallet,
      runnerFor,
      record: async reports => { await rewards.recordCanaries(reports) },
      chainNow: () => Math.floor(this.chain.follower.chainNow() / 1000),
      reputation: (await this.startReputation()).book,
      agreedDeals: async (provider, window) => await agreedDealsOf({ provider: this.chain.provider, market: network.contracts.market, rewards: network.contracts.rewards as string, deployBlock: network.deployBlock }, provider, window),
      ...settings
    })
    this.validator.start()
  }

  /**
   * The job service over this node's job creator (deals and jobs in the node's data dir): many jobs at once with
   * the node's one key, one nonce-owning queue. Stored jobs whose deal was open are followed again.
   */
  async startJobs (init?: JobServiceInit): Promise<JobService> {
    if (this.jobs !== undefined) return this.jobs
    // (the first chain down at start: its job creator is made once it joins, and follows its jobs' open deals then)
    if (this.firstChain !== undefined) await this.createJobCreator(this.opts)
    // a job settles on the chain it names (default the first): that chain's job creator, with this node's key there
    const jobs = new JobService(this.components, {
      defaultChainId: this.opts.network.chainId,
      jobCreatorOn: async chainId => await this.jobCreatorOn(chainId),
      jobCreatorWhenJoined: async chainId => {
        if (chainId !== this.opts.network.chainId) await this.chainJoined(chainId)
        else await this.firstChainJoined()
        return await this.jobCreatorOn(chainId)
      }
    }, this.opts.dataDir, init)
    await jobs.start()
    this.jobs = jobs
    return jobs
  }

  /**
   * A provider's results are pruned by age and total size, except those of deals still open (fetchable) — on any
   * chain, joined or not: the providers of every chain share the store. Each chain's open deals are read from its
   * records on disk now; a provider made later (its chain joined late) reports its deals as they change.
   */
  private async startResultRetention (): Promise<void> {
    const open = this.openResults
    for (const ch of chainsOf(this.opts.network)) {
      if (ch.chainId !== this.opts.network.chainId && this.opts.chains !== undefined && !this.opts.chains.includes(ch.chainId)) continue
      for (const r of await new DealStore<RpDealRecord>(join(this.chainDataDir(ch.chainId), 'rp-deals')).open()) open.set(`${ch.chainId}:${r.dealId}`, r.resultCid)
    }
    const log = this.components.logger.child({ component: 'retention' })
    this.retention = new ResultRetention(this.store, { ...this.opts.resultRetention, keep: cid => open.has(cid), log: (m, f) => { log.info(f ?? {}, m) } })
    this.retention.start()
  }

  /** A chain's provider's results: kept while its deals are open; a new one is checked once its record holds it. */
  private retainResultsOf (provider: ResourceProvider, chainId: number): void {
    const open = this.openResults
    provider.on('deal', r => {
      // a deal's result is kept while it is open; a re-run's new CID replaces its old one (OpenResults)
      if (open.set(`${chainId}:${r.dealId}`, r.terminal ? undefined : r.resultCid)) this.retention?.noteAdded()
    })
  }

  /** The status line and the sweeps (node/housekeeping): started last, so its first line sees every role. */
  private startHousekeeping (): void {
    const stores = (): Array<{ name: string, store: DealStore<StoredRecord> }> => {
      const out: Array<{ name: string, store: DealStore<StoredRecord> }> = []
      const add = (name: string, store: unknown): void => { if (store !== undefined) out.push({ name, store: store as DealStore<StoredRecord> }) }
      add('rp-deals', this.provider?.deals)
      add('jc-deals', this.jobCreator?.deals)
      add('disputes', this.mediator?.records)
      add('bridge-jobs', this.bridge?.jobs)
      for (const [id, ctx] of this.chainContexts) {
        add(`rp-deals-${id}`, ctx.provider?.deals)
        add(`jc-deals-${id}`, ctx.jobCreator?.deals)
      }
      for (const [id, m] of this.chainMediators) add(`disputes-${id}`, m.records)
      for (const [id, b] of this.chainBridges) add(`bridge-jobs-${id}`, b.jobs)
      return out
    }
    // (the first chain's head: none while it is not joined)
    const chain = { provider: { getBlockNumber: async () => await this.chain.provider.getBlockNumber() } }
    this.housekeeping = new Housekeeping(this.components, { host: this.host, book: this.book, gossip: this.gossip, stores, chain }, this.opts.housekeeping)
    this.housekeeping.start()
  }

  /** Stops the services in the reverse order of their start; a stopped node leaves no open handle. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const timer of this.chainRetries.values()) timer.cancel()
    for (const p of this.parked.values()) p.timer.cancel()
    this.parked.clear()
    this.chainRetries.clear()
    for (const chainId of [...this.joinWaiters.keys()]) this.settleJoinWaiters(chainId, { err: new Error('the node stopped before the chain was joined') })
    await this.housekeeping?.stop()
    await this.directory?.stop()
    await this.retention?.stop()
    await this.bridge?.stop()
    for (const b of this.chainBridges.values()) await b.stop()
    this.chainBridges.clear()
    await this.validator?.stop()
    for (const r of this.canaryRunners.values()) { await r.jc.stop(); await r.chain.stop() }
    this.canaryRunners.clear()
    await this.jobs?.stop()
    await this.jobCreator?.stop()
    await this.reputation?.stop()
    await this.mediator?.stop()
    for (const m of this.chainMediators.values()) await m.stop()
    this.chainMediators.clear()
    await this.solver?.stop()
    // the further chains' roles and services (their providers before the one that owns the slots)
    for (const ctx of this.chainContexts.values()) await ctx.stop()
    this.chainContexts.clear()
    await this.provider?.stop()
    this.capacity?.stop()
    if (this.ownsExecutor) await this.executor?.stop()
    for (const drop of this.dropSources.splice(0)) drop()
    await this.disputes.stop()
    await this.offerSync.stop()
    this.gossip.stop()
    await this.store.stop()
    this.unwatch?.()
    await this.host.stop()
    await this.firstChain?.stop()
    this.logger.info('node stopped')
  }
}

/** The wait before try `attempt` (0-based) to join a further chain: 2 s, doubling, at most 60 s. */
function chainRetryMs (attempt: number): number {
  return Math.min(60_000, 2000 * 2 ** Math.min(attempt, 5))
}
