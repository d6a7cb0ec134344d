// The parties' side of disputes: a mediator pulling the case of a deal is answered from the party's own deal
// store. (Pushing the case to the drawn mediator, and closing a mediation nobody answers, are actions of the
// parties' deal lifecycles: see node/roles/job-creator.ts and resource-provider.ts.)
import { signMessage, type Deal } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { DisputeCase } from '../../protocols/dispute/index.ts'
import type { ChainClient } from '../chain/index.ts'

/**
 * Cases from a job creator's deal store: the deal envelope is signed again with the job creator's key (its own),
 * or, for a deal whose job creator is a browser wallet, carries the signature the wallet gave it.
 */
export function jobCreatorCaseSource (deals: { get: (id: string) => Promise<{ dealId: string, deal: Deal, job: Envelope<'JobOffer'>, jobCreatorSignature?: string } | undefined> }, chain: Pick<ChainClient, 'wallet' | 'domain'>): (dealId: string) => Promise<DisputeCase | undefined> {
  return async dealId => {
    const rec = await deals.get(dealId.toLowerCase())
    if (rec === undefined) return undefined
    return { dealId: rec.dealId, deal: { kind: 'Deal', value: rec.deal, signature: rec.jobCreatorSignature ?? await signMessage('Deal', chain.domain, rec.deal, chain.wallet) }, jobOffer: rec.job }
  }
}
