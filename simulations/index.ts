// The simulator's public surface.
export { runScenario, runMarket, scenarioConfig, thresholdFor, SCENARIOS, UnknownScenarioError, isScenario } from './scenarios.ts'
export type { ScenarioName, ScenarioOptions, ScenarioResult, SweepPoint } from './scenarios.ts'
export { benchSimulation } from './bench.ts'
export type { BenchResult } from './bench.ts'
export { writeOutputs, textSummary, toJson, metricsOf } from './output.ts'
export { auditThreshold } from './audit-threshold.ts'
export { defaultMarketConfig } from './config.ts'
export type { MarketConfig } from './config.ts'
