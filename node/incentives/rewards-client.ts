// The Rewards contract from a node's key: reads go to the provider, transactions through the key's TxQueue (one
// nonce owner per key), reverts come back as ContractRevertError named after the contract's error.
import type { TransactionReceipt } from 'ethers'
import { connectRewards, type RewardsContract } from '../../contracts/generated/index.ts'
import type { ChainClient } from '../chain/index.ts'
import type { RewardsConfig, RewardsDomain, SignedCanaryReport, RewardsTree } from '../../protocols/incentives/index.ts'

export class NoRewardsContractError extends Error {
  static override name = 'NoRewardsContractError'
  override name = NoRewardsContractError.name
  readonly hint = 'this network was deployed without the incentivised testnet\'s Rewards contract (contracts.rewards in the network file)'
}

export interface EpochRootView {
  root: string
  total: bigint
  claimed: bigint
  finalizedAt: number
  expired: boolean
}

export interface ProposalView { approvals: number, vetoes: number, readyAt: number }

export class RewardsClient {
  readonly chain: ChainClient
  readonly address: string
  readonly contract: RewardsContract

  constructor (chain: ChainClient, address: string | undefined) {
    if (address === undefined) throw new NoRewardsContractError('the network has no Rewards contract')
    this.chain = chain
    this.address = address
    this.contract = connectRewards(address, chain.provider)
  }

  get domain (): RewardsDomain {
    return { chainId: BigInt(this.chain.network.chainId), verifyingContract: this.address }
  }

  async config (): Promise<RewardsConfig> {
    const c = await this.contract.config()
    return {
      genesis: Number(c.genesis), epochLength: Number(c.epochLength), reportWindow: Number(c.reportWindow), challengeDelay: Number(c.challengeDelay),
      claimWindow: Number(c.claimWindow), maxPerEpoch: c.maxPerEpoch, threshold: Number(c.threshold), rulesHash: c.rulesHash.toLowerCase()
    }
  }

  async epoch (epoch: number): Promise<EpochRootView | undefined> {
    const e = await this.contract.epochs(epoch)
    if (e.finalizedAt === 0n) return undefined
    return { root: e.root, total: e.total, claimed: e.claimed, finalizedAt: Number(e.finalizedAt), expired: e.expired }
  }

  async proposal (epoch: number, root: string, total: bigint): Promise<ProposalView> {
    const p = await this.contract.proposals(epoch, await this.contract.proposalKey(root, total))
    return { approvals: Number(p.approvals), vetoes: Number(p.vetoes), readyAt: Number(p.readyAt) }
  }

  async claimed (epoch: number, account: string): Promise<boolean> {
    return await this.contract.claimed(epoch, account)
  }

  async freeBalance (): Promise<bigint> { return await this.contract.freeBalance() }
  async validators (): Promise<string[]> { return await this.contract.validators() }
  async publishers (): Promise<string[]> { return await this.contract.publishers() }

  // ---- transactions ----

  async fund (amount: bigint): Promise<TransactionReceipt> {
    const c = this.chain
    await c.queue.send('approve Rewards', async () => await c.token.approve.populateTransaction(this.address, amount))
    return await c.queue.send('fund Rewards', async () => await this.contract.fund.populateTransaction(amount))
  }

  async proposeRoot (tree: Pick<RewardsTree, 'epoch' | 'root' | 'total'>): Promise<TransactionReceipt> {
    return await this.chain.queue.send(`propose root of epoch ${tree.epoch}`, async () => await this.contract.proposeRoot.populateTransaction(tree.epoch, tree.root, tree.total))
  }

  async vetoRoot (epoch: number, root: string, total: bigint): Promise<TransactionReceipt> {
    return await this.chain.queue.send(`veto root of epoch ${epoch}`, async () => await this.contract.vetoRoot.populateTransaction(epoch, root, total))
  }

  async finalize (tree: Pick<RewardsTree, 'epoch' | 'root' | 'total'>): Promise<TransactionReceipt> {
    return await this.chain.queue.send(`finalize epoch ${tree.epoch}`, async () => await this.contract.finalize.populateTransaction(tree.epoch, tree.root, tree.total))
  }

  async claim (epoch: number, account: string, amount: bigint, proof: string[]): Promise<TransactionReceipt> {
    return await this.chain.queue.send(`claim epoch ${epoch}`, async () => await this.contract.claim.populateTransaction(epoch, account, amount, proof))
  }

  async expire (epoch: number): Promise<TransactionReceipt> {
    return await this.chain.queue.send(`expire epoch ${epoch}`, async () => await this.contract.expire.populateTransaction(epoch))
  }

  async recordCanaries (reports: readonly SignedCanaryReport[]): Promise<TransactionReceipt> {
    const structs = reports.map(s => ({ ...s.report }))
    return await this.chain.queue.send(`record ${reports.length} canary reports`, async () => await this.contract.recordCanaries.populateTransaction(structs, reports.map(s => s.signature)))
  }
}
