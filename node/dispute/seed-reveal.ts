// A party's part in a committee dispute's draw (docs/mediation.md, "Unbiasable draws"): reveal the secret its offer
// committed to, once the dispute's block is mined, retrying until the seed phase ends; then wait for the draw. A
// seed phase that ended without both reveals is closed here too (anyone may), since no mediator was drawn to do it.
// The secret is derived from the node's key (protocols/settlement/seed.ts), so a restarted node reveals the same one.
import type { ChainClient } from '../chain/index.ts'
import type { Deal } from '../../protocols/eip712.ts'

export interface OwnSeed {
  /** true: the provider's seed (its ResourceOffer); false: the job creator's (its JobOffer) */
  provider: boolean
  secret: string
  /** the offer's encoded field words (seed.ts `offerWords`) */
  words: string[]
}

/** Errors after which revealing again cannot help: already in, no seed phase, or the phase is over. */
const SETTLED = new Set(['SeedAlreadyRevealed', 'NotACommitteeDispute', 'WrongState', 'DealClosed', 'UnknownDeal', 'SeedRevealClosed', 'SeedMismatch'])

/**
 * Reveals `seed` for `deal` (unless the chain shows it revealed) and resolves once the committee is drawn or the deal
 * has no seed phase any more; closes a phase that ended without both reveals. Transient failures (RPC, nonce) are
 * retried every `pollMs` until the phase ends.
 */
export async function revealOwnSeed (chain: ChainClient, dealId: string, deal: Deal, seed: OwnSeed, opts: { signal?: AbortSignal, pollMs?: number, onError?: (err: unknown) => void } = {}): Promise<'drawn' | 'closed'> {
  const pollMs = opts.pollMs ?? 1000
  const revealWindow = (await chain.committeeRules()).revealWindow
  let closing = false
  for (;;) {
    opts.signal?.throwIfAborted()
    const phase = await chain.seedPhase(dealId)
    if (phase === null) return (await chain.committee(dealId, deal)) !== null ? 'drawn' : 'closed'
    const mine = seed.provider ? phase.providerRevealed : phase.jobCreatorRevealed
    const latest = await chain.provider.getBlock('latest')
    const since = (await chain.dealRecord(dealId)).since
    const over = latest !== null && (latest.timestamp > since + revealWindow || latest.number > phase.seedBlock + 256)
    try {
      if (over && !closing) {
        closing = true
        await chain.finalizeCommittee(deal)
      } else if (!mine && !over) {
        await chain.revealSeed(deal, seed.provider, seed.secret, seed.words)
      }
    } catch (err) {
      const reason = (err as { reason?: string }).reason
      if (reason === 'SeedMismatch') throw err // our secret is not the one the offer committed to: nothing to retry
      // WrongFirstSeed: the other party's reveal landed in the same block as ours, which passed no first secret;
      // the next round reads it and sends again
      if (reason === undefined || (!SETTLED.has(reason) && reason !== 'WrongFirstSeed')) opts.onError?.(err)
      closing = false
    }
    await sleep(pollMs, opts.signal)
  }
}

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); reject(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
