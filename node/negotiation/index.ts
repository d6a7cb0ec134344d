export { DealNegotiator, NoDealError, type AgreedDeal, type ProviderRole, type NegotiationInit, type StreamNode } from './negotiator.ts'
export { SlotCapacity, type CapacityProvider } from './capacity.ts'
