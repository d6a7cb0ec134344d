// A network is a file: everything a node needs to join it. `lilypad devnet` and the deploy module write one;
// `lilypad network init` makes one for a new private network.
import type { MarketBoundsJson } from '../../protocols/settlement/index.ts'
import type { JobManagerConfigJson } from '../../protocols/contract-job/index.ts'
import type { RewardsSetupJson } from '../../protocols/incentives/config.ts'
export interface NetworkContracts {
  token: string
  market: string
  directory: string
  jobManager: string
  faucet?: string
  exampleClient?: string
  /** the incentivised testnet's rewards pool and canary report registry */
  rewards?: string
}

/**
 * One chain a network settles on: its id, its RPC endpoints (tried in order: the next when one is down), the
 * contracts deployed there and what the nodes trust there (mediators, bridges). A network has one or more; the
 * mesh, the swarm key and the deal terms are the network's, shared by all of them (docs/multichain.md).
 */
export interface NetworkChain {
  /** A short name for `--chain` (lowercase letters, digits, dashes); absent: the chain is named by its id only. */
  name?: string
  chainId: number
  /** The first of `rpcUrls`. */
  rpcUrl: string
  /** Every RPC endpoint of the chain, in the order they are tried (failover; node/chain/rpc.ts). */
  rpcUrls: string[]
  contracts: NetworkContracts
  /** Block the contracts were deployed in: where event scans start. */
  deployBlock: number
  /** Blocks a log waits before the chain follower delivers it (default: the node's setting). */
  confirmations?: number
  explorerUrl?: string
  mediators?: string[]
  bridges?: string[]
  marketBounds?: MarketBoundsJson
  jobManagerConfig?: JobManagerConfigJson
  rewards?: RewardsSetupJson
}

/**
 * A network as a node holds it. The top-level chain fields (chainId, rpcUrl, contracts, …) are those of the
 * network's first chain, so everything written for one chain reads them unchanged; `chains` lists every chain,
 * the first included (`parseNetworkFile` always fills it; `chainsOf` reads it, or makes the one-entry list for a
 * value built in code without it). `chainView` gives the same network seen from another of its chains.
 */
export interface NetworkFile {
  /** Short name; also the libp2p protocol prefix (`/lilypad/<networkId>/…`). */
  networkId: string
  chainId: number
  rpcUrl: string
  /** every RPC endpoint of the first chain, failover order (absent: `[rpcUrl]`) */
  rpcUrls?: string[]
  /** the first chain's name for `--chain` */
  chainName?: string
  /** the first chain's confirmations */
  confirmations?: number
  contracts: NetworkContracts
  /** Block the contracts were deployed in: where event scans start. */
  deployBlock: number
  /** Every chain of the network, the first one (the fields above) first. */
  chains?: NetworkChain[]
  /**
   * Bootstrap multiaddrs, each ending in /p2p/<peer id>: /ip4, /ip6, or a DNS name (/dns4, /dns6, /dns, resolved
   * when dialled), or /dnsaddr/<domain> (TXT records `dnsaddr=<multiaddr>` under `_dnsaddr.<domain>`).
   */
  bootstrap: string[]
  /** Path of the pre-shared swarm key (libp2p pnet), relative to the network file, or absent for an open mesh. */
  swarmKeyPath?: string
  /**
   * A block explorer for this chain (http(s) base URL, e.g. https://sepolia.arbiscan.io): the console links each
   * transaction to `<explorerUrl>/tx/<hash>`. Absent on the devnet (it has none).
   */
  explorerUrl?: string
  /** Registered mediators trusted by default. */
  mediators?: string[]
  /** Job bridges the Directory's owner approved (contract-triggered jobs). */
  bridges?: string[]
  /** The Market's bounds on deal terms (immutable in the contract; a copy so nodes check terms without a call). */
  marketBounds?: MarketBoundsJson
  /** The JobManager's fixed parameters (dispute window, bonds, limits). */
  jobManagerConfig?: JobManagerConfigJson
  /** Deal terms job creators propose on this network (the devnet's are tight, so dead providers show in seconds). */
  dealTerms?: NetworkDealTerms
  /** Mesh settings shared by the network's nodes (defaults: node/host/constants.ts). */
  mesh?: NetworkMesh
  /** The Rewards contract's parameters, the reward rules it was deployed with, its publishers and validators. */
  rewards?: RewardsSetupJson
}

export interface NetworkMesh {
  /** What this network's relays (bootstrap nodes run with --relay) grant each reservation. */
  relay?: {
    maxReservations?: number
    /** reservations held by peers connected from one IP */
    maxReservationsPerIp?: number
    reservationTtlSec?: number
    /** a relayed connection is closed after this many seconds … */
    maxDurationSec?: number
    /** … or this many bytes */
    maxDataBytes?: number
    /** relayed connections carried at once */
    maxRelayedConnections?: number
  }
  maxConnections?: number
  maxConnectionsPerIp?: number
  /** new inbound connections per second from one IP */
  inboundConnectionsPerSecond?: number
  /** bound on resolving one DNS name in the bootstrap list or a dial */
  dnsTimeoutMs?: number
}

export interface NetworkDealTerms {
  /** seconds beyond the job's timeout for the provider to submit */
  resultSlack?: number
  judgeWindow?: number
  mediateTimeout?: number
  /** LP wei, as a decimal string (JSON has no bigint) */
  mediationFee?: string
}
