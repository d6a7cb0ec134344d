// Native secp256k1 recovery for this process (libsecp256k1 through the `secp256k1` package's prebuilt binding): about
// 45 µs per recovery against ~1.3 ms for ethers' JavaScript one, so a node verifies gossip, sync pages and deals at
// thirty times the rate (issue 19's hundred-node mesh was CPU-bound on recoveries). Only the curve arithmetic moves:
// the signature is parsed by ethers' Signature.from exactly as recoverAddress parses it, and the address is derived
// the same way. Where the binding does not load (no prebuild for this platform), ethers' recovery stays and the
// node says so once.
import { createRequire } from 'node:module'
import { Signature, concat, dataSlice, getAddress, getBytes, keccak256 } from 'ethers'
import { setDigestRecover, type DigestRecover } from '../../protocols/signatures.ts'

interface Binding { ecdsaRecover: (sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean) => Uint8Array }

function loadBinding (): Binding | Error {
  try {
    // the native half only: the package's fallback is `elliptic`, slower than what ethers already has
    return createRequire(import.meta.url)('secp256k1/bindings') as Binding
  } catch (err) {
    return err as Error
  }
}

const binding = loadBinding()

/** Why the native recovery is not available here, or undefined when it is. */
export const nativeRecoverUnavailable: Error | undefined = binding instanceof Error ? binding : undefined

/** libsecp256k1's recovery behind ethers' parsing; undefined where the binding did not load. */
export const nativeRecover: DigestRecover | undefined = binding instanceof Error
  ? undefined
  : (digest, signature) => {
      const sig = Signature.from(signature)
      const pub = binding.ecdsaRecover(getBytes(concat([sig.r, sig.s])), sig.yParity, getBytes(digest), false)
      return getAddress(dataSlice(keccak256(pub.subarray(1)), 12))
    }

/** Makes this process's signature checks use the native recovery when it loaded; returns whether it did. */
export function installNativeRecover (): boolean {
  if (nativeRecover === undefined) return false
  setDigestRecover(nativeRecover)
  return true
}
