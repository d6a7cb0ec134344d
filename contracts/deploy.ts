// Deploys the Lilypad contracts to any RPC and optionally writes the network file nodes join with.
// CLI: npx node contracts/deploy.ts --rpc URL --key-env VAR --network-id ID [--out network.json] [--example-client]
// The deployer key is read from the environment variable named by --key-env, never from a flag.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { JsonRpcProvider, Wallet, parseEther, type Signer, type ContractFactory, type TransactionReceipt } from 'ethers'
import {
  lilypadTokenFactory, directoryFactory, marketFactory, jobManagerFactory, faucetFactory, exampleClientFactory,
  connectLilypadToken, connectDirectory
} from './generated/index.ts'
import type { NetworkFile, NetworkContracts } from '../node/config/network.ts'
import { waitForReceipt } from '../node/chain/queue.ts'

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
  /** Minimum payment the JobManager accepts for a contract-triggered job (wei). */
  minJobPayment?: bigint
  exampleClient?: { payment: bigint, timeout: number, fund: bigint } | false
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

export const defaultFaucet = { fund: parseEther('10000000'), drip: parseEther('1000'), capPerPeriod: parseEther('10000'), periodSeconds: 86_400 }
export const defaultExampleClient = { payment: parseEther('10'), timeout: 3600, fund: parseEther('1000') }

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
    const market = await deploy('Market', marketFactory(signer), token.address, directory.address)
    const jobManager = await deploy('JobManager', jobManagerFactory(signer), token.address, market.address, directory.address, opts.minJobPayment ?? 1n)
    const contracts: NetworkContracts = { token: token.address, market: market.address, directory: directory.address, jobManager: jobManager.address }
    const lp = connectLilypadToken(token.address, signer)

    const faucetOpts = opts.faucet === false ? undefined : (opts.faucet ?? defaultFaucet)
    if (faucetOpts !== undefined) {
      const faucet = await deploy('Faucet', faucetFactory(signer), token.address, faucetOpts.drip, faucetOpts.capPerPeriod, faucetOpts.periodSeconds)
      contracts.faucet = faucet.address
      await record('fund Faucet', lp.transfer(faucet.address, faucetOpts.fund, { nonce: nonce++ }))
    }
    if (opts.exampleClient !== undefined && opts.exampleClient !== false) {
      const ec = opts.exampleClient
      const client = await deploy('ExampleClient', exampleClientFactory(signer), jobManager.address, ec.payment, ec.timeout)
      contracts.exampleClient = client.address
      await record('fund ExampleClient', lp.transfer(client.address, ec.fund, { nonce: nonce++ }))
    }
    const dir = connectDirectory(directory.address, signer)
    for (const m of opts.mediators ?? []) await record(`approve mediator ${m}`, dir.approveMediator(m, { nonce: nonce++ }))

    const network: NetworkFile = {
      networkId: opts.networkId,
      chainId,
      rpcUrl: opts.rpcUrl ?? '',
      contracts,
      deployBlock: token.block,
      bootstrap: opts.bootstrap ?? [],
      ...(opts.mediators !== undefined && opts.mediators.length > 0 ? { mediators: opts.mediators } : {})
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
    console.error('usage: npx node contracts/deploy.ts --rpc URL --key-env VAR [--network-id ID] [--out network.json] [--example-client] [--mediator ADDR ...]\n' +
      '  VAR names an environment variable holding the deployer\'s private key')
    process.exit(2)
  }
  const mediators = args.flatMap((a, i) => a === '--mediator' && args[i + 1] !== undefined ? [args[i + 1]] : [])
  const d = await deployAll({
    rpcUrl, privateKey, networkId, out: flag(args, '--out'), mediators,
    exampleClient: args.includes('--example-client') ? defaultExampleClient : false
  })
  console.log(JSON.stringify({ chainId: d.chainId, deployBlock: d.deployBlock, contracts: d.contracts }, null, 2))
}
