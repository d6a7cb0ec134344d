// Messages of the deal protocol (/lilypad/<network>/deal/1.0.0) and of the solver's candidate push
// (/lilypad/<network>/candidates/1.0.0), in canonical CBOR. Signed payloads travel as wire envelopes.
import { encode, decode } from 'cborg'
import { getBytes, hexlify } from 'ethers'
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../codec.ts'
import { MessageValidationError } from '../errors.ts'
import type { Deal, JobOffer, ResourceOffer } from '../eip712.ts'

export const NEGOTIATION_VERSION = 1
export const MAX_NEGOTIATION_MESSAGE = 24 * 1024
export const MAX_CANDIDATES = 32

/**
 * Why a provider declined. MODULE: it does not serve the job's module; UNFUNDED: the job creator's deposit does not
 * cover the deal; RATE_LIMITED: too many proposals from this peer (a job creator over its share of reservations hears NO_CAPACITY).
 */
export type DeclineReason =
  | 'MALFORMED' | 'BAD_SIGNATURE' | 'WRONG_PROVIDER' | 'UNKNOWN_OFFER' | 'EXPIRED' | 'TERMS' | 'NO_CAPACITY' | 'INTERNAL'
  | 'MODULE' | 'UNFUNDED' | 'RATE_LIMITED'
export const DECLINE_REASONS: readonly DeclineReason[] = ['MALFORMED', 'BAD_SIGNATURE', 'WRONG_PROVIDER', 'UNKNOWN_OFFER', 'EXPIRED', 'TERMS', 'NO_CAPACITY', 'INTERNAL', 'MODULE', 'UNFUNDED', 'RATE_LIMITED']
const REASONS = new Set<string>(DECLINE_REASONS)

export interface Propose {
  type: 'propose'
  job: Envelope<'JobOffer'>
  /** the deal, signed by the job creator */
  deal: Envelope<'Deal'>
}
export interface Accept { type: 'accept', dealId: string, providerSignature: string }
export interface Decline { type: 'decline', reason: DeclineReason }
export type NegotiationMessage = Propose | Accept | Decline

export interface Candidates {
  type: 'candidates'
  jobOfferId: string
  offers: Array<Envelope<'ResourceOffer'>>
}

function malformed (msg: string): MessageValidationError {
  return new MessageValidationError('MALFORMED', msg)
}

export function encodeNegotiation (m: NegotiationMessage): Uint8Array {
  switch (m.type) {
    case 'propose': return encode([NEGOTIATION_VERSION, 'propose', encodeEnvelope(m.job), encodeEnvelope(m.deal)])
    case 'accept': return encode([NEGOTIATION_VERSION, 'accept', getBytes(m.dealId), getBytes(m.providerSignature)])
    case 'decline': return encode([NEGOTIATION_VERSION, 'decline', m.reason])
  }
}

function decodeTop (bytes: Uint8Array): unknown[] {
  if (bytes.length > MAX_NEGOTIATION_MESSAGE) throw new MessageValidationError('OVERSIZED', `${bytes.length} bytes`)
  let raw: unknown
  try {
    raw = decode(bytes, { strict: true, allowIndefinite: false, allowUndefined: false, rejectDuplicateMapKeys: true })
  } catch (err) {
    throw malformed(`not CBOR (${(err as Error).message})`)
  }
  if (!Array.isArray(raw) || raw[0] !== NEGOTIATION_VERSION || typeof raw[1] !== 'string') throw malformed('bad message header')
  return raw
}

export function decodeNegotiation (bytes: Uint8Array): NegotiationMessage {
  const raw = decodeTop(bytes)
  switch (raw[1]) {
    case 'propose': {
      if (raw.length !== 4 || !(raw[2] instanceof Uint8Array) || !(raw[3] instanceof Uint8Array)) throw malformed('propose')
      return { type: 'propose', job: decodeEnvelope(raw[2], 'JobOffer') as Envelope<'JobOffer'>, deal: decodeEnvelope(raw[3], 'Deal') as Envelope<'Deal'> }
    }
    case 'accept': {
      if (raw.length !== 4 || !(raw[2] instanceof Uint8Array) || raw[2].length !== 32 || !(raw[3] instanceof Uint8Array) || raw[3].length !== 65) throw malformed('accept')
      return { type: 'accept', dealId: hexlify(raw[2]), providerSignature: hexlify(raw[3]) }
    }
    case 'decline': {
      if (raw.length !== 3 || typeof raw[2] !== 'string' || !REASONS.has(raw[2])) throw malformed('decline')
      return { type: 'decline', reason: raw[2] as DeclineReason }
    }
    default: throw malformed(`unknown message ${raw[1]}`)
  }
}

export function encodeCandidates (c: Candidates): Uint8Array {
  return encode([NEGOTIATION_VERSION, 'candidates', getBytes(c.jobOfferId), c.offers.slice(0, MAX_CANDIDATES).map(o => encodeEnvelope(o))])
}

export function decodeCandidates (bytes: Uint8Array): Candidates {
  const raw = decodeTop(bytes)
  if (raw[1] !== 'candidates' || raw.length !== 4 || !(raw[2] instanceof Uint8Array) || raw[2].length !== 32 || !Array.isArray(raw[3]) || raw[3].length > MAX_CANDIDATES) throw malformed('candidates')
  const offers = (raw[3] as unknown[]).map(b => {
    if (!(b instanceof Uint8Array)) throw malformed('candidate')
    return decodeEnvelope(b, 'ResourceOffer') as Envelope<'ResourceOffer'>
  })
  return { type: 'candidates', jobOfferId: hexlify(raw[2]), offers }
}

export interface DealTerms {
  mediationFee: bigint
  /** seconds the provider gets beyond the job's own timeout to submit the result */
  resultSlack: number
  judgeWindow: number
  mediateTimeout: number
  /** seconds from now until agree() is refused */
  dealTtl: number
}

// dealTtl stays well inside what providers countersign (protocols/negotiation/terms.ts maxDealTtlSec)
export const defaultDealTerms: DealTerms = { mediationFee: 0n, resultSlack: 300, judgeWindow: 3600, mediateTimeout: 3600, dealTtl: 120 }

/**
 * The deal for a job and a resource offer. Its nonce is the job offer's nonce: one job offer can become at
 * most one agreed deal on chain, even if a slow provider countersigns after the job creator moved on.
 */
export function buildDeal (job: JobOffer, jobOfferId: string, offer: ResourceOffer, resourceOfferId: string, mediators: string[], terms: DealTerms, now: bigint): Deal {
  return {
    jobOfferId,
    resourceOfferId,
    jobCreator: job.jobCreator,
    resourceProvider: offer.provider,
    mediators: [...mediators].sort((a, b) => a.toLowerCase() < b.toLowerCase() ? -1 : 1),
    price: offer.price,
    collateral: offer.collateral,
    mediationFee: terms.mediationFee,
    auditPpm: job.auditPpm,
    resultTimeout: job.timeout + terms.resultSlack,
    judgeWindow: terms.judgeWindow,
    mediateTimeout: terms.mediateTimeout,
    expiry: now + BigInt(terms.dealTtl),
    nonce: job.nonce
  }
}
