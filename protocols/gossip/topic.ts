import { protocols } from '../protocol-id.ts'
import type { WireKind } from '../codec.ts'

export type GossipTopicName = 'resource-offers' | 'job-offers'

export interface GossipTopics {
  resourceOffers: string
  jobOffers: string
}

export function gossipTopics (network: string): GossipTopics {
  return { resourceOffers: protocols.resourceOffers(network), jobOffers: protocols.jobOffers(network) }
}

/** The message kinds each topic carries. */
export const TOPIC_KINDS: Record<GossipTopicName, readonly WireKind[]> = {
  'resource-offers': ['ResourceOffer', 'OfferWithdrawal'],
  'job-offers': ['JobOffer']
}

/** `/lilypad/<network>/<name>/1` → its parts, or undefined for a topic that is not ours. */
export function parseTopic (topic: string): { network: string, name: GossipTopicName } | undefined {
  const m = /^\/lilypad\/([^/]+)\/(resource-offers|job-offers)\/1$/.exec(topic)
  return m === null ? undefined : { network: m[1], name: m[2] as GossipTopicName }
}
