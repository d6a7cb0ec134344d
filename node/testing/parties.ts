// Test compositions of the mesh services into the parties of a deal.
import type { Wallet } from 'ethers'
import { OrderBook } from '../../protocols/order-book.ts'
import { GossipService } from '../gossip/gossip.ts'
import { ResourceOfferAnnouncer, type OfferTemplate } from '../gossip/announcer.ts'
import { SlotCapacity } from '../negotiation/capacity.ts'
import { DealNegotiator, type AgreedDeal } from '../negotiation/negotiator.ts'
import type { LilypadHost } from '../host/create-host.ts'
import { NETWORK, testDomain, mediatorA } from './fixtures.ts'

export interface Provider {
  wallet: Wallet
  gossip: GossipService
  announcer: ResourceOfferAnnouncer
  capacity: SlotCapacity
  negotiator: DealNegotiator
  accepted: AgreedDeal[]
  stop: () => Promise<void>
}

export async function startProvider (host: LilypadHost, wallet: Wallet, options: { slots?: number[], price?: bigint, template?: Partial<OfferTemplate>, intervalMs?: number } = {}): Promise<Provider> {
  const gossip = new GossipService(host, { networkId: NETWORK, domain: testDomain, jobOffers: false })
  const capacity = new SlotCapacity(options.slots ?? [0])
  const template: OfferTemplate = { spec: { cpu: 4000, ramMb: 8192, diskMb: 50000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, modules: [], price: options.price ?? 100n, collateral: 1000n, mediators: [mediatorA], ...options.template }
  const announcer = new ResourceOfferAnnouncer(gossip, { domain: testDomain, signer: wallet, template: () => template, freeSlots: capacity.freeSlots(), intervalMs: options.intervalMs ?? 60_000, ttlSec: 120 })
  const accepted: AgreedDeal[] = []
  const negotiator = new DealNegotiator(host, {
    networkId: NETWORK,
    domain: testDomain,
    stepTimeoutMs: 3000,
    provider: { signer: wallet, capacity, ownOffer: (id, now) => announcer.ownOffer(id, now), onDealAccepted: d => { accepted.push(d) } }
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

export async function startJobCreator (host: LilypadHost, wallet: Wallet, options: { keepBook?: boolean, dialTimeoutMs?: number, stepTimeoutMs?: number } = {}): Promise<JobCreator> {
  const gossip = new GossipService(host, { networkId: NETWORK, domain: testDomain, ...(options.keepBook !== false ? { book: new OrderBook() } : {}) })
  const negotiator = new DealNegotiator(host, { networkId: NETWORK, domain: testDomain, stepTimeoutMs: options.stepTimeoutMs ?? 3000, dialTimeoutMs: options.dialTimeoutMs ?? 3000 })
  gossip.start()
  await negotiator.start()
  return { wallet, gossip, negotiator, stop: async () => { await negotiator.stop(); gossip.stop() } }
}
