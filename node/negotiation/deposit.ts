// The provider's deposit check as a chain read with a deadline: ethers calls take no AbortSignal, so the read is
// raced against the signal and a stalled RPC costs the proposal a decline, not a hung stream.
export class DepositReadAbortedError extends Error {
  static override name = 'DepositReadAbortedError'
  override name = DepositReadAbortedError.name
}

/** A ProviderRole.depositOf over anything with `depositOf(account)` (node/chain ChainClient). */
export function depositReader (chain: { depositOf: (account: string) => Promise<bigint> }): (account: string, options: { signal: AbortSignal }) => Promise<bigint> {
  return async (account, { signal }) => {
    signal.throwIfAborted()
    return await new Promise<bigint>((resolve, reject) => {
      const onAbort = (): void => { reject(new DepositReadAbortedError(`deposit read for ${account} gave up: ${String((signal.reason as Error)?.message ?? signal.reason)}`)) }
      signal.addEventListener('abort', onAbort, { once: true })
      chain.depositOf(account).then(
        v => { signal.removeEventListener('abort', onAbort); resolve(v) },
        err => { signal.removeEventListener('abort', onAbort); reject(err) }
      )
    })
  }
}
