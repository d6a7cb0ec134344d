// An Ethereum key and addresses without ethers: what a command needs before it talks to a chain (the address of
// WEB3_PRIVATE_KEY, address checks in a network file) comes from @noble's secp256k1 and keccak, which load in a
// fraction of the time ethers takes (ethers ~200 ms, these ~50 ms on this machine: most of `lilypad run`'s
// start-up when a node runs the job). Whatever signs or sends still uses ethers (node/chain).
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'

/** A private key and its address (EIP-55 checksummed), as a command holds them. */
export interface LocalKey {
  readonly address: string
  readonly privateKey: string
}

const HEX_KEY = /^0x[0-9a-fA-F]{64}$/
const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/

export class InvalidKeyError extends Error {
  static override name = 'InvalidKeyError'
  override name = 'InvalidKeyError'
}

/** The key for a 0x-prefixed 32-byte hex private key; InvalidKeyError for anything that is not a valid secp256k1 key. */
export function localKey (privateKey: string): LocalKey {
  if (!HEX_KEY.test(privateKey)) throw new InvalidKeyError('not a 0x-prefixed 32-byte hex private key')
  const secret = hexToBytes(privateKey.slice(2))
  if (!secp256k1.utils.isValidSecretKey(secret)) throw new InvalidKeyError('not a valid secp256k1 private key (zero, or not below the curve order)')
  // the uncompressed public key without its 0x04 prefix, hashed; the address is the last 20 bytes
  const pub = secp256k1.getPublicKey(secret, false).subarray(1)
  return { address: checksumAddress(`0x${bytesToHex(keccak_256(pub).subarray(12))}`), privateKey: privateKey.toLowerCase() }
}

/**
 * Whether `text` is an address: 20 hex bytes, 0x-prefixed; all lower or all upper case, or mixed case that is a
 * correct EIP-55 checksum (a mistyped checksummed address is refused, as ethers does).
 */
export function isAddress (text: unknown): text is string {
  if (typeof text !== 'string' || !HEX_ADDRESS.test(text)) return false
  const body = text.slice(2)
  if (body === body.toLowerCase() || body === body.toUpperCase()) return true
  return checksumAddress(text) === text
}

/** The EIP-55 form of an address; InvalidKeyError when `text` is not an address (see isAddress). */
export function toAddress (text: string): string {
  if (!isAddress(text)) throw new InvalidKeyError(`"${text}" is not an Ethereum address`)
  return checksumAddress(text)
}

/** EIP-55: each hex letter upper case where the keccak of the lower-case hex has a nibble ≥ 8 at its place. */
function checksumAddress (address: string): string {
  const lower = address.slice(2).toLowerCase()
  const hash = keccak_256(new TextEncoder().encode(lower))
  let out = '0x'
  for (let i = 0; i < 40; i++) {
    const nibble = (hash[i >> 1] >> (i % 2 === 0 ? 4 : 0)) & 0xf
    out += nibble >= 8 ? lower[i].toUpperCase() : lower[i]
  }
  return out
}
