import { parseArgs } from 'node:util'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { allParts, type Row } from '../../bench/parts.ts'

const USAGE = 'lilypad bench [--only <part>[,<part>…]] [--quick] [--json] [--seed N]'

export const bench: Command = {
  name: 'bench',
  summary: 'Measure every performance target on this machine',
  usage: USAGE,
  async run (argv) {
    let values
    try {
      values = parseArgs({ args: argv, options: { only: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'boolean' }, seed: { type: 'string' } } }).values
    } catch (err) {
      throw new UserError((err as Error).message, { hint: USAGE, exitCode: 2 })
    }
    const keys = allParts.map(p => p.key)
    const only = values.only?.split(',').map(s => s.trim()).filter(Boolean)
    for (const k of only ?? []) if (!keys.includes(k)) throw new UserError(`unknown bench part "${k}"`, { hint: `parts: ${keys.join(', ')}`, exitCode: 2 })
    const seed = values.seed === undefined ? 42 : Number(values.seed)
    if (!Number.isSafeInteger(seed)) throw new UserError('--seed must be an integer', { exitCode: 2 })
    const json = values.json === true
    const log = (line: string): void => { if (!json) process.stderr.write(`${line}\n`) }
    const out: Record<string, unknown> = {}
    const table: Array<{ title: string, rows: Row[] }> = []
    for (const part of allParts) {
      if (only !== undefined && !only.includes(part.key)) continue
      log(`measuring ${part.key}…`)
      const result = await part.run({ quick: values.quick === true, seed, log })
      out[part.key] = result
      table.push({ title: part.title, rows: part.rows(result) })
    }
    if (json) {
      console.log(JSON.stringify(out))
    } else {
      for (const { title, rows } of table) {
        console.log(`\n${title}`)
        for (const r of rows) {
          const mark = r.met === undefined ? ' ' : r.met ? '✔' : '✘'
          console.log(`  ${mark} ${r.figure.padEnd(38)}${r.value.padStart(16)}   ${r.target.padEnd(14)}${r.anchor}`)
        }
      }
    }
    return 0
  }
}
