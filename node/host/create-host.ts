// libp2p 3 host assembly: TCP, WebSockets and circuit relay v2 transports; noise, yamux; identify and
// identify-push, ping, AutoNAT and DCUtR (hole punching), all under the network's own protocol prefix where
// the protocol has one; gossipsub (strict no-sign, content-hash ids, async validation, topic and peer
// scoring); kad-DHT under the network's own protocol (never the public DHT); pnet when a swarm key is given;
// bootstrap peers from the network file, DNS names resolved with a timeout. A node started with `relay`
// also serves circuit relay v2 within RELAY_LIMITS. Settings only local many-node setups need (loopback
// allow-list, colocation scoring off, fast heartbeat) are options (`localMeshOptions`).
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { circuitRelayTransport, circuitRelayServer, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { dcutr } from '@libp2p/dcutr'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify, identifyPush, type Identify, type IdentifyPush } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { bootstrap } from '@libp2p/bootstrap'
import { preSharedKey } from '@libp2p/pnet'
import { dnsaddrResolver } from 'libp2p'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import type { PrivateKey, Metrics } from '@libp2p/interface'
import { protocols } from '../../protocols/protocol-id.ts'
import { gossipTopics, contentMessageId, offerTopicScoreParams, defaultScoreThresholds, maxMessageSize } from '../../protocols/gossip/index.ts'
import { DHT_NAMESPACE, nodeRecordSelector, nodeRecordValidator } from '../../protocols/directory/record.ts'
import { nowSeconds } from '../../protocols/validation.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'
import { CONNECTION_LIMITS, DCUTR_RETRIES, DCUTR_TIMEOUT_MS, DEFAULT_HEARTBEAT_MS, DEFAULT_PEER_TTL_MS, LOCAL_LISTEN, PEER_SCORE, RELAY_LIMITS, VERDICT_WINDOW_MS } from './constants.ts'
import { createDns, dnsNameResolver, type DnsOptions } from './dns.ts'
import { PerIpConnectionGate } from './connections.ts'

export type ConnectionLimits = typeof CONNECTION_LIMITS
export type RelayLimits = typeof RELAY_LIMITS
import { reach, type Reach, type ReachInit } from './reach.ts'
import { directoryResolver } from '../directory/directory.ts'
import type { Components } from '../components.ts'

export interface HostOptions {
  networkId: string
  domain: LilypadDomain
  /** the node's libp2p key (see loadOrCreatePeerKey) */
  privateKey?: PrivateKey
  /** default LOCAL_LISTEN (loopback); nodes on a real network use PUBLIC_LISTEN (see hostOptionsFromNetwork) */
  listen?: string[]
  /** addresses announced besides the listen ones, e.g. `/dns4/node.example.com/tcp/443/tls/ws` behind a TLS proxy */
  announce?: string[]
  bootstrap?: string[]
  /** pre-shared key file contents; when given, only holders of the key can connect */
  swarmKey?: Uint8Array
  /** multiaddr CIDRs exempt from inbound rate and connection limits, e.g. ['/ip4/127.0.0.0/ipcidr/8'] for local meshes */
  allow?: string[]
  /** gossipsub IP-colocation penalty; 0 disables it (many nodes on one host). default PEER_SCORE's (on) */
  colocationWeight?: number
  colocationThreshold?: number
  heartbeatIntervalMs?: number
  /** DHT server mode (default true) */
  dhtServer?: boolean
  /** shorthand for limits.maxConnections */
  maxConnections?: number
  limits?: Partial<ConnectionLimits>
  /** serve circuit relay v2 (bootstrap nodes), within relayLimits */
  relay?: boolean
  relayLimits?: Partial<RelayLimits>
  dns?: DnsOptions
  /** gossipsub application score of a peer (weight 1), e.g. a penalty for peers we rate-limit */
  appSpecificScore?: (peerId: string) => number
  /**
   * How long the peer store keeps an address after it was FIRST stored (libp2p's maxAddressAge, default 1 h;
   * re-storing the same address does not renew it). Tests shorten it to reproduce an hour-old network.
   */
  addressTtlMs?: number
  /**
   * How long a peer with no live address stays in the peer store after its last update (libp2p's maxPeerAge; ours
   * defaults to 1 h, not libp2p's 6 h: every `lilypad run` is a new peer, and one that left is of no use once its
   * addresses have expired).
   */
  peerTtlMs?: number
  /** address refresh, peer-store sweep, bootstrap redial and re-resolution settings (node/host/constants.ts) */
  reach?: Omit<ReachInit, 'bootstrap' | 'logger' | 'metrics' | 'clock'>
  /** where the host's own services (reach) log and count */
  components?: Partial<Pick<Components, 'logger' | 'metrics' | 'clock'>>
  /** libp2p's own metrics (e.g. @libp2p/prometheus-metrics into the node's registry) */
  metrics?: (components: any) => Metrics
}

export type LilypadServices = {
  pubsub: GossipSub
  dht: KadDHT
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  autoNAT: unknown
  dcutr: unknown
  /** present when the node serves as a relay */
  relay?: CircuitRelayService
  reach: Reach
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
  const prefix = `lilypad/${options.networkId}`
  const limits = { ...CONNECTION_LIMITS, ...options.limits, ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}) }
  const relay = { ...RELAY_LIMITS, ...options.relayLimits }
  const gate = new PerIpConnectionGate(limits.maxConnectionsPerIp, limits.maxConnections, options.allow ?? [])
  const node = await createLibp2p({
    ...(options.privateKey !== undefined ? { privateKey: options.privateKey } : {}),
    addresses: {
      listen: options.listen ?? LOCAL_LISTEN,
      ...(options.announce !== undefined && options.announce.length > 0 ? { appendAnnounce: options.announce } : {})
    },
    transports: [
      tcp(),
      webSockets(),
      circuitRelayTransport({ maxInboundStopStreams: relay.maxRelayedConnections, maxOutboundStopStreams: relay.maxRelayedConnections })
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(options.swarmKey !== undefined ? { connectionProtector: preSharedKey({ psk: options.swarmKey }) } : {}),
    connectionGater: gate.gater,
    dns: createDns(options.dns),
    peerStore: {
      ...(options.addressTtlMs !== undefined ? { maxAddressAge: options.addressTtlMs } : {}),
      maxPeerAge: options.peerTtlMs ?? DEFAULT_PEER_TTL_MS
    },
    connectionManager: {
      ...(options.allow !== undefined ? { allow: options.allow } : {}),
      maxConnections: limits.maxConnections,
      maxIncomingPendingConnections: limits.maxIncomingPendingConnections,
      inboundConnectionThreshold: limits.inboundConnectionThreshold,
      inboundUpgradeTimeout: limits.inboundUpgradeTimeoutMs,
      dialTimeout: limits.dialTimeoutMs,
      maxPeerAddrsToDial: limits.maxPeerAddrsToDial,
      maxDialQueueLength: limits.maxDialQueueLength,
      resolvers: { dnsaddr: dnsaddrResolver, dns: dnsNameResolver }
    },
    peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList })] : [],
    ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
    services: {
      reach: reach({
        bootstrap: bootstrapList,
        ...options.reach,
        ...(options.components?.logger !== undefined ? { logger: options.components.logger } : {}),
        ...(options.components?.metrics !== undefined ? { metrics: options.components.metrics } : {}),
        ...(options.components?.clock !== undefined ? { clock: options.components.clock } : {})
      }),
      identify: identify({ protocolPrefix: prefix }),
      // address changes (a relay reservation made, an address AutoNAT confirmed) reach connected peers
      identifyPush: identifyPush({ protocolPrefix: prefix }),
      ping: ping({ protocolPrefix: prefix }),
      // v2: dials back on a new connection (v1 closed the asker's existing one), with amplification checks
      autoNAT: autoNATv2({ protocolPrefix: prefix }),
      dcutr: dcutr({ timeout: DCUTR_TIMEOUT_MS, retries: DCUTR_RETRIES }),
      ...(options.relay === true
        ? {
            relay: circuitRelayServer({
              hopTimeout: relay.hopTimeoutMs,
              maxInboundHopStreams: relay.maxRelayedConnections,
              maxOutboundStopStreams: relay.maxRelayedConnections,
              reservations: {
                maxReservations: relay.maxReservations,
                reservationTtl: relay.reservationTtlMs,
                applyDefaultLimit: true,
                defaultDurationLimit: relay.maxDurationMs,
                defaultDataLimit: relay.maxDataBytes
              }
            })
          }
        : {}),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: contentMessageId,
        asyncValidation: true,
        emitSelf: false,
        allowPublishToZeroTopicPeers: true,
        heartbeatInterval: options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS,
        mcacheLength: Math.max(5, Math.ceil(VERDICT_WINDOW_MS / (options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS))),
        maxInboundDataLength: maxMessageSize() + 64 * 1024,
        scoreParams: {
          ...PEER_SCORE,
          ...(options.colocationWeight !== undefined ? { IPColocationFactorWeight: options.colocationWeight } : {}),
          ...(options.colocationThreshold !== undefined ? { IPColocationFactorThreshold: options.colocationThreshold } : {}),
          ...(options.appSpecificScore !== undefined ? { appSpecificScore: options.appSpecificScore, appSpecificWeight: 1 } : {}),
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
  }) as unknown as LilypadHost
  // the peer's own signed directory record is one place to look when it cannot be dialled
  node.services.reach.addResolver('directory', directoryResolver(node, options.domain))
  const relayService = node.services.relay
  if (relayService !== undefined) {
    const reservations = relayService.reservations
    gate.limitReservations(node, reservations, relay.maxReservationsPerIp)
    // a reservation is only usable while its holder stays connected to us, and libp2p keeps it until its TTL:
    // peers that come and go would hold slots (ours and their IP's) for an hour. Free the slot when the holder
    // leaves; clearing the reservation's timer keeps it from later removing a newer reservation of the same
    // peer (libp2p's timer cannot be cleared once a refresh re-armed it: then that newer one may go at the
    // old expiry, and its holder reserves again at its next refresh)
    node.addEventListener('connection:close', e => {
      const peer = e.detail.remotePeer
      const held = reservations.get(peer)
      if (held === undefined || node.getConnections(peer).length > 0) return
      held.signal.clear()
      reservations.delete(peer)
    })
  }
  return node
}
