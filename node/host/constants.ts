// Every default of the host in one place. docs/mesh.md explains each choice; the network file's `mesh`
// section and HostOptions override them.

export const DEFAULT_HEARTBEAT_MS = 1000
export const DEFAULT_DIAL_TIMEOUT_MS = 5000

/**
 * How long gossipsub keeps a received message for our verdict (mcacheLength = this / heartbeat). A message whose
 * Accept comes later is never forwarded, so on a loaded machine with a fast test heartbeat (200 ms × the default
 * 5 = 1 s) offers silently stopped one hop short; validation waits in a queue and may take seconds under load.
 */
export const VERDICT_WINDOW_MS = 10_000

/** Loopback only: what `lilypad devnet` and tests listen on. */
export const LOCAL_LISTEN = ['/ip4/127.0.0.1/tcp/0']
/**
 * Every interface on an ephemeral TCP port, plus a relay reservation (`/p2p-circuit`): a node behind NAT is
 * then still reachable through a bootstrap relay. WebSockets listeners are opt-in (`--listen …/ws`); every
 * node can dial them.
 */
export const PUBLIC_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/p2p-circuit']

// Connection manager. libp2p's own defaults are in brackets.
export const CONNECTION_LIMITS = {
  /** open connections in total [300] */
  maxConnections: 300,
  /** inbound connections still in their handshake [10] */
  maxIncomingPendingConnections: 32,
  /** new inbound connections per second from one IP [5] */
  inboundConnectionThreshold: 5,
  /** open connections from one IP address; beyond it the gate refuses (not in libp2p) */
  maxConnectionsPerIp: 16,
  /** handshake (encryption + muxer) of an inbound connection [10 s]; with maxIncomingPendingConnections it
   * bounds what slow handshakes can hold, and stays generous for a loaded machine */
  inboundUpgradeTimeoutMs: 10_000,
  /** a whole dial, all addresses [10 s] */
  dialTimeoutMs: 10_000,
  /** addresses tried per dial [25]: a peer record stuffed with addresses cannot make us dial them all */
  maxPeerAddrsToDial: 16,
  /** dials waiting in the queue [500] */
  maxDialQueueLength: 200
}

// Circuit relay v2, server side (bootstrap nodes started with `--relay`). libp2p's defaults in brackets.
export const RELAY_LIMITS = {
  /** peers holding a reservation at once [15] */
  maxReservations: 128,
  /** reservations held by peers connected from one IP (not in libp2p): one machine minting peer ids cannot
   * take every slot */
  maxReservationsPerIp: 4,
  /** a reservation lasts this long unless refreshed [2 h] */
  reservationTtlMs: 60 * 60_000,
  /** one relayed connection is closed after this long [2 min] */
  maxDurationMs: 10 * 60_000,
  /** ... or after this many bytes in both directions [128 KiB] */
  maxDataBytes: 32n * 1024n * 1024n,
  /** relayed connections being set up or carried at once, in each direction [300] */
  maxRelayedConnections: 64,
  /** a HOP request must complete within [30 s] */
  hopTimeoutMs: 10_000
}

/** Resolving a /dns4, /dns6, /dns or /dnsaddr name: per query, including retries. */
export const DNS_TIMEOUT_MS = 5_000
/** c-ares attempts per query (each gets a share of the timeout) */
export const DNS_TRIES = 2
/** answers kept for their TTL */
export const DNS_CACHE_SIZE = 256

/** When only a relayed connection to a peer with a public address exists: how long a direct dial may take
 * before a stream goes over the relay instead */
export const DIRECT_DIAL_TIMEOUT_MS = 3_000

// Hole punching (DCUtR): how long one attempt may take, and how many.
export const DCUTR_TIMEOUT_MS = 5_000
export const DCUTR_RETRIES = 3

// Gossipsub peer scoring (docs/mesh.md, "Peer scoring"). Topic parameters are in protocols/gossip/scoring.ts.
export const PEER_SCORE = {
  /** positive topic score counts up to this (first deliveries of valid offers earn it) */
  topicScoreCap: 50,
  /** colocation penalty: weight × (peers from one IP − threshold)²; with 14 peers from one IP each falls
   * below the gossip threshold, with 16 below the publish threshold, with 20 into the graylist */
  IPColocationFactorWeight: -20,
  IPColocationFactorThreshold: 8,
  /** broken gossip promises and GRAFT floods: weight × (count − threshold)², the count decaying ×0.9 a second */
  behaviourPenaltyWeight: -10,
  behaviourPenaltyThreshold: 6,
  behaviourPenaltyDecay: 0.9,
  decayInterval: 1000,
  decayToZero: 0.01,
  /** a disconnected peer's score is kept this long, so reconnecting does not wash a penalty away */
  retainScore: 60 * 60_000
}

// Reach (node/host/reach.ts): keeping peers dialable for as long as the node runs. Every value is an option of
// `reach()` / `HostOptions.reach`, so tests can shorten it.

/**
 * Addresses of connected peers are stored again this often. libp2p forgets an address one hour after it was FIRST
 * stored (`maxAddressAge`), however often it is stored again, so a long-lived connection's addresses must be
 * re-stored well inside that hour.
 */
export const DEFAULT_ADDRESS_REFRESH_MS = 10 * 60_000
/** A departed peer's entry (no live address) goes this long after its last update (libp2p's default is 6 h). */
export const DEFAULT_PEER_TTL_MS = 3_600_000
/** How often the peer store is walked (libp2p drops expired peers only when they are read) and capped. */
export const DEFAULT_PEER_SWEEP_MS = 10 * 60_000
/** Peer-store entries kept at most; beyond, disconnected peers that are neither bootstrap nor kept alive go. */
export const DEFAULT_MAX_PEERS = 5000
/** Bootstrap peers are checked this often and redialled when not connected. */
export const DEFAULT_BOOTSTRAP_CHECK_MS = 10_000
/** Backoff between redials of one bootstrap peer: from min, doubling, up to max. */
export const DEFAULT_BOOTSTRAP_RETRY_MIN_MS = 500
export const DEFAULT_BOOTSTRAP_RETRY_MAX_MS = 5000
/** Addresses our own code learned (sync, directory records, identify) are remembered this long for re-resolution. */
export const DEFAULT_HINT_TTL_MS = 10 * 60_000
export const DEFAULT_MAX_HINTS = 4096
/** Addresses kept per peer from one source (libp2p gives up on a peer with more than 25). */
export const DEFAULT_MAX_ADDRS_PER_PEER = 8
/** A peer that could not be reached is ranked last for this long, unless it is reached again sooner. */
export const DEFAULT_DEMOTE_TTL_MS = 10 * 60_000
export const DEFAULT_MAX_UNREACHABLE = 4096
/** One re-resolution (every source together) gets at most this long: it shares the caller's dial budget (5 s). */
export const DEFAULT_RESOLVE_TIMEOUT_MS = 3000
