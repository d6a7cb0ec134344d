// What the CLI needs to know about the devnet without loading it (the devnet module pulls in the contracts, Docker
// and a whole node): its id, which dev key plays which part, and the ready marker a running devnet leaves.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { lilypadHome } from './config/load.ts'

export const DEVNET_ID = 'devnet'
export const DEVNET_CHAIN_ID = 1337

/** Which anvil dev key plays which part (public keys: devnets only). */
export const DEVNET_KEYS = { admin: 0, user: 1, provider: 2, mediator: 3, bootstrap: 4, provider2: 5, user2: 6, bridge: 7 } as const
/**
 * The mediators' keys when a devnet runs several (`lilypad devnet --mediators N`): the mediator's, then anvil's keys
 * from #10 (#8 and #9 stay free for tests that need a key no devnet node uses).
 */
export const DEVNET_MEDIATOR_KEYS: readonly number[] = [DEVNET_KEYS.mediator, 10, 11, 12, 13, 14, 15, 16, 17]

export interface ReadyMarker { pid: number, rpcUrl: string, readyMs: number, startedAt: string }

export function devnetDir (home = lilypadHome()): string { return join(home, 'devnet') }
export function readyMarkerPath (home = lilypadHome()): string { return join(devnetDir(home), 'ready.json') }

/** The running devnet's marker, if its process is alive. */
export async function runningDevnet (home = lilypadHome()): Promise<ReadyMarker | undefined> {
  let m: ReadyMarker
  try { m = JSON.parse(await readFile(readyMarkerPath(home), 'utf8')) as ReadyMarker } catch { return undefined }
  try { process.kill(m.pid, 0) } catch { return undefined }
  return m
}
