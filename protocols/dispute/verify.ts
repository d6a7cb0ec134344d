// What a mediator checks before it re-runs anything: the case must be exactly the deal the chain says was
// challenged, and the job that deal's job creator signed. Pure; the chain facts come in as arguments.
import { idOf, recoverSigner, type LilypadDomain } from '../eip712.ts'
import type { DisputeCase, RefusalCode } from './messages.ts'

/** A case that does not match the chain or its own signatures. `code` says which check failed. */
export class DisputeVerificationError extends Error {
  static override name = 'DisputeVerificationError'
  override name = DisputeVerificationError.name
  readonly code: RefusalCode
  constructor (code: RefusalCode, message: string) {
    super(`${code}: ${message}`)
    this.code = code
  }
}

/** The deal's EIP-712 hash is not the deal id the case (or the chain) names. */
export class DealMismatchError extends DisputeVerificationError {
  static override name = 'DealMismatchError'
  override name = DealMismatchError.name
  constructor (message: string) { super('DEAL_MISMATCH', message) }
}

/** The job offer is not the one the deal refers to (its id differs from deal.jobOfferId, or another creator). */
export class JobOfferMismatchError extends DisputeVerificationError {
  static override name = 'JobOfferMismatchError'
  override name = JobOfferMismatchError.name
  constructor (message: string) { super('JOB_OFFER_MISMATCH', message) }
}

/** The job offer's signature is not the deal's job creator's. */
export class ForgedJobOfferError extends DisputeVerificationError {
  static override name = 'ForgedJobOfferError'
  override name = ForgedJobOfferError.name
  constructor (message: string) { super('FORGED_JOB_OFFER', message) }
}

/** The chain does not show this deal as challenged with this mediator drawn. */
export class NotChallengedError extends DisputeVerificationError {
  static override name = 'NotChallengedError'
  override name = NotChallengedError.name
  constructor (message: string) { super('NOT_CHALLENGED', message) }
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

/**
 * Checks a case against the deal id recorded on chain (the DealChallenged event's): the deal hashes to that id,
 * the job offer's EIP-712 id is deal.jobOfferId, and the job offer is signed by deal.jobCreator. The Deal
 * envelope's own signature is not needed (agree() verified both parties' consent on chain: each one's signature,
 * or its being the transaction's sender; and the id binds every term), so a provider can hand a case over as well
 * as the job creator.
 */
export function verifyDisputeCase (c: DisputeCase, domain: LilypadDomain, challengedDealId: string): void {
  const deal = c.deal.value
  if (!same(c.dealId, challengedDealId)) throw new DealMismatchError(`case names deal ${c.dealId}, the challenge is for ${challengedDealId}`)
  const dealId = idOf('Deal', domain, deal)
  if (!same(dealId, challengedDealId)) throw new DealMismatchError(`the deal hashes to ${dealId}, not ${challengedDealId}`)
  const job = c.jobOffer.value
  const jobOfferId = idOf('JobOffer', domain, job)
  if (!same(jobOfferId, deal.jobOfferId)) throw new JobOfferMismatchError(`job offer ${jobOfferId} is not the deal's ${deal.jobOfferId}`)
  let signer = ''
  try { signer = recoverSigner('JobOffer', domain, job, c.jobOffer.signature) } catch {}
  if (!same(signer, deal.jobCreator) || !same(job.jobCreator, deal.jobCreator)) {
    throw new ForgedJobOfferError(`job offer signed by ${signer || 'nobody'}, the deal's job creator is ${deal.jobCreator}`)
  }
}
