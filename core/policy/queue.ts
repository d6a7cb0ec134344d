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
  /**
   * distinct providers whose offers (free or busy) fit but whom this job may not use: they failed it already, or the
   * job creator bans them for a while. With no free and no busy provider left, such a job fails at once: waiting
   * would only ever wait for them (and call it "busy").
   */
  ruledOut?: number
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
  if (s.busyProviders === 0 && (s.ruledOut ?? 0) > 0) return { kind: 'fail', reason: 'no-match' }
  if (s.busyProviders > 0 || s.providersSeen) {
    return s.waitedMs >= policy.queueTimeoutMs ? { kind: 'fail', reason: 'queue-timeout' } : { kind: 'wait', queued: s.busyProviders > 0, untilMs: policy.queueTimeoutMs }
  }
  return s.waitedMs >= policy.matchTimeoutMs ? { kind: 'fail', reason: 'no-match' } : { kind: 'wait', queued: false, untilMs: policy.matchTimeoutMs }
}

/**
 * The queue's view of a book for one job: distinct providers among the busy offers that fit it and may serve it
 * (`busyProviders`), and distinct providers among the fitting offers, free or busy, that `ruledOut` excludes.
 */
export function fittingProviders (fitting: { free: Iterable<string>, busy: Iterable<string> }, ruledOut: (provider: string) => boolean): { busyProviders: number, ruledOut: number } {
  const busy = new Set<string>()
  const out = new Set<string>()
  for (const p of fitting.busy) { const k = p.toLowerCase(); if (ruledOut(k)) out.add(k); else busy.add(k) }
  for (const p of fitting.free) { const k = p.toLowerCase(); if (ruledOut(k)) out.add(k) }
  return { busyProviders: busy.size, ruledOut: out.size }
}
