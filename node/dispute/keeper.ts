// Closing a mediation nobody answered. After the deal's mediation window anyone may call timeoutMediation: the
// result stands and the job creator's fee comes back. The provider (paid by it) and the job creator (waiting on
// it) both run this keeper for their challenged deals, so no deal stays Challenged because a mediator vanished.
import { ContractRevertError, type ChainClient } from '../chain/index.ts'
import type { Deal } from '../../protocols/eip712.ts'

export type KeeperOutcome = 'timed-out' | 'closed'

async function pause (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); reject(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Waits until the deal's mediation deadline has passed on chain and calls timeoutMediation if it is still
 * Challenged. Resolves 'closed' when someone else closed it first (a verdict, or another keeper).
 */
export async function closeUnmediated (chain: ChainClient, deal: Deal, opts: { signal?: AbortSignal, pollMs?: number } = {}): Promise<KeeperOutcome> {
  const id = chain.dealId(deal)
  for (;;) {
    opts.signal?.throwIfAborted()
    const rec = await chain.dealRecord(id)
    if (rec.state !== 'Challenged') return 'closed'
    const deadline = rec.since + deal.mediateTimeout
    const now = (await chain.provider.getBlock('latest'))!.timestamp
    if (now > deadline) {
      try {
        await chain.timeoutMediation(deal)
        return 'timed-out'
      } catch (err) {
        if (!(err instanceof ContractRevertError)) throw err
        // DealClosed / WrongState: a verdict or another keeper got there first; MediationWindowOpen: clock skew
      }
    }
    await pause(Math.min(opts.pollMs ?? 5000, Math.max(100, (deadline - now + 1) * 1000)), opts.signal)
  }
}
