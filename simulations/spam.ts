// Junk offers at a high rate. Every kind of junk is real bytes run through the real gossip validator
// (protocols/gossip validateGossip: codec limits, schema, signature, expiry, replay) once when the pool is
// built; a junk message repeated later is the same bytes, which gossipsub drops by its content-hash message
// id, so the verdict per pool entry is the verdict per publication. Junk the validator accepts — validly
// signed offers from the spammers' own keys — goes through the real order book with its caps on every
// matching node, and its spammer never countersigns (some decline at once, some stay silent).
import { Wallet, getBytes } from 'ethers'
import { encodeEnvelope, type Envelope } from '../protocols/codec.ts'
import { signMessage, type LilypadDomain, type ResourceOffer } from '../protocols/eip712.ts'
import { signPeerBinding } from '../protocols/peer-binding.ts'
import { validateGossip } from '../protocols/gossip/validator.ts'
import { ReplayCache } from '../protocols/replay-cache.ts'
import type { MarketSimulation } from './market.ts'
import { Rng } from './rng.ts'

export type JunkKind = 'garbage' | 'forged' | 'expired' | 'far-expiry' | 'signed'
const WEIGHTS: Array<[JunkKind, number]> = [['garbage', 0.3], ['forged', 0.25], ['expired', 0.1], ['far-expiry', 0.1], ['signed', 0.25]]

interface PoolEntry { kind: JunkKind, verdict: string }

export interface SpamSource {
  start: (sim: MarketSimulation) => void
  /** how a spammer node answers a proposal */
  answer: (node: number) => 'silent' | 'decline' | undefined
}

export class JunkSpammer implements SpamSource {
  readonly rate: number
  private readonly pool: PoolEntry[]
  private readonly wallets: Map<number, Wallet>
  private readonly rng: Rng
  private slotCounter = 0

  private constructor (rate: number, pool: PoolEntry[], wallets: Map<number, Wallet>, seed: number) {
    this.rate = rate
    this.pool = pool
    this.wallets = wallets
    this.rng = new Rng(`spam:${seed}`)
  }

  /** Builds the junk pool: signs and validates a few real messages of every kind. */
  static async create (opts: { rate: number, spammerNodes: number[], honestProvider: string, domain: LilypadDomain, now: bigint, seed: number, perKind?: number }): Promise<{ spammer: JunkSpammer, addresses: Map<number, string> }> {
    const wallets = new Map<number, Wallet>()
    for (const n of opts.spammerNodes) {
      const key = '0x' + (BigInt(opts.seed) * 1_000_003n + BigInt(n) + 7n).toString(16).padStart(64, '0')
      wallets.set(n, new Wallet(key))
    }
    const rng = new Rng(`spam-pool:${opts.seed}`)
    const pool: PoolEntry[] = []
    const replay = new ReplayCache()
    const perKind = opts.perKind ?? 4
    const spamOffer = (w: Wallet, expiry: bigint, nonce: bigint): ResourceOffer => ({
      provider: w.address,
      slot: rng.int(1 << 30),
      spec: { cpu: 64_000, ramMb: 512_000, diskMb: 1_000_000, gpus: 8, gpuVramMb: 81_920, gpuModel: '', cudaVersion: 0 },
      modules: [],
      price: 10n ** 17n,
      collateral: 10n ** 17n,
      mediators: ['0x0000000000000000000000000000000000000001'],
      expiry,
      nonce,
      seedCommit: '0x' + '00'.repeat(32)
    })
    const validate = (bytes: Uint8Array): string => {
      try {
        validateGossip('resource-offers', bytes, { domain: opts.domain, now: opts.now, replay })
        return 'ACCEPT'
      } catch (err) {
        const e = err as { name?: string, code?: string, action?: string }
        return e.name === 'MessageValidationError' ? `${e.action as string}:${e.code as string}` : `ERROR:${e.name as string}`
      }
    }
    const spammers = [...wallets.values()]
    let nonce = 1n
    for (let i = 0; i < perKind; i++) {
      const w = spammers[i % spammers.length]
      // garbage: random bytes
      const junk = new Uint8Array(64 + rng.int(512))
      for (let k = 0; k < junk.length; k++) junk[k] = rng.int(256)
      pool.push({ kind: 'garbage', verdict: validate(junk) })
      // forged: claims an honest provider's address, signed by the spammer
      const forgedOffer = { ...spamOffer(w, opts.now + 60n, nonce++), provider: opts.honestProvider }
      const forged: Envelope<'ResourceOffer'> = { kind: 'ResourceOffer', value: forgedOffer, signature: await signMessage('ResourceOffer', opts.domain, forgedOffer, w) }
      pool.push({ kind: 'forged', verdict: validate(encodeEnvelope(forged)) })
      const expiredOffer = spamOffer(w, opts.now - 5n, nonce++)
      pool.push({ kind: 'expired', verdict: validate(encodeEnvelope({ kind: 'ResourceOffer', value: expiredOffer, signature: await signMessage('ResourceOffer', opts.domain, expiredOffer, w) })) })
      const farOffer = spamOffer(w, opts.now + 10n ** 6n, nonce++)
      pool.push({ kind: 'far-expiry', verdict: validate(encodeEnvelope({ kind: 'ResourceOffer', value: farOffer, signature: await signMessage('ResourceOffer', opts.domain, farOffer, w) })) })
      // validly signed junk carries the spammer's own peer binding (to a peer id of its choosing), as every offer the
      // mesh accepts must: that is what makes it junk the validator lets through
      const signedOffer = spamOffer(w, opts.now + 60n, nonce++)
      const peerId = `12D3KooWspammer${i}`
      const binding = { expiry: opts.now + 3600n, signature: await signPeerBinding(opts.domain, { account: w.address, peerId, expiry: opts.now + 3600n }, w) }
      pool.push({ kind: 'signed', verdict: validate(encodeEnvelope({ kind: 'ResourceOffer', value: signedOffer, signature: await signMessage('ResourceOffer', opts.domain, signedOffer, w), peer: peerId, binding })) })
      void getBytes
    }
    const addresses = new Map([...wallets].map(([n, w]) => [n, w.address]))
    return { spammer: new JunkSpammer(opts.rate, pool, wallets, opts.seed), addresses }
  }

  /** What the real validator said about each kind of junk. */
  verdicts (): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    for (const e of this.pool) (out[e.kind] ??= []).includes(e.verdict) || out[e.kind].push(e.verdict)
    return out
  }

  answer (node: number): 'silent' | 'decline' | undefined {
    if (!this.wallets.has(node)) return undefined
    return node % 2 === 0 ? 'silent' : 'decline'
  }

  start (sim: MarketSimulation): void {
    if (this.rate <= 0 || this.wallets.size === 0) return
    const nodes = [...this.wallets.keys()]
    const byKind = new Map<JunkKind, PoolEntry[]>()
    for (const e of this.pool) { const l = byKind.get(e.kind) ?? []; l.push(e); byKind.set(e.kind, l) }
    const end = sim.config.hours * 3600
    const publish = (): void => {
      if (sim.now >= end) return
      const node = nodes[this.rng.int(nodes.length)]
      let u = this.rng.next()
      let kind: JunkKind = 'garbage'
      for (const [k, w] of WEIGHTS) { if (u < w) { kind = k; break } u -= w }
      const entry = this.rng.pick(byKind.get(kind) as PoolEntry[])
      sim.metrics.spam.published++
      sim.metrics.spam.verdicts[`${kind} ${entry.verdict}`] = (sim.metrics.spam.verdicts[`${kind} ${entry.verdict}`] ?? 0) + 1
      if (entry.verdict === 'ACCEPT') {
        const w = this.wallets.get(node) as Wallet
        const now = sim.chainTime()
        const offer: ResourceOffer = {
          provider: w.address,
          slot: this.slotCounter++ % 1_000_000,
          spec: { cpu: 64_000, ramMb: 512_000, diskMb: 1_000_000, gpus: 8, gpuVramMb: 81_920, gpuModel: '', cudaVersion: 0 },
          modules: [],
          // priced just under the honest market so it ranks first
          price: sim.config.pricing.basePrice * BigInt(Math.round(500 + this.rng.int(300))) / 1000n,
          collateral: sim.config.pricing.basePrice * 2n,
          mediators: sim.mediators,
          expiry: now + BigInt(sim.config.offerTtl),
          nonce: now * 1000n + BigInt(this.slotCounter),
          seedCommit: '0x' + '00'.repeat(32)
        }
        sim.metrics.spam.deliveredToBooks++
        sim.deliverOffer(node, { offer, id: '0x' + (0xdead0000 + (this.slotCounter & 0xffff)).toString(16) + this.slotCounter.toString(16).padStart(56, '0'), signature: '0x', peer: String(node) }, 'spam')
      }
      sim.engine.after(this.rng.exp(1 / this.rate), publish)
    }
    sim.engine.after(this.rng.exp(1 / this.rate), publish)
  }
}
