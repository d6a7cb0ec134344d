// Per-key token buckets on an injected clock: what a stranger may make us do per second (serve a sync, answer a
// proposal, verify a dispute case) is bounded per peer, and the table of peers is bounded too, so a flood of new
// peer ids cannot grow memory. Pure apart from the clock it is given.
import type { Clock } from './clock.ts'

export interface RateLimitOptions {
  /** tokens a key may spend at once (burst) */
  burst: number
  /** tokens refilled per second */
  perSecond: number
  /** keys remembered at most; when full, the key idle longest is forgotten (it starts with a full bucket) */
  maxKeys?: number
}

interface Bucket { tokens: number, at: number }

export class RateLimit {
  readonly burst: number
  readonly perSecond: number
  readonly maxKeys: number
  private readonly clock: Pick<Clock, 'now'>
  // Map order = least recently used first (a key is re-inserted on every use)
  private readonly buckets = new Map<string, Bucket>()

  constructor (clock: Pick<Clock, 'now'>, options: RateLimitOptions) {
    if (!(options.burst >= 1) || !(options.perSecond > 0)) throw new RangeError('a rate limit needs burst ≥ 1 and perSecond > 0')
    this.clock = clock
    this.burst = options.burst
    this.perSecond = options.perSecond
    this.maxKeys = options.maxKeys ?? 10_000
  }

  get size (): number { return this.buckets.size }

  /** Spends `cost` tokens of `key` if it has them; false (nothing spent) when it is over its rate. */
  take (key: string, cost = 1): boolean {
    const b = this.refill(key)
    if (b.tokens < cost) return false
    b.tokens -= cost
    return true
  }

  /** Tokens `key` has now (a full bucket for a key not seen). */
  tokens (key: string): number {
    const b = this.buckets.get(key)
    if (b === undefined) return this.burst
    return Math.min(this.burst, b.tokens + (this.clock.now() - b.at) * this.perSecond / 1000)
  }

  /** Milliseconds until `key` has `cost` tokens again (0 when it has them now). */
  waitMs (key: string, cost = 1): number {
    const have = this.tokens(key)
    return have >= cost ? 0 : Math.ceil((cost - have) * 1000 / this.perSecond)
  }

  private refill (key: string): Bucket {
    const now = this.clock.now()
    let b = this.buckets.get(key)
    if (b === undefined) {
      b = { tokens: this.burst, at: now }
    } else {
      this.buckets.delete(key)
      b.tokens = Math.min(this.burst, b.tokens + Math.max(0, now - b.at) * this.perSecond / 1000)
      b.at = now
    }
    this.buckets.set(key, b)
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string)
    return b
  }
}
