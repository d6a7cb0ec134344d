// One process per node: one libp2p host (shared by gossip, negotiation, the DHT and the Helia store), one
// ChainClient for the node's key, and the roles switched on by flags.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { NetworkFile } from './config/network.ts'
import { ChainClient } from './chain/index.ts'
import { createHost, localMeshOptions, hostOptionsFromNetwork, domainOfNetwork, type HostOptions, type LilypadHost } from './host/index.ts'
import { loadOrCreatePeerKey } from './host/keys.ts'
import { GossipService } from './gossip/gossip.ts'
import { OrderBook } from '../protocols/order-book.ts'
import { OfferSync } from './offer-sync/index.ts'
import { ResultStore } from './result-store/index.ts'
import type { InputPolicy } from './inputs/index.ts'
import { Executor, loadExecutorOwner } from './executor/index.ts'
import { Solver } from './solver/index.ts'
import { Directory } from './directory/index.ts'
import { ResourceProvider, type ResourceProviderOptions } from './roles/resource-provider.ts'
import { JobCreator, type JobCreatorOptions } from './roles/job-creator.ts'
import { startJobCreatorDisputes, startProviderDisputes } from './dispute/index.ts'
import type { RoleName } from './role-names.ts'

export { ROLE_NAMES, parseRoles, UnknownRoleError, type RoleName } from './role-names.ts'

export class RoleNotAvailableError extends Error {
  static override name = 'RoleNotAvailableError'
  override name = 'RoleNotAvailableError'
}

/** Roles the disputes branch provides; loaded only when their module is present. */
const OPTIONAL_ROLE_MODULES: Partial<Record<RoleName, string>> = {
  mediator: './roles/mediator.ts',
  'job-bridge': './roles/job-bridge.ts'
}

export function roleAvailable (role: RoleName): boolean {
  const mod = OPTIONAL_ROLE_MODULES[role]
  return mod === undefined || existsSync(fileURLToPath(new URL(mod, import.meta.url)))
}

export interface NodeOptions {
  network: NetworkFile
  /** the network file's path (relative swarm key paths resolve against it) */
  networkPath: string
  /** the node's Ethereum key; never logged */
  privateKey: string
  /** node state: peer key, deals, Helia blocks, downloads */
  dataDir: string
  roles: RoleName[]
  listen?: string[]
  /** many nodes on one machine (devnet, tests): loopback allow-list, no colocation penalty, fast heartbeat */
  local?: boolean
  host?: Partial<HostOptions>
  provider?: Partial<Omit<ResourceProviderOptions, 'host' | 'chain' | 'store' | 'executor' | 'network' | 'gossip' | 'dataDir'>>
  jobCreator?: Partial<Omit<JobCreatorOptions, 'host' | 'chain' | 'store' | 'network' | 'dataDir' | 'gossip' | 'offerSync'>>
  /** options for the disputes branch's mediator role */
  mediator?: Record<string, unknown>
  /** what jobs' inputs may make this node's provider and mediator fetch (node/inputs; default: no private addresses) */
  inputPolicy?: Partial<InputPolicy>
  executor?: Executor
  log?: (msg: string, fields?: Record<string, unknown>) => void
}

interface Startable { start: () => Promise<void> | void, stop: () => Promise<void> | void }

export class LilypadNode {
  readonly host: LilypadHost
  readonly chain: ChainClient
  readonly store: ResultStore
  readonly gossip: GossipService
  readonly book: OrderBook
  readonly offerSync: OfferSync
  readonly roles: RoleName[]
  provider?: ResourceProvider
  jobCreator?: JobCreator
  solver?: Solver
  directory?: Directory
  mediator?: Startable
  bridge?: Startable
  private executor?: Executor
  /** The executor was made here (not passed in), so stop() stops it. */
  private ownsExecutor = false
  private readonly peerKey: PrivateKey
  private stopped = false
  /** the parties' dispute hand-off (push to the drawn mediator, answer its pulls) */
  private readonly disputeSides: Array<{ stop: () => Promise<void> }> = []

  private constructor (host: LilypadHost, chain: ChainClient, store: ResultStore, peerKey: PrivateKey, opts: NodeOptions) {
    this.host = host
    this.chain = chain
    this.store = store
    this.peerKey = peerKey
    this.roles = opts.roles
    this.book = new OrderBook()
    const domain = domainOfNetwork(opts.network)
    this.gossip = new GossipService(host, { networkId: opts.network.networkId, domain, book: this.book, jobOffers: opts.roles.includes('solver') })
    this.offerSync = new OfferSync(host, { networkId: opts.network.networkId, domain, book: this.book, ownOffers: () => this.provider?.liveOffers(BigInt(Math.floor(Date.now() / 1000))) ?? [] })
  }

  static async create (opts: NodeOptions): Promise<LilypadNode> {
    for (const r of opts.roles) if (!roleAvailable(r)) throw new RoleNotAvailableError(`the ${r} role is not available in this build`)
    const chain = await ChainClient.create({ network: opts.network, privateKey: opts.privateKey })
    let host: LilypadHost | undefined
    let store: ResultStore | undefined
    try {
      const hostOpts = await hostOptionsFromNetwork(opts.network, opts.networkPath, opts.dataDir, { ...(opts.local === true ? localMeshOptions : {}), ...(opts.listen !== undefined ? { listen: opts.listen } : {}), ...opts.host })
      host = await createHost(hostOpts)
      await host.start()
      // The bootstrap discovery module waits a second before its first dial; a CLI run cannot afford that.
      const h = host
      for (const b of opts.network.bootstrap) void h.dial(multiaddr(b), { signal: AbortSignal.timeout(5000) }).catch(() => {})
      store = await ResultStore.create({ dataDir: opts.dataDir, libp2p: host })
      const peerKey = hostOpts.privateKey ?? await loadOrCreatePeerKey(join(opts.dataDir, 'peer.key'))
      const node = new LilypadNode(host, chain, store, peerKey, opts)
      await node.startRoles(opts)
      return node
    } catch (err) {
      await store?.stop().catch(() => {})
      try { await host?.stop() } catch {}
      await chain.stop()
      throw err
    }
  }

  private async startRoles (opts: NodeOptions): Promise<void> {
    const { network, dataDir } = opts
    const domain = domainOfNetwork(network)
    const needsExecutor = opts.roles.includes('resource-provider') || opts.roles.includes('mediator')
    if (needsExecutor) {
      // The owner id labels this node's containers on the engine: stable per data directory, so a restart finds
      // (and adopts or removes) what a killed predecessor left, and other nodes sharing the engine are left alone.
      this.ownsExecutor = opts.executor === undefined
      this.executor = opts.executor ?? new Executor({ owner: await loadExecutorOwner(dataDir) })
    }
    this.gossip.start()
    await this.offerSync.start({ serve: true, pull: opts.roles.includes('job-bridge') || opts.roles.includes('solver') })
    if (opts.roles.includes('resource-provider')) {
      this.provider = await ResourceProvider.create({ host: this.host, chain: this.chain, store: this.store, executor: this.executor as Executor, network, gossip: this.gossip, dataDir, ...(opts.log !== undefined ? { log: opts.log } : {}), ...(opts.inputPolicy !== undefined ? { inputPolicy: opts.inputPolicy } : {}), ...opts.provider })
      await this.provider.start()
      this.disputeSides.push(await startProviderDisputes(this.provider, { host: this.host, chain: this.chain, networkId: network.networkId, ...(opts.log !== undefined ? { log: opts.log } : {}) }))
    }
    if (opts.roles.includes('solver')) {
      this.solver = new Solver(this.host, this.gossip, { networkId: network.networkId, domain })
      this.solver.start()
    }
    if (opts.roles.includes('directory')) {
      this.directory = new Directory(this.host, { networkId: network.networkId, domain, signer: this.chain.wallet, privateKey: this.peerKey })
      // best effort: the DHT may have no peers yet on a fresh network
      void this.directory.publish({ roles: opts.roles }).catch(() => {})
    }
    if (opts.roles.includes('mediator')) {
      const mod = await import(OPTIONAL_ROLE_MODULES.mediator as string) as { Mediator: { create: (init: Record<string, unknown>) => Promise<Startable> } }
      this.mediator = await mod.Mediator.create({ host: this.host, peerKey: this.peerKey, chain: this.chain, store: this.store, executor: this.executor, network, dataDir, ...(opts.inputPolicy !== undefined ? { inputPolicy: opts.inputPolicy } : {}), ...opts.mediator })
      await this.mediator.start()
    }
    if (opts.roles.includes('job-bridge')) {
      this.jobCreator = await this.createJobCreator(opts)
      const mod = await import(OPTIONAL_ROLE_MODULES['job-bridge'] as string) as { JobBridge: { create: (init: Record<string, unknown>) => Promise<Startable> } }
      this.bridge = await mod.JobBridge.create({ chain: this.chain, jobCreator: this.jobCreator, network, dataDir, peerId: this.host.peerId.toString() })
      await this.bridge.start()
    }
  }

  /** A job creator on this node's host, chain and store (the CLI's `run`; the bridge). */
  async createJobCreator (opts: Pick<NodeOptions, 'network' | 'dataDir' | 'jobCreator' | 'log'>): Promise<JobCreator> {
    const t = opts.network.dealTerms
    const terms = {
      ...(t?.resultSlack !== undefined ? { resultSlack: t.resultSlack } : {}),
      ...(t?.judgeWindow !== undefined ? { judgeWindow: t.judgeWindow } : {}),
      ...(t?.mediateTimeout !== undefined ? { mediateTimeout: t.mediateTimeout } : {}),
      ...(t?.mediationFee !== undefined ? { mediationFee: BigInt(t.mediationFee) } : {}),
      ...opts.jobCreator?.terms
    }
    if (this.jobCreator === undefined) {
      this.jobCreator = await JobCreator.create({ host: this.host, chain: this.chain, store: this.store, network: opts.network, dataDir: opts.dataDir, gossip: this.gossip, offerSync: this.offerSync, ...(opts.log !== undefined ? { log: opts.log } : {}), ...opts.jobCreator, terms })
      this.disputeSides.push(await startJobCreatorDisputes(this.jobCreator, { host: this.host, chain: this.chain, networkId: opts.network.networkId, ...(opts.log !== undefined ? { log: opts.log } : {}) }))
    }
    return this.jobCreator
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await this.bridge?.stop()
    await this.jobCreator?.stop()
    await this.mediator?.stop()
    for (const side of this.disputeSides.splice(0)) await side.stop()
    await this.provider?.stop()
    if (this.ownsExecutor) await this.executor?.stop()
    await this.solver?.stop()
    await this.offerSync.stop()
    this.gossip.stop()
    await this.store.stop()
    await this.host.stop()
    await this.chain.stop()
  }
}
