export { DisputeService, DisputeRefusedError, type DisputeServiceInit, type DisputeServiceMetrics, type DisputeNode } from './service.ts'
export { locatePeer, type LocateOptions, type PeerTarget } from './locate.ts'
export { handOffDispute, MediatorUnreachableError } from './hand-off.ts'
export { caseOfDeal, caseSource, type KeptDeal } from './cases.ts'
