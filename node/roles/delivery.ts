// What a result directory delivers: its exit code and, to a contract, stdout's first KiB. One reading for the job
// creator (the exit code of a fetched result), the bridge (what completeJob hands the client) and the job-dispute
// mediator (what it checks the delivery against).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { hexlify } from 'ethers'
import { inlineOutput } from '../../protocols/contract-job/index.ts'

/** The result's exit code; a directory without an exitCode file (a module that wrote none) counts as -1. */
export async function resultExitCode (dir: string): Promise<number> {
  const text = await readFile(join(dir, 'exitCode'), 'utf8').catch(() => '-1')
  return Number(text.trim())
}

/** The inline output a contract gets (hex): stdout's first KiB; no stdout file (a module that wrote none) is empty. */
export async function contractOutput (dir: string): Promise<string> {
  const stdout = await readFile(join(dir, 'stdout')).catch(() => new Uint8Array(0))
  return hexlify(inlineOutput(stdout))
}
