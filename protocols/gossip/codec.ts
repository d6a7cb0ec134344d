// Gossip messages are wire envelopes (../codec.ts) with no pubsub signature (StrictNoSign): the payload is
// signed. The message id is a hash of the content, so the same offer forwarded by many peers is one message.
import { createHash } from 'node:crypto'
import { decodeEnvelope, encodeEnvelope, MAX_SIZE, type Envelope } from '../codec.ts'
import { TOPIC_KINDS, type GossipTopicName } from './topic.ts'

export function contentMessageId (msg: { data: Uint8Array }): Uint8Array {
  return createHash('sha256').update(msg.data).digest()
}

export function maxMessageSize (): number {
  return Math.max(MAX_SIZE.ResourceOffer, MAX_SIZE.JobOffer)
}

export function encodeGossip (env: Envelope): Uint8Array {
  return encodeEnvelope(env)
}

export function decodeGossip (topic: GossipTopicName, data: Uint8Array): Envelope {
  return decodeEnvelope(data, TOPIC_KINDS[topic])
}
