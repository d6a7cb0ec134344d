// A lifecycle action's chain transaction, as the roles perform it: the outcome is an event for the lifecycle.
import { ContractRevertError } from '../chain/errors.ts'

/**
 * Sends one transaction. Mined: `ok`. Reverted for good: `failed(reason)`, which the lifecycle records. Reverted
 * for a reason in `retryOn` (a window the chain's clock has not reached yet), or failed any other way (RPC, nonce):
 * thrown, so the driver tries again until the action's deadline.
 */
export async function chainCall<E> (send: () => Promise<unknown>, ok: E, failed: (reason: string) => E, retryOn: readonly string[] = []): Promise<E> {
  try {
    await send()
  } catch (err) {
    if (!(err instanceof ContractRevertError) || retryOn.includes(err.reason)) throw err
    return failed(err.reason)
  }
  return ok
}
