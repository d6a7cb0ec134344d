// One further chain of a network that settles on several (docs/multichain.md), as a node serves it: its chain
// client (key, nonce queue, follower), and the mesh services whose messages are signed for that chain — gossip
// topics, order book, order-book sync, disputes — under the chain's own protocol namespace, so a message signed
// for one chain never reaches a validator of another. The host, the result store and the executor's slots are the
// node's, shared by every chain; the roles on this chain (a provider over the node's one pool of slots, a job
// creator) are made by the node (node/node.ts).
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { NetworkFile } from './config/network.ts'
import { chainsOf, chainView } from './config/chains.ts'
import { ChainClient } from './chain/index.ts'
import { GossipService } from './gossip/gossip.ts'
import { OrderBook } from '../protocols/order-book.ts'
import { OfferSync } from './offer-sync/index.ts'
import { DisputeService, drawnMediatorOnly } from './dispute/index.ts'
import { domainOfNetwork, type LilypadHost } from './host/index.ts'
import type { Components } from './components.ts'
import type { ResourceProvider } from './roles/resource-provider.ts'
import type { JobCreator } from './roles/job-creator.ts'
import type { ReputationFeed } from './incentives/reputation-feed.ts'

/**
 * A chain's protocol namespace (the `<network>` of `/lilypad/<network>/…`): the network id for its first chain —
 * so a node given a one-chain file of the same network still meets the others there — and `<network id>.<chain id>`
 * for each further one. A chain is added at the end of the file and the first never changes (docs/multichain.md).
 */
export function chainNamespace (network: NetworkFile, chainId: number): string {
  return chainsOf(network)[0].chainId === chainId ? network.networkId : `${network.networkId}.${chainId}`
}

export interface ChainContextInit {
  /** the whole network (its first chain is the node's own) */
  network: NetworkFile
  chainId: number
  privateKey: string
  /** the node's data dir: this chain's state goes to <dataDir>/chains/<chain id> */
  dataDir: string
  /** read the chain from the deploy block (roles that need the past) or from its head */
  needsHistory: boolean
  /** a node with roles keeps its follower's cursor on disk */
  keepCursor: boolean
  confirmations?: number
  pollMs: number
  /** subscribe to job offers too (solvers) */
  jobOffers: boolean
}

export class ChainContext {
  readonly chainId: number
  /** the network seen from this chain, its protocol namespace as `networkId` (what this chain's services are given) */
  readonly network: NetworkFile
  readonly dataDir: string
  readonly chain: ChainClient
  readonly book: OrderBook
  readonly gossip: GossipService
  readonly offerSync: OfferSync
  readonly disputes: DisputeService
  provider?: ResourceProvider
  jobCreator?: JobCreator
  /** providers' records on this chain, kept current while a job creator runs on it (its ban list and ranking) */
  reputation?: ReputationFeed

  private constructor (host: LilypadHost, components: Components, chain: ChainClient, network: NetworkFile, dataDir: string, init: ChainContextInit) {
    this.chainId = init.chainId
    this.network = network
    this.dataDir = dataDir
    this.chain = chain
    this.book = new OrderBook()
    const domain = domainOfNetwork(network)
    const networkId = network.networkId
    const logger = components.logger.child({ chainId: init.chainId })
    const c = { ...components, logger }
    this.gossip = new GossipService(host, { networkId, domain, book: this.book, jobOffers: init.jobOffers, components: c })
    const nowSec = (): bigint => BigInt(Math.floor(components.clock.now() / 1000))
    this.offerSync = new OfferSync(host, { networkId, domain, book: this.book, components: c, ownOffers: () => this.provider?.liveOffers(nowSec()) ?? [], ownBusy: () => this.provider?.busySlots(nowSec()) ?? [] })
    this.disputes = new DisputeService(host, { networkId, components: c, authorizePull: drawnMediatorOnly(chain) })
  }

  /** Connects to the chain (WrongChainError, RpcUnreachableError when it cannot) and makes its services. */
  static async create (host: LilypadHost, components: Components, init: ChainContextInit): Promise<ChainContext> {
    const view = chainView(init.network, init.chainId)
    const network: NetworkFile = { ...view, networkId: chainNamespace(init.network, init.chainId) }
    const dataDir = join(init.dataDir, 'chains', String(init.chainId))
    await mkdir(dataDir, { recursive: true })
    const chain = await ChainClient.create({
      network,
      privateKey: init.privateKey,
      components: { ...components, logger: components.logger.child({ chainId: init.chainId }) },
      follow: {
        startBlock: init.needsHistory ? network.deployBlock : 'latest',
        ...(init.keepCursor ? { cursorFile: join(dataDir, `chain-cursor-${init.chainId}.json`) } : {}),
        confirmations: init.confirmations ?? network.confirmations ?? 0,
        pollMs: init.pollMs,
        metricsChain: String(init.chainId)
      }
    })
    return new ChainContext(host, components, chain, network, dataDir, init)
  }

  async start (opts: { pull: boolean }): Promise<void> {
    await this.chain.follower.start()
    this.gossip.start()
    await this.offerSync.start({ serve: true, pull: opts.pull })
    await this.disputes.start()
  }

  /** Stops the roles on this chain, then its services and its chain client. */
  async stop (): Promise<void> {
    await this.jobCreator?.stop()
    await this.reputation?.stop()
    await this.provider?.stop()
    await this.disputes.stop()
    await this.offerSync.stop()
    this.gossip.stop()
    await this.chain.stop()
  }
}
