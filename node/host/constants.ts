export const DEFAULT_HEARTBEAT_MS = 1000
export const DEFAULT_DIAL_TIMEOUT_MS = 5000

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
