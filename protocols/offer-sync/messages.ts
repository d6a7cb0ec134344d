// Offer sync (/lilypad/<network>/offers/3.0.0): a node that just joined asks a peer for the live offers it knows, a
// page at a time, so it can match at once instead of waiting for heartbeats. One request and one reply per stream,
// canonical CBOR, size-limited; every field is checked here at the edge.
//
//   asker → peer   [1, "pull", filter | null, cursor | null, limit]
//                  filter = [cpu, ramMb, diskMb, gpus, gpuVramMb, gpuModel, cudaVersion, maxPrice (big-endian bytes),
//                            module, [mediator…]]
//   peer → asker   [1, "offers", [[ResourceOffer envelope, signed peer record | null] …], next cursor | null]
//                | [1, "busy", retry after (ms)]
//
// The answer is a page, not "everything": providers in the order the peer first saw them, a few offers each, only
// offers that fit the filter — so a flood of junk offers from new keys cannot push the established providers out of
// a newcomer's first page, and the asker can page on. Each provider's signed peer record (libp2p's own, signed by the
// provider's peer key) travels beside its offers, so addresses enter the asker's peer store only when the peer they
// belong to signed them.
import { encode, decode } from 'cborg'
import { getAddress, getBytes, hexlify } from 'ethers'
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../codec.ts'
import { MessageValidationError } from '../errors.ts'
import type { SyncFilter } from '../order-book.ts'

export const SYNC_VERSION = 1
export const MAX_SYNC_OFFERS = 256
/** 256 offers of ≤ 4 KiB plus peer records and framing */
export const MAX_SYNC_MESSAGE = 1536 * 1024
export const MAX_SYNC_REQUEST = 4 * 1024
export const MAX_PEER_RECORD = 2048
const MAX_CURSOR = 32

export interface SyncRequest { type: 'pull', filter?: SyncFilter, cursor?: Uint8Array, limit: number }

export interface SyncedOffer {
  offer: Envelope<'ResourceOffer'>
  /** the offer's exact bytes as received (a verifier worker decodes them again) */
  bytes?: Uint8Array
  /** libp2p signed peer record of the offer's peer */
  peerRecord?: Uint8Array
  /** the slot is booked: the provider's withdrawal (newer than the offer) marks the offer busy */
  withdrawal?: Envelope<'OfferWithdrawal'>
  withdrawalBytes?: Uint8Array
}

export type SyncAnswer =
  | { type: 'offers', offers: SyncedOffer[], next?: Uint8Array }
  | { type: 'busy', retryAfterMs: number }

function malformed (msg: string): MessageValidationError {
  return new MessageValidationError('MALFORMED', `offer sync: ${msg}`)
}

function decodeTop (bytes: Uint8Array, max: number): unknown[] {
  if (bytes.length > max) throw new MessageValidationError('OVERSIZED', `offer sync message of ${bytes.length} bytes`)
  let raw: unknown
  try {
    raw = decode(bytes, { strict: true, allowIndefinite: false, allowUndefined: false, rejectDuplicateMapKeys: true })
  } catch (err) {
    throw malformed(`not CBOR (${(err as Error).message})`)
  }
  if (!Array.isArray(raw) || raw[0] !== SYNC_VERSION || typeof raw[1] !== 'string') throw malformed('bad header')
  return raw
}

const u32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32
const bytesOf = (v: unknown, max: number): v is Uint8Array => v instanceof Uint8Array && v.length > 0 && v.length <= max

function amountBytes (n: bigint): Uint8Array {
  if (n === 0n) return new Uint8Array([0])
  const hex = n.toString(16)
  return getBytes('0x' + (hex.length % 2 === 0 ? hex : '0' + hex))
}

export function encodeSyncRequest (r: SyncRequest): Uint8Array {
  const f = r.filter
  const filter = f === undefined ? null : [f.spec.cpu, f.spec.ramMb, f.spec.diskMb, f.spec.gpus, f.spec.gpuVramMb, f.spec.gpuModel, f.spec.cudaVersion, amountBytes(f.maxPrice), f.module, f.mediators.map(m => getBytes(getAddress(m)))]
  return encode([SYNC_VERSION, 'pull', filter, r.cursor ?? null, r.limit])
}

export function decodeSyncRequest (bytes: Uint8Array): SyncRequest {
  const raw = decodeTop(bytes, MAX_SYNC_REQUEST)
  if (raw[1] !== 'pull' || raw.length !== 5) throw malformed('pull')
  const [, , f, cursor, limit] = raw
  if (!u32(limit) || limit === 0) throw malformed('limit')
  if (cursor !== null && !bytesOf(cursor, MAX_CURSOR)) throw malformed('cursor')
  let filter: SyncFilter | undefined
  if (f !== null) {
    if (!Array.isArray(f) || f.length !== 10) throw malformed('filter')
    const [cpu, ramMb, diskMb, gpus, gpuVramMb, gpuModel, cudaVersion, maxPrice, module, mediators] = f as unknown[]
    if (![cpu, ramMb, diskMb, gpus, gpuVramMb, cudaVersion].every(u32)) throw malformed('filter spec')
    if (typeof gpuModel !== 'string' || gpuModel.length > 128) throw malformed('filter gpuModel')
    if (!bytesOf(maxPrice, 12)) throw malformed('filter maxPrice')
    if (typeof module !== 'string' || module.length > 1024) throw malformed('filter module')
    if (!Array.isArray(mediators) || mediators.length > 64 || !mediators.every(m => m instanceof Uint8Array && m.length === 20)) throw malformed('filter mediators')
    filter = {
      spec: { cpu: cpu as number, ramMb: ramMb as number, diskMb: diskMb as number, gpus: gpus as number, gpuVramMb: gpuVramMb as number, gpuModel, cudaVersion: cudaVersion as number },
      maxPrice: BigInt(hexlify(maxPrice)),
      module,
      mediators: (mediators as Uint8Array[]).map(m => getAddress(hexlify(m)))
    }
  }
  return { type: 'pull', ...(filter !== undefined ? { filter } : {}), ...(cursor !== null ? { cursor: cursor as Uint8Array } : {}), limit }
}

export function encodeSyncAnswer (a: SyncAnswer): Uint8Array {
  if (a.type === 'busy') return encode([SYNC_VERSION, 'busy', Math.max(0, Math.round(a.retryAfterMs))])
  return encode([SYNC_VERSION, 'offers', a.offers.slice(0, MAX_SYNC_OFFERS).map(o => {
    const entry: unknown[] = [o.bytes ?? encodeEnvelope(o.offer), o.peerRecord ?? null]
    if (o.withdrawal !== undefined) entry.push(o.withdrawalBytes ?? encodeEnvelope(o.withdrawal))
    return entry
  }), a.next ?? null])
}

/** Decodes the envelopes; their signatures and bindings are verified by the caller like any gossiped offer. */
export function decodeSyncAnswer (bytes: Uint8Array): SyncAnswer {
  const raw = decodeTop(bytes, MAX_SYNC_MESSAGE)
  if (raw[1] === 'busy') {
    if (raw.length !== 3 || !u32(raw[2])) throw malformed('busy')
    return { type: 'busy', retryAfterMs: raw[2] }
  }
  if (raw[1] !== 'offers' || raw.length !== 4 || !Array.isArray(raw[2]) || raw[2].length > MAX_SYNC_OFFERS) throw malformed('offers')
  if (raw[3] !== null && !bytesOf(raw[3], MAX_CURSOR)) throw malformed('next cursor')
  const offers = (raw[2] as unknown[]).map(item => {
    if (!Array.isArray(item) || (item.length !== 2 && item.length !== 3) || !(item[0] instanceof Uint8Array)) throw malformed('offer entry')
    if (item[1] !== null && !bytesOf(item[1], MAX_PEER_RECORD)) throw malformed('peer record')
    const env = decodeEnvelope(item[0], 'ResourceOffer') as Envelope<'ResourceOffer'>
    let busy: Pick<SyncedOffer, 'withdrawal' | 'withdrawalBytes'> = {}
    if (item.length === 3) {
      if (!(item[2] instanceof Uint8Array)) throw malformed('withdrawal')
      const w = decodeEnvelope(item[2], 'OfferWithdrawal') as Envelope<'OfferWithdrawal'>
      if (w.value.provider.toLowerCase() !== env.value.provider.toLowerCase() || w.value.slot !== env.value.slot || w.value.nonce <= env.value.nonce) throw malformed('a withdrawal that is not the offer\'s slot\'s, or not newer')
      busy = { withdrawal: w, withdrawalBytes: item[2] }
    }
    return { offer: env, bytes: item[0], ...(item[1] !== null ? { peerRecord: item[1] as Uint8Array } : {}), ...busy }
  })
  return { type: 'offers', offers, ...(raw[3] !== null ? { next: raw[3] as Uint8Array } : {}) }
}

/** A cursor is the provider sequence number of the sync index, big-endian. */
export function encodeCursor (seq: number): Uint8Array {
  return amountBytes(BigInt(seq))
}

export function decodeCursor (c: Uint8Array | undefined): number | undefined {
  if (c === undefined) return undefined
  const n = Number(BigInt(hexlify(c)))
  return Number.isSafeInteger(n) ? n : undefined
}
