// Live logs (/lilypad/<network>/logs/1.0.0): the job creator opens a stream to the provider peer it negotiated a
// deal with and asks to follow that deal's output; the provider answers with frames — chunks of the container's
// stdout/stderr as they are produced, a count of bytes it dropped (over the rate), and one closing frame with a
// code. Canonical CBOR, length-prefixed, every field checked here at the edge. Logs are advisory: the result stays
// the CID-verified one, nothing here is ever used for it.
import { encode, decode } from 'cborg'
import { getBytes, hexlify } from 'ethers'
import { MessageValidationError } from '../errors.ts'

export const LOGS_VERSION = 1
/** one chunk's payload at most; longer output is split */
export const MAX_LOG_CHUNK = 8 * 1024
/** a frame: a chunk plus its framing */
export const MAX_LOG_FRAME = MAX_LOG_CHUNK + 64
export const MAX_LOG_REQUEST = 128
const MAX_END_DETAIL = 200

export type LogStreamName = 'stdout' | 'stderr'

export interface LogRequest { type: 'follow', dealId: string }

/**
 * Why a log stream ended. DONE: the container's output ended. LIMIT: the deal's byte budget is spent. UNKNOWN_DEAL:
 * not a deal the asker may follow (also what a stranger is told about someone else's deal). BUSY: too many log
 * streams at once (per peer or in all). RATE_LIMITED: the peer opens streams too often. STOPPING: the node stops.
 */
export type LogEndCode = 'DONE' | 'LIMIT' | 'UNKNOWN_DEAL' | 'BUSY' | 'RATE_LIMITED' | 'STOPPING'
const END_CODES = new Set<string>(['DONE', 'LIMIT', 'UNKNOWN_DEAL', 'BUSY', 'RATE_LIMITED', 'STOPPING'])

export type LogFrame =
  | { type: 'chunk', stream: LogStreamName, data: Uint8Array }
  | { type: 'dropped', bytes: number }
  | { type: 'end', code: LogEndCode, detail?: string }

function malformed (msg: string): MessageValidationError {
  return new MessageValidationError('MALFORMED', `logs: ${msg}`)
}

function decodeTop (bytes: Uint8Array, max: number): unknown[] {
  if (bytes.length > max) throw new MessageValidationError('OVERSIZED', `logs message of ${bytes.length} bytes`)
  let raw: unknown
  try {
    raw = decode(bytes, { strict: true, allowIndefinite: false, allowUndefined: false, rejectDuplicateMapKeys: true })
  } catch (err) {
    throw malformed(`not CBOR (${(err as Error).message})`)
  }
  if (!Array.isArray(raw) || raw[0] !== LOGS_VERSION || typeof raw[1] !== 'string') throw malformed('bad header')
  return raw
}

const u32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32

export function encodeLogRequest (r: LogRequest): Uint8Array {
  return encode([LOGS_VERSION, 'follow', getBytes(r.dealId)])
}

export function decodeLogRequest (bytes: Uint8Array): LogRequest {
  const raw = decodeTop(bytes, MAX_LOG_REQUEST)
  if (raw[1] !== 'follow' || raw.length !== 3) throw malformed('follow')
  const id = raw[2]
  if (!(id instanceof Uint8Array) || id.length !== 32) throw malformed('dealId')
  return { type: 'follow', dealId: hexlify(id) }
}

export function encodeLogFrame (f: LogFrame): Uint8Array {
  switch (f.type) {
    case 'chunk':
      if (f.data.length === 0 || f.data.length > MAX_LOG_CHUNK) throw new RangeError(`a log chunk holds 1..${MAX_LOG_CHUNK} bytes`)
      return encode([LOGS_VERSION, 'chunk', f.stream === 'stdout' ? 1 : 2, f.data])
    case 'dropped':
      return encode([LOGS_VERSION, 'dropped', f.bytes])
    case 'end':
      return encode([LOGS_VERSION, 'end', f.code, (f.detail ?? '').slice(0, MAX_END_DETAIL)])
  }
}

export function decodeLogFrame (bytes: Uint8Array): LogFrame {
  const raw = decodeTop(bytes, MAX_LOG_FRAME)
  switch (raw[1]) {
    case 'chunk': {
      if (raw.length !== 4 || (raw[2] !== 1 && raw[2] !== 2)) throw malformed('chunk')
      const data = raw[3]
      if (!(data instanceof Uint8Array) || data.length === 0 || data.length > MAX_LOG_CHUNK) throw malformed('chunk data')
      return { type: 'chunk', stream: raw[2] === 1 ? 'stdout' : 'stderr', data }
    }
    case 'dropped':
      if (raw.length !== 3 || !u32(raw[2]) || raw[2] === 0) throw malformed('dropped')
      return { type: 'dropped', bytes: raw[2] }
    case 'end': {
      if (raw.length !== 4 || typeof raw[2] !== 'string' || !END_CODES.has(raw[2])) throw malformed('end code')
      if (typeof raw[3] !== 'string' || raw[3].length > MAX_END_DETAIL) throw malformed('end detail')
      return { type: 'end', code: raw[2] as LogEndCode, ...(raw[3] !== '' ? { detail: raw[3] } : {}) }
    }
    default:
      throw malformed(`unknown frame ${JSON.stringify(raw[1]).slice(0, 40)}`)
  }
}

/** Splits output into chunks of at most MAX_LOG_CHUNK bytes. */
export function splitChunk (data: Uint8Array, max = MAX_LOG_CHUNK): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < data.length; i += max) out.push(data.subarray(i, Math.min(data.length, i + max)))
  return out
}
