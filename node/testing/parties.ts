// Test compositions of the mesh services into the parties of a deal.
import type { Wallet } from 'ethers'
import { OrderBook } from '../../protocols/order-book.ts'
import { GossipService } from '../gossip/gossip.ts'
import { ResourceOfferAnnouncer, type OfferTemplate } from '../gossip/announcer.ts'
import { SlotCapacity } from '../negotiation/capacity.ts'
import { DealNegotiator, type AgreedDeal, type ProviderRole } from '../negotiation/negotiator.ts'
import type { LilypadHost } from '../host/create-host.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'
import type { Clock } from '../../core/clock.ts'
import type { PeerGuard } from '../peer-guard/index.ts'
import { quietComponents } from '../components.ts'
import { NETWORK, testDomain, mediatorA } from './fixtures.ts'

/** What a test may set on a provider's negotiation side (terms, modules, deposit check, reservation cap). */
export type ProviderPolicy = Partial<Pick<ProviderRole, 'terms' | 'modules' | 'depositOf' | 'depositTimeoutMs' | 'maxReservationsPerJobCreator' | 'reservationTtlMs'>>

export interface Provider {
  wallet: Wallet
  gossip: GossipService
  announcer: ResourceOfferAnnouncer
  capacity: SlotCapacity
  negotiator: DealNegotiator
  accepted: AgreedDeal[]
  stop: () => Promise<void>
}

export async function startProvider (host: LilypadHost, wallet: Wallet, options: { slots?: number[], price?: bigint, template?: Partial<OfferTemplate>, intervalMs?: number, domain?: LilypadDomain, policy?: ProviderPolicy, clock?: Clock, guard?: PeerGuard, minGapMs?: number } = {}): Promise<Provider> {
  const domain = options.domain ?? testDomain
  const components = quietComponents(options.clock)
  const gossip = new GossipService(host, { networkId: NETWORK, domain, jobOffers: false })
  const capacity = new SlotCapacity(options.slots ?? [0], { ...(options.clock !== undefined ? { clock: options.clock } : {}) })
  const template: OfferTemplate = { spec: { cpu: 4000, ramMb: 8192, diskMb: 50000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, modules: [], price: options.price ?? 100n, collateral: 1000n, mediators: [mediatorA], ...options.template }
  const announcer = new ResourceOfferAnnouncer(gossip, { domain, signer: wallet, template: () => template, freeSlots: capacity.freeSlots(), intervalMs: options.intervalMs ?? 60_000, ttlSec: 120, ...(options.minGapMs !== undefined ? { minGapMs: options.minGapMs } : {}), ...(options.clock !== undefined ? { clock: options.clock } : {}) })
  const accepted: AgreedDeal[] = []
  const negotiator = new DealNegotiator(host, {
    networkId: NETWORK,
    domain,
    stepTimeoutMs: 3000,
    components,
    ...(options.guard !== undefined ? { guard: options.guard } : {}),
    provider: { signer: wallet, capacity, ownOffer: (id, now) => announcer.ownOffer(id, now), onDealAccepted: d => { accepted.push(d) }, ...options.policy }
  })
  const off = capacity.onChange(free => { announcer.setFreeSlots(free) })
  gossip.start()
  await negotiator.start()
  announcer.start()
  return {
    wallet, gossip, announcer, capacity, negotiator, accepted,
    stop: async () => { off(); await announcer.stop(); await negotiator.stop(); gossip.stop(); capacity.stop() }
  }
}

export interface JobCreator {
  wallet: Wallet
  gossip: GossipService
  negotiator: DealNegotiator
  stop: () => Promise<void>
}

export async function startJobCreator (host: LilypadHost, wallet: Wallet, options: { keepBook?: boolean, domain?: LilypadDomain, dialTimeoutMs?: number, stepTimeoutMs?: number } = {}): Promise<JobCreator> {
  const domain = options.domain ?? testDomain
  const gossip = new GossipService(host, { networkId: NETWORK, domain, ...(options.keepBook !== false ? { book: new OrderBook() } : {}) })
  const negotiator = new DealNegotiator(host, { networkId: NETWORK, domain, stepTimeoutMs: options.stepTimeoutMs ?? 3000, dialTimeoutMs: options.dialTimeoutMs ?? 3000 })
  gossip.start()
  await negotiator.start()
  return { wallet, gossip, negotiator, stop: async () => { await negotiator.stop(); gossip.stop() } }
}
