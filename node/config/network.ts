// A network is a file: everything a node needs to join it. `lilypad devnet` and the deploy module write one;
// `lilypad network init` makes one for a new private network.
export interface NetworkContracts {
  token: string
  market: string
  directory: string
  jobManager: string
  faucet?: string
  exampleClient?: string
}

export interface NetworkFile {
  /** Short name; also the libp2p protocol prefix (`/lilypad/<networkId>/…`). */
  networkId: string
  chainId: number
  rpcUrl: string
  contracts: NetworkContracts
  /** Block the contracts were deployed in: where event scans start. */
  deployBlock: number
  /** Bootstrap multiaddrs (with /p2p/<peer id>). */
  bootstrap: string[]
  /** Path of the pre-shared swarm key (libp2p pnet), relative to the network file, or absent for an open mesh. */
  swarmKeyPath?: string
  /** Registered mediators trusted by default. */
  mediators?: string[]
}
