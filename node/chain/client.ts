// The typed chain client a node uses: one per key. Reads go straight to the provider; every transaction goes
// through the key's TxQueue, and each receipt's gas lands in `gasLog`.
import { Signature, Wallet } from 'ethers'
import {
  connectMarket, connectLilypadToken, connectDirectory, connectJobManager, connectFaucet,
  type MarketContract, type LilypadTokenContract, type DirectoryContract, type JobManagerContract, type FaucetContract,
  type DealStruct
} from '../../contracts/generated/index.ts'
import { idOf, type Deal, type LilypadDomain } from '../../protocols/eip712.ts'
import { stateName, type DealStateName } from '../../protocols/settlement/index.ts'
import type { NetworkFile } from '../config/network.ts'
import { WrongChainError } from './errors.ts'
import { RetryingProvider, type RetryOptions } from './rpc.ts'
import { TxQueue, type GasEntry } from './queue.ts'
import { DealWatcher, decodeDealLog } from './events.ts'
import { ChainFollower, type ChainFollowerInit } from './follower.ts'
import { quietComponents, type Components } from '../components.ts'

export interface ChainClientOptions {
  network: Pick<NetworkFile, 'chainId' | 'rpcUrl' | 'contracts'> & { deployBlock?: number }
  /** The node's key; never logged. */
  privateKey: string
  retry?: Partial<RetryOptions>
  pollingIntervalMs?: number
  /** clock, logs and metrics (default: quiet ones) */
  components?: Pick<Components, 'clock' | 'logger' | 'metrics'>
  /** how the client's chain follower reads the chain (start block, cursor file, confirmations, poll interval) */
  follow?: Partial<Omit<ChainFollowerInit, 'source' | 'contracts' | 'deployBlock'>>
}

export interface DealRecordView {
  state: DealStateName
  since: number
  mediatorIndex: number
  resultHash: string
}

export const Roles = { Solver: 1, ResourceProvider: 2, JobCreator: 4, Mediator: 8 } as const

export class ChainClient {
  readonly provider: RetryingProvider
  readonly wallet: Wallet
  readonly queue: TxQueue
  readonly gasLog: GasEntry[] = []
  readonly market: MarketContract
  readonly token: LilypadTokenContract
  readonly directory: DirectoryContract
  readonly jobManager: JobManagerContract
  readonly faucet: FaucetContract | undefined
  readonly network: ChainClientOptions['network']
  /** the one reader of this client's chain events: every role subscribes here */
  readonly follower: ChainFollower

  private constructor (opts: ChainClientOptions, provider: RetryingProvider) {
    this.network = opts.network
    this.provider = provider
    this.wallet = new Wallet(opts.privateKey, provider)
    const components = opts.components ?? quietComponents()
    this.follower = new ChainFollower(components, {
      source: provider,
      contracts: { market: opts.network.contracts.market, jobManager: opts.network.contracts.jobManager },
      deployBlock: opts.network.deployBlock ?? 0,
      pollMs: opts.pollingIntervalMs ?? 250,
      ...opts.follow
    })
    // a transaction of ours was mined: there is a new block for the follower to read now
    this.queue = new TxQueue(this.wallet, this.gasLog, { metrics: components.metrics, onMined: () => { this.follower.poke() } })
    const c = opts.network.contracts
    this.market = connectMarket(c.market, provider)
    this.token = connectLilypadToken(c.token, provider)
    this.directory = connectDirectory(c.directory, provider)
    this.jobManager = connectJobManager(c.jobManager, provider)
    this.faucet = c.faucet !== undefined ? connectFaucet(c.faucet, provider) : undefined
  }

  /** Connects and checks that the RPC serves the network file's chain (WrongChainError otherwise). */
  static async create (opts: ChainClientOptions): Promise<ChainClient> {
    const provider = new RetryingProvider(opts.network.rpcUrl, opts.network.chainId, opts.retry, opts.pollingIntervalMs ?? 100, opts.components?.metrics)
    try {
      const actual = Number(await provider.send('eth_chainId', []))
      if (actual !== opts.network.chainId) throw new WrongChainError(opts.network.chainId, actual)
      return new ChainClient(opts, provider)
    } catch (err) {
      provider.destroy()
      throw err
    }
  }

  get address (): string { return this.wallet.address }

  get domain (): LilypadDomain {
    return { chainId: BigInt(this.network.chainId), verifyingContract: this.network.contracts.market }
  }

  dealId (deal: Deal): string {
    return idOf('Deal', this.domain, deal)
  }

  // ---- ledger ----

  async depositOf (account = this.address): Promise<bigint> {
    return await this.market.deposits(account)
  }

  async tokenBalance (account = this.address): Promise<bigint> {
    return await this.token.balanceOf(account)
  }

  /** Deposits with an ERC-2612 permit signed locally: one transaction, no separate approve. */
  async deposit (amount: bigint): Promise<void> {
    // Chain time, not the wall clock: on a devnet whose time was moved forward a wall-clock deadline is already past.
    const latest = await this.provider.getBlock('latest')
    const deadline = BigInt((latest?.timestamp ?? Math.floor(Date.now() / 1000)) + 3600)
    const nonce = await this.token.nonces(this.address)
    const sig = Signature.from(await this.wallet.signTypedData(
      { name: 'Lilypad', version: '1', chainId: this.network.chainId, verifyingContract: this.network.contracts.token },
      { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
      { owner: this.address, spender: this.network.contracts.market, value: amount, nonce, deadline }
    ))
    await this.queue.send('depositWithPermit', async () => await this.market.depositWithPermit.populateTransaction(amount, deadline, sig.v, sig.r, sig.s))
  }

  async withdraw (amount: bigint): Promise<void> {
    await this.queue.send('withdraw', async () => await this.market.withdraw.populateTransaction(amount))
  }

  async claimFaucet (): Promise<void> {
    const f = this.faucet
    if (f === undefined) throw new TypeError('this network has no faucet')
    await this.queue.send('claimFaucet', async () => await f.claim.populateTransaction())
  }

  // ---- deals ----

  async agree (deal: Deal, jobCreatorSig: string, providerSig: string): Promise<{ dealId: string, blockNumber: number }> {
    const r = await this.queue.send('agree', async () => await this.market.agree.populateTransaction(toStruct(deal), jobCreatorSig, providerSig))
    return { dealId: this.dealId(deal), blockNumber: r.blockNumber }
  }

  /**
   * Submits the result; `settle` lists earlier deals of this provider whose judge windows have passed, settled in
   * the same transaction (so a busy provider never sends a settlement of its own).
   */
  async submitResult (deal: Deal, resultCid: string, opts: { settle?: Deal[] } = {}): Promise<{ audited: boolean, mediator?: string }> {
    const ready = opts.settle ?? []
    const r = ready.length === 0
      ? await this.queue.send('submitResult', async () => await this.market.submitResult.populateTransaction(toStruct(deal), resultCid))
      : await this.queue.send(`submitResultAndSettle(${ready.length})`, async () => await this.market.submitResultAndSettle.populateTransaction(toStruct(deal), resultCid, ready.map(toStruct)))
    let audited = false
    let mediator: string | undefined
    for (const log of r.logs) {
      const e = decodeDealLog(log)
      if (e?.kind === 'ResultSubmitted') audited = e.audited
      if (e?.kind === 'DealChallenged') mediator = e.mediator
    }
    return mediator !== undefined ? { audited, mediator } : { audited }
  }

  async accept (deals: Deal[]): Promise<void> {
    await this.queue.send(`accept(${deals.length})`, async () => await this.market.accept.populateTransaction(deals.map(toStruct)))
  }

  async settle (deals: Deal[]): Promise<void> {
    await this.queue.send(`settle(${deals.length})`, async () => await this.market.settle.populateTransaction(deals.map(toStruct)))
  }

  /** Returns the mediator the contract drew. */
  async challenge (deal: Deal): Promise<string> {
    const r = await this.queue.send('challenge', async () => await this.market.challenge.populateTransaction(toStruct(deal)))
    for (const log of r.logs) {
      const e = decodeDealLog(log)
      if (e?.kind === 'DealChallenged') return e.mediator
    }
    throw new Error('challenge mined without a DealChallenged event')
  }

  async mediate (deal: Deal, resultCorrect: boolean): Promise<void> {
    await this.queue.send('mediate', async () => await this.market.mediate.populateTransaction(toStruct(deal), resultCorrect))
  }

  async timeoutResult (deal: Deal): Promise<void> {
    await this.queue.send('timeoutResult', async () => await this.market.timeoutResult.populateTransaction(toStruct(deal)))
  }

  async timeoutMediation (deal: Deal): Promise<void> {
    await this.queue.send('timeoutMediation', async () => await this.market.timeoutMediation.populateTransaction(toStruct(deal)))
  }

  async dealRecord (dealId: string): Promise<DealRecordView> {
    const r = await this.market.deals(dealId)
    return { state: stateName(Number(r.state)), since: Number(r.since), mediatorIndex: Number(r.mediatorIndex), resultHash: r.resultHash }
  }

  /** Follows a deal from its events (starting the follower if it is not running); call stop() on the watcher when done. */
  async watchDeal (dealId: string): Promise<DealWatcher> {
    if (!this.follower.running) await this.follower.start()
    return await new DealWatcher(this.follower, dealId).start()
  }

  // ---- directory and contract-triggered jobs ----

  async register (roles: number, peerId: string, metadataCid = ''): Promise<void> {
    await this.queue.send('register', async () => await this.directory.register.populateTransaction(roles, peerId, metadataCid))
  }

  /** Adds `role` to this key's Directory entry under `peerId`, keeping its other roles; no transaction when already so. */
  async ensureRole (role: number, peerId?: string): Promise<void> {
    const current = await this.directory.nodeOf(this.address)
    const peer = peerId ?? current.peerId
    if ((Number(current.roles) & role) !== 0 && current.peerId === peer) return
    await this.register(Number(current.roles) | role, peer, current.metadataCid)
  }

  async completeJob (jobId: bigint, deal: Deal, resultCid: string): Promise<void> {
    await this.queue.send('completeJob', async () => await this.jobManager.completeJob.populateTransaction(jobId, toStruct(deal), resultCid))
  }

  async failJob (jobId: bigint, reason: string): Promise<void> {
    await this.queue.send('failJob', async () => await this.jobManager.failJob.populateTransaction(jobId, reason))
  }

  async refundExpired (jobId: bigint): Promise<void> {
    await this.queue.send('refundExpired', async () => await this.jobManager.refundExpired.populateTransaction(jobId))
  }

  /** Lets requests in flight finish (bounded), then closes the provider. Callers that do not await still close it. */
  async stop (): Promise<void> {
    await this.follower.stop()
    if (this.provider.destroyed) return
    await this.provider.settle()
    if (!this.provider.destroyed) this.provider.destroy()
  }
}

export function toStruct (deal: Deal): DealStruct {
  return { ...deal, mediators: [...deal.mediators] }
}
