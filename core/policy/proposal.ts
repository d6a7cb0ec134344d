// The provider's answer to a proposal that passed its checks (signatures, terms, the job creator's deposit): the
// offer must be one of its own, live, the job creator must not already hold its share of unconfirmed reservations
// (one job creator proposing and never agreeing cannot keep a provider off the market), and the slot free —
// reserved at once, in the same synchronous step, so two proposals for one slot can never both win. The node's
// negotiator and the simulator's providers answer through this one function.

/** What answering needs of the provider's capacity (node/negotiation/capacity.ts `SlotCapacity` fits). */
export interface Reservable {
  tryReserve: (slot: number, dealId: string, ttlMs: number, owner?: string) => boolean
  /** unconfirmed reservations `owner` holds now (absent: not counted) */
  reservationsOf?: (owner: string) => number
}

export type ProposalAnswer = 'accept' | 'UNKNOWN_OFFER' | 'NO_CAPACITY'

export interface ProposalFacts {
  ownOfferLive: boolean
  slot: number
  dealId: string
  reservationTtlMs: number
  /** the proposing job creator's address: its reservation is counted against `maxPerJobCreator` */
  jobCreator?: string
  /** unconfirmed reservations one job creator may hold at a time (default 1) */
  maxPerJobCreator?: number
}

/** Whether `jobCreator` already holds its share of unconfirmed reservations. */
export function jobCreatorAtCap (capacity: Reservable, jobCreator: string, max = 1): boolean {
  return capacity.reservationsOf !== undefined && capacity.reservationsOf(jobCreator) >= max
}

export function answerProposal (p: ProposalFacts, capacity: Reservable): ProposalAnswer {
  if (!p.ownOfferLive) return 'UNKNOWN_OFFER'
  if (p.jobCreator !== undefined && jobCreatorAtCap(capacity, p.jobCreator, p.maxPerJobCreator)) return 'NO_CAPACITY'
  return capacity.tryReserve(p.slot, p.dealId, p.reservationTtlMs, p.jobCreator) ? 'accept' : 'NO_CAPACITY'
}
