// Reputation from outcomes: pure scores over chain records and a book that keeps them current.
export { reputationScore, standingOf, chainRecords, emptyChainRecord, defaultReputationWeights, defaultStandingPolicy, UNKNOWN_SCORE } from './score.ts'
export type { ChainRecord, Standing, StandingPolicy, ReputationWeights } from './score.ts'
export { ReputationBook, ReputationBookStateError } from './book.ts'
export type { Reputation, ReputationBookInit, ReputationBookState } from './book.ts'
