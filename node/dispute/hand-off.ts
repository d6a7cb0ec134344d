// The job creator's (or provider's) side of a dispute: find the drawn mediator and push it the case.
import type { DisputeCase } from '../../protocols/dispute/index.ts'
import { DisputeRefusedError, type DisputeService } from './dispute-service.ts'
import { locatePeer, type LocateOptions } from './locate.ts'

export class MediatorUnreachableError extends Error {
  static override name = 'MediatorUnreachableError'
  override name = MediatorUnreachableError.name
}

/**
 * Pushes `c` to `mediator` (an Ethereum address), trying each place it can be found. Resolves once the mediator
 * acknowledged; a refusal (DisputeRefusedError) is final, since another route would reach the same mediator.
 * The case stays remembered by `disputes`, so the mediator can still pull it if every push failed.
 */
export async function handOffDispute (disputes: DisputeService, mediator: string, c: DisputeCase, opts: LocateOptions & { signal?: AbortSignal }): Promise<void> {
  disputes.remember(c)
  const targets = await locatePeer(mediator, { ...opts, roles: opts.roles ?? ['mediator'] })
  const failures: string[] = []
  for (const t of targets) {
    opts.signal?.throwIfAborted()
    try {
      await disputes.push(t, c, opts.signal)
      return
    } catch (err) {
      if (err instanceof DisputeRefusedError) throw err
      failures.push(`${Array.isArray(t) ? t.map(String).join(',') : t}: ${(err as Error).name}`)
    }
  }
  throw new MediatorUnreachableError(`mediator ${mediator} could not be reached (${failures.join('; ') || 'no peer known'})`)
}
