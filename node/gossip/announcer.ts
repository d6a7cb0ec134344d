// A provider's announcer: signs one ResourceOffer per free slot and gossips them on a heartbeat and
// whenever its free capacity changes. Every announcement has a fresh nonce (a strictly increasing
// millisecond timestamp, which the matcher reads as the offer's age) and expiry, and carries the provider's
// signed binding of its peer id (protocols/peer-binding.ts). It remembers what it issued, so the negotiation
// side can recognise its own offers by id.
//
// Announcing is rate-limited by a token bucket: however often capacity changes or someone asks (a peer toggling
// its subscription made a provider re-sign and re-gossip 18 times a second), a short burst goes out at once and
// then at most one announcement per `minIntervalMs`; requests beyond are coalesced into one, which publishes the
// state as it is then (withdrawals of slots taken meanwhile included). Time comes from an injected clock.
import type { Signer } from 'ethers'
import { idOf, signMessage, type LilypadDomain, type MachineSpec, type ResourceOffer } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { signWithdrawal, type OfferWithdrawal } from '../../protocols/withdrawal.ts'
import { signPeerBinding, type PeerBindingProof } from '../../protocols/peer-binding.ts'
import { systemClock, type Clock, type Timer } from '../../core/clock.ts'
import { RateLimit } from '../../core/rate-limit.ts'

export interface OfferTemplate {
  spec: MachineSpec
  modules: string[]
  price: bigint
  collateral: bigint
  mediators: string[]
}

export interface AnnouncerInit {
  domain: LilypadDomain
  signer: Signer
  /** offer terms per slot */
  template: (slot: number) => OfferTemplate
  freeSlots: number[]
  /** heartbeat (default 10 s) */
  intervalMs?: number
  ttlSec?: number
  /** sustained: at most one announcement per this many ms (default 1,000; 0 = no limit) */
  minIntervalMs?: number
  /** announcements that may go out back to back before the limit applies (default 3) */
  burst?: number
  /** the peer id job creators should dial (default: the publisher's) */
  peerId?: string
  clock?: Clock
}

export interface OfferPublisher {
  publishResourceOffer: (env: Envelope<'ResourceOffer'>) => Promise<void>
  publishWithdrawal: (env: Envelope<'OfferWithdrawal'>) => Promise<void>
  /** the publishing node's peer id (GossipService has it) */
  readonly peerId?: string
}

export interface IssuedOffer { offer: ResourceOffer, signature: string }

/** Bindings are signed for this long and renewed when less than half is left. */
const BINDING_TTL_SEC = 12n * 3600n

export class ResourceOfferAnnouncer {
  private readonly publisher: OfferPublisher
  private readonly init: AnnouncerInit
  private readonly clock: Clock
  private free: number[]
  /** slots announced as free by the last announcement that are not free any more: withdrawn at the next one */
  private toWithdraw = new Set<number>()
  private heartbeat: Timer | undefined
  private deferred: Timer | undefined
  private waiting: Array<{ resolve: (e: Array<Envelope<'ResourceOffer'>>) => void, reject: (e: Error) => void }> = []
  private readonly limit: RateLimit | undefined
  private lastNonce = 0n
  private readonly issued = new Map<string, IssuedOffer>()
  private binding: (PeerBindingProof & { peerId: string }) | undefined
  private running = false
  private inflight: Promise<unknown> = Promise.resolve()
  /** announcements published */
  announcements = 0
  /** requests folded into a later announcement by the rate limit */
  coalesced = 0

  constructor (publisher: OfferPublisher, init: AnnouncerInit) {
    this.publisher = publisher
    this.init = init
    this.clock = init.clock ?? systemClock
    this.free = [...init.freeSlots]
    const interval = init.minIntervalMs ?? 1000
    this.limit = interval > 0 ? new RateLimit(this.clock, { burst: init.burst ?? 3, perSecond: 1000 / interval }) : undefined
  }

  private get nowSec (): bigint { return BigInt(Math.floor(this.clock.now() / 1000)) }

  start (): void {
    if (this.running) return
    this.running = true
    void this.announce().catch(() => { /* stopped before it went out */ })
  }

  async stop (): Promise<void> {
    this.running = false
    this.heartbeat?.cancel()
    this.deferred?.cancel()
    this.heartbeat = undefined
    this.deferred = undefined
    for (const w of this.waiting.splice(0)) w.reject(new Error('announcer stopped'))
    await this.inflight.catch(() => { /* its caller saw the error */ })
  }

  /** Capacity changed: slots no longer free are withdrawn and the free ones re-announced, as soon as the rate limit allows. */
  setFreeSlots (slots: number[]): void {
    for (const s of this.free) if (!slots.includes(s)) this.toWithdraw.add(s)
    for (const s of slots) this.toWithdraw.delete(s)
    this.free = [...slots]
    if (!this.running) return
    void this.announce().catch(() => { /* stopped before it went out */ })
  }

  /** An offer this provider issued and that has not expired. */
  ownOffer (id: string, now: bigint): IssuedOffer | undefined {
    const o = this.issued.get(id)
    return o !== undefined && o.offer.expiry > now ? o : undefined
  }

  /** The newest unexpired offer of each free slot, with the bound peer hint (served to peers that sync their order book). */
  liveOffers (now: bigint): Array<Envelope<'ResourceOffer'>> {
    const newest = new Map<number, IssuedOffer>()
    for (const o of this.issued.values()) {
      if (o.offer.expiry <= now || !this.free.includes(o.offer.slot)) continue
      const cur = newest.get(o.offer.slot)
      if (cur === undefined || cur.offer.nonce < o.offer.nonce) newest.set(o.offer.slot, o)
    }
    const b = this.binding
    const hint = b !== undefined && b.expiry > now ? { peer: b.peerId, binding: { expiry: b.expiry, signature: b.signature } } : {}
    return [...newest.values()].map(o => ({ kind: 'ResourceOffer', value: o.offer, signature: o.signature, ...hint }))
  }

  /**
   * Signs and publishes one offer per free slot (withdrawing slots taken since the last one); resolves with the
   * envelopes. Inside the rate limit's window the request joins the one scheduled at the window's end.
   */
  async announce (): Promise<Array<Envelope<'ResourceOffer'>>> {
    if (!this.running) return []
    if (this.deferred === undefined && (this.limit === undefined || this.limit.take('announce'))) return await this.run()
    this.coalesced++
    const p = new Promise<Array<Envelope<'ResourceOffer'>>>((resolve, reject) => { this.waiting.push({ resolve, reject }) })
    this.deferred ??= this.clock.setTimeout(() => {
      this.deferred = undefined
      this.limit?.take('announce')
      const waiters = this.waiting.splice(0)
      this.run().then(e => { for (const w of waiters) w.resolve(e) }, err => { for (const w of waiters) w.reject(err as Error) })
    }, this.limit?.waitMs('announce') ?? 0)
    return await p
  }

  private async run (): Promise<Array<Envelope<'ResourceOffer'>>> {
    // the heartbeat counts from the last announcement, whatever caused it
    this.heartbeat?.cancel()
    if (this.running) this.heartbeat = this.clock.setTimeout(() => { void this.announce().catch(() => { /* stopped */ }) }, this.init.intervalMs ?? 10_000)
    const run = this.inflight.catch(() => {}).then(async () => await this.announceNow())
    this.inflight = run
    return await run
  }

  private nextNonce (): bigint {
    const t = BigInt(Math.floor(this.clock.now())) * 1000n
    this.lastNonce = t > this.lastNonce ? t : this.lastNonce + 1n
    return this.lastNonce
  }

  private async peerHint (provider: string, now: bigint): Promise<Pick<Envelope, 'peer' | 'binding'>> {
    const peerId = this.init.peerId ?? this.publisher.peerId
    if (peerId === undefined) return {}
    if (this.binding === undefined || this.binding.peerId !== peerId || this.binding.expiry - now < BINDING_TTL_SEC / 2n) {
      const expiry = now + BINDING_TTL_SEC
      const signature = await signPeerBinding(this.init.domain, { account: provider, peerId, expiry }, this.init.signer)
      this.binding = { peerId, expiry, signature }
    }
    return { peer: peerId, binding: { expiry: this.binding.expiry, signature: this.binding.signature } }
  }

  private async announceNow (): Promise<Array<Envelope<'ResourceOffer'>>> {
    if (!this.running) return []
    const provider = await this.init.signer.getAddress()
    const now = this.nowSec
    const ttl = BigInt(this.init.ttlSec ?? 60)
    for (const [id, o] of this.issued) if (o.offer.expiry <= now) this.issued.delete(id)
    for (const slot of [...this.toWithdraw]) {
      this.toWithdraw.delete(slot)
      const w: OfferWithdrawal = { provider, slot, expiry: now + ttl, nonce: this.nextNonce() }
      const signature = await signWithdrawal(this.init.domain, w, this.init.signer)
      try { await this.publisher.publishWithdrawal({ kind: 'OfferWithdrawal', value: w, signature }) } catch { /* no peers yet: the offer expires anyway */ }
    }
    const hint = await this.peerHint(provider, now)
    const out: Array<Envelope<'ResourceOffer'>> = []
    for (const slot of this.free) {
      const offer: ResourceOffer = { provider, slot, ...this.init.template(slot), expiry: now + ttl, nonce: this.nextNonce() }
      const signature = await signMessage('ResourceOffer', this.init.domain, offer, this.init.signer)
      this.issued.set(idOf('ResourceOffer', this.init.domain, offer), { offer, signature })
      const env: Envelope<'ResourceOffer'> = { kind: 'ResourceOffer', value: offer, signature, ...hint }
      out.push(env)
      try { await this.publisher.publishResourceOffer(env) } catch { /* no peers yet (NoPeersSubscribedToTopic): the next heartbeat tries again */ }
    }
    this.announcements++
    return out
  }
}
