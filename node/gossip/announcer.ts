// A provider's announcer: signs one ResourceOffer per free slot and gossips them on a heartbeat and
// whenever its free capacity changes. Every announcement has a fresh nonce (a strictly increasing
// millisecond timestamp, which the matcher reads as the offer's age) and expiry. It remembers what it
// issued, so the negotiation side can recognise its own offers by id.
import type { Signer } from 'ethers'
import { idOf, signMessage, type LilypadDomain, type MachineSpec, type ResourceOffer } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import { signWithdrawal, type OfferWithdrawal } from '../../protocols/withdrawal.ts'

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
}

export interface OfferPublisher {
  publishResourceOffer: (env: Envelope<'ResourceOffer'>) => Promise<void>
  publishWithdrawal: (env: Envelope<'OfferWithdrawal'>) => Promise<void>
}

export interface IssuedOffer { offer: ResourceOffer, signature: string }

export class ResourceOfferAnnouncer {
  private readonly publisher: OfferPublisher
  private readonly init: AnnouncerInit
  private free: number[]
  private timer: NodeJS.Timeout | undefined
  private lastNonce = 0n
  private readonly issued = new Map<string, IssuedOffer>()
  private running = false
  private inflight: Promise<void> = Promise.resolve()
  announcements = 0

  constructor (publisher: OfferPublisher, init: AnnouncerInit) {
    this.publisher = publisher
    this.init = init
    this.free = [...init.freeSlots]
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.timer = setInterval(() => { void this.announce() }, this.init.intervalMs ?? 10_000)
    void this.announce()
  }

  async stop (): Promise<void> {
    this.running = false
    clearInterval(this.timer)
    this.timer = undefined
    await this.inflight
  }

  /** Capacity changed: withdraw slots no longer free and re-announce the free ones, at once. */
  setFreeSlots (slots: number[]): void {
    const gone = this.free.filter(s => !slots.includes(s))
    this.free = [...slots]
    if (!this.running) return
    if (gone.length > 0) {
      const run = this.inflight.then(async () => { await this.withdrawNow(gone) })
      this.inflight = run.then(() => {}, () => {})
    }
    void this.announce()
  }

  private async withdrawNow (slots: number[]): Promise<void> {
    const provider = await this.init.signer.getAddress()
    const now = BigInt(Math.floor(Date.now() / 1000))
    for (const slot of slots) {
      const w: OfferWithdrawal = { provider, slot, expiry: now + BigInt(this.init.ttlSec ?? 60), nonce: this.nextNonce() }
      const signature = await signWithdrawal(this.init.domain, w, this.init.signer)
      try { await this.publisher.publishWithdrawal({ kind: 'OfferWithdrawal', value: w, signature }) } catch {}
    }
  }

  /** An offer this provider issued and that has not expired. */
  ownOffer (id: string, now: bigint): IssuedOffer | undefined {
    const o = this.issued.get(id)
    return o !== undefined && o.offer.expiry > now ? o : undefined
  }

  /** Signs and publishes one offer per free slot; resolves with the envelopes. */
  async announce (): Promise<Array<Envelope<'ResourceOffer'>>> {
    const run = this.inflight.then(async () => await this.announceNow())
    this.inflight = run.then(() => {}, () => {})
    return await run
  }

  private nextNonce (): bigint {
    const t = BigInt(Date.now()) * 1000n
    this.lastNonce = t > this.lastNonce ? t : this.lastNonce + 1n
    return this.lastNonce
  }

  private async announceNow (): Promise<Array<Envelope<'ResourceOffer'>>> {
    if (!this.running) return []
    const provider = await this.init.signer.getAddress()
    const now = BigInt(Math.floor(Date.now() / 1000))
    for (const [id, o] of this.issued) if (o.offer.expiry <= now) this.issued.delete(id)
    const out: Array<Envelope<'ResourceOffer'>> = []
    for (const slot of this.free) {
      const offer: ResourceOffer = { provider, slot, ...this.init.template(slot), expiry: now + BigInt(this.init.ttlSec ?? 60), nonce: this.nextNonce() }
      const signature = await signMessage('ResourceOffer', this.init.domain, offer, this.init.signer)
      this.issued.set(idOf('ResourceOffer', this.init.domain, offer), { offer, signature })
      const env: Envelope<'ResourceOffer'> = { kind: 'ResourceOffer', value: offer, signature }
      out.push(env)
      try { await this.publisher.publishResourceOffer(env) } catch {}
    }
    this.announcements++
    return out
  }
}
