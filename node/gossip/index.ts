export { GossipService, routerOf, type GossipServiceInit, type GossipMetrics, type GossipNode, type GossipRouter } from './gossip.ts'
export { ResourceOfferAnnouncer, type AnnouncerInit, type OfferTemplate, type IssuedOffer } from './announcer.ts'
