// The job creator's (or provider's) side of a dispute: find the drawn mediator, or every member of the drawn
// committee, and push the case.
import { ZeroAddress } from 'ethers'
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
 * The zero address is a committee's dispute (`DealChallenged` names no single mediator): the case goes to every
 * member the Market drew, and it is handed off once one member took it (the others pull it if a push fails).
 * The case stays remembered by `disputes`, so a mediator can still pull it if every push failed.
 * A committee is drawn only once both parties have revealed their seeds: the parties' lifecycles hand a committee's
 * case off only after the draw (their 'reveal-seed' action comes first, node/dispute/seed-reveal.ts).
 */
export async function handOffDispute (disputes: DisputeService, mediator: string, c: DisputeCase, opts: LocateOptions & { signal?: AbortSignal }): Promise<void> {
  disputes.remember(c)
  if (mediator.toLowerCase() !== ZeroAddress) {
    await pushTo(disputes, mediator, c, opts)
    return
  }
  const members = (await opts.chain.committee(c.dealId, c.deal.value))?.members ?? []
  const failures: Error[] = []
  for (const m of members) {
    try { await pushTo(disputes, m, c, opts) } catch (err) { failures.push(err as Error) }
  }
  if (members.length === 0) throw new MediatorUnreachableError(`deal ${c.dealId} has no committee on chain to hand its case to`)
  if (failures.length === members.length) throw failures.find(e => e instanceof DisputeRefusedError) ?? new MediatorUnreachableError(`no member of the committee could be reached (${failures.map(e => e.message).join('; ')})`)
}

async function pushTo (disputes: DisputeService, mediator: string, c: DisputeCase, opts: LocateOptions & { signal?: AbortSignal }): Promise<void> {
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
