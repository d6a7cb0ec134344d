// The wire codec for signed messages: a versioned envelope in canonical CBOR, laid out by the message's
// EIP-712 type (fields in type order, structs as arrays, addresses and bytes32 as raw bytes, integers as
// CBOR integers). Decoding re-encodes and compares, so every message has exactly one encoding and a
// content-hash message id is stable. Each kind has a hard size limit checked before any parsing.
import { encode, decode } from 'cborg'
import { getAddress, hexlify, getBytes } from 'ethers'
import { typesOf, type MessageKinds } from './eip712.ts'
import { NodeRecordTypes, type NodeRecord } from './directory/record-types.ts'
import { OfferWithdrawalTypes, type OfferWithdrawal } from './withdrawal.ts'
import { MessageValidationError } from './errors.ts'

export const WIRE_VERSION = 1

export interface WireKinds extends MessageKinds {
  NodeRecord: NodeRecord
  OfferWithdrawal: OfferWithdrawal
}
export type WireKind = keyof WireKinds

const KIND_TAGS: Record<WireKind, number> = { ResourceOffer: 1, JobOffer: 2, Deal: 3, Result: 4, NodeRecord: 5, OfferWithdrawal: 6 }
const TAG_KINDS = new Map(Object.entries(KIND_TAGS).map(([k, v]) => [v, k as WireKind]))

/** Hard size limit of one encoded envelope, per kind (bytes). */
export const MAX_SIZE: Record<WireKind, number> = {
  ResourceOffer: 4096,
  JobOffer: 16384, // carries the job's inputs
  Deal: 2048,
  Result: 1024,
  NodeRecord: 4096,
  OfferWithdrawal: 512
}
export const MAX_ARRAY_LENGTH = 64
const MAX_PEER_HINT = 128
const U64_LIMIT = 1n << 64n

type Fields = ReadonlyArray<{ name: string, type: string }>
type TypeTable = Record<string, Fields>

function typeTableOf (kind: WireKind): TypeTable {
  if (kind === 'NodeRecord') return NodeRecordTypes
  if (kind === 'OfferWithdrawal') return OfferWithdrawalTypes
  return typesOf(kind)
}

export interface Envelope<K extends WireKind = WireKind> {
  kind: K
  value: WireKinds[K]
  /** 65-byte signature, 0x-hex */
  signature: string
  /** Unsigned hint: the libp2p peer id of the publisher (verified later by who answers on it). */
  peer?: string
}

const DECODE_OPTIONS = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: true,
  rejectDuplicateMapKeys: true,
  useMaps: false
}

function encodeValue (types: TypeTable, type: string, v: unknown): unknown {
  if (type.endsWith('[]')) {
    const inner = type.slice(0, -2)
    return (v as unknown[]).map(x => encodeValue(types, inner, x))
  }
  if (types[type] !== undefined) {
    const o = v as Record<string, unknown>
    return types[type].map(f => encodeValue(types, f.type, o[f.name]))
  }
  if (type === 'address') return getBytes(getAddress(v as string))
  if (type.startsWith('bytes')) return getBytes(v as string)
  if (type === 'string') return v
  if (/^u?int\d+$/.test(type)) {
    const b = BigInt(v as number | bigint)
    if (b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(b)
    if (b >= -U64_LIMIT && b < U64_LIMIT) return b
    // beyond CBOR's 64-bit integers (uint96 amounts): a minimal big-endian byte string, positive only
    if (b < 0n) throw new Error(`no wire encoding for ${type} value ${b}`)
    return getBytes('0x' + b.toString(16).padStart(Math.ceil(b.toString(16).length / 2) * 2, '0'))
  }
  throw new Error(`no wire encoding for type ${type}`)
}

function schema (path: string, msg: string): MessageValidationError {
  return new MessageValidationError('SCHEMA', `${path}: ${msg}`)
}

function decodeValue (types: TypeTable, type: string, v: unknown, path: string): unknown {
  if (type.endsWith('[]')) {
    if (!Array.isArray(v)) throw schema(path, 'expected an array')
    if (v.length > MAX_ARRAY_LENGTH) throw schema(path, `more than ${MAX_ARRAY_LENGTH} entries`)
    return v.map((x, i) => decodeValue(types, type.slice(0, -2), x, `${path}[${i}]`))
  }
  const struct = types[type]
  if (struct !== undefined) {
    if (!Array.isArray(v) || v.length !== struct.length) throw schema(path, `expected ${type} with ${struct.length} fields`)
    return Object.fromEntries(struct.map((f, i) => [f.name, decodeValue(types, f.type, v[i], `${path}.${f.name}`)]))
  }
  if (type === 'address') {
    if (!(v instanceof Uint8Array) || v.length !== 20) throw schema(path, 'expected a 20-byte address')
    return getAddress(hexlify(v))
  }
  const bytesN = /^bytes(\d+)$/.exec(type)
  if (bytesN !== null) {
    if (!(v instanceof Uint8Array) || v.length !== Number(bytesN[1])) throw schema(path, `expected ${bytesN[1]} bytes`)
    return hexlify(v)
  }
  if (type === 'string') {
    if (typeof v !== 'string') throw schema(path, 'expected a string')
    return v
  }
  const int = /^(u?)int(\d+)$/.exec(type)
  if (int !== null) {
    const bits = BigInt(int[2])
    let b: bigint
    if (v instanceof Uint8Array && int[1] === 'u' && bits > 64n && v.length > 8 && v.length <= Number(bits / 8n) && v[0] !== 0) {
      b = BigInt(hexlify(v))
    } else {
      if (typeof v !== 'number' && typeof v !== 'bigint') throw schema(path, 'expected an integer')
      if (typeof v === 'number' && !Number.isSafeInteger(v)) throw schema(path, 'expected an integer')
      b = BigInt(v)
    }
    const min = int[1] === 'u' ? 0n : -(1n << (bits - 1n))
    const max = int[1] === 'u' ? (1n << bits) - 1n : (1n << (bits - 1n)) - 1n
    if (b < min || b > max) throw schema(path, `out of range for ${type}`)
    return bits <= 32n ? Number(b) : b
  }
  throw schema(path, `unsupported type ${type}`)
}

export function encodeEnvelope<K extends WireKind> (env: Envelope<K>): Uint8Array {
  const types = typeTableOf(env.kind)
  const body: unknown[] = [WIRE_VERSION, KIND_TAGS[env.kind], encodeValue(types, env.kind, env.value), getBytes(env.signature)]
  if (env.peer !== undefined) body.push(env.peer)
  const bytes = encode(body)
  if (bytes.length > MAX_SIZE[env.kind]) throw new MessageValidationError('OVERSIZED', `${env.kind} is ${bytes.length} bytes, limit ${MAX_SIZE[env.kind]}`)
  return bytes
}

const ABSOLUTE_MAX = Math.max(...Object.values(MAX_SIZE))

/** Parses bytes into a typed envelope or throws MessageValidationError (always REJECT: the bytes are bad). */
export function decodeEnvelope (bytes: Uint8Array, expected?: WireKind | readonly WireKind[]): Envelope {
  if (bytes.length > ABSOLUTE_MAX) throw new MessageValidationError('OVERSIZED', `${bytes.length} bytes`)
  let raw: unknown
  try {
    raw = decode(bytes, DECODE_OPTIONS)
  } catch (err) {
    throw new MessageValidationError('MALFORMED', `not canonical CBOR (${(err as Error).message})`)
  }
  if (!Array.isArray(raw) || raw.length < 4 || raw.length > 5) throw new MessageValidationError('MALFORMED', 'envelope must be [version, kind, body, signature, peer?]')
  const [version, tag, body, sig, peer] = raw as [unknown, unknown, unknown, unknown, unknown]
  if (version !== WIRE_VERSION) throw new MessageValidationError('UNKNOWN_VERSION', `version ${String(version)}`)
  const kind = typeof tag === 'number' ? TAG_KINDS.get(tag) : undefined
  if (kind === undefined) throw new MessageValidationError('UNKNOWN_KIND', `kind ${String(tag)}`)
  if (expected !== undefined && !(typeof expected === 'string' ? [expected] : expected).includes(kind)) {
    throw new MessageValidationError('WRONG_KIND', `got ${kind}`)
  }
  if (bytes.length > MAX_SIZE[kind]) throw new MessageValidationError('OVERSIZED', `${kind} is ${bytes.length} bytes, limit ${MAX_SIZE[kind]}`)
  if (!(sig instanceof Uint8Array) || sig.length !== 65) throw new MessageValidationError('MALFORMED', 'signature must be 65 bytes')
  if (peer !== undefined && (typeof peer !== 'string' || peer.length === 0 || peer.length > MAX_PEER_HINT)) {
    throw new MessageValidationError('MALFORMED', 'peer hint must be a short string')
  }
  const value = decodeValue(typeTableOf(kind), kind, body, kind) as WireKinds[typeof kind]
  const env: Envelope = { kind, value, signature: hexlify(sig), ...(peer !== undefined ? { peer: peer as string } : {}) }
  const again = encode([WIRE_VERSION, tag, encodeValue(typeTableOf(kind), kind, value), sig, ...(peer !== undefined ? [peer] : [])])
  if (!equalBytes(again, bytes)) throw new MessageValidationError('NON_CANONICAL', 'bytes are not the canonical encoding')
  return env
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
