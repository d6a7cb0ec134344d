import { parseArgs } from 'node:util'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { isScenario, SCENARIOS } from '../../simulations/scenario-names.ts'

const USAGE = `lilypad simulate <${SCENARIOS.join('|')}> [--nodes N] [--seed S] [--hours H] [--audit P] [--sweep P,P,…] [--json] [--out DIR]`

function usageError (message: string): UserError {
  return new UserError(message, { hint: `usage: ${USAGE}`, exitCode: 2 })
}

function intFlag (name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def
  if (!/^\d+$/.test(v)) throw usageError(`--${name} must be a whole number, got "${v}"`)
  const n = Number(v)
  if (n < min || n > max) throw usageError(`--${name} must be between ${min} and ${max}, got ${n}`)
  return n
}

function numFlag (name: string, v: string, min: number, max: number): number {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n)) throw usageError(`--${name} must be a number, got "${v}"`)
  if (n < min || n > max) throw usageError(`--${name} must be between ${min} and ${max}, got ${n}`)
  return n
}

export const simulate: Command = {
  name: 'simulate',
  summary: 'Run a network simulation (steady, churn, cheaters, partition, spam, rewards)',
  usage: USAGE,
  async run (argv) {
    let parsed
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        strict: true,
        options: {
          nodes: { type: 'string' },
          seed: { type: 'string' },
          hours: { type: 'string' },
          audit: { type: 'string' },
          sweep: { type: 'string' },
          json: { type: 'boolean' },
          out: { type: 'string' }
        }
      })
    } catch (err) {
      throw usageError((err as Error).message)
    }
    const { values, positionals } = parsed
    if (positionals.length === 0) throw usageError('name a scenario')
    if (positionals.length > 1) throw usageError(`one scenario at a time, got ${positionals.join(' ')}`)
    const scenario = positionals[0]
    if (!isScenario(scenario)) throw usageError(`unknown scenario "${scenario}" (known: ${SCENARIOS.join(', ')})`)
    const nodes = intFlag('nodes', values.nodes, 200, 10, 20_000)
    const seed = intFlag('seed', values.seed, 1, 0, Number.MAX_SAFE_INTEGER)
    const hours = values.hours === undefined ? 1 : numFlag('hours', values.hours, 0.01, 24)
    const audit = values.audit === undefined ? undefined : numFlag('audit', values.audit, 0, 1)
    const sweep = values.sweep === undefined ? undefined : values.sweep === 'none' ? [] : values.sweep.split(',').map(p => numFlag('sweep', p, 0, 1))
    if (scenario !== 'cheaters' && (audit !== undefined || sweep !== undefined)) throw usageError('--audit and --sweep apply to the cheaters scenario only')
    const { runScenario, textSummary, toJson, metricsOf, writeOutputs } = await import('../../simulations/index.ts')
    const result = await runScenario(scenario, { nodes, seed, hours, ...(audit !== undefined ? { auditProbability: audit } : {}), ...(sweep !== undefined ? { sweep } : {}) })
    const files = values.out !== undefined ? await writeOutputs(result, values.out) : []
    if (values.json === true) {
      console.log(toJson(metricsOf(result)))
    } else {
      console.log(textSummary(result))
      if (values.out !== undefined) console.log(`wrote ${files.join(', ')} to ${values.out}`)
    }
    return 0
  }
}
