// Which nonce a job creator signs its next job offer (and so its deal) with. The Market records used nonces as a
// bitmap per job creator, 256 nonces to a storage word (`nonceBitmap[jc][nonce >> 8]`): the first agree in a word
// writes a zero slot (~17,000 gas more than one whose word is already in use). Nonces taken from one word per hour,
// and from the next words once it fills, keep a job creator's agrees on words it already paid for. A free bit is
// drawn at random, so two processes of one key (two CLI runs at once) rarely pick the same; if they do, one agree
// fails with NonceUsed and that job moves on to another provider, as after any failed agree.

/** Words a job creator may use per hour (256 nonces each). */
export const NONCE_WORDS_PER_HOUR = 1024n

/** The first nonce word of the hour `nowMs` falls in. */
export function nonceWordOf (nowMs: number): bigint {
  return BigInt(Math.floor(nowMs / 3_600_000)) * NONCE_WORDS_PER_HOUR
}

/**
 * A nonce in `word` that is free on chain (`bitmap`, the Market's nonceBitmap word) and not `taken` by a job offer of
 * ours not yet agreed, drawn with `random` ([0, 1)); undefined when the word is full.
 */
export function pickNonce (word: bigint, bitmap: bigint, taken: (nonce: bigint) => boolean, random: () => number): bigint | undefined {
  const free: bigint[] = []
  for (let bit = 0n; bit < 256n; bit++) {
    const nonce = (word << 8n) | bit
    if ((bitmap >> bit) & 1n) continue
    if (!taken(nonce)) free.push(nonce)
  }
  if (free.length === 0) return undefined
  return free[Math.min(free.length - 1, Math.floor(random() * free.length))]
}
