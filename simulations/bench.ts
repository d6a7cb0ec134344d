// The benchmark entry the `lilypad bench` command calls: the steady market at scale, timed.
import { runMarket, scenarioConfig } from './scenarios.ts'

export interface BenchResult {
  nodes: number
  simulatedHours: number
  wallS: number
  events: number
  jobs: number
}

export async function benchSimulation (o: { nodes?: number, hours?: number, seed?: number } = {}): Promise<BenchResult> {
  const nodes = o.nodes ?? 10_000
  const hours = o.hours ?? 1
  const c = scenarioConfig('steady', { nodes, seed: o.seed ?? 1, hours })
  const t0 = performance.now()
  const sim = await runMarket(c)
  const wallS = (performance.now() - t0) / 1000
  return { nodes, simulatedHours: hours, wallS: Math.round(wallS * 1000) / 1000, events: sim.engine.processed, jobs: sim.metrics.jobsSubmitted }
}
