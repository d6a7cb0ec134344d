// Result delivery (/lilypad/<network>/result/1.0.0): the provider sends the job creator the EIP-712 `Result`
// it signed plus the multiaddrs it serves the result CID from; the job creator answers with an ack or a named
// rejection. Canonical CBOR, size-limited; every field is checked here at the edge. (Offer sync has its own
// folder: protocols/offer-sync.)
import { encode, decode } from 'cborg'
import { getBytes, hexlify } from 'ethers'
import { recoverSigner, type Accept, type Deal, type LilypadDomain, type Result } from '../eip712.ts'
import { MessageValidationError } from '../errors.ts'

export const RESULT_VERSION = 1
export const MAX_RESULT_MESSAGE = 16 * 1024
const MAX_ADDRS = 16

export interface ResultDelivery {
  result: Result
  /** the provider's signature over `result` */
  signature: string
  /** where the provider serves the result CID (multiaddrs ending in /p2p/<peer id>) */
  addrs: string[]
}

/**
 * A provider's notice about a deal it countersigned, on the same stream protocol as results: its own agree failed
 * for good (a revert: someone's deposit, an expired or already used deal), so the job creator can move on at once
 * instead of waiting out its agree timeout. Only the deal's provider peer is listened to, and the job creator
 * checks the chain before it acts, so a forged notice can at most make it move on from that provider.
 */
export interface DealNotice { dealId: string, code: DealNoticeCode, detail: string }
export type DealNoticeCode = 'AGREE_FAILED'
const NOTICE_CODES = new Set<string>(['AGREE_FAILED'])
const MAX_NOTICE_DETAIL = 200

/**
 * `acceptance: 'none'` (a job creator's ack of a result): no signed acceptance will follow (`lilypad run --no-accept`),
 * so the provider submits the result alone at once rather than waiting for one.
 */
export type ResultAck = { type: 'ack', acceptance?: 'none' } | { type: 'reject', code: ResultRejectCode }
export type ResultRejectCode = 'MALFORMED' | 'UNKNOWN_DEAL' | 'BAD_SIGNATURE' | 'WRONG_DEAL' | 'WRONG_RESULT'
const REJECT_CODES = new Set<string>(['MALFORMED', 'UNKNOWN_DEAL', 'BAD_SIGNATURE', 'WRONG_DEAL', 'WRONG_RESULT'])

/**
 * A job creator's acceptance of a deal's result (/lilypad/<network>/acceptance/1.0.0, job creator → provider): the
 * EIP-712 `Accept(dealId, resultCid)` it signed, which the provider submits with the result
 * (Market.submitAcceptedResult) to settle the deal in that transaction. The provider answers with a result ack.
 */
export interface AcceptanceDelivery { accept: Accept, signature: string }

/** A delivered result that does not come from the deal's provider (or not for that deal). */
export class ResultRejectedError extends Error {
  static override name = 'ResultRejectedError'
  override name = 'ResultRejectedError'
  readonly code: ResultRejectCode
  constructor (code: ResultRejectCode, message: string) {
    super(`${code}: ${message}`)
    this.code = code
  }
}

function malformed (msg: string): MessageValidationError {
  return new MessageValidationError('MALFORMED', msg)
}

function decodeTop (bytes: Uint8Array, max: number): unknown[] {
  if (bytes.length > max) throw new MessageValidationError('OVERSIZED', `${bytes.length} bytes`)
  let raw: unknown
  try {
    raw = decode(bytes, { strict: true, allowIndefinite: false, allowUndefined: false, rejectDuplicateMapKeys: true })
  } catch (err) {
    throw malformed(`not CBOR (${(err as Error).message})`)
  }
  if (!Array.isArray(raw) || raw[0] !== RESULT_VERSION || typeof raw[1] !== 'string') throw malformed('bad message header')
  return raw
}

const isAddrList = (v: unknown): v is string[] => Array.isArray(v) && v.length <= MAX_ADDRS && v.every(a => typeof a === 'string' && a.length > 0 && a.length < 512)

export function encodeResultDelivery (d: ResultDelivery): Uint8Array {
  const r = d.result
  return encode([RESULT_VERSION, 'result', getBytes(r.dealId), r.resultCid, r.exitCode, r.timestamp, getBytes(d.signature), d.addrs.slice(0, MAX_ADDRS)])
}

export function decodeResultDelivery (bytes: Uint8Array): ResultDelivery {
  const raw = decodeTop(bytes, MAX_RESULT_MESSAGE)
  if (raw[1] !== 'result' || raw.length !== 8) throw malformed('result')
  const [, , dealId, resultCid, exitCode, ts, sig, addrs] = raw
  if (!(dealId instanceof Uint8Array) || dealId.length !== 32) throw malformed('dealId')
  if (typeof resultCid !== 'string' || resultCid.length === 0 || resultCid.length > 256) throw malformed('resultCid')
  if (typeof exitCode !== 'number' || !Number.isInteger(exitCode) || exitCode < -(2 ** 31) || exitCode >= 2 ** 31) throw malformed('exitCode')
  const timestamp = typeof ts === 'number' ? BigInt(ts) : ts
  if (typeof timestamp !== 'bigint' || timestamp < 0n) throw malformed('timestamp')
  if (!(sig instanceof Uint8Array) || sig.length !== 65) throw malformed('signature')
  if (!isAddrList(addrs)) throw malformed('addrs')
  return { result: { dealId: hexlify(dealId), resultCid, exitCode, timestamp }, signature: hexlify(sig), addrs }
}

export function encodeDealNotice (n: DealNotice): Uint8Array {
  return encode([RESULT_VERSION, 'notice', getBytes(n.dealId), n.code, n.detail.slice(0, MAX_NOTICE_DETAIL)])
}

/** A result or a notice: what a provider sends on the result protocol. */
export function decodeProviderMessage (bytes: Uint8Array): { type: 'result', delivery: ResultDelivery } | { type: 'notice', notice: DealNotice } {
  const raw = decodeTop(bytes, MAX_RESULT_MESSAGE)
  if (raw[1] === 'notice') {
    const [, , dealId, code, detail] = raw
    if (raw.length !== 5 || !(dealId instanceof Uint8Array) || dealId.length !== 32) throw malformed('notice dealId')
    if (typeof code !== 'string' || !NOTICE_CODES.has(code)) throw malformed('notice code')
    if (typeof detail !== 'string' || detail.length > MAX_NOTICE_DETAIL) throw malformed('notice detail')
    return { type: 'notice', notice: { dealId: hexlify(dealId), code: code as DealNoticeCode, detail } }
  }
  return { type: 'result', delivery: decodeResultDelivery(bytes) }
}

export function encodeResultAck (a: ResultAck): Uint8Array {
  if (a.type === 'reject') return encode([RESULT_VERSION, 'reject', a.code])
  return encode(a.acceptance === 'none' ? [RESULT_VERSION, 'ack', 'no-acceptance'] : [RESULT_VERSION, 'ack'])
}

export function decodeResultAck (bytes: Uint8Array): ResultAck {
  const raw = decodeTop(bytes, 256)
  if (raw[1] === 'ack' && raw.length === 2) return { type: 'ack' }
  if (raw[1] === 'ack' && raw.length === 3 && raw[2] === 'no-acceptance') return { type: 'ack', acceptance: 'none' }
  if (raw[1] === 'reject' && raw.length === 3 && REJECT_CODES.has(raw[2] as string)) return { type: 'reject', code: raw[2] as ResultRejectCode }
  throw malformed('ack')
}

/**
 * Pure check of a delivered result against the deal the job creator expects it for: it must name that deal
 * and be signed by that deal's provider under this network's domain. Throws ResultRejectedError.
 */
export function checkResult (d: ResultDelivery, deal: Deal, dealId: string, domain: LilypadDomain): Result {
  if (d.result.dealId.toLowerCase() !== dealId.toLowerCase()) throw new ResultRejectedError('WRONG_DEAL', `result is for deal ${d.result.dealId}, expected ${dealId}`)
  let signer = ''
  try { signer = recoverSigner('Result', domain, d.result, d.signature) } catch {}
  if (signer.toLowerCase() !== deal.resourceProvider.toLowerCase()) throw new ResultRejectedError('BAD_SIGNATURE', 'result not signed by the deal\'s provider (or signed for another network)')
  return d.result
}

export function encodeAcceptance (d: AcceptanceDelivery): Uint8Array {
  return encode([RESULT_VERSION, 'accept', getBytes(d.accept.dealId), d.accept.resultCid, getBytes(d.signature)])
}

export function decodeAcceptance (bytes: Uint8Array): AcceptanceDelivery {
  const raw = decodeTop(bytes, MAX_ACCEPTANCE_MESSAGE)
  if (raw[1] !== 'accept' || raw.length !== 5) throw malformed('acceptance')
  const [, , dealId, resultCid, sig] = raw
  if (!(dealId instanceof Uint8Array) || dealId.length !== 32) throw malformed('dealId')
  if (typeof resultCid !== 'string' || resultCid.length === 0 || resultCid.length > 256) throw malformed('resultCid')
  if (!(sig instanceof Uint8Array) || sig.length !== 65) throw malformed('signature')
  return { accept: { dealId: hexlify(dealId), resultCid }, signature: hexlify(sig) }
}

export const MAX_ACCEPTANCE_MESSAGE = 1024

/**
 * Pure check of an acceptance against the deal and the result the provider holds: it must name that deal and that
 * result and be signed by the deal's job creator under this network's domain (the Market checks the same; a bad
 * one would only cost the provider a reverted transaction). Throws ResultRejectedError.
 */
export function checkAcceptance (d: AcceptanceDelivery, deal: Deal, dealId: string, resultCid: string | undefined, domain: LilypadDomain): Accept {
  if (d.accept.dealId.toLowerCase() !== dealId.toLowerCase()) throw new ResultRejectedError('WRONG_DEAL', `acceptance is for deal ${d.accept.dealId}, expected ${dealId}`)
  if (resultCid === undefined || d.accept.resultCid !== resultCid) throw new ResultRejectedError('WRONG_RESULT', `acceptance is for result ${d.accept.resultCid}, ours is ${resultCid ?? 'not there yet'}`)
  let signer = ''
  try { signer = recoverSigner('Accept', domain, d.accept, d.signature) } catch {}
  if (signer.toLowerCase() !== deal.jobCreator.toLowerCase()) throw new ResultRejectedError('BAD_SIGNATURE', 'acceptance not signed by the deal\'s job creator (or signed for another network)')
  return d.accept
}
