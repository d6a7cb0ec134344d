// A throwaway devnet (tests, gas report, benchmarks): a real anvil, the contracts deployed, funded actors with deposits, and helpers to
// build and sign deals with protocols/eip712.ts exactly as nodes do.
import { JsonRpcProvider, Network, Wallet, parseEther, ZeroHash, keccak256, toUtf8Bytes } from 'ethers'
import { startAnvil, type Anvil } from '../node/chain/anvil.ts'
import { ChainClient, Roles } from '../node/chain/index.ts'
import { deployAll, type Deployment } from './deploy.ts'
import { signMessage, idOf, type Deal, type LilypadDomain } from '../protocols/eip712.ts'
import { connectLilypadToken, connectMarket } from './generated/index.ts'

export const LP = (n: number | string): bigint => parseEther(String(n))

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
  stranger: ChainClient
  /** A key the owner never approved as mediator. */
  outsider: ChainClient
  domain: LilypadDomain
  clients: ChainClient[]
  stop: () => Promise<void>
}

export async function startDevnet (opts: { deposit?: bigint, chainId?: number, exampleClient?: boolean } = {}): Promise<Devnet> {
  const anvil = await startAnvil({ chainId: opts.chainId ?? 31337, accounts: 10 })
  try {
    const k = anvil.keys
    const mediatorAddrs = [new Wallet(k[5]).address, new Wallet(k[6]).address]
    const deployment = await deployAll({
      rpcUrl: anvil.rpcUrl,
      privateKey: k[0],
      networkId: 'test',
      mediators: mediatorAddrs,
      exampleClient: opts.exampleClient === true ? { payment: LP(10), timeout: 3600, fund: LP(100) } : false
    })
    const network = { ...deployment.network, rpcUrl: anvil.rpcUrl }
    const mk = async (i: number): Promise<ChainClient> => await ChainClient.create({ network, privateKey: k[i] })
    const [admin, jc, jc2, rp, rp2, m1, m2, stranger, outsider] = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8].map(mk))
    const clients = [admin, jc, jc2, rp, rp2, m1, m2, stranger, outsider]
    const token = connectLilypadToken(network.contracts.token, admin.wallet)
    const amount = opts.deposit ?? LP(1000)
    // Fund everyone through the admin's queue (concurrent sends, one nonce owner), then deposit in parallel.
    await Promise.all([jc, jc2, rp, rp2, m1, m2, stranger, outsider].map(async c =>
      await admin.queue.send('fund', async () => await token.transfer.populateTransaction(c.address, amount * 2n))))
    await Promise.all([jc, jc2, rp, rp2].map(async c => { await c.deposit(amount) }))
    await Promise.all([m1, m2].map(async c => { await c.register(Roles.Mediator, `peer-${c.address.slice(2, 8)}`) }))
    const provider = new JsonRpcProvider(anvil.rpcUrl, Network.from(anvil.chainId), { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 })
    const domain = { chainId: BigInt(anvil.chainId), verifyingContract: network.contracts.market }
    return {
      anvil, deployment, provider, admin, jc, jc2, rp, rp2, m1, m2, stranger, outsider, domain, clients,
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

export async function increaseTime (provider: JsonRpcProvider, seconds: number): Promise<void> {
  await provider.send('evm_increaseTime', [seconds])
  await provider.send('evm_mine', [])
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
    expiry: BigInt(Math.floor(Date.now() / 1000) + 100_000_000),
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
