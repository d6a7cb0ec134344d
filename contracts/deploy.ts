// Deploys the Lilypad contracts to any RPC and optionally writes the network file nodes join with.
// CLI: npx node contracts/deploy.ts --rpc URL --key-env VAR --network-id ID [--out network.json] [--example-client]
//   [--mediator ADDR …] [--bridge ADDR …] [--module-price NAME=LP …] [--committee-size K]
// The deployer key is read from the environment variable named by --key-env, never from a flag.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { JsonRpcProvider, Wallet, parseEther, type Signer, type ContractFactory, type TransactionReceipt } from 'ethers'
import {
  lilypadTokenFactory, directoryFactory, marketFactory, jobManagerFactory, faucetFactory, exampleClientFactory, rewardsFactory,
  connectLilypadToken, connectDirectory, connectJobManager
} from './generated/index.ts'
import type { NetworkFile, NetworkContracts } from '../node/config/network.ts'
import { waitForReceipt } from '../node/chain/queue.ts'
import { boundsToJson, type MarketBounds } from '../protocols/settlement/index.ts'
import { committeeRulesFor, type CommitteeRules } from '../protocols/settlement/committee.ts'
import { jobManagerConfigToJson, type JobManagerConfig } from '../protocols/contract-job/index.ts'
import { defaultRewardRules, defaultRewardsConfig, rulesHash, setupToJson, type RewardRules, type RewardsConfig } from '../protocols/incentives/index.ts'

export interface DeployOptions {
  /** Either an RPC URL plus a private key, or a signer already connected to a provider. */
  rpcUrl?: string
  privateKey?: string
  signer?: Signer
  networkId: string
  /** LP minted to the deployer (wei). Default 1,000,000,000 LP. */
  supply?: bigint
  faucet?: { fund: bigint, drip: bigint, capPerPeriod: bigint, periodSeconds: number } | false
  /** Addresses the deployer approves as mediators in the Directory (each must then register itself). */
  mediators?: string[]
  /** Addresses the deployer approves as job bridges in the Directory (each must then register and bond). */
  bridges?: string[]
  /** Network-wide limits on deal terms, fixed in the Market (default `defaultMarketBounds`). */
  marketBounds?: MarketBounds
  /** How disputes are judged by committees, fixed in the Market (default `defaultCommitteeRules`: committees off). */
  committeeRules?: CommitteeRules
  /** The JobManager's fixed parameters (default `defaultJobManagerConfig`). */
  jobManagerConfig?: JobManagerConfig
  /** Modules contracts may request, with their price in LP wei (none by default: nothing can be requested). */
  modulePrices?: Record<string, bigint>
  /** LP wei per unit of callback gas a client pays for (default 1 gwei of LP). */
  callbackGasPrice?: bigint
  exampleClient?: { callbackGasLimit: number, timeout: number, fund: bigint } | false
  /**
   * The incentivised testnet's Rewards contract: who may publish roots (they must agree, `threshold` of them) and
   * whose canary reports it records; the rules (default `defaultRewardRules`), the contract's parameters (default
   * `defaultRewardsConfig` with genesis = the deploy block's time; `rulesHash` always from the rules) and the LP
   * moved into its pool.
   */
  rewards?: { publishers: string[], validators: string[], rules?: RewardRules, config?: Partial<Omit<RewardsConfig, 'rulesHash'>>, fund?: bigint }
  /** Write the network file here. */
  out?: string
  bootstrap?: string[]
}

export interface Deployment {
  chainId: number
  deployBlock: number
  contracts: NetworkContracts
  network: NetworkFile
  receipts: Array<{ what: string, hash: string, gasUsed: bigint }>
}

export class DeployError extends Error {
  static override name = 'DeployError'
  override name = 'DeployError'
}

/**
 * Committees off (size 1: every dispute has one drawn mediator, as before committees): the library's default, which
 * the devnet and the test fixtures keep. `lilypad network init --deploy` (and this script's --committee-size) deploy
 * committees with rules from `committeeRulesFor`, derived from the bounds; mediators bond with `lilypad mediator bond`.
 */
export const defaultCommitteeRules: CommitteeRules = { size: 1, commitWindow: 3600, revealWindow: 3600, unbondDelay: 16 * 86_400, minBond: parseEther('100'), slash: parseEther('10') }

export const defaultFaucet = { fund: parseEther('10000000'), drip: parseEther('1000'), capPerPeriod: parseEther('10000'), periodSeconds: 86_400 }
export const defaultExampleClient = { callbackGasLimit: 500_000, timeout: 3600, fund: parseEther('1000') }

/**
 * Bounds for a production-like network: every window at least a minute and at most a week, a countersignature
 * usable for at most an hour. A provider still checks that a deal's result window covers the job's own timeout
 * plus its start-up; these only make a deal nobody could honour impossible on chain.
 */
export const defaultMarketBounds: MarketBounds = {
  minResultTimeout: 60,
  maxResultTimeout: 7 * 86_400,
  minJudgeWindow: 60,
  maxJudgeWindow: 7 * 86_400,
  minMediateTimeout: 60,
  maxMediateTimeout: 7 * 86_400,
  maxDealTtl: 3600,
  minMediationFee: 0n
}

export const defaultJobManagerConfig: JobManagerConfig = {
  minTimeout: 60,
  maxTimeout: 7 * 86_400,
  minCallbackGas: 10_000,
  maxCallbackGas: 5_000_000,
  disputeWindow: 3600,
  mediationWindow: 3600,
  jobBond: parseEther('10'),
  disputeFee: parseEther('1')
}

export const defaultCallbackGasPrice = 1_000_000_000n

export async function deployAll (opts: DeployOptions): Promise<Deployment> {
  let signer = opts.signer
  let ownProvider: JsonRpcProvider | undefined
  if (signer === undefined) {
    if (opts.rpcUrl === undefined || opts.privateKey === undefined) throw new DeployError('deployAll needs a signer, or rpcUrl and privateKey')
    ownProvider = new JsonRpcProvider(opts.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 })
    signer = new Wallet(opts.privateKey, ownProvider)
  }
  const provider = signer.provider
  if (provider == null) throw new DeployError('the signer has no provider')
  try {
    const chainId = Number((await provider.getNetwork()).chainId)
    const me = await signer.getAddress()
    let nonce = await provider.getTransactionCount(me, 'pending')
    const receipts: Deployment['receipts'] = []
    const record = async (what: string, pending: Promise<{ hash: string }>): Promise<TransactionReceipt> => {
      const receipt = await waitForReceipt(provider, (await pending).hash)
      if (receipt.status !== 1) throw new DeployError(`${what} failed`)
      receipts.push({ what, hash: receipt.hash, gasUsed: receipt.gasUsed })
      return receipt
    }
    const deploy = async (what: string, f: ContractFactory, ...args: unknown[]): Promise<{ address: string, block: number }> => {
      const c = await f.deploy(...args, { nonce: nonce++ })
      const receipt = await record(`deploy ${what}`, Promise.resolve({ hash: c.deploymentTransaction()!.hash }))
      return { address: await c.getAddress(), block: receipt.blockNumber }
    }

    const token = await deploy('LilypadToken', lilypadTokenFactory(signer), me, opts.supply ?? parseEther('1000000000'))
    const directory = await deploy('Directory', directoryFactory(signer), me)
    const bounds = opts.marketBounds ?? defaultMarketBounds
    const market = await deploy('Market', marketFactory(signer), token.address, directory.address, bounds, opts.committeeRules ?? defaultCommitteeRules)
    const jmConfig = opts.jobManagerConfig ?? defaultJobManagerConfig
    const jobManager = await deploy('JobManager', jobManagerFactory(signer), token.address, market.address, directory.address, jmConfig, me)
    const contracts: NetworkContracts = { token: token.address, market: market.address, directory: directory.address, jobManager: jobManager.address }
    const lp = connectLilypadToken(token.address, signer)

    const faucetOpts = opts.faucet === false ? undefined : (opts.faucet ?? defaultFaucet)
    if (faucetOpts !== undefined) {
      const faucet = await deploy('Faucet', faucetFactory(signer), token.address, faucetOpts.drip, faucetOpts.capPerPeriod, faucetOpts.periodSeconds)
      contracts.faucet = faucet.address
      await record('fund Faucet', lp.transfer(faucet.address, faucetOpts.fund, { nonce: nonce++ }))
    }
    const jm = connectJobManager(jobManager.address, signer)
    await record('set callback gas price', jm.setCallbackGasPrice(opts.callbackGasPrice ?? defaultCallbackGasPrice, { nonce: nonce++ }))
    for (const [module, price] of Object.entries(opts.modulePrices ?? {})) {
      await record(`price ${module}`, jm.setModulePrice(module, price, { nonce: nonce++ }))
    }
    if (opts.exampleClient !== undefined && opts.exampleClient !== false) {
      const ec = opts.exampleClient
      const client = await deploy('ExampleClient', exampleClientFactory(signer), jobManager.address, ec.callbackGasLimit, ec.timeout)
      contracts.exampleClient = client.address
      await record('fund ExampleClient', lp.transfer(client.address, ec.fund, { nonce: nonce++ }))
    }
    let rewardsSetup: Parameters<typeof setupToJson>[0] | undefined
    if (opts.rewards !== undefined) {
      const rules = opts.rewards.rules ?? defaultRewardRules
      const genesis = (await provider.getBlock('latest'))?.timestamp ?? 0
      const config: RewardsConfig = { ...defaultRewardsConfig(genesis, rules), ...opts.rewards.config, rulesHash: rulesHash(rules) }
      const rewards = await deploy('Rewards', rewardsFactory(signer), token.address, { ...config, maxPerEpoch: config.maxPerEpoch }, opts.rewards.publishers, opts.rewards.validators)
      contracts.rewards = rewards.address
      if ((opts.rewards.fund ?? 0n) > 0n) await record('fund Rewards', lp.transfer(rewards.address, opts.rewards.fund as bigint, { nonce: nonce++ }))
      rewardsSetup = { config, rules, publishers: opts.rewards.publishers, validators: opts.rewards.validators }
    }
    const dir = connectDirectory(directory.address, signer)
    for (const m of opts.mediators ?? []) await record(`approve mediator ${m}`, dir.approveMediator(m, { nonce: nonce++ }))
    for (const b of opts.bridges ?? []) await record(`approve bridge ${b}`, dir.approveBridge(b, { nonce: nonce++ }))

    const network: NetworkFile = {
      networkId: opts.networkId,
      chainId,
      rpcUrl: opts.rpcUrl ?? '',
      contracts,
      deployBlock: token.block,
      bootstrap: opts.bootstrap ?? [],
      ...(opts.mediators !== undefined && opts.mediators.length > 0 ? { mediators: opts.mediators } : {}),
      ...(opts.bridges !== undefined && opts.bridges.length > 0 ? { bridges: opts.bridges } : {}),
      marketBounds: boundsToJson(bounds),
      jobManagerConfig: jobManagerConfigToJson(jmConfig),
      ...(rewardsSetup !== undefined ? { rewards: setupToJson(rewardsSetup) } : {})
    }
    if (opts.out !== undefined) writeFileSync(opts.out, JSON.stringify(network, null, 2) + '\n')
    return { chainId, deployBlock: token.block, contracts, network, receipts }
  } finally {
    ownProvider?.destroy()
  }
}

function flag (args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const rpcUrl = flag(args, '--rpc')
  const keyEnv = flag(args, '--key-env')
  const networkId = flag(args, '--network-id') ?? 'custom'
  const privateKey = keyEnv !== undefined ? process.env[keyEnv] : undefined
  if (rpcUrl === undefined || keyEnv === undefined || privateKey === undefined || privateKey === '') {
    console.error('usage: npx node contracts/deploy.ts --rpc URL --key-env VAR [--network-id ID] [--out network.json] [--example-client] [--mediator ADDR ...] [--bridge ADDR ...] [--module-price NAME=LP ...] [--committee-size K]\n' +
      '  VAR names an environment variable holding the deployer\'s private key')
    process.exit(2)
  }
  const many = (name: string): string[] => args.flatMap((a, i) => a === name && args[i + 1] !== undefined ? [args[i + 1]] : [])
  const modulePrices: Record<string, bigint> = {}
  for (const spec of many('--module-price')) {
    const eq = spec.lastIndexOf('=')
    if (eq <= 0) { console.error(`--module-price ${spec}: expected NAME=LP, e.g. cowsay:v0.0.1=2`); process.exit(2) }
    modulePrices[spec.slice(0, eq)] = parseEther(spec.slice(eq + 1))
  }
  // committees of K (odd, up to 9), the rest derived from the default bounds and a lone mediator's hour
  const size = flag(args, '--committee-size')
  let committeeRules = defaultCommitteeRules
  try { if (size !== undefined) committeeRules = committeeRulesFor(defaultMarketBounds, 3600, { size: Number(size) }) } catch (err) { console.error(`--committee-size: ${(err as Error).message}`); process.exit(2) }
  const d = await deployAll({
    rpcUrl, privateKey, networkId, out: flag(args, '--out'), mediators: many('--mediator'), bridges: many('--bridge'), modulePrices, committeeRules,
    exampleClient: args.includes('--example-client') ? defaultExampleClient : false
  })
  console.log(JSON.stringify({ chainId: d.chainId, deployBlock: d.deployBlock, contracts: d.contracts }, null, 2))
}
