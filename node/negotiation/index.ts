export { DealNegotiator, NoDealError, proposalFailureOf, type AgreedDeal, type ProviderRole, type NegotiationInit, type StreamNode, type CandidateOutcome, type OutcomeKind } from './negotiator.ts'
export { SlotCapacity, type CapacityProvider } from './capacity.ts'
export { depositReader, DepositReadAbortedError } from './deposit.ts'
