// One function turns a gossip payload into a verified message or a MessageValidationError whose action
// (REJECT / IGNORE) becomes the gossipsub verdict.
import { MessageValidationError } from '../errors.ts'
import { validateEnvelope, type Verified } from '../validation.ts'
import { decodeGossip } from './codec.ts'
import type { LilypadDomain, ResourceOffer } from '../eip712.ts'
import type { ReplayCache } from '../replay-cache.ts'
import type { GossipTopicName } from './topic.ts'

export interface GossipValidationContext {
  domain: LilypadDomain
  now: bigint
  replay: ReplayCache
  maxTtl?: bigint
  /** newest nonce known for a provider slot (the order book), to ignore offers it already superseded */
  knownNonce?: (provider: string, slot: number) => bigint | undefined
}

export function validateGossip (topic: GossipTopicName, data: Uint8Array, ctx: GossipValidationContext): Verified {
  const env = decodeGossip(topic, data)
  if ((env.kind === 'ResourceOffer' || env.kind === 'OfferWithdrawal') && ctx.knownNonce !== undefined) {
    const o = env.value as Pick<ResourceOffer, 'provider' | 'slot' | 'nonce'>
    const known = ctx.knownNonce(o.provider, o.slot)
    // cheap pre-check; the signature is verified below before anything is stored
    if (known !== undefined && known >= o.nonce) {
      validateEnvelope(env, { domain: ctx.domain, now: ctx.now, maxTtl: ctx.maxTtl })
      throw new MessageValidationError('STALE_NONCE', `nonce ${o.nonce} superseded by ${known}`)
    }
  }
  return validateEnvelope(env, { domain: ctx.domain, now: ctx.now, replay: ctx.replay, maxTtl: ctx.maxTtl })
}
