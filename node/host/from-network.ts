// Host options from a network file and a data directory: the network's protocol prefix, EIP-712 domain,
// bootstrap peers, swarm key and mesh settings (connection and relay limits, DNS timeout), and this node's
// persistent peer key (`<dataDir>/peer.key`).
import { dirname, isAbsolute, join, resolve } from 'node:path'
import type { NetworkFile, NetworkMesh } from '../config/network.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'
import { loadOrCreatePeerKey, readSwarmKeyFile } from './keys.ts'
import type { HostOptions, ConnectionLimits, RelayLimits } from './create-host.ts'

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
    ...meshOptions(network.mesh),
    ...extra
  }
}

/** The network file's `mesh` section as host options (absent fields keep the defaults of constants.ts). */
export function meshOptions (mesh: NetworkMesh | undefined): Partial<HostOptions> {
  if (mesh === undefined) return {}
  const limits: Partial<ConnectionLimits> = {
    ...(mesh.maxConnections !== undefined ? { maxConnections: mesh.maxConnections } : {}),
    ...(mesh.maxConnectionsPerIp !== undefined ? { maxConnectionsPerIp: mesh.maxConnectionsPerIp } : {}),
    ...(mesh.inboundConnectionsPerSecond !== undefined ? { inboundConnectionThreshold: mesh.inboundConnectionsPerSecond } : {})
  }
  const r = mesh.relay
  const relayLimits: Partial<RelayLimits> = r === undefined
    ? {}
    : {
        ...(r.maxReservations !== undefined ? { maxReservations: r.maxReservations } : {}),
        ...(r.maxReservationsPerIp !== undefined ? { maxReservationsPerIp: r.maxReservationsPerIp } : {}),
        ...(r.reservationTtlSec !== undefined ? { reservationTtlMs: r.reservationTtlSec * 1000 } : {}),
        ...(r.maxDurationSec !== undefined ? { maxDurationMs: r.maxDurationSec * 1000 } : {}),
        ...(r.maxDataBytes !== undefined ? { maxDataBytes: BigInt(r.maxDataBytes) } : {}),
        ...(r.maxRelayedConnections !== undefined ? { maxRelayedConnections: r.maxRelayedConnections } : {})
      }
  return {
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
    ...(Object.keys(relayLimits).length > 0 ? { relayLimits } : {}),
    ...(mesh.dnsTimeoutMs !== undefined ? { dns: { timeoutMs: mesh.dnsTimeoutMs } } : {})
  }
}
