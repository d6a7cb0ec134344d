// A provider's Ethereum key names the libp2p peer that answers for it. A resource offer travels with the peer id
// job creators should dial (the envelope's peer hint); unsigned, anyone relaying the offer could put their own peer
// id there and have job creators dial them instead of the provider (and blame the provider for what that peer
// does). The binding is signed by the same key as the offer, so a relay can only pass it on unchanged. One
// binding serves every offer of the provider until it expires, so nodes verify it once and cache it.
import { TypedDataEncoder, type Signer } from 'ethers'
import { recoverTypedData } from './signatures.ts'
import { domainOf, type LilypadDomain } from './eip712.ts'

export const PeerBindingTypes = {
  PeerBinding: [
    { name: 'account', type: 'address' },
    { name: 'peerId', type: 'string' },
    { name: 'expiry', type: 'uint64' }
  ]
}

export interface PeerBinding { account: string, peerId: string, expiry: bigint }

/** A binding as it travels beside an envelope's peer hint (the account is the envelope's signer). */
export interface PeerBindingProof { expiry: bigint, signature: string }

/** Bindings live at most this long (seconds); a node re-signs well before. */
export const MAX_BINDING_TTL = 86_400n

function types (): Record<string, Array<{ name: string, type: string }>> {
  return { PeerBinding: PeerBindingTypes.PeerBinding.map(f => ({ ...f })) }
}

export function peerBindingDigest (domain: LilypadDomain, b: PeerBinding): string {
  return TypedDataEncoder.hash(domainOf(domain), types(), b as unknown as Record<string, unknown>)
}

export async function signPeerBinding (domain: LilypadDomain, b: PeerBinding, signer: Signer): Promise<string> {
  return await signer.signTypedData(domainOf(domain), types(), b as unknown as Record<string, unknown>)
}

export function recoverPeerBindingSigner (domain: LilypadDomain, b: PeerBinding, signature: string): string {
  return recoverTypedData(domainOf(domain), types(), b as unknown as Record<string, unknown>, signature)
}

/**
 * Remembers bindings already verified (by their exact content and signature), so a provider's binding costs one
 * signature recovery per node however many offers carry it. Bounded; oldest first out.
 */
export class PeerBindingCache {
  private readonly verified = new Map<string, bigint>()
  private readonly capacity: number
  constructor (capacity = 10_000) { this.capacity = capacity }

  private static key (b: PeerBinding, signature: string): string {
    return `${b.account.toLowerCase()}|${b.peerId}|${b.expiry}|${signature.toLowerCase()}`
  }

  has (b: PeerBinding, signature: string): boolean { return this.verified.has(PeerBindingCache.key(b, signature)) }

  add (b: PeerBinding, signature: string): void {
    const k = PeerBindingCache.key(b, signature)
    this.verified.delete(k)
    this.verified.set(k, b.expiry)
    while (this.verified.size > this.capacity) this.verified.delete(this.verified.keys().next().value as string)
  }
}
