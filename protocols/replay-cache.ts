// Bounded memory of messages already accepted: by id (duplicate) and by signer+nonce (a nonce reused for
// different content). Entries leave when their message expires or, under pressure, oldest first.
export interface ReplayCacheOptions { capacity?: number }

interface Entry { id: string, signerNonce: string, expiry: bigint }

export class ReplayCache {
  private readonly capacity: number
  private readonly byId = new Map<string, Entry>()
  private readonly bySignerNonce = new Map<string, Entry>()

  constructor (options: ReplayCacheOptions = {}) {
    this.capacity = options.capacity ?? 100_000
  }

  get size (): number { return this.byId.size }

  /** 'duplicate' if this id was seen, 'replayed' if the signer used this nonce for something else, else undefined. */
  check (id: string, signer: string, nonce: bigint, now: bigint): 'duplicate' | 'replayed' | undefined {
    const e = this.byId.get(id)
    if (e !== undefined && e.expiry > now) return 'duplicate'
    const s = this.bySignerNonce.get(`${signer.toLowerCase()}:${nonce}`)
    if (s !== undefined && s.expiry > now) return 'replayed'
    return undefined
  }

  add (id: string, signer: string, nonce: bigint, expiry: bigint, now: bigint): void {
    const entry: Entry = { id, signerNonce: `${signer.toLowerCase()}:${nonce}`, expiry }
    this.delete(this.byId.get(id))
    this.delete(this.bySignerNonce.get(entry.signerNonce))
    this.byId.set(id, entry)
    this.bySignerNonce.set(entry.signerNonce, entry)
    if (this.byId.size > this.capacity) this.prune(now)
  }

  private delete (e: Entry | undefined): void {
    if (e === undefined) return
    this.byId.delete(e.id)
    this.bySignerNonce.delete(e.signerNonce)
  }

  /** Drops expired entries; if still full, the oldest inserted go (Map iteration is insertion order). */
  prune (now: bigint): void {
    for (const e of this.byId.values()) if (e.expiry <= now) this.delete(e)
    for (const e of this.byId.values()) {
      if (this.byId.size <= this.capacity) break
      this.delete(e)
    }
  }
}
