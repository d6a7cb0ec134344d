// libp2p 3 host assembly: TCP, noise, yamux, identify, ping, gossipsub (strict no-sign, content-hash ids,
// async validation, topic scoring), kad-DHT under the network's own protocol (never the public DHT), pnet
// when a swarm key is given, bootstrap peers from the network file. Settings only local many-node setups
// need (loopback allow-list, colocation scoring) are options.
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { bootstrap } from '@libp2p/bootstrap'
import { preSharedKey } from '@libp2p/pnet'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import type { Identify } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'
import type { PrivateKey, Metrics } from '@libp2p/interface'
import { protocols } from '../../protocols/protocol-id.ts'
import { gossipTopics, contentMessageId, offerTopicScoreParams, defaultScoreThresholds, maxMessageSize } from '../../protocols/gossip/index.ts'
import { DHT_NAMESPACE, nodeRecordSelector, nodeRecordValidator } from '../../protocols/directory/record.ts'
import { nowSeconds } from '../../protocols/validation.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'
import { DEFAULT_HEARTBEAT_MS } from './constants.ts'

export interface HostOptions {
  networkId: string
  domain: LilypadDomain
  /** the node's libp2p key (see loadOrCreatePeerKey) */
  privateKey?: PrivateKey
  /** default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  bootstrap?: string[]
  /** pre-shared key file contents; when given, only holders of the key can connect */
  swarmKey?: Uint8Array
  /** multiaddr CIDRs exempt from inbound rate limits, e.g. ['/ip4/127.0.0.0/ipcidr/8'] for local meshes */
  allow?: string[]
  /** gossipsub IP-colocation penalty; 0 disables it (many nodes on one host). default -10 (on) */
  colocationWeight?: number
  colocationThreshold?: number
  heartbeatIntervalMs?: number
  /** DHT server mode (default true) */
  dhtServer?: boolean
  maxConnections?: number
  /** libp2p's own metrics (e.g. @libp2p/prometheus-metrics into the node's registry) */
  metrics?: (components: any) => Metrics
}

export type LilypadServices = {
  pubsub: GossipSub
  dht: KadDHT
  identify: Identify
  ping: Ping
}
export type LilypadHost = Libp2p<LilypadServices>

/** Options for many nodes on one machine: loopback allow-list, no colocation penalty, fast heartbeat. */
export const localMeshOptions: Pick<HostOptions, 'allow' | 'colocationWeight' | 'heartbeatIntervalMs'> = {
  allow: ['/ip4/127.0.0.0/ipcidr/8'],
  colocationWeight: 0,
  heartbeatIntervalMs: 200
}

export async function createHost (options: HostOptions): Promise<LilypadHost> {
  const topics = gossipTopics(options.networkId)
  const topicParams = offerTopicScoreParams()
  const bootstrapList = options.bootstrap ?? []
  const node = await createLibp2p({
    ...(options.privateKey !== undefined ? { privateKey: options.privateKey } : {}),
    addresses: { listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(options.swarmKey !== undefined ? { connectionProtector: preSharedKey({ psk: options.swarmKey }) } : {}),
    connectionManager: {
      ...(options.allow !== undefined ? { allow: options.allow } : {}),
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {})
    },
    peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList })] : [],
    ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
    services: {
      identify: identify({ protocolPrefix: `lilypad/${options.networkId}` }),
      ping: ping({ protocolPrefix: `lilypad/${options.networkId}` }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: contentMessageId,
        asyncValidation: true,
        emitSelf: false,
        allowPublishToZeroTopicPeers: true,
        heartbeatInterval: options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS,
        maxInboundDataLength: maxMessageSize() + 64 * 1024,
        scoreParams: {
          IPColocationFactorWeight: options.colocationWeight ?? -10,
          IPColocationFactorThreshold: options.colocationThreshold ?? 10,
          topics: { [topics.resourceOffers]: topicParams, [topics.jobOffers]: topicParams }
        },
        scoreThresholds: defaultScoreThresholds
      }),
      dht: kadDHT({
        protocol: protocols.kad(options.networkId),
        clientMode: options.dhtServer === false,
        peerInfoMapper: passthroughMapper,
        validators: { [DHT_NAMESPACE]: nodeRecordValidator(options.domain, nowSeconds) },
        selectors: { [DHT_NAMESPACE]: nodeRecordSelector() }
      })
    }
  })
  return node
}
