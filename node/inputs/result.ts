// A job whose inputs are at fault (too large, unreachable, a wrong checksum, a path the sandbox refuses) did not
// fail for the provider: it ran as far as its inputs let it. Its result says so, in the executor's layout, with
// only what a re-run under the same limits writes again (the error's name, summary and hint), so the job creator
// learns why at once and pays for the work, and a mediator that re-runs the job reaches the same CID. A provider
// that had to drop such a job instead would forfeit its collateral to whoever sent the bad input.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { OutputSpec } from '../modules/spec.ts'
import type { InputError } from './errors.ts'

/** Docker's exit code for "the container could not be run as asked" (`docker run` itself failed). */
export const INPUT_ERROR_EXIT_CODE = 125

export async function writeInputErrorResult (resultDir: string, err: InputError, outputs: readonly OutputSpec[]): Promise<void> {
  await mkdir(resultDir, { recursive: true })
  // the executor's layout: one directory per declared output (names it would refuse are left out, never joined)
  for (const o of outputs) if (/^[\w.-]+$/.test(o.name) && o.name !== '.' && o.name !== '..' && !['stdout', 'stderr', 'exitCode'].includes(o.name)) await mkdir(join(resultDir, o.name), { recursive: true })
  await writeFile(join(resultDir, 'stdout'), '')
  await writeFile(join(resultDir, 'stderr'), `lilypad: the job's inputs were not staged: ${err.name}: ${err.summary}\nhint: ${err.hint}\n`)
  await writeFile(join(resultDir, 'exitCode'), String(INPUT_ERROR_EXIT_CODE))
}

/** Whether an error from staging is the job's own (its result) rather than the provider's (its failure). */
export function isJobInputFault (err: unknown): err is InputError {
  return (err as { jobFault?: unknown })?.jobFault === true && typeof (err as { summary?: unknown }).summary === 'string'
}
