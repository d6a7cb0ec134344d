import { parseArgs } from 'node:util'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allParts, type Row, type BenchContext } from '../../bench/parts.ts'
import type { Devnet } from '../../node/devnet.ts'

const USAGE = 'lilypad bench [--only <part>[,<part>…]] [--quick] [--json] [--seed N]\n  lilypad bench --only soak [--hours H] [--out DIR]   (soak: minutes by default; not part of a plain run)'

export const bench: Command = {
  name: 'bench',
  summary: 'Measure every performance target on this machine',
  usage: USAGE,
  async run (argv) {
    let values
    try {
      values = parseArgs({ args: argv, options: { only: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'boolean' }, seed: { type: 'string' }, hours: { type: 'string' }, out: { type: 'string' } } }).values
    } catch (err) {
      throw new UserError((err as Error).message, { hint: USAGE, exitCode: 2 })
    }
    const keys = allParts.map(p => p.key)
    const only = values.only?.split(',').map(s => s.trim()).filter(Boolean)
    for (const k of only ?? []) if (!keys.includes(k)) throw new UserError(`unknown bench part "${k}"`, { hint: `parts: ${keys.join(', ')}`, exitCode: 2 })
    const seed = values.seed === undefined ? 42 : Number(values.seed)
    if (!Number.isSafeInteger(seed)) throw new UserError('--seed must be an integer', { exitCode: 2 })
    const hours = values.hours === undefined ? undefined : Number(values.hours)
    if (hours !== undefined && !(Number.isFinite(hours) && hours > 0 && hours <= 168)) throw new UserError('--hours must be a number of hours between 0 and 168', { hint: USAGE, exitCode: 2 })
    if ((hours !== undefined || values.out !== undefined) && !(only ?? []).includes('soak')) throw new UserError('--hours and --out belong to the soak part', { hint: 'lilypad bench --only soak --hours 2', exitCode: 2 })
    const json = values.json === true
    const log = (line: string): void => { if (!json) process.stderr.write(`${line}\n`) }
    const out: Record<string, unknown> = {}
    const table: Array<{ title: string, rows: Row[] }> = []
    let shared: Promise<{ devnet: Devnet, home: string }> | undefined
    const ctx: BenchContext = {
      quick: values.quick === true,
      seed,
      ...(hours !== undefined ? { hours } : {}),
      ...(values.out !== undefined ? { outDir: values.out } : {}),
      log,
      devnet: async () => {
        shared ??= (async () => {
          const { startDevnet } = await import('../../node/devnet.ts')
          const home = await mkdtemp(join(tmpdir(), 'lilypad-bench-'))
          return { devnet: await startDevnet({ home, port: 0, slots: 2 }), home }
        })()
        return await shared
      }
    }
    try {
      for (const part of allParts) {
        if (only !== undefined ? !only.includes(part.key) : part.optIn === true) continue
        log(`measuring ${part.key}…`)
        const result = await part.run(ctx)
        out[part.key] = result
        table.push({ title: part.title, rows: part.rows(result) })
      }
    } finally {
      if (shared !== undefined) {
        const { devnet, home } = await shared
        await devnet.stop()
        await rm(home, { recursive: true, force: true })
      }
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
