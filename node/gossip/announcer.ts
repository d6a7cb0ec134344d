// A provider's announcer: signs one ResourceOffer per free slot and gossips it. When to announce and withdraw —
// the heartbeat, capacity changes, peers asking, and the rate limit on re-announcing one slot — is the shared
// AnnounceSchedule (core/policy/announce.ts), which the simulator runs too; this shell signs and publishes what it
// plans. Every announcement has a fresh nonce (a strictly increasing millisecond timestamp, which the matcher reads
// as the offer's age) and expiry, and carries the provider's signed binding of its peer id
// (protocols/peer-binding.ts), without which gossip and sync refuse it. It remembers what it issued, so the
// negotiation side recognises its own offers. A booked slot is withdrawn at once and then, on every heartbeat,
// re-announced as busy — a fresh offer and a withdrawal with the next nonce — so order books keep showing it as busy
// rather than forgetting it (protocols/order-book.ts).
import type { Signer } from 'ethers'
import { idOf, signMessage, type LilypadDomain, type MachineSpec, type ResourceOffer } from '../../protocols/eip712.ts'
import { deriveSeedSecret, seedCommitOf } from '../../protocols/settlement/seed.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { signWithdrawal, type OfferWithdrawal } from '../../protocols/withdrawal.ts'
import { signPeerBinding, type PeerBindingProof } from '../../protocols/peer-binding.ts'
import { AnnounceSchedule, type AnnouncePlan } from '../../core/policy/announce.ts'
import { systemClock, type Clock, type Timer } from '../../core/clock.ts'

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
  intervalMs?: number
  ttlSec?: number
  /** a slot is re-announced at most once per this span (default 1 s) */
  minGapMs?: number
  clock?: Clock
  /** the peer id job creators should dial (default: the publisher's) */
  peerId?: string
  /** a failed publication (no peers yet, a stopped pubsub): reported, never thrown */
  onError?: (err: unknown, what: string) => void
}

export interface OfferPublisher {
  publishResourceOffer: (env: Envelope<'ResourceOffer'>) => Promise<void>
  publishWithdrawal: (env: Envelope<'OfferWithdrawal'>) => Promise<void>
  /** the publishing node's peer id (GossipService has it) */
  readonly peerId?: string
}

export interface IssuedOffer { offer: ResourceOffer, signature: string }

/** A booked slot as sync passes it on: its last offer and the withdrawal that marks it busy. */
export interface BusySlot { offer: Envelope<'ResourceOffer'>, withdrawal: Envelope<'OfferWithdrawal'> }

/** Bindings are signed for this long and renewed when less than half is left. */
const BINDING_TTL_SEC = 12n * 3600n

export class ResourceOfferAnnouncer {
  private readonly publisher: OfferPublisher
  private readonly init: AnnouncerInit
  private readonly clock: Clock
  readonly schedule: AnnounceSchedule<IssuedOffer>
  private timer: Timer | undefined
  private lastNonce = 0n
  private running = false
  private binding: (PeerBindingProof & { peerId: string }) | undefined
  private inflight: Promise<unknown> = Promise.resolve()
  /** each slot's newest offer, and the newest withdrawal of the booked ones */
  private readonly lastOffer = new Map<number, Envelope<'ResourceOffer'>>()
  private readonly lastWithdrawal = new Map<number, Envelope<'OfferWithdrawal'>>()
  announcements = 0

  constructor (publisher: OfferPublisher, init: AnnouncerInit) {
    this.publisher = publisher
    this.init = init
    this.clock = init.clock ?? systemClock
    this.schedule = new AnnounceSchedule<IssuedOffer>(init.freeSlots, this.clock.now(), { intervalMs: init.intervalMs ?? 10_000, minGapMs: init.minGapMs ?? 1000 })
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.wake()
  }

  async stop (): Promise<void> {
    this.running = false
    this.timer?.cancel()
    this.timer = undefined
    await this.inflight
  }

  /**
   * Capacity changed: withdraw slots no longer free and re-announce the free ones (rate-limited), at once. `busy`
   * names the booked slots, kept visible as busy on the heartbeat.
   */
  setFreeSlots (slots: number[], busy: number[] = []): void {
    const plan = this.schedule.setFree(slots, this.clock.now(), busy)
    if (this.running) void this.carryOut(plan)
    this.arm()
  }

  /** A peer asked (it just subscribed): the free slots, unless announced within the rate limit. */
  requestAnnouncement (): void {
    if (!this.running) return
    void this.carryOut(this.schedule.request(this.clock.now()))
    this.arm()
  }

  /** An offer this provider issued and that has not expired. */
  ownOffer (id: string, now: bigint): IssuedOffer | undefined {
    return this.schedule.own(id, now)
  }

  /** The newest unexpired offer of each free slot, with the bound peer hint (served to peers that sync their order book). */
  liveOffers (now: bigint): Array<Envelope<'ResourceOffer'>> {
    const b = this.binding
    const hint = b !== undefined && b.expiry > now ? { peer: b.peerId, binding: { expiry: b.expiry, signature: b.signature } } : {}
    return this.schedule.live(now, (a, b) => a.offer.nonce > b.offer.nonce).map(o => ({ kind: 'ResourceOffer', value: o.offer, signature: o.signature, ...hint }))
  }

  /** The booked slots' newest offers with the withdrawals that mark them busy (served to peers that sync). */
  busySlots (now: bigint): BusySlot[] {
    const out: BusySlot[] = []
    for (const slot of this.schedule.busy) {
      const offer = this.lastOffer.get(slot)
      const withdrawal = this.lastWithdrawal.get(slot)
      if (offer === undefined || withdrawal === undefined || offer.value.expiry <= now || withdrawal.value.expiry <= now) continue
      if (withdrawal.value.nonce <= offer.value.nonce || offer.binding === undefined || offer.binding.expiry <= now) continue
      out.push({ offer, withdrawal })
    }
    return out
  }

  /** The binding of our peer id to our key, signed once and renewed when half its life is gone. */
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

  /** Signs and publishes one offer per free slot now, whatever the rate limit; resolves with the envelopes. */
  async announce (): Promise<Array<Envelope<'ResourceOffer'>>> {
    if (!this.running) return []
    return await this.carryOut(this.schedule.force(this.clock.now()))
  }

  private wake (): void {
    if (!this.running) return
    void this.carryOut(this.schedule.due(this.clock.now()))
    this.arm()
  }

  private arm (): void {
    if (!this.running) return
    this.timer?.cancel()
    this.timer = this.clock.setTimeout(() => { this.wake() }, Math.max(0, this.schedule.nextWakeAt() - this.clock.now()))
  }

  private nextNonce (): bigint {
    const t = BigInt(this.clock.now()) * 1000n
    this.lastNonce = t > this.lastNonce ? t : this.lastNonce + 1n
    return this.lastNonce
  }

  /** Runs one plan after the previous ones (announcements keep their order; nonces keep increasing). */
  private async carryOut (plan: AnnouncePlan): Promise<Array<Envelope<'ResourceOffer'>>> {
    if (plan.announce.length === 0 && plan.withdraw.length === 0 && (plan.busy ?? []).length === 0) return []
    const run = this.inflight.then(async () => await this.publish(plan))
    // the next plan waits for this one to finish, not to succeed: failures are reported through onError
    this.inflight = run.catch(() => undefined)
    return await run
  }

  private async publish (plan: AnnouncePlan): Promise<Array<Envelope<'ResourceOffer'>>> {
    const provider = await this.init.signer.getAddress()
    const nowSec = BigInt(Math.floor(this.clock.now() / 1000))
    const expiry = nowSec + BigInt(this.init.ttlSec ?? 60)
    for (const slot of plan.withdraw) await this.withdraw(provider, slot, expiry)
    this.schedule.expire(nowSec)
    const out: Array<Envelope<'ResourceOffer'>> = []
    const busy = plan.busy ?? []
    const hint = plan.announce.length > 0 || busy.length > 0 ? await this.peerHint(provider, nowSec) : {}
    for (const slot of plan.announce) {
      if (!this.running) break
      const env = await this.sign(provider, slot, expiry, hint)
      out.push(env)
      try { await this.publisher.publishResourceOffer(env) } catch (err) { this.init.onError?.(err, 'offer') }
    }
    // a booked slot, kept visible: the offer (nonce n) and its withdrawal (n + 1), the withdrawal published first so
    // a book never shows the slot free in between (a book keeps an offer older than the withdrawal as busy)
    for (const slot of busy) {
      if (!this.running) break
      const env = await this.sign(provider, slot, expiry, hint)
      await this.withdraw(provider, slot, expiry)
      try { await this.publisher.publishResourceOffer(env) } catch (err) { this.init.onError?.(err, 'busy offer') }
    }
    if (plan.announce.length > 0 || busy.length > 0) this.announcements++
    return out
  }

  private async sign (provider: string, slot: number, expiry: bigint, hint: Pick<Envelope, 'peer' | 'binding'>): Promise<Envelope<'ResourceOffer'>> {
    const nonce = this.nextNonce()
    // the secret a committee dispute's draw takes from us (docs/mediation.md, "Unbiasable draws"): derived from the key
    // for this offer alone, so a restarted node reveals it, and each re-issued offer (a new nonce) has a fresh one
    const secret = await deriveSeedSecret(async m => await this.init.signer.signMessage(m), this.init.domain, 'ResourceOffer', provider, nonce, slot)
    const offer: ResourceOffer = { provider, slot, ...this.init.template(slot), expiry, nonce, seedCommit: seedCommitOf(secret) }
    const signature = await signMessage('ResourceOffer', this.init.domain, offer, this.init.signer)
    // issued busy offers are ours too: a job creator that missed the withdrawal is declined NO_CAPACITY (wait), not UNKNOWN_OFFER
    this.schedule.issue(idOf('ResourceOffer', this.init.domain, offer), slot, offer.expiry, { offer, signature })
    const env: Envelope<'ResourceOffer'> = { kind: 'ResourceOffer', value: offer, signature, ...hint }
    this.lastOffer.set(slot, env)
    return env
  }

  private async withdraw (provider: string, slot: number, expiry: bigint): Promise<void> {
    const w: OfferWithdrawal = { provider, slot, expiry, nonce: this.nextNonce() }
    const signature = await signWithdrawal(this.init.domain, w, this.init.signer)
    const env: Envelope<'OfferWithdrawal'> = { kind: 'OfferWithdrawal', value: w, signature }
    this.lastWithdrawal.set(slot, env)
    try { await this.publisher.publishWithdrawal(env) } catch (err) { this.init.onError?.(err, 'withdrawal') }
  }
}
