// Who signed a 32-byte digest. Every EIP-712 message here (offers, deals, peer bindings, withdrawals, directory
// records, canary reports) is checked by recovering its signer from the typed-data digest. By default that is ethers'
// recoverAddress: secp256k1 in JavaScript (noble), about a millisecond and a half of CPU per recovery, which made
// gossip at a hundred nodes CPU-bound (issue 19). A node process installs a native recovery at start
// (node/crypto/native-recover.ts: libsecp256k1, ~45 µs); the browser and the SDK keep the JavaScript one.
// The signature is always parsed by ethers' Signature.from, so what is accepted does not depend on which recovery
// runs (tested against each other in node/crypto/native-recover.test.ts).
import { TypedDataEncoder, concat, keccak256, recoverAddress, type TypedDataDomain, type TypedDataField } from 'ethers'

/** The address that signed `digest` (0x-hex, 32 bytes); throws when the signature is malformed or unrecoverable. */
export type DigestRecover = (digest: string, signature: string) => string

const javascriptRecover: DigestRecover = (digest, signature) => recoverAddress(digest, signature)
let current: DigestRecover = javascriptRecover

/** Installs a faster recovery for this process (or, with none, ethers' again); returns the one it replaced. */
export function setDigestRecover (f?: DigestRecover): DigestRecover {
  const was = current
  current = f ?? javascriptRecover
  return was
}

export function recoverDigest (digest: string, signature: string): string {
  return current(digest, signature)
}

// ethers' TypedDataEncoder.hash parses the types and hashes the domain on every call (~370 µs of a ~140 µs job);
// both are the same for every message of a kind on a network, so they are made once. Few kinds, few domains: the
// caches stay small (bounded anyway).
const encoders = new Map<string, TypedDataEncoder>()
const domains = new Map<string, string>()
const MAX_CACHED = 256

function cached<V> (m: Map<string, V>, key: string, make: () => V): V {
  let v = m.get(key)
  if (v === undefined) {
    v = make()
    if (m.size >= MAX_CACHED) m.delete(m.keys().next().value as string)
    m.set(key, v)
  }
  return v
}

/** The EIP-712 digest of `value`: exactly ethers' TypedDataEncoder.hash, with the encoder and domain hash reused. */
export function typedDataHash (domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): string {
  const encoder = cached(encoders, JSON.stringify(types), () => TypedDataEncoder.from(types))
  const separator = cached(domains, JSON.stringify(domain, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v), () => TypedDataEncoder.hashDomain(domain))
  return keccak256(concat(['0x1901', separator, encoder.hash(value)]))
}

/** ethers' verifyTypedData, through the installed recovery. */
export function recoverTypedData (domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>, signature: string): string {
  return current(typedDataHash(domain, types, value), signature)
}
