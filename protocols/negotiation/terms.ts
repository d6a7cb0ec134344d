// What a provider will sign. A deal is a promise with a deadline and the provider's collateral behind it, so the
// provider refuses terms it cannot meet or that only an attacker would propose: a result window shorter than the
// job plus its own start-up, module fetch and submission time (with a job timeout of 0 and a result window of 0
// the job creator could take the collateral in the next block), durations that would lock its money for months,
// a countersignature that stays valid for years (it could be cashed in long after the provider forgot the deal),
// and random audits with no mediation fee (a mediator would have to work for nothing, so none would). Pure; the
// defaults live here and nowhere else.
import type { Deal, JobOffer } from '../eip712.ts'

export interface ProviderTermsPolicy {
  /** seconds to start a container (image present) */
  startupSec: number
  /** seconds to submit the result on chain and see it mined */
  submitSec: number
  /** fixed safety margin added to every result window (seconds) */
  marginSec: number
  /** extra share of the job's own timeout added as margin (0.1 = 10 %) */
  marginRatio: number
  /** shortest and longest job timeout accepted (seconds) */
  minJobTimeoutSec: number
  maxJobTimeoutSec: number
  /** longest result window (seconds from agreement) */
  maxResultTimeoutSec: number
  /** longest judge window: how long the payment and collateral may wait for the job creator (seconds) */
  maxJudgeWindowSec: number
  /** longest mediation window (seconds) */
  maxMediateTimeoutSec: number
  /** the countersignature's life: deal.expiry − now at most (seconds) */
  maxDealTtlSec: number
  /** smallest mediation fee when the deal asks for random audits (LP wei, ≥ 1) */
  minAuditFee: bigint
}

export const defaultProviderTerms: ProviderTermsPolicy = {
  startupSec: 2,
  submitSec: 4,
  marginSec: 2,
  marginRatio: 0,
  minJobTimeoutSec: 1,
  maxJobTimeoutSec: 24 * 3600,
  maxResultTimeoutSec: 25 * 3600,
  maxJudgeWindowSec: 2 * 24 * 3600,
  maxMediateTimeoutSec: 2 * 24 * 3600,
  maxDealTtlSec: 300,
  minAuditFee: 1n
}

/** Thrown for terms the provider will not sign; the negotiator declines with TERMS and this message. */
export class UnacceptableTermsError extends Error {
  static override name = 'UnacceptableTermsError'
  override name = UnacceptableTermsError.name
  /** which rule: the field or bound that failed */
  readonly rule: string
  constructor (rule: string, message: string) {
    super(`${rule}: ${message}`)
    this.rule = rule
  }
}

/** The shortest result window the provider accepts for a job (seconds from agreement). */
export function minResultTimeout (jobTimeoutSec: number, policy: ProviderTermsPolicy, fetchSec: number): number {
  return jobTimeoutSec + policy.startupSec + fetchSec + policy.submitSec + policy.marginSec + Math.ceil(jobTimeoutSec * policy.marginRatio)
}

/**
 * Throws UnacceptableTermsError unless the provider can meet the deal and the deal cannot be turned against it.
 * `fetchSec`: how long fetching the job's module may take here (0 for a built-in or a cached one).
 */
export function checkTerms (deal: Deal, job: JobOffer, now: bigint, policy: ProviderTermsPolicy = defaultProviderTerms, fetchSec = 0): void {
  if (job.timeout < policy.minJobTimeoutSec) throw new UnacceptableTermsError('job.timeout', `${job.timeout} s is below the minimum of ${policy.minJobTimeoutSec} s`)
  if (job.timeout > policy.maxJobTimeoutSec) throw new UnacceptableTermsError('job.timeout', `${job.timeout} s is above the maximum of ${policy.maxJobTimeoutSec} s`)
  const min = minResultTimeout(job.timeout, policy, fetchSec)
  if (deal.resultTimeout < min) throw new UnacceptableTermsError('resultTimeout', `${deal.resultTimeout} s leaves no time to start, fetch, run for ${job.timeout} s and submit (at least ${min} s)`)
  if (deal.resultTimeout > policy.maxResultTimeoutSec) throw new UnacceptableTermsError('resultTimeout', `${deal.resultTimeout} s is above the maximum of ${policy.maxResultTimeoutSec} s`)
  if (deal.judgeWindow > policy.maxJudgeWindowSec) throw new UnacceptableTermsError('judgeWindow', `${deal.judgeWindow} s is above the maximum of ${policy.maxJudgeWindowSec} s`)
  if (deal.mediateTimeout > policy.maxMediateTimeoutSec) throw new UnacceptableTermsError('mediateTimeout', `${deal.mediateTimeout} s is above the maximum of ${policy.maxMediateTimeoutSec} s`)
  if (deal.expiry > now + BigInt(policy.maxDealTtlSec)) throw new UnacceptableTermsError('expiry', `the countersignature would stay valid ${deal.expiry - now} s; at most ${policy.maxDealTtlSec} s`)
  if (deal.auditPpm > 1_000_000) throw new UnacceptableTermsError('auditPpm', `${deal.auditPpm} ppm is above certainty`)
  if (deal.auditPpm > 0 && deal.mediationFee < policy.minAuditFee) throw new UnacceptableTermsError('mediationFee', `random audits (${deal.auditPpm} ppm) with a mediation fee of ${deal.mediationFee}: no mediator would work for it`)
}
