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
import type { PeerBindingProof } from './peer-binding.ts'

export const WIRE_VERSION = 1

export interface WireKinds extends MessageKinds {
  NodeRecord: NodeRecord
  OfferWithdrawal: OfferWithdrawal
}
export type WireKind = keyof WireKinds

const KIND_TAGS: Record<WireKind, number> = { ResourceOffer: 1, JobOffer: 2, Deal: 3, Result: 4, NodeRecord: 5, OfferWithdrawal: 6, Accept: 7 }
const TAG_KINDS = new Map(Object.entries(KIND_TAGS).map(([k, v]) => [v, k as WireKind]))

/** Hard size limit of one encoded envelope, per kind (bytes). */
export const MAX_SIZE: Record<WireKind, number> = {
  ResourceOffer: 4096,
  JobOffer: 16384, // carries the job's inputs
  Deal: 2048,
  Result: 1024,
  NodeRecord: 4096,
  OfferWithdrawal: 512,
  Accept: 512
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
  /** Hint: the libp2p peer id that answers for the signer. */
  peer?: string
  /** The signer's own signature binding `peer` to it (protocols/peer-binding.ts); without it the hint is unsigned. */
  binding?: PeerBindingProof
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

/** The peer slot: a bare peer id, or [peer id, binding expiry, binding signature] when the hint is bound. */
function peerSlot (env: Pick<Envelope, 'peer' | 'binding'>): unknown[] {
  if (env.peer === undefined) {
    if (env.binding !== undefined) throw new Error('a peer binding needs a peer hint')
    return []
  }
  if (env.binding === undefined) return [env.peer]
  const e = env.binding.expiry
  return [[env.peer, e <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(e) : e, getBytes(env.binding.signature)]]
}

export function encodeEnvelope<K extends WireKind> (env: Envelope<K>): Uint8Array {
  const types = typeTableOf(env.kind)
  const bytes = encode([WIRE_VERSION, KIND_TAGS[env.kind], encodeValue(types, env.kind, env.value), getBytes(env.signature), ...peerSlot(env)])
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
  const hint = decodePeerSlot(peer)
  const value = decodeValue(typeTableOf(kind), kind, body, kind) as WireKinds[typeof kind]
  const env: Envelope = { kind, value, signature: hexlify(sig), ...hint }
  const again = encode([WIRE_VERSION, tag, encodeValue(typeTableOf(kind), kind, value), sig, ...peerSlot(hint)])
  if (!equalBytes(again, bytes)) throw new MessageValidationError('NON_CANONICAL', 'bytes are not the canonical encoding')
  return env
}

const isPeerId = (p: unknown): p is string => typeof p === 'string' && p.length > 0 && p.length <= MAX_PEER_HINT

function decodePeerSlot (slot: unknown): Pick<Envelope, 'peer' | 'binding'> {
  if (slot === undefined) return {}
  if (isPeerId(slot)) return { peer: slot }
  if (Array.isArray(slot) && slot.length === 3 && isPeerId(slot[0])) {
    const [peer, expiry, sig] = slot as [string, unknown, unknown]
    const e = typeof expiry === 'number' && Number.isSafeInteger(expiry) ? BigInt(expiry) : expiry
    if (typeof e !== 'bigint' || e < 0n || e >= U64_LIMIT) throw new MessageValidationError('MALFORMED', 'peer binding expiry must be a uint64')
    if (!(sig instanceof Uint8Array) || sig.length !== 65) throw new MessageValidationError('MALFORMED', 'peer binding signature must be 65 bytes')
    return { peer, binding: { expiry: e, signature: hexlify(sig) } }
  }
  throw new MessageValidationError('MALFORMED', 'peer hint must be a short string, or [peer, expiry, signature]')
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
