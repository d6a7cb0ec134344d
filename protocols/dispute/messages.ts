// Messages of the dispute hand-off (/lilypad/<network>/dispute/1.0.0), canonical CBOR, one request and one
// reply per stream:
//   push     party → mediator   [1, "case", dealId (32 bytes), Deal envelope, JobOffer envelope]
//            mediator → party   [1, "ack"] | [1, "refuse", code]
//   pull     mediator → party   [1, "request", dealId (32 bytes)]
//            party → mediator   [1, "case", …] | [1, "unknown"]
// The deal travels as the job creator's signed Deal envelope and the job as its signed JobOffer envelope, so the
// mediator can check both against the chain (see verify.ts); nothing in a case is taken on trust.
import { encode, decode } from 'cborg'
import { getBytes, hexlify } from 'ethers'
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../codec.ts'
import { MessageValidationError } from '../errors.ts'

export const DISPUTE_VERSION = 1
/** A JobOffer (≤ 16 KiB) and a Deal (≤ 2 KiB) plus framing. */
export const MAX_DISPUTE_MESSAGE = 20 * 1024

/** Why a mediator refused a pushed case (also the `code` of the matching DisputeVerificationError). */
/** BUSY: the peer sent more than its share of requests, or the service is at its limit of requests in progress. */
export type RefusalCode =
  | 'MALFORMED' | 'DEAL_MISMATCH' | 'JOB_OFFER_MISMATCH' | 'FORGED_JOB_OFFER' | 'NOT_CHALLENGED' | 'NOT_MY_DISPUTE' | 'INTERNAL' | 'BUSY'
const CODES = new Set<string>(['MALFORMED', 'DEAL_MISMATCH', 'JOB_OFFER_MISMATCH', 'FORGED_JOB_OFFER', 'NOT_CHALLENGED', 'NOT_MY_DISPUTE', 'INTERNAL', 'BUSY'])

/** Everything a mediator needs to re-run a deal's job. */
export interface DisputeCase {
  dealId: string
  /** the deal, signed by its job creator */
  deal: Envelope<'Deal'>
  /** the job offer the deal refers to, signed by its job creator */
  jobOffer: Envelope<'JobOffer'>
}

export type DisputeMessage =
  | ({ type: 'case' } & DisputeCase)
  | { type: 'ack' }
  | { type: 'refuse', code: RefusalCode }
  | { type: 'request', dealId: string }
  | { type: 'unknown' }

function malformed (msg: string): MessageValidationError {
  return new MessageValidationError('MALFORMED', `dispute: ${msg}`)
}

export function encodeDispute (m: DisputeMessage): Uint8Array {
  switch (m.type) {
    case 'case': return encode([DISPUTE_VERSION, 'case', getBytes(m.dealId), encodeEnvelope(m.deal), encodeEnvelope(m.jobOffer)])
    case 'ack': return encode([DISPUTE_VERSION, 'ack'])
    case 'refuse': return encode([DISPUTE_VERSION, 'refuse', m.code])
    case 'request': return encode([DISPUTE_VERSION, 'request', getBytes(m.dealId)])
    case 'unknown': return encode([DISPUTE_VERSION, 'unknown'])
  }
}

const is32 = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === 32

/** Bytes → typed message or MessageValidationError (MALFORMED / OVERSIZED / the envelope's own codes). */
export function decodeDispute (bytes: Uint8Array): DisputeMessage {
  if (bytes.length > MAX_DISPUTE_MESSAGE) throw new MessageValidationError('OVERSIZED', `dispute message of ${bytes.length} bytes`)
  let raw: unknown
  try {
    raw = decode(bytes, { strict: true, allowIndefinite: false, allowUndefined: false, rejectDuplicateMapKeys: true })
  } catch (err) {
    throw malformed(`not CBOR (${(err as Error).message})`)
  }
  if (!Array.isArray(raw) || raw[0] !== DISPUTE_VERSION || typeof raw[1] !== 'string') throw malformed('bad header')
  switch (raw[1]) {
    case 'case':
      if (raw.length !== 5 || !is32(raw[2]) || !(raw[3] instanceof Uint8Array) || !(raw[4] instanceof Uint8Array)) throw malformed('case')
      return {
        type: 'case',
        dealId: hexlify(raw[2]),
        deal: decodeEnvelope(raw[3], 'Deal') as Envelope<'Deal'>,
        jobOffer: decodeEnvelope(raw[4], 'JobOffer') as Envelope<'JobOffer'>
      }
    case 'ack':
      if (raw.length !== 2) throw malformed('ack')
      return { type: 'ack' }
    case 'refuse':
      if (raw.length !== 3 || typeof raw[2] !== 'string' || !CODES.has(raw[2])) throw malformed('refuse')
      return { type: 'refuse', code: raw[2] as RefusalCode }
    case 'request':
      if (raw.length !== 3 || !is32(raw[2])) throw malformed('request')
      return { type: 'request', dealId: hexlify(raw[2]) }
    case 'unknown':
      if (raw.length !== 2) throw malformed('unknown')
      return { type: 'unknown' }
    default:
      throw malformed(`unknown message ${raw[1]}`)
  }
}
