// Bounds of live logs, in one place. A provider serves a deal's output only to the peer that negotiated it; the job
// creator holds the provider to the same bounds and cuts (and penalises) a stream that breaks them.
export interface LogLimits {
  /** bytes of one deal's output sent on one stream at most; then the stream ends with LIMIT */
  maxBytesPerDeal: number
  /** sustained bytes per second per stream; output beyond it is dropped (and counted in a `dropped` frame) */
  bytesPerSecond: number
  /** bytes a stream may send at once before the per-second rate applies */
  burstBytes: number
  /** the most recent output kept per deal for a follower that attaches late */
  backlogBytes: number
  /** frames queued for one slow reader at most (bytes); the rest is dropped */
  queueBytes: number
  /** deals whose feed (backlog, who may follow it) is kept at once; the oldest finished ones go first */
  maxDeals: number
  /** how long a finished deal's feed stays (its follower may attach after the container ended) */
  keepAfterEndMs: number
  /** log streams one peer may hold open at once, and in all */
  streamsPerPeer: number
  maxStreams: number
  /** stream opens per peer: burst, then per second */
  opensBurst: number
  opensPerSecond: number
  /** one read or write step */
  stepMs: number
}

export const defaultLogLimits: LogLimits = {
  maxBytesPerDeal: 1024 * 1024,
  bytesPerSecond: 64 * 1024,
  burstBytes: 128 * 1024,
  backlogBytes: 64 * 1024,
  queueBytes: 256 * 1024,
  maxDeals: 256,
  keepAfterEndMs: 5 * 60_000,
  streamsPerPeer: 8,
  maxStreams: 64,
  opensBurst: 8,
  opensPerSecond: 1,
  stepMs: 5000
}
