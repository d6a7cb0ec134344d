// The canaries races deferred (canary.ts, judgeNoDeal's `race`): a race does not excuse a canary, it owes the key a
// retry with its next round (planRetries). The validator and the simulation keep the same book; the validator keeps
// it in its data dir, so a restart does not forgive what a key owes (toJson / fromJson).

export class InvalidCanaryRetriesError extends Error {
  static override name = 'InvalidCanaryRetriesError'
  override name = InvalidCanaryRetriesError.name
  readonly hint = 'the validator\'s retry file is written by the validator only: remove it to start with no retries owed'
}

/** Retries owed per provider (lowercase address → count), as stored. */
export type CanaryRetriesJson = Record<string, number>

const ADDRESS = /^0x[0-9a-f]{40}$/

export class CanaryRetries {
  readonly #owed = new Map<string, number>()

  /** A race deferred one of the provider's canaries: it owes one more retry. */
  defer (provider: string): void {
    const p = provider.toLowerCase()
    this.#owed.set(p, (this.#owed.get(p) ?? 0) + 1)
  }

  /** Retries the provider owes. */
  owed (provider: string): number {
    return this.#owed.get(provider.toLowerCase()) ?? 0
  }

  /**
   * The provider's retries go out now (with its round's canaries): they are owed no longer — each one's outcome is
   * judged like any canary's, and a race on it is not deferred again. `sent` of them (fewer when it had no slot for
   * them) leave the book.
   */
  take (provider: string, sent: number): void {
    const p = provider.toLowerCase()
    const left = (this.#owed.get(p) ?? 0) - sent
    if (left > 0) this.#owed.set(p, left)
    else this.#owed.delete(p)
  }

  /** Providers that owe retries, sorted. */
  providers (): string[] {
    return [...this.#owed.keys()].sort()
  }

  get size (): number { return this.#owed.size }

  toJson (): CanaryRetriesJson {
    return Object.fromEntries(this.providers().map(p => [p, this.#owed.get(p) as number]))
  }

  static fromJson (x: unknown): CanaryRetries {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new InvalidCanaryRetriesError('canary retries must be an object of address → count')
    const r = new CanaryRetries()
    for (const [p, n] of Object.entries(x)) {
      if (!ADDRESS.test(p)) throw new InvalidCanaryRetriesError(`canary retries: "${p}" is not a lowercase address`)
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new InvalidCanaryRetriesError(`canary retries: ${p} owes ${String(n)}, not a positive whole number`)
      r.#owed.set(p, n)
    }
    return r
  }
}
