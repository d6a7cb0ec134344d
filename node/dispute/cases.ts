// A dispute case from what a party already keeps about its deal: the deal, the job creator's signature over it and
// the job offer. The provider's deal store has all three, so a provider can answer a mediator's pull (or push
// the case itself) when the job creator is offline.
import type { Deal } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { DisputeCase } from '../../protocols/dispute/index.ts'

export interface KeptDeal { dealId: string, deal: Deal, jobCreatorSignature: string, job: Envelope<'JobOffer'> }

export function caseOfDeal (d: KeptDeal): DisputeCase {
  return { dealId: d.dealId, deal: { kind: 'Deal', value: d.deal, signature: d.jobCreatorSignature }, jobOffer: d.job }
}

/** A `caseOf` for DisputeService over a store of kept deals (e.g. the resource provider's `deals`). */
export function caseSource (store: { get: (id: string) => Promise<KeptDeal | undefined> }): (dealId: string) => Promise<DisputeCase | undefined> {
  return async (dealId: string) => {
    let kept: KeptDeal | undefined
    // a malformed deal id from a puller is an invalid record id here: nothing to answer
    try { kept = await store.get(dealId.toLowerCase()) } catch { return undefined }
    return kept === undefined ? undefined : caseOfDeal(kept)
  }
}
