// Edge validation of a decoded envelope: signature (which also proves the domain: a message signed for
// another chain or Market contract recovers a different address), the peer binding, expiry, and replay. Pure
// apart from the caches the caller owns.
//
// It comes in two halves so the expensive one can run off the event loop: `recoverEnvelope` does the signature
// recoveries and the EIP-712 hashing (milliseconds of CPU per message in JavaScript; a worker can do it, see
// node/verifier), `checkRecovered` does everything else from its answer (microseconds, on the caller's thread,
// where the replay cache lives). `validateEnvelope` is both in one call.
import { idOf, type LilypadDomain, type MessageKind } from './eip712.ts'
import { nodeRecordDigest } from './directory/record-types.ts'
import { withdrawalId } from './withdrawal.ts'
import { recoverDigest } from './signatures.ts'
import { MAX_BINDING_TTL, recoverPeerBindingSigner, type PeerBindingCache, type PeerBindingProof } from './peer-binding.ts'
import { MessageValidationError } from './errors.ts'
import type { Envelope, WireKind, WireKinds } from './codec.ts'
import type { ReplayCache } from './replay-cache.ts'

export interface ValidateOptions {
  domain: LilypadDomain
  /** unix seconds */
  now: bigint
  /** messages expiring further ahead than this are ignored (seconds) */
  maxTtl?: bigint
  replay?: ReplayCache
  /** peer bindings already verified (skips their recovery) */
  bindings?: PeerBindingCache
  /** refuse a message whose peer hint its signer did not bind (resource offers going into an order book) */
  requirePeerBinding?: boolean
}

export interface Verified<K extends WireKind = WireKind> {
  kind: K
  value: WireKinds[K]
  signature: string
  peer?: string
  /** present when `peer` was bound by the signer and the binding verified */
  binding?: PeerBindingProof
  id: string
  signer: string
}

/** The expensive half's answer: the message id and who signed what (empty string: unrecoverable). */
export interface Recovered {
  id: string
  signer: string
  /** who signed the peer binding; absent when there is none or it was already verified */
  bindingSigner?: string
}

export const DEFAULT_MAX_TTL = 3600n

/** The address that must have signed a message of this kind. */
export function statedSigner (env: Envelope): string {
  switch (env.kind) {
    case 'ResourceOffer': return (env.value as WireKinds['ResourceOffer']).provider
    case 'JobOffer': return (env.value as WireKinds['JobOffer']).jobCreator
    case 'Deal': return (env.value as WireKinds['Deal']).jobCreator
    case 'NodeRecord': return (env.value as WireKinds['NodeRecord']).ethAddress
    case 'OfferWithdrawal': return (env.value as WireKinds['OfferWithdrawal']).provider
    default: throw new MessageValidationError('WRONG_KIND', `${env.kind} has no stated signer`)
  }
}

export function messageId (env: Envelope, domain: LilypadDomain): string {
  if (env.kind === 'NodeRecord') return nodeRecordDigest(domain, env.value as WireKinds['NodeRecord'])
  if (env.kind === 'OfferWithdrawal') return withdrawalId(domain, env.value as WireKinds['OfferWithdrawal'])
  return idOf(env.kind as MessageKind, domain, env.value as never)
}

function safely (f: () => string): string {
  try { return f() } catch { return '' } // an unrecoverable signature is reported as BAD_SIGNATURE by checkRecovered
}

/** True when the envelope's binding must be recovered (it has one and the cache does not vouch for it). */
export function bindingNeedsRecovery (env: Envelope, bindings?: PeerBindingCache): boolean {
  if (env.binding === undefined || env.peer === undefined) return false
  return bindings?.has({ account: statedSigner(env), peerId: env.peer, expiry: env.binding.expiry }, env.binding.signature) !== true
}

/** The expensive half: id, signer and binding signer. Never throws on a bad signature (returns ''). */
export function recoverEnvelope (env: Envelope, domain: LilypadDomain, withBinding = true): Recovered {
  // every kind's id is its EIP-712 digest, the one its signature signs: hashed once, recovered from
  const id = messageId(env, domain)
  const signer = safely(() => recoverDigest(id, env.signature))
  const out: Recovered = { id, signer }
  if (withBinding && env.binding !== undefined && env.peer !== undefined) {
    const binding = env.binding
    const peerId = env.peer
    out.bindingSigner = safely(() => recoverPeerBindingSigner(domain, { account: statedSigner(env), peerId, expiry: binding.expiry }, binding.signature))
  }
  return out
}

/** The cheap half: every check given the recoveries. Adds to the replay and binding caches only when all pass. */
export function checkRecovered<K extends WireKind> (env: Envelope<K>, r: Recovered, opts: ValidateOptions): Verified<K> {
  const stated = statedSigner(env)
  if (r.signer === '' || r.signer.toLowerCase() !== stated.toLowerCase()) {
    throw new MessageValidationError('BAD_SIGNATURE', 'signer is not the stated party, or the message is for another network')
  }
  const { expiry } = env.value as { expiry: bigint }
  if (expiry <= opts.now) throw new MessageValidationError('EXPIRED', `expired at ${expiry}`)
  if (expiry > opts.now + (opts.maxTtl ?? DEFAULT_MAX_TTL)) throw new MessageValidationError('EXPIRY_TOO_FAR', `expiry ${expiry} too far ahead`)
  const binding = env.binding
  if (binding !== undefined && env.peer !== undefined) {
    if (binding.expiry <= opts.now) throw new MessageValidationError('EXPIRED', `peer binding expired at ${binding.expiry}`)
    if (binding.expiry > opts.now + MAX_BINDING_TTL) throw new MessageValidationError('EXPIRY_TOO_FAR', `peer binding expiry ${binding.expiry} too far ahead`)
    if (r.bindingSigner !== undefined && r.bindingSigner.toLowerCase() !== stated.toLowerCase()) {
      throw new MessageValidationError('BAD_PEER_BINDING', `the peer hint ${env.peer} is not bound by ${stated}`)
    }
    if (r.bindingSigner === undefined && opts.bindings?.has({ account: stated, peerId: env.peer, expiry: binding.expiry }, binding.signature) !== true) {
      throw new MessageValidationError('BAD_PEER_BINDING', 'peer binding not verified')
    }
  } else if (opts.requirePeerBinding === true) {
    throw new MessageValidationError('UNBOUND_PEER', `${env.kind} without a peer hint bound by its signer`)
  }
  const id = r.id
  const nonce = (env.value as { nonce?: bigint, seq?: bigint }).nonce ?? (env.value as { seq: bigint }).seq
  if (opts.replay !== undefined) {
    const seen = opts.replay.check(id, stated, nonce, opts.now)
    if (seen === 'duplicate') throw new MessageValidationError('DUPLICATE', `already seen ${id}`)
    if (seen === 'replayed') throw new MessageValidationError('REPLAYED_NONCE', `nonce ${nonce} reused by ${stated}`)
    opts.replay.add(id, stated, nonce, expiry, opts.now)
  }
  if (binding !== undefined && env.peer !== undefined && r.bindingSigner !== undefined) {
    opts.bindings?.add({ account: stated, peerId: env.peer, expiry: binding.expiry }, binding.signature)
  }
  return {
    kind: env.kind,
    value: env.value,
    signature: env.signature,
    ...(env.peer !== undefined ? { peer: env.peer } : {}),
    ...(binding !== undefined ? { binding } : {}),
    id,
    signer: r.signer
  }
}

export function validateEnvelope<K extends WireKind> (env: Envelope<K>, opts: ValidateOptions): Verified<K> {
  return checkRecovered(env, recoverEnvelope(env, opts.domain, bindingNeedsRecovery(env, opts.bindings)), opts)
}

export function nowSeconds (): bigint {
  return BigInt(Math.floor(Date.now() / 1000))
}
