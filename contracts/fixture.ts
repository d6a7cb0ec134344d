// A throwaway devnet (tests, gas report, benchmarks): a real anvil, the contracts deployed, funded actors with deposits, and helpers to
// build and sign deals with protocols/eip712.ts exactly as nodes do.
import { JsonRpcProvider, Network, Wallet, parseEther, ZeroHash, ZeroAddress, keccak256, toUtf8Bytes } from 'ethers'
import { startAnvil, type Anvil } from '../node/chain/anvil.ts'
import { ChainClient, Roles, decodeRevert, waitForReceipt } from '../node/chain/index.ts'
import { deployAll, type Deployment, type DeployOptions } from './deploy.ts'
import { signMessage, idOf, type Deal, type JobOffer, type ResourceOffer, type LilypadDomain } from '../protocols/eip712.ts'
import { offerWords, seedCommitOf } from '../protocols/settlement/seed.ts'
import { connectJobManager, connectLilypadToken, connectMarket } from './generated/index.ts'
import type { MarketBounds } from '../protocols/settlement/index.ts'
import type { CommitteeRules } from '../protocols/settlement/committee.ts'
import { canonicalInputsJson, JobStatus, type JobManagerConfig } from '../protocols/contract-job/index.ts'
import { toStruct } from '../node/chain/index.ts'
import { drawCommittee, voteCommitment, Vote, type VoteValue } from '../protocols/settlement/committee.ts'

export const LP = (n: number | string): bigint => parseEther(String(n))

/** Loose enough for every test's windows, tight enough that a zero window or a far expiry is refused. */
export const TEST_BOUNDS: MarketBounds = {
  minResultTimeout: 10,
  maxResultTimeout: 30 * 86_400,
  minJudgeWindow: 10,
  maxJudgeWindow: 30 * 86_400,
  minMediateTimeout: 10,
  maxMediateTimeout: 30 * 86_400,
  maxDealTtl: 86_400,
  minMediationFee: 0n
}

export const TEST_JOB_MANAGER: JobManagerConfig = {
  minTimeout: 10,
  maxTimeout: 30 * 86_400,
  minCallbackGas: 10_000,
  maxCallbackGas: 2_000_000,
  disputeWindow: 600,
  mediationWindow: 900,
  jobBond: parseEther('5'),
  disputeFee: parseEther('1')
}

export const COWSAY = 'cowsay:v0.0.1'
export const TEST_MODULE_PRICE = parseEther('3')
/** LP wei per callback gas: 200,000 gas cost 0.0002 LP. */
export const TEST_CALLBACK_GAS_PRICE = 1_000_000_000n

export interface Devnet {
  anvil: Anvil
  deployment: Deployment
  provider: JsonRpcProvider
  admin: ChainClient
  jc: ChainClient
  jc2: ChainClient
  rp: ChainClient
  rp2: ChainClient
  m1: ChainClient
  m2: ChainClient
  /** With committee rules: a third approved mediator (anvil key 10); m1..m3 deposit as the others do and bond. */
  m3?: ChainClient
  stranger: ChainClient
  /** A key the owner never approved as mediator (or bridge). */
  outsider: ChainClient
  /** The approved job bridge (key 9): registered as job creator and bridge, with a bond in the JobManager. */
  bridge: ChainClient
  domain: LilypadDomain
  clients: ChainClient[]
  stop: () => Promise<void>
}

/**
 * `accounts` beyond the ten the devnet's actors use are funded with ETH only (keys in `anvil.keys`); `rewards`
 * deploys the Rewards contract as the deploy module does.
 */
export async function startDevnet (opts: { deposit?: bigint, chainId?: number, exampleClient?: boolean, bounds?: MarketBounds, committee?: CommitteeRules, committeeBonds?: bigint[], jobManager?: JobManagerConfig, bridgeBond?: bigint, accounts?: number, rewards?: DeployOptions['rewards'] } = {}): Promise<Devnet> {
  const anvil = await startAnvil({ chainId: opts.chainId ?? 31337, accounts: Math.max(opts.committee !== undefined ? 11 : 10, opts.accounts ?? 10) })
  try {
    const k = anvil.keys
    const mediatorAddrs = [new Wallet(k[5]).address, new Wallet(k[6]).address, ...(opts.committee !== undefined ? [new Wallet(k[10]).address] : [])]
    const deployment = await deployAll({
      rpcUrl: anvil.rpcUrl,
      privateKey: k[0],
      networkId: 'test',
      mediators: mediatorAddrs,
      bridges: [new Wallet(k[9]).address],
      marketBounds: opts.bounds ?? TEST_BOUNDS,
      ...(opts.committee !== undefined ? { committeeRules: opts.committee } : {}),
      jobManagerConfig: opts.jobManager ?? TEST_JOB_MANAGER,
      modulePrices: { [COWSAY]: TEST_MODULE_PRICE },
      callbackGasPrice: TEST_CALLBACK_GAS_PRICE,
      exampleClient: opts.exampleClient === true ? { callbackGasLimit: 500_000, timeout: 3600, fund: LP(100) } : false,
      rewards: opts.rewards
    })
    const network = { ...deployment.network, rpcUrl: anvil.rpcUrl }
    const mk = async (i: number): Promise<ChainClient> => await ChainClient.create({ network, privateKey: k[i] })
    const [admin, jc, jc2, rp, rp2, m1, m2, stranger, outsider, bridge] = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(mk))
    const clients = [admin, jc, jc2, rp, rp2, m1, m2, stranger, outsider, bridge]
    const token = connectLilypadToken(network.contracts.token, admin.wallet)
    const amount = opts.deposit ?? LP(1000)
    // Fund everyone through the admin's queue (concurrent sends, one nonce owner), then deposit in parallel.
    await Promise.all([jc, jc2, rp, rp2, m1, m2, stranger, outsider, bridge].map(async c =>
      await admin.queue.send('fund', async () => await token.transfer.populateTransaction(c.address, amount * 2n))))
    await Promise.all([jc, jc2, rp, rp2, bridge].map(async c => { await c.deposit(amount) }))
    await Promise.all([m1, m2].map(async c => { await c.register(Roles.Mediator, `peer-${c.address.slice(2, 8)}`) }))
    await bridge.register(Roles.JobCreator | Roles.Bridge, 'peer-bridge')
    let m3: ChainClient | undefined
    if (opts.committee !== undefined) {
      m3 = await mk(10)
      const c3 = m3
      await admin.queue.send('fund', async () => await token.transfer.populateTransaction(c3.address, amount * 2n))
      await c3.register(Roles.Mediator, `peer-${c3.address.slice(2, 8)}`)
      const bonds = opts.committeeBonds ?? [0, 1, 2].map(() => opts.committee!.minBond * 3n)
      await Promise.all([m1, m2, c3].map(async (c, i) => {
        await c.deposit(amount)
        if (bonds[i] === 0n) return
        await c.bondMediator(bonds[i])
      }))
      clients.push(c3)
    }
    await bridge.depositBond(opts.bridgeBond ?? LP(100))
    const provider = new JsonRpcProvider(anvil.rpcUrl, Network.from(anvil.chainId), { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 })
    const domain = { chainId: BigInt(anvil.chainId), verifyingContract: network.contracts.market }
    return {
      anvil, deployment, provider, admin, jc, jc2, rp, rp2, m1, m2, ...(m3 !== undefined ? { m3 } : {}), stranger, outsider, bridge, domain, clients,
      stop: async () => {
        for (const c of clients) c.stop()
        provider.destroy()
        await anvil.stop()
      }
    }
  } catch (err) {
    await anvil.stop()
    throw err
  }
}

let nonceCounter = 0n
export function nextNonce (): bigint {
  return ++nonceCounter
}

export async function now (provider: JsonRpcProvider): Promise<number> {
  return (await provider.getBlock('latest'))!.timestamp
}

// How far each devnet's clock was moved ahead of the wall clock, so makeDeal can give a deal an expiry the
// Market accepts (within its maxDealTtl of chain time) without an RPC call.
const offsets = new WeakMap<JsonRpcProvider, number>()

export async function increaseTime (provider: JsonRpcProvider, seconds: number): Promise<void> {
  await provider.send('evm_increaseTime', [seconds])
  await provider.send('evm_mine', [])
  offsets.set(provider, (offsets.get(provider) ?? 0) + seconds)
}

/** Chain time as the devnet moved it (wall clock plus every increaseTime), to the second or so. */
export function chainTimeEstimate (net: Devnet): number {
  return Math.floor(Date.now() / 1000) + (offsets.get(net.provider) ?? 0)
}

export function makeDeal (net: Devnet, o: Partial<Deal> & { jobCreator?: string, resourceProvider?: string } = {}): Deal {
  return {
    jobOfferId: keccak256(toUtf8Bytes(`job-${nonceCounter}`)),
    resourceOfferId: ZeroHash,
    jobCreator: net.jc.address,
    resourceProvider: net.rp.address,
    mediators: [net.m1.address, net.m2.address],
    price: LP(10),
    collateral: LP(20),
    mediationFee: LP(2),
    auditPpm: 0,
    resultTimeout: 600,
    judgeWindow: 300,
    mediateTimeout: 900,
    expiry: BigInt(chainTimeEstimate(net) + 3600),
    nonce: nextNonce(),
    ...o
  }
}

export async function signDeal (deal: Deal, domain: LilypadDomain, jc: Wallet, rp: Wallet): Promise<{ jcSig: string, rpSig: string }> {
  const [jcSig, rpSig] = await Promise.all([signMessage('Deal', domain, deal, jc), signMessage('Deal', domain, deal, rp)])
  return { jcSig, rpSig }
}

/** Signs and agrees a deal between the devnet's jc and rp (or the given clients); the provider submits it. */
export async function agreeDeal (net: Devnet, o: Partial<Deal> = {}, jc = net.jc, rp = net.rp): Promise<{ deal: Deal, id: string }> {
  const deal = makeDeal(net, { jobCreator: jc.address, resourceProvider: rp.address, ...o })
  const { jcSig, rpSig } = await signDeal(deal, net.domain, jc.wallet, rp.wallet)
  const { dealId } = await rp.agree(deal, jcSig, rpSig)
  return { deal, id: dealId }
}

export async function marketBalances (net: Devnet, accounts: string[]): Promise<bigint[]> {
  const m = connectMarket(net.deployment.contracts.market, net.provider)
  return await Promise.all(accounts.map(async a => await m.deposits(a)))
}

export async function marketTokenBalance (net: Devnet): Promise<bigint> {
  return await connectLilypadToken(net.deployment.contracts.token, net.provider).balanceOf(net.deployment.contracts.market)
}

export { idOf }

/**
 * What a bridge does for a contract job, on chain: a job offer for `module` and `inputs` signed by the bridge, a
 * deal naming it agreed with provider `rp`, and the provider's result `cid` submitted. Returns both, as the bridge
 * then passes them to completeJob.
 */
export async function agreeJobDeal (net: Devnet, o: { module?: string, inputs?: Record<string, string>, cid: string, bridge?: ChainClient, rp?: ChainClient, deal?: Partial<Deal>, submit?: boolean }): Promise<{ offer: JobOffer, deal: Deal, id: string }> {
  const bridge = o.bridge ?? net.bridge
  const rp = o.rp ?? net.rp
  const nonce = nextNonce()
  const offer: JobOffer = {
    jobCreator: bridge.address,
    module: o.module ?? COWSAY,
    inputs: canonicalInputsJson(o.inputs ?? {}),
    spec: { cpu: 500, ramMb: 64, diskMb: 0, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 },
    maxPrice: LP(10),
    mediators: [net.m1.address, net.m2.address],
    target: ZeroAddress,
    timeout: 60,
    auditPpm: 0,
    expiry: BigInt(chainTimeEstimate(net) + 3600),
    nonce,
    seedCommit: seedCommitOf(keccak256(toUtf8Bytes(`job seed ${nonce}`)))
  }
  const { deal, id } = await agreeDeal(net, { jobOfferId: idOf('JobOffer', net.domain, offer), nonce, ...o.deal }, bridge, rp)
  if (o.submit !== false) await rp.submitResult(deal, o.cid)
  return { offer, deal, id }
}

/**
 * A job offer and a resource offer as the parties sign them, each committing to its own seed secret, for a deal that
 * names them: what a committee dispute's seed reveals prove against (docs/mediation.md, "Unbiasable draws").
 */
export interface SeededOffers {
  jobOffer: JobOffer
  resourceOffer: ResourceOffer
  jobSecret: string
  providerSecret: string
  /** the deal's fields naming both offers */
  ids: { jobOfferId: string, resourceOfferId: string }
}

export function seededOffers (net: Devnet, o: { jobCreator: string, resourceProvider: string, mediators: string[], tag?: string }): SeededOffers {
  const tag = o.tag ?? String(nextNonce())
  const jobSecret = keccak256(toUtf8Bytes(`job creator seed ${tag}`))
  const providerSecret = keccak256(toUtf8Bytes(`provider seed ${tag}`))
  const expiry = BigInt(chainTimeEstimate(net) + 3600)
  const jobOffer: JobOffer = {
    jobCreator: o.jobCreator,
    module: COWSAY,
    inputs: canonicalInputsJson({ Message: tag }),
    spec: { cpu: 500, ramMb: 64, diskMb: 0, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 },
    maxPrice: LP(10),
    mediators: o.mediators,
    target: ZeroAddress,
    timeout: 60,
    auditPpm: 0,
    expiry,
    nonce: nextNonce(),
    seedCommit: seedCommitOf(jobSecret)
  }
  const resourceOffer: ResourceOffer = {
    provider: o.resourceProvider,
    slot: 0,
    spec: { cpu: 4000, ramMb: 8192, diskMb: 50000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 },
    modules: [],
    price: LP(10),
    collateral: LP(20),
    mediators: o.mediators,
    expiry,
    nonce: nextNonce(),
    seedCommit: seedCommitOf(providerSecret)
  }
  return { jobOffer, resourceOffer, jobSecret, providerSecret, ids: { jobOfferId: idOf('JobOffer', net.domain, jobOffer), resourceOfferId: idOf('ResourceOffer', net.domain, resourceOffer) } }
}

/** A dispute judged by a committee, as the fixture drives it: its members in draw order, and the gas spent so far. */
export interface CommitteeDispute {
  deal: Deal
  id: string
  offers: SeededOffers
  members: ChainClient[]
  /** gas of every transaction from the challenge on */
  gas: bigint
  txs: number
  /** true / false: the result is correct / wrong; or any vote (Vote.NoCase) */
  commit: (m: ChainClient, vote: boolean | VoteValue) => Promise<void>
  reveal: (m: ChainClient, vote: boolean | VoteValue) => Promise<void>
  /** the salt member m commits and reveals with */
  salt: (m: ChainClient) => string
  finalize: () => Promise<void>
}

/**
 * A deal naming the committee devnet's three mediators, its result submitted and challenged by the job creator (or
 * audited: auditPpm 10^6), both parties' seeds revealed (the job creator's first): the committee the Market drew,
 * checked against the rules' own draw from the seed it announced.
 */
export async function committeeDispute (net: Devnet, o: Partial<Deal> = {}): Promise<CommitteeDispute> {
  const { deal, id, offers, gas } = await committeeChallenge(net, o)
  let r = await revealSeedOf(net, deal, offers, false)
  let total = gas + r.gasUsed
  r = await revealSeedOf(net, deal, offers, true)
  total += r.gasUsed
  const meds = [net.m1, net.m2, net.m3!]
  const drawn = r.logs.map(l => net.jc.market.interface.parseLog(l)).find(e => e?.name === 'CommitteeDrawn')
  const announced = (drawn!.args.members as string[]).map(a => a.toLowerCase())
  const order = drawCommittee(drawn!.args.seed as string, meds.length, announced.length)
  const stored = (await net.jc.market.committees(id)).members
  if (order.some((x, i) => Number((stored >> BigInt(8 * i)) & 0xffn) !== x || deal.mediators[x].toLowerCase() !== announced[i])) {
    throw new Error(`drawn ${order.join(',')}, stored ${stored.toString(16)}, announced ${announced.join(',')}`)
  }
  const salt = (m: ChainClient): string => keccak256(toUtf8Bytes(`salt ${id} ${m.address}`))
  const d: CommitteeDispute = {
    deal,
    id,
    offers,
    members: order.map(i => meds.find(m => m.address === deal.mediators[i])!),
    gas: total,
    txs: 3,
    commit: async (m, vote) => { await sent(await m.commitVote(deal, voteCommitment(id, m.address, voteOf(vote), salt(m)))) },
    reveal: async (m, vote) => { await sent(await m.revealVote(deal, voteOf(vote), salt(m))) },
    finalize: async () => { await sent(await net.stranger.finalizeCommittee(deal)) },
    salt
  }
  const sent = async (receipt: { gasUsed: bigint }): Promise<void> => { d.gas += receipt.gasUsed; d.txs++ }
  const voteOf = (v: boolean | VoteValue): VoteValue => typeof v === 'boolean' ? (v ? Vote.Correct : Vote.Wrong) : v
  return d
}

/**
 * A committee deal between the devnet's jc and rp naming seeded offers, its result submitted and challenged (or, with
 * auditPpm 10^6, audited: the draw from the submission's block, sent by a stranger): the dispute waits for both
 * parties' seeds. Gas from the challenge (or the draw) on.
 */
export async function committeeChallenge (net: Devnet, o: Partial<Deal> = {}): Promise<{ deal: Deal, id: string, offers: SeededOffers, gas: bigint }> {
  if (net.m3 === undefined) throw new Error('a committee dispute needs a devnet started with committee rules')
  const mediators = o.mediators ?? [net.m1.address, net.m2.address, net.m3.address]
  const offers = seededOffers(net, { jobCreator: net.jc.address, resourceProvider: net.rp.address, mediators })
  const { deal, id } = await agreeDeal(net, { mediators, ...offers.ids, ...o })
  const submitted = await net.rp.queue.send('submitResult', async () => await net.rp.market.submitResult.populateTransaction(toStruct(deal), `bafy-${id.slice(2, 10)}`))
  if (deal.auditPpm === 1_000_000) {
    const drawn = await net.stranger.queue.send('drawAudit', async () => await net.stranger.market.drawAudit.populateTransaction(toStruct(deal)))
    return { deal, id, offers, gas: drawn.gasUsed }
  }
  const r = await net.jc.queue.send('challenge', async () => await net.jc.market.challenge.populateTransaction(toStruct(deal)))
  return { deal, id, offers, gas: r.gasUsed }
}

/** The job creator's (provider false) or the provider's seed reveal, sent by that party. */
export async function revealSeedOf (net: Devnet, deal: Deal, offers: SeededOffers, provider: boolean): Promise<{ gasUsed: bigint, logs: readonly import('ethers').Log[] }> {
  const party = provider ? net.rp : net.jc
  return provider
    ? await party.revealSeed(deal, true, offers.providerSecret, offerWords('ResourceOffer', offers.resourceOffer))
    : await party.revealSeed(deal, false, offers.jobSecret, offerWords('JobOffer', offers.jobOffer))
}

/**
 * A contract call sent straight through anvil (its dev accounts are unlocked), for steps inside an evm_snapshot: the
 * clients' transaction queues keep their nonces, which a revert would leave ahead of the chain. Returns the hash.
 */
export async function sendUnlocked (net: Devnet, from: string, to: string, data: string): Promise<string> {
  return await net.provider.send('eth_sendTransaction', [{ from, to, data, gas: '0x100000' }]) as string
}

/** A mined transaction's status, block and, when it reverted, our custom error's name (from its trace). */
export async function minedOutcome (net: Devnet, hash: string): Promise<{ status: number, blockNumber: number, error?: string }> {
  const r = await waitForReceipt(net.provider, hash)
  if (r.status === 1) return { status: 1, blockNumber: r.blockNumber }
  const traced = await net.provider.send('debug_traceTransaction', [hash, { disableStorage: true, disableStack: true, disableMemory: true }]) as { returnValue?: string }
  const rv = traced.returnValue === undefined || traced.returnValue.startsWith('0x') ? traced.returnValue : `0x${traced.returnValue}`
  return { status: 0, blockNumber: r.blockNumber, error: decodeRevert(rv)?.name ?? 'UnknownRevert' }
}

/**
 * What the JobManager holds and what its jobs and bonds account for: the open jobs' payments, the disputed jobs'
 * fees and every devnet client's bond account (free + locked). The two are equal at all times.
 */
export async function jobManagerHoldings (net: Devnet): Promise<{ balance: bigint, accounted: bigint }> {
  const m = connectJobManager(net.deployment.contracts.jobManager, net.provider)
  const next = await m.nextJobId()
  const { disputeFee } = await m.config()
  let accounted = 0n
  for (let id = 1n; id < next; id++) {
    const r = await m.resultOf(id)
    const s = Number(r.status)
    if (s === JobStatus.Open || s === JobStatus.PickedUp || s === JobStatus.Delivered || s === JobStatus.Disputed) accounted += r.payment
    if (s === JobStatus.Disputed) accounted += disputeFee
  }
  for (const c of net.clients) {
    const b = await m.bonds(c.address)
    accounted += b.free + b.locked
  }
  const balance = await connectLilypadToken(net.deployment.contracts.token, net.provider).balanceOf(await m.getAddress())
  return { balance, accounted }
}
