// A JSON-RPC provider that retries transient failures (connection refused/reset, timeouts) with exponential
// backoff and then fails with a named error, so a dead or flaky RPC never surfaces as a raw socket error.
import { FetchRequest, JsonRpcProvider, Network, type JsonRpcPayload, type JsonRpcResult } from 'ethers'
import { RpcTimeoutError, RpcUnreachableError, transientKind } from './errors.ts'

export interface RetryOptions {
  /** Total attempts per request, including the first. */
  attempts: number
  baseDelayMs: number
  maxDelayMs: number
  /** Per-attempt request timeout. */
  timeoutMs: number
}

export const defaultRetry: RetryOptions = { attempts: 4, baseDelayMs: 100, maxDelayMs: 2000, timeoutMs: 10_000 }

export class RetryingProvider extends JsonRpcProvider {
  readonly rpcUrl: string
  readonly retry: RetryOptions

  constructor (rpcUrl: string, chainId: number, retry: Partial<RetryOptions> = {}, pollingInterval = 250) {
    const req = new FetchRequest(rpcUrl)
    const r = { ...defaultRetry, ...retry }
    req.timeout = r.timeoutMs
    // cacheTimeout -1: ethers otherwise replays a result (even a revert) for 250 ms, stale after a block or a
    // time jump. The chain id is pinned (staticNetwork) so ethers never probes the network on its own; ChainClient checks the
    // node's real chain id once, explicitly, and raises WrongChainError.
    super(req, Network.from(chainId), { staticNetwork: true, pollingInterval, batchMaxCount: 1, cacheTimeout: -1 })
    this.rpcUrl = rpcUrl
    this.retry = r
  }

  override async _send (payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await super._send(payload)
      } catch (err) {
        const kind = transientKind(err)
        if (kind === null) throw err
        if (attempt >= this.retry.attempts) {
          throw kind === 'timeout' ? new RpcTimeoutError(this.rpcUrl, attempt, err) : new RpcUnreachableError(this.rpcUrl, attempt, err)
        }
        const delay = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1))
        await new Promise(resolve => setTimeout(resolve, delay))
      }
    }
  }
}
