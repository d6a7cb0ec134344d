export { Solver, CandidateReceiver, CandidateTimeoutError, type SolverInit, type SolverMetrics } from './solver.ts'
