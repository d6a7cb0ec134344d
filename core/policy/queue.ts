// Whether a job creator proposes, waits or gives up while looking for a provider — one rule for the node's job
// creator and the simulator. Providers keep booked slots visible as busy (protocols/order-book.ts), so "every
// provider that fits is busy" (a queue: wait, up to the job's queue deadline) is told apart from "no provider fits"
// (fail fast, once the short match window — long enough for a newcomer's order-book sync — has passed).
// Pure: the caller says how long it has waited.

export interface QueuePolicy {
  /** how long to wait for any fitting offer (free or busy) to become known before giving up */
  matchTimeoutMs: number
  /** how long a job waits for a busy provider to free a slot */
  queueTimeoutMs: number
}

export const defaultQueuePolicy: QueuePolicy = { matchTimeoutMs: 5000, queueTimeoutMs: 120_000 }

export interface QueueState {
  /** free candidates that fit the job now */
  free: number
  /** distinct providers whose busy slots fit the job */
  busyProviders: number
  /** providers already answered this job (busy), or an earlier attempt had one: providers are known to exist */
  providersSeen: boolean
  /** time since the job started looking */
  waitedMs: number
}

export type QueueDecision =
  | { kind: 'propose' }
  /** wait for the book to change until `untilMs` after the start; `queued`: busy providers fit */
  | { kind: 'wait', queued: boolean, untilMs: number }
  /** 'no-match': nothing known fits the job; 'queue-timeout': providers fit but none freed a slot in time */
  | { kind: 'fail', reason: 'no-match' | 'queue-timeout' }

export function queueDecision (s: QueueState, policy: QueuePolicy = defaultQueuePolicy): QueueDecision {
  if (s.free > 0) return { kind: 'propose' }
  if (s.busyProviders > 0 || s.providersSeen) {
    return s.waitedMs >= policy.queueTimeoutMs ? { kind: 'fail', reason: 'queue-timeout' } : { kind: 'wait', queued: s.busyProviders > 0, untilMs: policy.queueTimeoutMs }
  }
  return s.waitedMs >= policy.matchTimeoutMs ? { kind: 'fail', reason: 'no-match' } : { kind: 'wait', queued: false, untilMs: policy.matchTimeoutMs }
}
