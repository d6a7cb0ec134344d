// Topic score parameters: invalid deliveries (REJECT verdicts) cost a peer heavily and decay slowly, so a
// peer that forges or garbles offers quickly falls below the gossip/publish thresholds. Mesh-delivery
// penalties stay off: offers are bursty, and a quiet honest peer must not be punished.
import { createTopicScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score'

export function offerTopicScoreParams (overrides: Partial<TopicScoreParams> = {}): TopicScoreParams {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 100,
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 50,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -100,
    invalidMessageDeliveriesDecay: 0.99,
    ...overrides
  })
}

export const defaultScoreThresholds = {
  gossipThreshold: -500,
  publishThreshold: -1000,
  graylistThreshold: -2500,
  acceptPXThreshold: 100,
  opportunisticGraftThreshold: 5
}
