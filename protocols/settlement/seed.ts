// The seed a committee dispute is drawn from (docs/mediation.md, "Unbiasable draws"), as pure functions shared by
// the Market's model, the nodes and the tests. Each party commits to a secret in the offer it signs
// (`seedCommit` = keccak256(secret) in its JobOffer or ResourceOffer) and reveals it only when a dispute needs it,
// after the dispute's first block: the committee is then drawn from
// keccak256(abi.encode(dealId, jobCreatorSecret ^ providerSecret, blockhash(seedBlock))).
import { AbiCoder, TypedDataEncoder, concat, dataSlice, getBytes, keccak256, toBeHex, toUtf8Bytes, zeroPadValue } from 'ethers'
import { domainOf, typesOf, type JobOffer, type LilypadDomain, type ResourceOffer } from '../eip712.ts'

export type SeedOfferKind = 'JobOffer' | 'ResourceOffer'

/** The encoded field words a reveal passes (Market.sol OfferHashing): every field before `seedCommit`. */
export const OFFER_WORDS: Record<SeedOfferKind, number> = { JobOffer: 11, ResourceOffer: 9 }

/** BLOCKHASH answers for the last 256 blocks: every reveal must come within them (Market.sol SEED_BLOCKS). */
export const SEED_BLOCKS = 256

const coder = AbiCoder.defaultAbiCoder()

/** What an offer commits to: keccak256 of the 32-byte secret. */
export function seedCommitOf (secret: string): string {
  return keccak256(zeroPadValue(secret, 32))
}

/** An offer's EIP-712 encoded field words before its commitment, as `Market.revealSeed` takes them. */
export function offerWords (kind: SeedOfferKind, offer: JobOffer | ResourceOffer): string[] {
  const encoded = TypedDataEncoder.from(typesOf(kind)).encodeData(kind, offer as unknown as Record<string, unknown>)
  const n = getBytes(encoded).length / 32 - 2 // less the type hash and the commitment
  return Array.from({ length: n }, (_, i) => dataSlice(encoded, 32 + 32 * i, 64 + 32 * i))
}

/**
 * The id of the offer whose words are `words` and whose commitment is keccak256(secret), under the network's domain,
 * as the Market computes it; null when the words cannot be an offer of that kind (the wrong number of them).
 */
export function offerIdFromWords (kind: SeedOfferKind, domain: LilypadDomain, words: string[], secret: string): string | null {
  if (words.length !== OFFER_WORDS[kind]) return null
  const typeHash = keccak256(toUtf8Bytes(TypedDataEncoder.from(typesOf(kind)).encodeType(kind)))
  const structHash = keccak256(concat([typeHash, ...words, seedCommitOf(secret)]))
  return keccak256(concat(['0x1901', TypedDataEncoder.hashDomain(domainOf(domain)), structHash]))
}

/** The seed a committee is drawn from once both secrets are revealed. */
export function committeeSeed (dealId: string, jobCreatorSecret: string, providerSecret: string, seedBlockHash: string): string {
  const mixed = toBeHex(BigInt(jobCreatorSecret) ^ BigInt(providerSecret), 32)
  return keccak256(coder.encode(['bytes32', 'bytes32', 'bytes32'], [dealId, mixed, seedBlockHash]))
}

/**
 * What a node signs to derive an offer's secret: deterministic (RFC 6979) signatures over this text make the secret
 * the same after a restart without storing it, and nobody without the key can compute it. One per offer: the
 * network (chain and Market), the kind, the offer's party and its own nonce (and slot, for a resource offer). The key
 * is the node's: a job offer signed by a browser wallet still gets its secret from the node that will reveal it.
 */
export function seedSecretMessage (domain: LilypadDomain, kind: SeedOfferKind, party: string, nonce: bigint, slot = 0): string {
  return `lilypad dispute seed ${kind} chain ${domain.chainId} market ${domain.verifyingContract.toLowerCase()} party ${party.toLowerCase()} slot ${slot} nonce ${nonce}`
}

/** The secret: keccak256 of the key's signature over `seedSecretMessage`. */
export async function deriveSeedSecret (sign: (message: string) => Promise<string>, domain: LilypadDomain, kind: SeedOfferKind, party: string, nonce: bigint, slot = 0): Promise<string> {
  return keccak256(await sign(seedSecretMessage(domain, kind, party, nonce, slot)))
}
