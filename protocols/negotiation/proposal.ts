// The provider's pure check of a proposal: everything except its own capacity, which only it can judge.
import { idOf, recoverSigner, type Deal, type JobOffer, type LilypadDomain, type ResourceOffer } from '../eip712.ts'
import { isCompatible } from '../matcher.ts'
import type { DeclineReason, Propose } from './messages.ts'
import { checkTerms, defaultProviderTerms, UnacceptableTermsError, type ProviderTermsPolicy } from './terms.ts'

export class DeclineError extends Error {
  static override name = 'DeclineError'
  override name = DeclineError.name
  readonly reason: DeclineReason
  constructor (reason: DeclineReason, message: string) {
    super(`${reason}: ${message}`)
    this.reason = reason
  }
}

export interface ProposalContext {
  domain: LilypadDomain
  /** the provider's clock (s): the offers' and the job's expiries are gossip's, stamped by the nodes' clocks */
  now: bigint
  /**
   * the chain's clock (s; default `now`): the deal's expiry is the Market's, judged against block time, which a test
   * chain (or a lagging one) can put far from the nodes' clocks
   */
  chainNow?: bigint
  provider: string
  /** the provider's own offer with this id, if it issued it and it is still valid */
  ownOffer: (resourceOfferId: string) => { offer: ResourceOffer, signature: string } | undefined
  /** the terms this provider signs (default protocols/negotiation/terms.ts defaultProviderTerms) */
  terms?: ProviderTermsPolicy
  /** how long fetching the job's module may take here (seconds; 0 for built-ins and cached modules) */
  fetchSec?: number
}

export interface CheckedProposal { deal: Deal, dealId: string, job: JobOffer, jobOfferId: string, offer: ResourceOffer, jobCreatorSignature: string }

function same (a: string, b: string): boolean { return a.toLowerCase() === b.toLowerCase() }

export function checkProposal (p: Propose, ctx: ProposalContext): CheckedProposal {
  const job = p.job.value
  const deal = p.deal.value
  const safeRecover = (f: () => string): string => { try { return f() } catch { return '' } }
  if (!same(safeRecover(() => recoverSigner('JobOffer', ctx.domain, job, p.job.signature)), job.jobCreator)) throw new DeclineError('BAD_SIGNATURE', 'job offer not signed by its job creator')
  if (!same(safeRecover(() => recoverSigner('Deal', ctx.domain, deal, p.deal.signature)), deal.jobCreator)) throw new DeclineError('BAD_SIGNATURE', 'deal not signed by its job creator')
  if (!same(deal.resourceProvider, ctx.provider)) throw new DeclineError('WRONG_PROVIDER', 'deal names another provider')
  const jobOfferId = idOf('JobOffer', ctx.domain, job)
  if (deal.jobOfferId !== jobOfferId || !same(deal.jobCreator, job.jobCreator) || deal.nonce !== job.nonce) throw new DeclineError('TERMS', 'deal does not belong to the job offer')
  const own = ctx.ownOffer(deal.resourceOfferId)
  if (own === undefined) throw new DeclineError('UNKNOWN_OFFER', 'no such live offer of ours')
  const offer = own.offer
  const chainNow = ctx.chainNow ?? ctx.now
  if (job.expiry <= ctx.now || deal.expiry <= chainNow || offer.expiry <= ctx.now) throw new DeclineError('EXPIRED', 'job offer, deal or resource offer expired')
  if (deal.price !== offer.price || deal.collateral !== offer.collateral || deal.auditPpm !== job.auditPpm) throw new DeclineError('TERMS', 'price, collateral or audit differ from the offers')
  if (deal.collateral < deal.mediationFee) throw new DeclineError('TERMS', 'collateral below the mediation fee')
  if (deal.resultTimeout < job.timeout) throw new DeclineError('TERMS', 'result timeout shorter than the job timeout')
  const ours = new Set(offer.mediators.map(m => m.toLowerCase()))
  const theirs = new Set(job.mediators.map(m => m.toLowerCase()))
  const med = deal.mediators.map(m => m.toLowerCase())
  if (med.length === 0 || med.some((m, i) => !ours.has(m) || !theirs.has(m) || (i > 0 && med[i - 1] >= m))) throw new DeclineError('TERMS', 'mediators must be common to both offers, ascending')
  if (!isCompatible(job, { offer, id: deal.resourceOfferId, signature: own.signature }, ctx.now)) throw new DeclineError('TERMS', 'the job does not fit the offer')
  try {
    checkTerms(deal, job, chainNow, ctx.terms ?? defaultProviderTerms, ctx.fetchSec ?? 0)
  } catch (err) {
    if (err instanceof UnacceptableTermsError) throw new DeclineError('TERMS', err.message)
    throw err
  }
  return { deal, dealId: idOf('Deal', ctx.domain, deal), job, jobOfferId, offer, jobCreatorSignature: p.deal.signature }
}
