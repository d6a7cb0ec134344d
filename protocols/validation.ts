// Edge validation of a decoded envelope: signature (which also proves the domain: a message signed for
// another chain or Market contract recovers a different address), expiry, and replay. Pure apart from the
// replay cache the caller owns.
import { idOf, recoverSigner, type LilypadDomain, type MessageKind } from './eip712.ts'
import { recoverNodeRecordSigner, nodeRecordDigest } from './directory/record-types.ts'
import { recoverWithdrawalSigner, withdrawalId } from './withdrawal.ts'
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
}

export interface Verified<K extends WireKind = WireKind> {
  kind: K
  value: WireKinds[K]
  signature: string
  peer?: string
  id: string
  signer: string
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

export function validateEnvelope<K extends WireKind> (env: Envelope<K>, opts: ValidateOptions): Verified<K> {
  const signer = statedSigner(env)
  let recovered: string
  try {
    recovered = env.kind === 'NodeRecord'
      ? recoverNodeRecordSigner(opts.domain, env.value as WireKinds['NodeRecord'], env.signature)
      : env.kind === 'OfferWithdrawal'
        ? recoverWithdrawalSigner(opts.domain, env.value as WireKinds['OfferWithdrawal'], env.signature)
        : recoverSigner(env.kind as MessageKind, opts.domain, env.value as never, env.signature)
  } catch (err) {
    throw new MessageValidationError('BAD_SIGNATURE', `unrecoverable signature (${(err as Error).message})`)
  }
  if (recovered.toLowerCase() !== signer.toLowerCase()) {
    throw new MessageValidationError('BAD_SIGNATURE', 'signer is not the stated party, or the message is for another network')
  }
  const { expiry } = env.value as { expiry: bigint }
  if (expiry <= opts.now) throw new MessageValidationError('EXPIRED', `expired at ${expiry}`)
  if (expiry > opts.now + (opts.maxTtl ?? DEFAULT_MAX_TTL)) throw new MessageValidationError('EXPIRY_TOO_FAR', `expiry ${expiry} too far ahead`)
  const id = messageId(env, opts.domain)
  const nonce = (env.value as { nonce?: bigint, seq?: bigint }).nonce ?? (env.value as { seq: bigint }).seq
  if (opts.replay !== undefined) {
    const seen = opts.replay.check(id, signer, nonce, opts.now)
    if (seen === 'duplicate') throw new MessageValidationError('DUPLICATE', `already seen ${id}`)
    if (seen === 'replayed') throw new MessageValidationError('REPLAYED_NONCE', `nonce ${nonce} reused by ${signer}`)
    opts.replay.add(id, signer, nonce, expiry, opts.now)
  }
  return { kind: env.kind, value: env.value, signature: env.signature, ...(env.peer !== undefined ? { peer: env.peer } : {}), id, signer: recovered }
}

export function nowSeconds (): bigint {
  return BigInt(Math.floor(Date.now() / 1000))
}
