// The CLI as a client of the node that owns its key: found through the key's lock and the node's api.json
// (node/api/discovery.ts), called through the SDK. The node's named errors become messages with hints.
import { UserError } from './errors.ts'
import type { Lilypad, JobProgress } from '../sdk/index.ts'
import type { Resolved } from './context.ts'
import type { Progress } from './progress.ts'

export interface NodeClient { lp: Lilypad, resolved: Resolved }

/** The running node for the network and key, if one answers. */
export async function runningNode (resolved: Resolved): Promise<Lilypad | undefined> {
  const { Lilypad } = await import('../sdk/index.ts')
  const { lilypadHome } = await import('./context.ts')
  return await Lilypad.find({ home: lilypadHome(), network: resolved.loaded.network.networkId, address: resolved.wallet.address })
}

/** The running node, or a UserError saying how to start one. */
export async function requireNode (network: string | undefined): Promise<NodeClient> {
  const { resolveNetworkAndKey } = await import('./context.ts')
  const resolved = await resolveNetworkAndKey(network)
  const lp = await runningNode(resolved)
  if (lp === undefined) {
    throw new UserError(`no node runs for ${resolved.wallet.address} on ${resolved.loaded.network.networkId}`, {
      hint: `jobs live in the node that owns the key: start it with "lilypad node --roles none${network !== undefined ? ` --network ${network}` : ''}" (jobs of "lilypad run" without a node are not kept)`
    })
  }
  return { lp, resolved }
}

/** A failure from the node's API (a LilypadError) → a message with a hint: the node's own, else the CLI's for that name. */
export async function fromApi (err: unknown): Promise<unknown> {
  const e = err as Error & { hint?: string, status?: number }
  if (!(err instanceof Error) || e.name === 'UserError' || typeof e.status !== 'number') return err
  const exitCode = e.name === 'ValidationError' || e.name === 'BadAmountError' || e.name === 'UnknownChainError' ? 2 : 1
  if (e.hint !== undefined) return new UserError(e.message, { hint: e.hint, exitCode, cause: err })
  const { toUserError } = await import('./context.ts')
  const mapped = toUserError(err)
  if ((mapped as Error)?.name === 'UserError') return mapped
  return new UserError(`${e.name}: ${e.message}`, { exitCode, cause: err })
}

/** A node event, shown as `lilypad run` shows the job creator's own progress. */
export function render (progress: Progress, e: JobProgress): void {
  switch (e.type) {
    case 'phase': progress.phase(e.data.phase, e.data.detail); break
    case 'tx': progress.tx(e.data.what, e.data.hash, e.data.gasUsed); break
    case 'note': progress.note(e.data.message); break
    case 'log': if (!progress.json) process.stderr.write(e.data.data); break
  }
}
