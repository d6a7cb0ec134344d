export { DealNegotiator, NoDealError, type AgreedDeal, type ProviderRole, type NegotiationInit, type StreamNode } from './service.ts'
export { SlotCapacity, type CapacityProvider } from './capacity.ts'
