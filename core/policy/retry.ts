// When to try an action again. Every lifecycle action has a deadline (the chain's, or the role's own patience):
// a failed attempt is retried with exponential backoff, the last attempt lands just before the deadline rather
// than being skipped, and every attempt is itself bounded so none can outlive the deadline. Pure: the caller
// passes `now`; the node and the simulator use the same schedule.

export interface RetryPolicy {
  /** delay after the first failure */
  initialMs: number
  /** the backoff stops growing here */
  maxMs: number
  factor: number
  /** one attempt never runs longer than this (nor past the deadline) */
  attemptTimeoutMs: number
  /**
   * When the backoff would overshoot the deadline, one more attempt is made this long before it (a transaction
   * needs a block to be mined before the chain's deadline passes).
   */
  finalLeadMs: number
}

export const defaultRetryPolicy: RetryPolicy = { initialMs: 250, maxMs: 10_000, factor: 2, attemptTimeoutMs: 60_000, finalLeadMs: 3_000 }

/** Backoff after `failures` failed attempts (≥ 1), before the deadline is considered. */
export function backoffMs (policy: RetryPolicy, failures: number): number {
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, failures - 1))
}

/**
 * When to make the next attempt after `failures` failures, or undefined when the deadline leaves no room for one.
 * The plain backoff while it fits before `deadline − finalLeadMs`; when it would not, one attempt at exactly
 * that point; once inside that last stretch, the backoff again if it still lands before the deadline. So an
 * action is never abandoned while an attempt could still succeed, and never retried in a busy loop.
 */
export function nextAttemptAt (policy: RetryPolicy, failures: number, now: number, deadline: number): number | undefined {
  if (now >= deadline) return undefined
  const plain = now + backoffMs(policy, failures)
  const lead = deadline - policy.finalLeadMs
  if (plain <= lead) return plain
  if (now < lead) return lead
  return plain < deadline ? plain : undefined
}

/** How long one attempt may run: its own bound, and never past the deadline. */
export function attemptBudgetMs (policy: RetryPolicy, now: number, deadline: number): number {
  return Math.max(0, Math.min(policy.attemptTimeoutMs, deadline - now))
}
