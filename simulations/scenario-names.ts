// The scenarios by name, apart from their code: the CLI lists them without loading the simulator.
export const SCENARIOS = ['steady', 'churn', 'cheaters', 'partition', 'spam', 'rewards', 'collusion', 'committees'] as const
export type ScenarioName = typeof SCENARIOS[number]

export function isScenario (s: string): s is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(s)
}
