// A small seeded PRNG: splitmix64 expands the seed, xoshiro128** draws. 32-bit state words keep every step in
// plain number arithmetic (Math.imul), which is far faster than BigInt and identical on every platform.

export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number | bigint | string) {
    let s = typeof seed === 'string' ? hashString(seed) : BigInt.asUintN(64, BigInt(seed))
    const words: number[] = []
    for (let i = 0; i < 2; i++) {
      // splitmix64
      s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n)
      let z = s
      z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n)
      z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn)
      z = z ^ (z >> 31n)
      words.push(Number(z & 0xffffffffn), Number(z >> 32n))
    }
    this.a = words[0] | 0
    this.b = words[1] | 0
    this.c = words[2] | 0
    this.d = words[3] | 0
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1
  }

  /** A uint32. */
  nextU32 (): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }

  /** Uniform in [0, 1) with 53 bits. */
  next (): number {
    const hi = this.nextU32() >>> 5
    const lo = this.nextU32() >>> 6
    return (hi * 67108864 + lo) / 9007199254740992
  }

  /** Integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  bernoulli (p: number): boolean {
    return p > 0 && this.next() < p
  }

  /** Exponential with the given mean. */
  exp (mean: number): number {
    return -Math.log(1 - this.next()) * mean
  }

  normal (): number {
    // Box–Muller; one value per call keeps the stream position simple to reason about.
    const u = 1 - this.next()
    const v = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** Log-normal parameterised by its median and the sigma of the underlying normal. */
  lognormal (median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal())
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]
  }

  /** An independent stream, derived deterministically from this one. */
  fork (): Rng {
    return new Rng((BigInt(this.nextU32()) << 32n) | BigInt(this.nextU32()))
  }
}

function rotl (x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

function hashString (s: string): bigint {
  // FNV-1a 64
  let h = 0xcbf29ce484222325n
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i))
    h = BigInt.asUintN(64, h * 0x100000001b3n)
  }
  return h
}

/** A stateless 32-bit mix of two integers: the same pair always gives the same value (used for per-pair draws). */
export function mix32 (x: number, y: number): number {
  let h = Math.imul(x ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(y ^ 0xc2b2ae35, 0x27d4eb2f)
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b)
  h ^= h >>> 16
  return h >>> 0
}
