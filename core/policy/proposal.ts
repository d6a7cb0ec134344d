// The provider's answer to a proposal that passed its checks (signatures, terms): the offer must be one of its
// own, live, and the slot free — reserved at once, in the same synchronous step, so two proposals for one slot
// can never both win. The node's negotiator and the simulator's providers answer through this one function.

/** What answering needs of the provider's capacity (node/negotiation/capacity.ts `SlotCapacity` fits). */
export interface Reservable {
  tryReserve: (slot: number, dealId: string, ttlMs: number) => boolean
}

export type ProposalAnswer = 'accept' | 'UNKNOWN_OFFER' | 'NO_CAPACITY'

export function answerProposal (p: { ownOfferLive: boolean, slot: number, dealId: string, reservationTtlMs: number }, capacity: Reservable): ProposalAnswer {
  if (!p.ownOfferLive) return 'UNKNOWN_OFFER'
  return capacity.tryReserve(p.slot, p.dealId, p.reservationTtlMs) ? 'accept' : 'NO_CAPACITY'
}
