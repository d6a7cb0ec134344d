// The typed chain client a node uses: one per key. Reads go straight to the provider; every transaction goes
// through the key's TxQueue, and each receipt's gas lands in `gasLog`.
import { Interface, Signature, Wallet, dataLength, hexlify, type TransactionReceipt, ZeroAddress, ZeroHash } from 'ethers'
import {
  connectMarket, connectLilypadToken, connectDirectory, connectJobManager, connectFaucet, JobManagerAbi,
  type MarketContract, type LilypadTokenContract, type DirectoryContract, type JobManagerContract, type FaucetContract,
  type DealStruct, type JobOfferStruct
} from '../../contracts/generated/index.ts'
import { idOf, type Deal, type JobOffer, type LilypadDomain } from '../../protocols/eip712.ts'
import { recoverDigest } from '../../protocols/signatures.ts'
import { stateName, COMMITTEE, UNDRAWN, type DealStateName, type MarketBounds } from '../../protocols/settlement/index.ts'
import type { CommitteeRules, VoteValue } from '../../protocols/settlement/committee.ts'
import { SEED_BLOCKS } from '../../protocols/settlement/seed.ts'
import type { CommitteeFacts, SeedPhaseFacts } from '../../core/lifecycle/facts.ts'
import { jobStatusName, toInputList, type JobManagerConfig, type JobStatusName } from '../../protocols/contract-job/index.ts'
import type { NetworkFile } from '../config/network.ts'
import { openRpc, type RetryingProvider, type RetryOptions } from './rpc.ts'
import { TxQueue, type GasEntry } from './queue.ts'
import { DealWatcher, decodeDealLog } from './events.ts'
import { ChainFollower, type ChainFollowerInit } from './follower.ts'
import { quietComponents, type Components } from '../components.ts'

export interface ChainClientOptions {
  network: Pick<NetworkFile, 'chainId' | 'rpcUrl' | 'contracts'> & { deployBlock?: number, rpcUrls?: string[] }
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
  /** Challenged: the mediator drawn (or COMMITTEE); ResultSubmitted: the audit flags (AUDIT_CLEARED, ACCEPTED) */
  mediatorIndex: number
  /** the block of the last transition (mod 2^32): a submission's audit is drawn from its hash */
  blockNumber: number
  resultHash: string
}

/** The LP token's ERC-2612 permit (EIP-712): what a deposit's owner signs so the Market may take the amount. */
export const PERMIT_TYPES = { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] }
export function permitDomain (network: { chainId: number, contracts: { token: string } }): { name: string, version: string, chainId: number, verifyingContract: string } {
  return { name: 'Lilypad', version: '1', chainId: network.chainId, verifyingContract: network.contracts.token }
}

export const Roles = { Solver: 1, ResourceProvider: 2, JobCreator: 4, Mediator: 8, Bridge: 16 } as const

/** A contract job as `JobManager.resultOf` reports it. */
export interface ContractJobView {
  jobId: bigint
  status: JobStatusName
  client: string
  bridge: string
  payment: bigint
  /** request deadline (Open/PickedUp), end of the dispute window (Delivered), mediator's deadline (Disputed) */
  deadline: number
  callbackGasLimit: number
  callbackPending: boolean
  exitCode: number
  dealId: string
  resultCid: string
}

export interface ContractJobRequestOptions {
  /** gas the client's callback may use (paid for in the quote) */
  callbackGasLimit: number
  /** seconds until the job expires */
  timeout: number
  /** the most LP wei to pay (default: the current quote) */
  maxPayment?: bigint
}

const jobManagerInterface = new Interface(JobManagerAbi as unknown as string[])

/** The job id of the (first) JobRequested event in a receipt. */
export function requestedJobId (receipt: TransactionReceipt): bigint {
  for (const log of receipt.logs) {
    let parsed
    try { parsed = jobManagerInterface.parseLog({ topics: [...log.topics], data: log.data }) } catch { parsed = null }
    if (parsed?.name === 'JobRequested') return parsed.args.jobId as bigint
  }
  throw new Error('the transaction emitted no JobRequested event')
}

/**
 * A 65-byte ECDSA signature that `signer`'s own key made over `digest`, in EIP-2098's 64 bytes (the Market takes
 * both; ~140 gas less calldata). Anything else goes out as given: a contract wallet's ERC-1271 signature (its bytes
 * mean what the wallet says, whatever their length), a signature by someone else, a malformed or high-s one (ethers
 * refuses to parse it; the Market then names the error). Recovered with the process's recovery (native in a node,
 * ~45 µs). protocols/signatures.ts parses both forms with ethers' Signature.from, so a reader of the chain's
 * calldata recovers the same signer from either.
 */
export function compactSignature (signature: string, digest: string, signer: string): string {
  if (dataLength(signature) !== 65) return signature
  try {
    if (recoverDigest(digest, signature).toLowerCase() !== signer.toLowerCase()) return signature
    return Signature.from(signature).compactSerialized
  } catch {
    return signature
  }
}

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
  private rulesRead: Promise<CommitteeRules> | undefined

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
    const provider = await openRpc(opts.network, { ...(opts.retry !== undefined ? { retry: opts.retry } : {}), pollingIntervalMs: opts.pollingIntervalMs ?? 100, ...(opts.components?.metrics !== undefined ? { metrics: opts.components.metrics } : {}) })
    try {
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
    const sig = Signature.from(await this.wallet.signTypedData(permitDomain(this.network), PERMIT_TYPES, { owner: this.address, spender: this.network.contracts.market, value: amount, nonce, deadline }))
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

  /**
   * Agrees the deal. The Market does not ask the sender for its own signature (the transaction is its consent), so
   * the signature of the party this client is goes out empty: ~4,200 gas less (a signature check and 65 bytes). The
   * other goes out in EIP-2098's 64 bytes when it is its signer's own key's (see `compactSignature`).
   */
  async agree (deal: Deal, jobCreatorSig: string, providerSig: string): Promise<{ dealId: string, blockNumber: number }> {
    const me = this.address.toLowerCase()
    const id = this.dealId(deal)
    const jcSig = deal.jobCreator.toLowerCase() === me ? '0x' : compactSignature(jobCreatorSig, id, deal.jobCreator)
    const rpSig = deal.resourceProvider.toLowerCase() === me ? '0x' : compactSignature(providerSig, id, deal.resourceProvider)
    const r = await this.queue.send('agree', async () => await this.market.agree.populateTransaction(toStruct(deal), jcSig, rpSig))
    return { dealId: this.dealId(deal), blockNumber: r.blockNumber }
  }

  /**
   * Submits the result; `settle` lists earlier deals of this provider whose judge windows have passed, settled in
   * the same transaction (so a busy provider never sends a settlement of its own).
   */
  async submitResult (deal: Deal, resultCid: string, opts: { settle?: Deal[] } = {}): Promise<{ blockNumber: number }> {
    const ready = opts.settle ?? []
    const r = ready.length === 0
      ? await this.queue.send('submitResult', async () => await this.market.submitResult.populateTransaction(toStruct(deal), resultCid))
      : await this.queue.send(`submitResultAndSettle(${ready.length})`, async () => await this.market.submitResultAndSettle.populateTransaction(toStruct(deal), resultCid, ready.map(toStruct)))
    return { blockNumber: r.blockNumber }
  }

  /**
   * Submits the result with the job creator's off-chain acceptance of it (`Accept(dealId, resultCid)` signed under
   * this network's domain): a deal without audits is settled in the same transaction; one with audits waits for its
   * draw (`drawAudit`, from the next block on).
   */
  async submitAcceptedResult (deal: Deal, resultCid: string, acceptance: string): Promise<{ blockNumber: number, settled: boolean }> {
    const digest = idOf('Accept', this.domain, { dealId: this.dealId(deal), resultCid })
    const sig = compactSignature(acceptance, digest, deal.jobCreator)
    const r = await this.queue.send('submitAcceptedResult', async () => await this.market.submitAcceptedResult.populateTransaction(toStruct(deal), resultCid, sig))
    return { blockNumber: r.blockNumber, settled: r.logs.some(l => decodeDealLog(l)?.kind === 'DealSettled') }
  }

  /**
   * Draws a submission's audit (anyone may, from the block after the submission's; docs/mediation.md, "Unbiasable
   * draws"): `audited` names the mediator drawn (by us at once, in a second transaction; the zero address for a
   * committee), `settled` is a miss of a deal
   * whose acceptance came with its result, `cleared` a miss recorded.
   */
  async drawAudit (deal: Deal): Promise<{ outcome: 'audited', mediator: string } | { outcome: 'settled' | 'cleared' }> {
    const r = await this.queue.send('drawAudit', async () => await this.market.drawAudit.populateTransaction(toStruct(deal)))
    for (const log of r.logs) {
      const e = decodeDealLog(log)
      if (e?.kind === 'DealChallenged') return { outcome: 'audited', mediator: await this.drawnAfter(deal) }
      if (e?.kind === 'DealSettled') return { outcome: 'settled' }
    }
    return { outcome: 'cleared' }
  }

  async accept (deals: Deal[]): Promise<void> {
    await this.queue.send(`accept(${deals.length})`, async () => await this.market.accept.populateTransaction(deals.map(toStruct)))
  }

  async settle (deals: Deal[]): Promise<void> {
    await this.queue.send(`settle(${deals.length})`, async () => await this.market.settle.populateTransaction(deals.map(toStruct)))
  }

  /**
   * Challenges a submitted result, then draws its single mediator from the challenge block's hash in a second
   * transaction (`drawMediator`), and returns it; the zero address for a committee, drawn from the parties' seeds
   * (docs/mediation.md, "Unbiasable draws").
   */
  async challenge (deal: Deal): Promise<string> {
    const r = await this.queue.send('challenge', async () => await this.market.challenge.populateTransaction(toStruct(deal)))
    if (!r.logs.some(log => decodeDealLog(log)?.kind === 'DealChallenged')) throw new Error('challenge mined without a DealChallenged event')
    return await this.drawnAfter(deal)
  }

  /** A dispute just started: its single mediator drawn by us at once (someone may have been quicker), or a committee's zero address. */
  private async drawnAfter (deal: Deal): Promise<string> {
    const id = this.dealId(deal)
    const rec = await this.dealRecord(id)
    if (rec.mediatorIndex === COMMITTEE) return ZeroAddress
    if (rec.mediatorIndex !== UNDRAWN) return deal.mediators[rec.mediatorIndex]
    return await this.drawMediator(deal)
  }

  /**
   * Draws a single mediator's dispute from its block's hash (anyone may, from the block after the dispute's to 256
   * blocks after it; docs/mediation.md, "Unbiasable draws"). Returns the mediator drawn.
   */
  async drawMediator (deal: Deal): Promise<string> {
    const r = await this.queue.send('drawMediator', async () => await this.market.drawMediator.populateTransaction(toStruct(deal)))
    for (const log of r.logs) {
      const e = decodeDealLog(log)
      if (e?.kind === 'MediatorDrawn') return e.mediator
    }
    throw new Error('drawMediator mined without a MediatorDrawn event')
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

  // ---- committees (docs/mediation.md, "Committees") ----

  /** A committee member's hidden vote: `voteCommitment(dealId, this.address, vote, salt)`. */
  /** `slot`: which of this mediator's commitment slots to use, one none of its unrevealed commitments holds. */
  async commitVote (deal: Deal, commitment: string, slot = 0): Promise<TransactionReceipt> {
    return await this.queue.send('commitVote', async () => await this.market.commitVote.populateTransaction(toStruct(deal), commitment, slot))
  }

  /** `slot`: the commitment slot the commit used. */
  async revealVote (deal: Deal, vote: VoteValue, salt: string, slot = 0): Promise<TransactionReceipt> {
    return await this.queue.send('revealVote', async () => await this.market.revealVote.populateTransaction(toStruct(deal), vote, salt, slot))
  }

  /**
   * A party's seed for a committee dispute (docs/mediation.md, "Unbiasable draws"): the secret its offer committed to
   * and that offer's encoded field words (protocols/settlement/seed.ts `offerWords`). The second reveal draws the
   * committee (its receipt carries CommitteeDrawn).
   */
  /**
   * A party's seed reveal. The second reveal passes the first's secret back (the Market keeps only its tag): read
   * from the first's `SeedRevealed` when `firstSecret` is not given. Two reveals in one block both pass none, and
   * the later one is refused (WrongFirstSeed); sent again it finds the first's secret.
   */
  async revealSeed (deal: Deal, provider: boolean, secret: string, offerWords: string[], firstSecret?: string): Promise<TransactionReceipt> {
    const first = firstSecret ?? await this.firstSeed(idOf('Deal', this.domain, deal), provider)
    return await this.queue.send('revealSeed', async () => await this.market.revealSeed.populateTransaction(toStruct(deal), provider, secret, offerWords, first))
  }

  /** The other party's revealed secret when it revealed first (as seen now), else the zero word. */
  async firstSeed (dealId: string, provider: boolean): Promise<string> {
    const phase = await this.seedPhase(dealId)
    if (phase === null || !(provider ? phase.jobCreatorRevealed : phase.providerRevealed)) return ZeroHash
    const first = (await this.follower.find('SeedRevealed', { dealId }, phase.seedBlock)).find(e => e.args.provider !== provider)
    return first?.args.secret ?? ZeroHash
  }

  /**
   * A committee dispute waiting for the parties' seeds: the block it started in (a reveal must come after it and
   * within 256 blocks) and who has revealed. Null once drawn, or when the deal has no committee dispute.
   */
  async seedPhase (dealId: string): Promise<{ seedBlock: number, jobCreatorRevealed: boolean, providerRevealed: boolean, audit: boolean } | null> {
    const c = await this.market.committees(dealId)
    if (Number(c.k) === 0 || Number(c.drawnAt) !== 0) return null
    const seeds = Number(c.seeds)
    return { seedBlock: Number(c.seedBlock), jobCreatorRevealed: (seeds & 1) !== 0, providerRevealed: (seeds & 2) !== 0, audit: (seeds & 4) !== 0 }
  }

  async finalizeCommittee (deal: Deal): Promise<TransactionReceipt> {
    return await this.queue.send('finalizeCommittee', async () => await this.market.finalizeCommittee.populateTransaction(toStruct(deal)))
  }

  /** Moves LP from this account's deposit into its mediator bond. */
  async bondMediator (amount: bigint): Promise<void> {
    await this.queue.send('bond', async () => await this.market.bond.populateTransaction(amount))
  }

  async startUnbond (amount: bigint): Promise<void> {
    await this.queue.send('startUnbond', async () => await this.market.startUnbond.populateTransaction(amount))
  }

  async finishUnbond (): Promise<void> {
    await this.queue.send('finishUnbond', async () => await this.market.finishUnbond.populateTransaction())
  }

  /** A mediator's bond in the Market: bonded, being withdrawn, and when the withdrawal may finish (unix seconds). */
  async mediatorBond (account = this.address): Promise<{ amount: bigint, unbonding: bigint, unbondAt: number }> {
    const b = await this.market.bonds(account)
    return { amount: b.amount, unbonding: b.unbonding, unbondAt: Number(b.unbondAt) }
  }

  /**
   * The committee judging a deal's dispute, as the Market keeps it: its members (addresses, in draw order, from the
   * deal's mediators), when it was drawn and, bit i for the i-th member, who committed, revealed, voted correct or
   * "no case". Null when the deal has no committee (not disputed, a single mediator, not drawn yet: `seedPhase`, or
   * already finalized).
   */
  async committee (dealId: string, deal: Pick<Deal, 'mediators'>): Promise<{ members: string[], drawnAt: number, allCommittedAt: number | null, committed: number, revealed: number, verdicts: number, noCase: number } | null> {
    const c = await this.market.committees(dealId)
    const k = Number(c.k)
    if (k === 0 || Number(c.drawnAt) === 0) return null
    const members = Array.from({ length: k }, (_, i) => deal.mediators[Number((c.members >> BigInt(8 * i)) & 0xffn)])
    return { members, drawnAt: Number(c.drawnAt), allCommittedAt: Number(c.allCommittedAt) === 0 ? null : Number(c.allCommittedAt), committed: Number(c.committed), revealed: Number(c.revealed), verdicts: Number(c.verdicts), noCase: Number(c.noCase) }
  }

  /**
   * A deal's terms as its `agree` transaction carried them (the Market stores only their hash): for a committee
   * member the parties never gave the case, which must still name the deal in its vote. Null when the deal was
   * agreed through another contract's call (no `agree` calldata to read) or the terms read do not hash to the id.
   */
  async dealTermsFromAgree (dealId: string): Promise<Deal | null> {
    const agreed = (await this.follower.history(dealId)).find(e => e.name === 'DealAgreed')
    if (agreed === undefined) return null
    const tx = await this.provider.getTransaction(agreed.txHash)
    const fn = this.market.interface.getFunction('agree')
    if (tx == null || fn === null || tx.to?.toLowerCase() !== this.market.target.toString().toLowerCase() || !tx.data.startsWith(fn.selector)) return null
    const d = this.market.interface.decodeFunctionData(fn, tx.data)[0] as DealStruct
    const deal: Deal = {
      jobOfferId: hexlify(d.jobOfferId), resourceOfferId: hexlify(d.resourceOfferId), jobCreator: d.jobCreator, resourceProvider: d.resourceProvider, mediators: [...d.mediators],
      price: BigInt(d.price), collateral: BigInt(d.collateral), mediationFee: BigInt(d.mediationFee), auditPpm: Number(d.auditPpm),
      resultTimeout: Number(d.resultTimeout), judgeWindow: Number(d.judgeWindow), mediateTimeout: Number(d.mediateTimeout), expiry: BigInt(d.expiry), nonce: BigInt(d.nonce)
    }
    return idOf('Deal', this.domain, deal).toLowerCase() === dealId.toLowerCase() ? deal : null
  }

  /** The Market's committee rules: fixed at deployment, so read once (a failed read is tried again next time). */
  async committeeRules (): Promise<CommitteeRules> {
    this.rulesRead ??= this.market.committeeRules().then(r => ({ size: Number(r.size), commitWindow: Number(r.commitWindow), revealWindow: Number(r.revealWindow), unbondDelay: Number(r.unbondDelay), minBond: r.minBond, slash: r.slash }))
    return await this.rulesRead.catch(err => { this.rulesRead = undefined; throw err })
  }

  /**
   * A committee dispute's facts as the lifecycles read them: members in draw order, who committed and revealed,
   * and the vote windows. Undefined when the Market drew no committee for the deal. The members come from the
   * deal's terms, or as `CommitteeDrawn` named them (for a member that does not know the terms yet).
   */
  async committeeFacts (dealId: string, from: Pick<Deal, 'mediators'> | { members: string[] }): Promise<CommitteeFacts | undefined> {
    const [c, rules] = await Promise.all([this.committee(dealId, 'mediators' in from ? from : { mediators: [] }), this.committeeRules()])
    if (c === null) return undefined
    const members = 'members' in from ? from.members : c.members
    const bits = (mask: number): string[] => members.filter((_, i) => ((mask >> i) & 1) === 1)
    return { members, drawnAt: c.drawnAt, allCommittedAt: c.allCommittedAt, committed: bits(c.committed), revealed: bits(c.revealed), commitWindow: rules.commitWindow, revealWindow: rules.revealWindow }
  }

  /**
   * A committee dispute's seed phase as the parties' lifecycles read it (docs/mediation.md, "Unbiasable draws"): who
   * revealed, and the last second a reveal is accepted — the dispute's start (`since`, the deal record's) + the reveal
   * window, or already past once the phase's 256 blocks ran out. Undefined once drawn, or with no committee dispute.
   */
  async seedFacts (dealId: string, since: number): Promise<SeedPhaseFacts | undefined> {
    const [p, rules, latest] = await Promise.all([this.seedPhase(dealId), this.committeeRules(), this.provider.getBlock('latest')])
    if (p === null) return undefined
    let deadline = since + rules.revealWindow
    if (latest !== null && latest.number > p.seedBlock + SEED_BLOCKS) deadline = Math.min(deadline, latest.timestamp - 1)
    return { jobCreatorRevealed: p.jobCreatorRevealed, providerRevealed: p.providerRevealed, deadline }
  }

  /**
   * A committee dispute's facts: its seed phase until both parties revealed, then its committee (neither once it is
   * finalized; the deal's state then says so).
   */
  async committeeDisputeFacts (dealId: string, since: number, from: Pick<Deal, 'mediators'> | { members: string[] }): Promise<{ seedPhase?: SeedPhaseFacts, committee?: CommitteeFacts }> {
    const seedPhase = await this.seedFacts(dealId, since)
    if (seedPhase !== undefined) return { seedPhase }
    const committee = await this.committeeFacts(dealId, from)
    return committee !== undefined ? { committee } : {}
  }

  async dealRecord (dealId: string): Promise<DealRecordView> {
    const r = await this.market.deals(dealId)
    return { state: stateName(Number(r.state)), since: Number(r.since), mediatorIndex: Number(r.mediatorIndex), blockNumber: Number(r.blockNumber), resultHash: r.resultHash }
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

  // ---- contract-triggered jobs: the client's side ----

  /** LP wei `runJob` takes now for `module` with this callback gas (reverts ModuleNotOffered, CallbackGasOutOfBounds). */
  async quote (module: string, callbackGasLimit: number): Promise<bigint> {
    return await this.jobManager.quote(module, callbackGasLimit)
  }

  /** Approves the quote (or `maxPayment`) and requests the job; returns its id. The caller is the client. */
  async requestJob (module: string, inputs: Record<string, string>, opts: ContractJobRequestOptions): Promise<bigint> {
    const list = toInputList(inputs)
    const max = opts.maxPayment ?? await this.quote(module, opts.callbackGasLimit)
    const spender = this.network.contracts.jobManager
    await this.queue.send('approve JobManager', async () => await this.token.approve.populateTransaction(spender, max))
    const r = await this.queue.send('runJob', async () => await this.jobManager.runJob.populateTransaction(module, list, opts.callbackGasLimit, opts.timeout, max))
    return requestedJobId(r)
  }

  async cancelJob (jobId: bigint): Promise<void> {
    await this.queue.send('cancelJob', async () => await this.jobManager.cancelJob.populateTransaction(jobId))
  }

  async refundExpired (jobId: bigint): Promise<void> {
    await this.queue.send('refundExpired', async () => await this.jobManager.refundExpired.populateTransaction(jobId))
  }

  /**
   * Approves the dispute fee and disputes, then draws the job's mediator from the dispute block's hash in a second
   * transaction (`drawJobMediator`; someone may have been quicker), and returns it (docs/mediation.md, "Unbiasable
   * draws").
   */
  async disputeJob (jobId: bigint): Promise<string> {
    const fee = (await this.jobManager.config()).disputeFee
    await this.queue.send('approve dispute fee', async () => await this.token.approve.populateTransaction(this.network.contracts.jobManager, fee))
    const r = await this.queue.send('disputeJob', async () => await this.jobManager.disputeJob.populateTransaction(jobId))
    if (!r.logs.some(log => jobManagerInterface.parseLog({ topics: [...log.topics], data: log.data })?.name === 'JobDisputed')) throw new Error('disputeJob mined without a JobDisputed event')
    const drawn = (await this.jobManager.disputes(jobId)).mediator
    return drawn !== ZeroAddress ? drawn : await this.drawJobMediator(jobId)
  }

  /**
   * Draws a disputed job's mediator from its dispute block's hash (anyone may, from the block after the dispute's
   * to 256 blocks after it). Returns the mediator drawn.
   */
  async drawJobMediator (jobId: bigint): Promise<string> {
    const r = await this.queue.send('drawJobMediator', async () => await this.jobManager.drawJobMediator.populateTransaction(jobId))
    for (const log of r.logs) {
      const parsed = jobManagerInterface.parseLog({ topics: [...log.topics], data: log.data })
      if (parsed?.name === 'JobMediatorDrawn') return parsed.args.mediator as string
    }
    throw new Error('drawJobMediator mined without a JobMediatorDrawn event')
  }

  /** Delivers a failed callback again; `payload` is the job's output (completed) or failure reason (failed). */
  async retryCallback (jobId: bigint, payload: Uint8Array | string): Promise<void> {
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload
    await this.queue.send('retryCallback', async () => await this.jobManager.retryCallback.populateTransaction(jobId, bytes))
  }

  async contractJob (jobId: bigint): Promise<ContractJobView> {
    const r = await this.jobManager.resultOf(jobId)
    return {
      jobId,
      status: jobStatusName(r.status),
      client: r.client,
      bridge: r.bridge,
      payment: r.payment,
      deadline: Number(r.deadline),
      callbackGasLimit: Number(r.callbackGasLimit),
      callbackPending: r.callbackPending,
      exitCode: Number(r.exitCode),
      dealId: r.dealId,
      resultCid: r.resultCid
    }
  }

  async jobManagerConfig (): Promise<JobManagerConfig> {
    const c = await this.jobManager.config()
    return {
      minTimeout: Number(c.minTimeout),
      maxTimeout: Number(c.maxTimeout),
      minCallbackGas: Number(c.minCallbackGas),
      maxCallbackGas: Number(c.maxCallbackGas),
      disputeWindow: Number(c.disputeWindow),
      mediationWindow: Number(c.mediationWindow),
      jobBond: c.jobBond,
      disputeFee: c.disputeFee
    }
  }

  // ---- contract-triggered jobs: the bridge's side ----

  /** Approves and deposits LP into this bridge's bond account in the JobManager. */
  async depositBond (amount: bigint): Promise<void> {
    const spender = this.network.contracts.jobManager
    await this.queue.send('approve bond', async () => await this.token.approve.populateTransaction(spender, amount))
    await this.queue.send('depositBond', async () => await this.jobManager.depositBond.populateTransaction(amount))
  }

  async withdrawBond (amount: bigint): Promise<void> {
    await this.queue.send('withdrawBond', async () => await this.jobManager.withdrawBond.populateTransaction(amount))
  }

  async bondOf (bridge = this.address): Promise<{ free: bigint, locked: bigint }> {
    const b = await this.jobManager.bonds(bridge)
    return { free: b.free, locked: b.locked }
  }

  async pickUpJob (jobId: bigint): Promise<void> {
    await this.queue.send('pickUpJob', async () => await this.jobManager.pickUpJob.populateTransaction(jobId))
  }

  /**
   * Completes a job with the deal that ran it and the job offer the deal names. The gas limit comes from
   * eth_estimateGas, which includes the client's whole callback: the contract refuses to call it with less.
   */
  async completeJob (jobId: bigint, jobOffer: JobOffer, deal: Deal, resultCid: string, exitCode: number, output: Uint8Array): Promise<void> {
    await this.queue.send('completeJob', async () => await this.jobManager.completeJob.populateTransaction(jobId, toOfferStruct(jobOffer), toStruct(deal), resultCid, exitCode, output))
  }

  async failJob (jobId: bigint, reason: string): Promise<void> {
    await this.queue.send('failJob', async () => await this.jobManager.failJob.populateTransaction(jobId, reason))
  }

  /** Pays the bridge(s) of delivered jobs whose dispute windows have passed. */
  async releaseJobs (jobIds: bigint[]): Promise<void> {
    await this.queue.send(`release(${jobIds.length})`, async () => await this.jobManager.release.populateTransaction(jobIds))
  }

  async mediateJob (jobId: bigint, resultCorrect: boolean): Promise<void> {
    await this.queue.send('mediateJob', async () => await this.jobManager.mediateJob.populateTransaction(jobId, resultCorrect))
  }

  async timeoutJobDispute (jobId: bigint): Promise<void> {
    await this.queue.send('timeoutJobDispute', async () => await this.jobManager.timeoutJobDispute.populateTransaction(jobId))
  }

  // ---- network administration (the Directory's and JobManager's owner) ----

  async approveBridge (bridge: string): Promise<void> {
    await this.queue.send('approveBridge', async () => await this.directory.approveBridge.populateTransaction(bridge))
  }

  async revokeBridge (bridge: string): Promise<void> {
    await this.queue.send('revokeBridge', async () => await this.directory.revokeBridge.populateTransaction(bridge))
  }

  async setModulePrice (module: string, price: bigint): Promise<void> {
    await this.queue.send('setModulePrice', async () => await this.jobManager.setModulePrice.populateTransaction(module, price))
  }

  async setCallbackGasPrice (price: bigint): Promise<void> {
    await this.queue.send('setCallbackGasPrice', async () => await this.jobManager.setCallbackGasPrice.populateTransaction(price))
  }

  async marketBounds (): Promise<MarketBounds> {
    const b = await this.market.bounds()
    return {
      minResultTimeout: Number(b.minResultTimeout),
      maxResultTimeout: Number(b.maxResultTimeout),
      minJudgeWindow: Number(b.minJudgeWindow),
      maxJudgeWindow: Number(b.maxJudgeWindow),
      minMediateTimeout: Number(b.minMediateTimeout),
      maxMediateTimeout: Number(b.maxMediateTimeout),
      maxDealTtl: Number(b.maxDealTtl),
      minMediationFee: b.minMediationFee
    }
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

export function toOfferStruct (offer: JobOffer): JobOfferStruct {
  return { ...offer, spec: { ...offer.spec }, mediators: [...offer.mediators] }
}
