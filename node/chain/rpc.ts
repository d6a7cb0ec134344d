// A JSON-RPC provider that retries transient failures (connection refused/reset, timeouts) with exponential
// backoff and then fails with a named error, so a dead or flaky RPC never surfaces as a raw socket error. A chain
// with several RPC URLs (the network file's `rpcUrls`) fails over: when one URL's attempts are spent, the request
// goes on to the next (its chain id checked first), which then serves every later request until it fails in turn.
import { FetchRequest, JsonRpcProvider, Network, type JsonRpcPayload, type JsonRpcResult } from 'ethers'
import { RpcTimeoutError, RpcUnreachableError, WrongChainError, transientKind } from './errors.ts'
import type { LilypadMetrics } from '../observability/metrics.ts'
import { rpcUrlsOf } from '../config/chains.ts'

export interface RetryOptions {
  /** Total attempts per request, including the first. */
  attempts: number
  baseDelayMs: number
  maxDelayMs: number
  /** Per-attempt request timeout. */
  timeoutMs: number
}

export const defaultRetry: RetryOptions = { attempts: 4, baseDelayMs: 100, maxDelayMs: 2000, timeoutMs: 10_000 }

/**
 * A provider for the network's RPC, once the RPC has said it serves the network's chain (WrongChainError
 * otherwise, and the provider is destroyed). Every opener of the chain goes through here.
 */
export async function openRpc (network: { rpcUrl: string, rpcUrls?: string[], chainId: number }, opts: { retry?: Partial<RetryOptions>, pollingIntervalMs?: number, metrics?: LilypadMetrics } = {}): Promise<RetryingProvider> {
  const provider = new RetryingProvider(rpcUrlsOf(network), network.chainId, opts.retry, opts.pollingIntervalMs, opts.metrics)
  try {
    const actual = Number(await provider.send('eth_chainId', []))
    if (actual !== network.chainId) throw new WrongChainError(network.chainId, actual)
    return provider
  } catch (err) {
    provider.destroy()
    throw err
  }
}

export class RetryingProvider extends JsonRpcProvider {
  /** every endpoint, in failover order */
  readonly rpcUrls: readonly string[]
  readonly retry: RetryOptions
  readonly #metrics: LilypadMetrics | undefined
  readonly #chainId: number
  /** index of the endpoint requests go to */
  #current = 0
  /** endpoints whose chain id was checked (the first by openRpc, the others before their first use) */
  readonly #checked = new Set<number>([0])
  /** endpoints that serve another chain, with the chain they serve */
  readonly #wrongChain = new Map<number, number>()
  /** times a request moved on to the next endpoint */
  failovers = 0

  constructor (rpcUrl: string | readonly string[], chainId: number, retry: Partial<RetryOptions> = {}, pollingInterval = 250, metrics?: LilypadMetrics) {
    const urls = typeof rpcUrl === 'string' ? [rpcUrl] : [...rpcUrl]
    if (urls.length === 0) throw new RangeError('an RPC provider needs at least one URL')
    const req = new FetchRequest(urls[0])
    const r = { ...defaultRetry, ...retry }
    req.timeout = r.timeoutMs
    // cacheTimeout -1: ethers otherwise replays a result (even a revert) for 250 ms, stale after a block or a
    // time jump. The chain id is pinned (staticNetwork) so ethers never probes the network on its own; ChainClient checks the
    // node's real chain id once, explicitly, and raises WrongChainError.
    super(req, Network.from(chainId), { staticNetwork: true, pollingInterval, batchMaxCount: 1, cacheTimeout: -1 })
    this.rpcUrls = urls
    this.#chainId = chainId
    this.retry = r
    this.#metrics = metrics
  }

  /** the endpoint requests go to now */
  get rpcUrl (): string { return this.rpcUrls[this.#current] }

  override _getConnection (): FetchRequest {
    const req = new FetchRequest(this.rpcUrl)
    req.timeout = this.retry.timeoutMs
    return req
  }

  #pending = 0
  #idle: Array<() => void> = []

  /**
   * Resolves once no request is in flight (bounded by `timeoutMs`). ethers sends some requests un-awaited —
   * eth_uninstallFilter after a listener is removed — and destroy() would turn those into unhandled rejections.
   */
  async settle (timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      // a request queued by a promise callback shows up only after the microtasks run
      await new Promise(resolve => setImmediate(resolve))
      if (this.#pending === 0 || Date.now() > deadline) return
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, Math.max(0, deadline - Date.now()))
        this.#idle.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  // counted where ethers queues a request (before its batch stall), which is what destroy() cancels
  override async send (method: string, params: unknown[] | Record<string, unknown>): Promise<unknown> {
    this.#pending++
    try {
      return await super.send(method, params)
    } finally {
      if (--this.#pending === 0) for (const fn of this.#idle.splice(0)) fn()
    }
  }

  override async _send (payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    // each endpoint at most once per request, starting with the one in use
    let at = this.#current
    let tried = 1
    for (;;) {
      try {
        return await this.#sendRetrying(payload)
      } catch (err) {
        let last = err
        for (;;) {
          // an endpoint down, or one serving another chain: on to the next, while there is one
          if (!(isUnreachable(last) || last instanceof WrongChainError) || tried >= this.rpcUrls.length) throw last
          tried++
          at = (at + 1) % this.rpcUrls.length
          try { await this.#switchTo(at); break } catch (e) { last = e }
        }
      }
    }
  }

  /**
   * Makes endpoint `i` the one in use, once it said it serves our chain: one that does not (WrongChainError) or
   * does not answer (RpcUnreachableError) is not switched to, and one serving another chain is never asked again.
   */
  async #switchTo (i: number): Promise<void> {
    const wrong = this.#wrongChain.get(i)
    if (wrong !== undefined) throw new WrongChainError(this.#chainId, wrong)
    if (!this.#checked.has(i)) {
      const req = new FetchRequest(this.rpcUrls[i])
      req.timeout = this.retry.timeoutMs
      req.body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] })
      req.setHeader('content-type', 'application/json')
      let actual: number
      try {
        const res = await req.send()
        res.assertOk()
        actual = Number((res.bodyJson as { result?: string }).result)
      } catch (err) {
        throw new RpcUnreachableError(this.rpcUrls[i], 1, err)
      }
      if (actual !== this.#chainId) {
        this.#wrongChain.set(i, actual)
        throw new WrongChainError(this.#chainId, actual)
      }
      this.#checked.add(i)
    }
    this.#current = i
    this.failovers++
    this.#metrics?.chainRetries.inc({ method: 'failover' })
  }

  async #sendRetrying (payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await super._send(payload)
      } catch (err) {
        const kind = transientKind(err)
        if (kind === null) throw err
        if (attempt >= this.retry.attempts) {
          throw kind === 'timeout' ? new RpcTimeoutError(this.rpcUrl, attempt, err) : new RpcUnreachableError(this.rpcUrl, attempt, err)
        }
        this.#metrics?.chainRetries.inc({ method: Array.isArray(payload) ? 'batch' : payload.method })
        const delay = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1))
        await new Promise(resolve => setTimeout(resolve, delay))
      }
    }
  }
}

function isUnreachable (err: unknown): boolean {
  return err instanceof RpcUnreachableError || err instanceof RpcTimeoutError
}
