// One function turns a gossip payload into a verified message or a MessageValidationError whose action
// (REJECT / IGNORE) becomes the gossipsub verdict. The async form hands the signature recoveries to a
// verifier (a worker pool, or batches that yield) so the event loop keeps moving.
import { MessageValidationError } from '../errors.ts'
import { bindingNeedsRecovery, checkRecovered, recoverEnvelope, type Recovered, type Verified } from '../validation.ts'
import { decodeGossip } from './codec.ts'
import type { Envelope } from '../codec.ts'
import type { LilypadDomain, ResourceOffer } from '../eip712.ts'
import type { ReplayCache } from '../replay-cache.ts'
import type { PeerBindingCache } from '../peer-binding.ts'
import type { GossipTopicName } from './topic.ts'

export interface GossipValidationContext {
  domain: LilypadDomain
  now: bigint
  replay: ReplayCache
  maxTtl?: bigint
  /** peer bindings already verified */
  bindings?: PeerBindingCache
  /**
   * newest nonce known for a provider slot (the order book), to ignore messages it already superseded; for an offer,
   * the newest offer (live or busy): an offer older than the slot's withdrawal is still the busy slot's news
   */
  knownNonce?: (provider: string, slot: number, kind: 'ResourceOffer' | 'OfferWithdrawal') => bigint | undefined
}

/** Recovers the signatures of an envelope (inline, or in a worker: see node/verifier). */
export type RecoverFn = (env: Envelope, bytes: Uint8Array, withBinding: boolean) => Recovered | Promise<Recovered>

/** Decoded, plus what the cheap checks decided before any signature is recovered. */
interface Prepared { env: Envelope, stale?: bigint }

function prepare (topic: GossipTopicName, data: Uint8Array, ctx: GossipValidationContext): Prepared {
  const env = decodeGossip(topic, data)
  if ((env.kind === 'ResourceOffer' || env.kind === 'OfferWithdrawal') && ctx.knownNonce !== undefined) {
    const o = env.value as Pick<ResourceOffer, 'provider' | 'slot' | 'nonce'>
    const known = ctx.knownNonce(o.provider, o.slot, env.kind)
    // still verified below: a forged stale offer is REJECTed, an honest one relayed late only IGNOREd
    if (known !== undefined && known >= o.nonce) return { env, stale: known }
  }
  return { env }
}

function finish (p: Prepared, r: Recovered, ctx: GossipValidationContext): Verified {
  const requirePeerBinding = p.env.kind === 'ResourceOffer'
  if (p.stale !== undefined) {
    checkRecovered(p.env, r, { domain: ctx.domain, now: ctx.now, maxTtl: ctx.maxTtl, ...(ctx.bindings !== undefined ? { bindings: ctx.bindings } : {}), requirePeerBinding })
    throw new MessageValidationError('STALE_NONCE', `nonce ${(p.env.value as { nonce: bigint }).nonce} superseded by ${p.stale}`)
  }
  return checkRecovered(p.env, r, { domain: ctx.domain, now: ctx.now, replay: ctx.replay, maxTtl: ctx.maxTtl, ...(ctx.bindings !== undefined ? { bindings: ctx.bindings } : {}), requirePeerBinding })
}

export function validateGossip (topic: GossipTopicName, data: Uint8Array, ctx: GossipValidationContext): Verified {
  const p = prepare(topic, data, ctx)
  return finish(p, recoverEnvelope(p.env, ctx.domain, bindingNeedsRecovery(p.env, ctx.bindings)), ctx)
}

/** The same verdicts as validateGossip; `recover` may run elsewhere. `now()` is read after it answers. */
export async function validateGossipAsync (topic: GossipTopicName, data: Uint8Array, ctx: Omit<GossipValidationContext, 'now'> & { now: () => bigint }, recover: RecoverFn): Promise<Verified> {
  const p = prepare(topic, data, { ...ctx, now: ctx.now() })
  const r = await recover(p.env, data, bindingNeedsRecovery(p.env, ctx.bindings))
  return finish(p, r, { ...ctx, now: ctx.now() })
}
