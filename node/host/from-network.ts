// Host options from a network file and a data directory: the network's protocol prefix, EIP-712 domain,
// bootstrap peers and swarm key, and this node's persistent peer key (`<dataDir>/peer.key`).
import { dirname, isAbsolute, join, resolve } from 'node:path'
import type { NetworkFile } from '../config/network.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'
import { loadOrCreatePeerKey, readSwarmKeyFile } from './keys.ts'
import type { HostOptions } from './create-host.ts'

export function domainOfNetwork (network: NetworkFile): LilypadDomain {
  return { chainId: BigInt(network.chainId), verifyingContract: network.contracts.market }
}

export async function hostOptionsFromNetwork (network: NetworkFile, networkFilePath: string, dataDir: string, extra: Partial<HostOptions> = {}): Promise<HostOptions> {
  const swarmKeyPath = network.swarmKeyPath === undefined ? undefined : isAbsolute(network.swarmKeyPath) ? network.swarmKeyPath : resolve(dirname(networkFilePath), network.swarmKeyPath)
  return {
    networkId: network.networkId,
    domain: domainOfNetwork(network),
    bootstrap: network.bootstrap,
    privateKey: await loadOrCreatePeerKey(join(dataDir, 'peer.key')),
    ...(swarmKeyPath !== undefined ? { swarmKey: await readSwarmKeyFile(swarmKeyPath) } : {}),
    ...extra
  }
}
