// The embedded devnet (`lilypad devnet`): anvil (chain id 1337, port 8545 unless taken), the contracts deployed
// with a mediator approved, accounts funded with ETH (anvil) and LP with deposits made, module images built,
// and in this one process a bootstrap node (solver + directory), a resource provider and a mediator (or several,
// bonded, with committee rules: `lilypad devnet --mediators 3 --committee-size 3`). The network file goes to
// $LILYPAD_HOME/networks/devnet.json and a ready marker with our pid to $LILYPAD_HOME/devnet/ready.json. Only
// anvil's well-known dev keys are used.
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Docker from 'dockerode'
import { Wallet, parseEther } from 'ethers'
import { startAnvil, devKey, ChainClient, Roles, type Anvil } from './chain/index.ts'
import { deployAll, defaultCommitteeRules, type DeployOptions } from '../contracts/deploy.ts'
import { connectLilypadToken } from '../contracts/generated/index.ts'
import { ensureBuiltinImages, loadRegistry } from './modules/index.ts'
import { defaultAllowedModules, type JobManagerConfig } from '../protocols/contract-job/index.ts'
import type { MarketBounds } from '../protocols/settlement/index.ts'
import { committeeRulesFor, type CommitteeRules } from '../protocols/settlement/committee.ts'
import { Executor, loadExecutorOwner, SwarmExecutor } from './executor/index.ts'
import { lilypadHome, networkPath } from './config/load.ts'
import type { NetworkChain, NetworkFile } from './config/network.ts'
import { firstChainOf, networkFileJson, withChain } from './config/chains.ts'
import { LilypadNode, type NodeOptions } from './node.ts'
import { createComponents, reportError, type Components } from './components.ts'
import type { LoggerOptions, Logger } from './observability/logger.ts'
import { DEVNET_ID, DEVNET_CHAIN_ID, DEVNET_KEYS, DEVNET_MEDIATOR_KEYS, devnetDir, readyMarkerPath, type ReadyMarker } from './devnet-marker.ts'

export { DEVNET_ID, DEVNET_CHAIN_ID, DEVNET_KEYS, DEVNET_MEDIATOR_KEYS, devnetDir, readyMarkerPath, runningDevnet, type ReadyMarker } from './devnet-marker.ts'


/** chains a devnet settles on at most (`lilypad devnet --chains N`) */
export const MAX_DEVNET_CHAINS = 4
export const DEVNET_PRICE = parseEther('1')
export const DEVNET_COLLATERAL = parseEther('2')
/** Tight terms so a provider that dies is noticed and refunded in seconds, not the mainnet-ish hour. */
export const DEVNET_TERMS = { resultSlack: 10, judgeWindow: 30, mediateTimeout: 120, mediationFee: parseEther('1').toString() }
/** The Market's bounds on the devnet: short minimums (tests and demos run in seconds), a zero window still refused. */
export const DEVNET_BOUNDS: MarketBounds = {
  minResultTimeout: 10,
  maxResultTimeout: 7 * 86_400,
  minJudgeWindow: 10,
  maxJudgeWindow: 7 * 86_400,
  minMediateTimeout: 30,
  maxMediateTimeout: 7 * 86_400,
  maxDealTtl: 3600,
  minMediationFee: 0n
}
export const DEVNET_JOB_MANAGER: JobManagerConfig = {
  minTimeout: 30,
  maxTimeout: 7 * 86_400,
  minCallbackGas: 10_000,
  maxCallbackGas: 2_000_000,
  disputeWindow: 20,
  mediationWindow: 120,
  jobBond: parseEther('5'),
  disputeFee: parseEther('1')
}
/** What a contract pays per job of each built-in module on the devnet (plus its callback gas). */
export const DEVNET_MODULE_PRICE = parseEther('2')

export interface DevnetOptions {
  /** default $LILYPAD_HOME */
  home?: string
  /** anvil port; default 8545, or a free one if taken */
  port?: number
  /** the resource provider's slots (default 2; with the swarm executor, the slots its largest node is split into) */
  slots?: number
  /** run the provider's and the mediator's jobs on this engine ('docker', default) or on its Docker Swarm ('swarm') */
  executor?: 'docker' | 'swarm'
  /** start the mediator role when present (default true) */
  mediator?: boolean
  /**
   * how many mediators the network names, each approved, registered, funded and running (default 1; at most 9:
   * keys DEVNET_MEDIATOR_KEYS). With committees each bonds five times the least bond.
   */
  mediators?: number
  /**
   * committee rules for the Market (default: size 1, committees off); what is left out follows from the devnet's
   * windows (committeeRulesFor). A committee of k needs at least k mediators.
   */
  committee?: Partial<CommitteeRules> & { size: number }
  /**
   * run the job bridge (dev key #7, approved and bonded) so contracts' jobs run (default false here; `lilypad
   * devnet` runs it unless --no-bridge)
   */
  bridge?: boolean
  /** LP each funded account gets (default 10 000) */
  fund?: bigint
  /**
   * the devnet's components: one logger and one metrics registry for its nodes (default: logs to stderr). Each node
   * logs as `logger.child({ node })` (bootstrap, provider, mediator; the devnet's own lines say `node: 'devnet'`).
   */
  components?: { logger?: Logger | LoggerOptions }
  /** deploy the Rewards contract (the incentivised testnet): its publishers and validators, parameters, pool */
  rewards?: DeployOptions['rewards']
  /** node options every devnet node gets (host settings such as shortened TTLs, housekeeping intervals) */
  node?: Pick<NodeOptions, 'host' | 'housekeeping' | 'directoryRecord' | 'resultRetention'>
  /**
   * how many chains the network settles on (default 1; at most 4): each its own anvil (chain ids 1337, 1338, …),
   * the contracts deployed and the accounts funded on each; the nodes serve every chain (docs/multichain.md)
   */
  chains?: number
}

export interface Devnet {
  network: NetworkFile
  networkPath: string
  /** the first chain's anvil */
  anvil: Anvil
  /** every chain's anvil, the first first (`chains`) */
  anvils: Anvil[]
  bootstrap: LilypadNode
  provider: LilypadNode
  mediator?: LilypadNode
  /** every mediator node started (the first is `mediator`) */
  mediators: LilypadNode[]
  /** the Market's committee rules (size 1: committees off) */
  committeeRules: CommitteeRules
  /** the job bridge, when started (`bridge: true`) */
  bridge?: LilypadNode
  /** the clock, logger and metrics registry its nodes share (the provider's host reports libp2p's metrics) */
  components: Components
  keys: typeof DEVNET_KEYS
  readyMs: number
  /** the data dir of the devnet's own nodes */
  dir: string
  /** Stops the bootstrap node and starts it again with the same key and address (the others keep running). */
  restartBootstrap: () => Promise<LilypadNode>
  /** Stops the provider and starts it again with the same key and data but a new port (the others keep running). */
  restartProvider: () => Promise<LilypadNode>
  stop: () => Promise<void>
}


export async function startDevnet (opts: DevnetOptions = {}): Promise<Devnet> {
  const t0 = performance.now()
  const home = opts.home ?? lilypadHome()
  const dir = devnetDir(home)
  const components = createComponents({ logger: opts.components?.logger ?? { base: { devnet: true } } })
  const logger = components.logger.child({ node: 'devnet', component: 'devnet' })
  const log = (msg: string, fields: Record<string, unknown> = {}): void => { logger.info(fields, msg) }
  // A devnet is fresh every time (new chain): earlier node state would only refer to deals that no longer exist.
  const nMediators = opts.mediators ?? 1
  if (!Number.isInteger(nMediators) || nMediators < 1 || nMediators > DEVNET_MEDIATOR_KEYS.length) throw new RangeError(`a devnet runs 1 to ${DEVNET_MEDIATOR_KEYS.length} mediators, not ${nMediators}`)
  // committees off unless asked for: then the Market's rules as before (deploy's default), byte for byte
  const committeeRules = opts.committee === undefined || opts.committee.size === 1 ? defaultCommitteeRules : committeeRulesFor(DEVNET_BOUNDS, DEVNET_TERMS.mediateTimeout, opts.committee)
  if (committeeRules.size > nMediators) throw new RangeError(`a committee of ${committeeRules.size} needs as many mediators: the devnet has ${nMediators}`)
  const mediatorKeys = DEVNET_MEDIATOR_KEYS.slice(0, nMediators)
  const mediatorDir = (i: number): string => join(dir, i === 0 ? 'mediator' : `mediator-${i + 1}`)
  await Promise.all(['bootstrap', 'provider', 'ready.json', ...DEVNET_MEDIATOR_KEYS.map((_, i) => mediatorDir(i))].map(async d => { await rm(join(dir, d), { recursive: true, force: true }) }))
  await mkdir(join(home, 'networks'), { recursive: true })
  const docker = new Docker()
  const images = ensureBuiltinImages(docker)
  images.catch(() => { /* awaited below, where its failure is raised */ })
  const nChains = opts.chains ?? 1
  if (!Number.isInteger(nChains) || nChains < 1 || nChains > MAX_DEVNET_CHAINS) throw new RangeError(`a devnet settles on 1 to ${MAX_DEVNET_CHAINS} chains, not ${nChains}`)
  const accounts = Math.max(10, ...mediatorKeys.map(k => k + 1))
  const anvils: Anvil[] = []
  const started: LilypadNode[] = []
  const clients: ChainClient[] = []
  try {
    anvils.push(await startAnvil({ chainId: DEVNET_CHAIN_ID, accounts, ...(opts.port !== undefined ? { port: opts.port } : { preferDefaultPort: true }) }))
    // further chains on free ports (the first keeps 8545 when it can)
    for (let i = 1; i < nChains; i++) anvils.push(await startAnvil({ chainId: DEVNET_CHAIN_ID + i, accounts, port: 0 }))
  } catch (err) {
    for (const a of anvils) await a.stop()
    throw err
  }
  const anvil = anvils[0]
  try {
    const key = (i: number): string => devKey(i)
    const addr = (i: number): string => new Wallet(key(i)).address
    const mediatorAddrs = mediatorKeys.map(addr)
    const bridgeAddr = addr(DEVNET_KEYS.bridge)
    const modulePrices = Object.fromEntries(defaultAllowedModules(Object.keys(loadRegistry())).map(m => [m, DEVNET_MODULE_PRICE]))
    const amount = opts.fund ?? parseEther('10000')
    const funded = [DEVNET_KEYS.user, DEVNET_KEYS.provider, DEVNET_KEYS.provider2, DEVNET_KEYS.user2, DEVNET_KEYS.bridge, ...mediatorKeys]
    /** Deploys on one chain and funds its parties there: deposits, mediators registered (and bonded), the bridge's bond. */
    const setUpChain = async (a: Anvil): Promise<{ chain: NetworkChain, deployed: NetworkFile }> => {
      const deployment = await deployAll({
        rpcUrl: a.rpcUrl,
        privateKey: key(DEVNET_KEYS.admin),
        networkId: DEVNET_ID,
        mediators: mediatorAddrs,
        bridges: [bridgeAddr],
        marketBounds: DEVNET_BOUNDS,
        committeeRules,
        jobManagerConfig: DEVNET_JOB_MANAGER,
        modulePrices,
        exampleClient: { callbackGasLimit: 500_000, timeout: 600, fund: parseEther('1000') },
        ...(opts.rewards !== undefined && a === anvil ? { rewards: opts.rewards } : {})
      })
      log('contracts deployed', { chainId: a.chainId, ms: Math.round(performance.now() - t0) })
      const chain: NetworkChain = { ...firstChainOf({ ...deployment.network, rpcUrl: a.rpcUrl, mediators: mediatorAddrs }), ...(nChains > 1 ? { name: `devnet-${a.chainId}` } : {}) }
      const client = async (i: number): Promise<ChainClient> => { const c = await ChainClient.create({ network: chain, privateKey: key(i) }); clients.push(c); return c }
      const admin = await client(DEVNET_KEYS.admin)
      const token = connectLilypadToken(chain.contracts.token, admin.wallet)
      await Promise.all(funded.map(async i => await admin.queue.send('fund', async () => await token.transfer.populateTransaction(addr(i), amount))))
      const parties = await Promise.all(funded.map(client))
      // deposits cover many jobs: price + mediation fee for a job creator, collateral for a provider
      await Promise.all(parties.map(async c => {
        await c.deposit(amount / 2n)
        if (mediatorAddrs.includes(c.address)) {
          await c.register(Roles.Mediator, 'devnet-mediator')
          // a committee deal names only mediators with the least bond; five of them outlast a few slashes
          if (committeeRules.size > 1) await c.bondMediator(committeeRules.minBond * 5n)
        }
        // the bridge pays providers from its Market deposit and locks a bond per delivered job in the JobManager
        if (c.address === bridgeAddr) await c.depositBond(amount / 4n)
      }))
      log('accounts funded', { chainId: a.chainId, ms: Math.round(performance.now() - t0) })
      return { chain, deployed: deployment.network }
    }
    const set = await Promise.all(anvils.map(setUpChain))
    let all: NetworkFile = { ...set[0].deployed, rpcUrl: anvil.rpcUrl, mediators: mediatorAddrs, dealTerms: DEVNET_TERMS, ...(nChains > 1 ? { chainName: set[0].chain.name } : {}) }
    for (const { chain } of set.slice(1)) all = withChain(all, chain)
    const network = all
    const path = networkPath(DEVNET_ID, { ...process.env, LILYPAD_HOME: home })
    // one registry for the devnet process: the nodes' lifecycles report under their role, libp2p's metrics come
    // from the provider's host only (two hosts in one registry would clash). One logger: each node's lines (status
    // lines included) name the node.
    const nodeComponents = (node: string): NodeOptions['components'] => ({ clock: components.clock, logger: components.logger.child({ node }), metrics: components.metrics })
    const common = { networkPath: path, local: true, ...opts.node }
    // a devnet node serves every chain: one left out is a failed start, not a warning
    const create = async (o: NodeOptions): Promise<LilypadNode> => {
      const n = await LilypadNode.create(o)
      const [missing] = n.unavailableChains.values()
      if (missing !== undefined) { await n.stop(); throw missing }
      return n
    }
    const bootstrapOptions = (): NodeOptions => ({ ...common, network, privateKey: key(DEVNET_KEYS.bootstrap), dataDir: join(dir, 'bootstrap'), roles: ['solver', 'directory'], components: nodeComponents('bootstrap'), libp2pMetrics: false })
    let bootstrap = await create(bootstrapOptions())
    started.push(bootstrap)
    network.bootstrap = bootstrap.host.getMultiaddrs().map(m => m.toString())
    await writeFile(path, JSON.stringify(networkFileJson(network), null, 2) + '\n')
    await images
    log('images built', { ms: Math.round(performance.now() - t0) })
    // one executor for the provider and the mediator; its owner id (from the provider's data directory) lets a
    // restarted devnet find the containers a killed one left
    const owner = await loadExecutorOwner(join(dir, 'provider'))
    const executor = opts.executor === 'swarm' ? new SwarmExecutor({ docker, owner }) : new Executor({ docker, owner })
    const providerOptions = (): NodeOptions => ({
      ...common, network, privateKey: key(DEVNET_KEYS.provider), dataDir: join(dir, 'provider'), roles: ['resource-provider'], executor, components: nodeComponents('provider'),
      provider: { slots: opts.slots ?? 2, price: DEVNET_PRICE, collateral: DEVNET_COLLATERAL, announceIntervalMs: 5_000 }
    })
    let provider = await create(providerOptions())
    started.push(provider)
    // ready means a job creator joining now finds the provider's offers at the bootstrap node (order-book sync)
    await until(() => bootstrap.book.offers().some(o => o.offer.provider === provider.chain.address), bootstrap, 10_000)
    // on every chain
    for (const ctx of bootstrap.chainContexts.values()) await until(() => ctx.book.offers().some(o => o.offer.provider === provider.chain.address), ctx, 10_000)
    const mediators: LilypadNode[] = []
    if (opts.mediator !== false) {
      for (const [i, k] of mediatorKeys.entries()) {
        // a committee's members re-run the same job at once, and one executor runs a job id once: the others get
        // their own (made by their node, owned by their data dir)
        const runs = i === 0 ? { executor } : { executorKind: opts.executor ?? 'docker' }
        const m = await create({ ...common, network, privateKey: key(k), dataDir: mediatorDir(i), roles: ['mediator'], ...runs, components: nodeComponents(i === 0 ? 'mediator' : `mediator-${i + 1}`), libp2pMetrics: false })
        started.push(m)
        mediators.push(m)
      }
    }
    const mediator = mediators[0] as LilypadNode | undefined
    let bridge: LilypadNode | undefined
    if (opts.bridge === true) {
      bridge = await create({ ...common, network, privateKey: key(DEVNET_KEYS.bridge), dataDir: join(dir, 'bridge'), roles: ['job-bridge'], components: nodeComponents('bridge'), libp2pMetrics: false })
      started.push(bridge)
    }
    await Promise.all(clients.map(async c => { await c.stop() }))
    const readyMs = Math.round(performance.now() - t0)
    const marker: ReadyMarker = { pid: process.pid, rpcUrl: anvil.rpcUrl, readyMs, startedAt: new Date().toISOString() }
    await writeFile(readyMarkerPath(home), JSON.stringify(marker) + '\n')
    let stopping: Promise<void> | undefined
    const replace = (old: LilypadNode, fresh: LilypadNode): void => { started[started.indexOf(old)] = fresh }
    const devnet: Devnet = {
      network, networkPath: path, anvil, anvils, bootstrap, provider, ...(mediator !== undefined ? { mediator } : {}), mediators, committeeRules, ...(bridge !== undefined ? { bridge } : {}), components, keys: DEVNET_KEYS, readyMs, dir,
      restartBootstrap: async () => {
        const listen = bootstrap.host.getMultiaddrs().map(m => m.decapsulateCode(421).toString())
        await bootstrap.stop()
        const fresh = await create({ ...bootstrapOptions(), listen })
        replace(bootstrap, fresh)
        bootstrap = devnet.bootstrap = fresh
        log('bootstrap node restarted')
        return fresh
      },
      restartProvider: async () => {
        await provider.stop()
        const fresh = await create(providerOptions())
        replace(provider, fresh)
        provider = devnet.provider = fresh
        log('provider restarted', { addrs: fresh.host.getMultiaddrs().map(String) })
        return fresh
      },
      stop: async () => {
        stopping ??= (async () => {
          await rm(readyMarkerPath(home), { force: true })
          for (const n of started.reverse()) await n.stop().catch(err => { reportError(components, 'devnet', err, 'a node did not stop cleanly') })
          for (const a of anvils) await a.stop()
        })()
        await stopping
      }
    }
    log('devnet ready', { rpc: anvil.rpcUrl, readyMs, bootstrap: network.bootstrap })
    return devnet
  } catch (err) {
    await Promise.all(clients.map(async c => { await c.stop() }))
    for (const n of started.reverse()) await n.stop().catch(e => { reportError(components, 'devnet', e, 'a node did not stop cleanly') })
    for (const a of anvils) await a.stop()
    throw err
  }
}

/** Resolves when `cond` holds, re-checked on every verified gossip message of `node`. */
async function until (cond: () => boolean, node: Pick<LilypadNode, 'gossip'>, timeoutMs: number): Promise<void> {
  if (cond()) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error('the devnet provider\'s offers did not reach the bootstrap node in time')) }, timeoutMs)
    const off = node.gossip.onVerified(() => { if (cond()) { clearTimeout(timer); off(); resolve() } })
  })
}
