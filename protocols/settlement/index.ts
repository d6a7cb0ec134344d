// The Market's state machine and pricing as pure data and functions (see market.ts), plus a whole-market model.
export {
  DealState, stateName, isFinal, cidHash, mediatorIndexOf, isAudited, heldBy, deadlineOf, payoutsOf,
  agree, submitResult, submitAcceptedResult, accept, settle, challenge, mediate, timeoutResult, timeoutMediation,
  checkBounds, boundsToJson, boundsFromJson
} from './market.ts'
export type { Acceptance, DealStateValue, DealStateName, DealTerms, DealRecord, MarketErrorName, Transfer, Step, AgreeContext, MarketBounds, MarketBoundsJson } from './market.ts'
export { emptyMarket, apply, depositOf, totalHeld } from './ledger.ts'
export type { MarketModel, MarketAction, ApplyResult, BlockContext } from './ledger.ts'
