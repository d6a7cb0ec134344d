// The Market's state machine and pricing as pure data and functions (see market.ts), plus a whole-market model.
export {
  DealState, COMMITTEE, stateName, isFinal, cidHash, mediatorIndexOf, mediatorDrawOf, UNDRAWN, auditDrawHits, auditDrawOf, auditDrawDue, AUDIT_CLEARED, ACCEPTED, HASHED_BLOCKS, heldBy, deadlineOf, payoutsOf,
  agree, submitResult, submitAcceptedResult, accept, settle, drawAudit, challenge, drawMediator, mediate, timeoutResult, timeoutMediation,
  checkBounds, boundsToJson, boundsFromJson
} from './market.ts'
export type { Acceptance, AuditDraw, DrawContext, DealStateValue, DealStateName, DealTerms, DealRecord, MarketErrorName, Transfer, Step, AgreeContext, MarketBounds, MarketBoundsJson } from './market.ts'
export { emptyMarket, apply, depositOf, bondOf, totalHeld } from './ledger.ts'
export type { MarketModel, MarketAction, ApplyResult, BlockContext, BondRecord } from './ledger.ts'
