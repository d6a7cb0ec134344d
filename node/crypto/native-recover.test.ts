// The native recovery against ethers' JavaScript one: the same address for every signature ethers accepts, and a
// refusal for every signature ethers refuses (malformed, out of range, high s, any v) — what a node accepts must
// not depend on which recovery it runs.
import test from 'ava'
import fc from 'fast-check'
import { SigningKey, Wallet, getBytes, hexlify, recoverAddress, toBeHex, zeroPadValue } from 'ethers'
import { nativeRecover, nativeRecoverUnavailable, installNativeRecover } from './native-recover.ts'
import { recoverDigest, setDigestRecover } from '../../protocols/signatures.ts'
import { recoverSigner, signMessage } from '../../protocols/eip712.ts'
import { resourceOffer, testDomain, wallet } from '../testing/fixtures.ts'

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/** ethers' answer and the native one: both an address, or both a refusal. */
function same (digest: string, sig: string): { js: string | 'refused', native: string | 'refused' } {
  const run = (f: (d: string, s: string) => string): string => { try { return f(digest, sig) } catch { return 'refused' } }
  return { js: run(recoverAddress), native: run(nativeRecover!) }
}

test('the binding loads on this machine (the node would say so if it did not)', t => {
  t.is(nativeRecoverUnavailable, undefined, String(nativeRecoverUnavailable))
  t.not(nativeRecover, undefined)
})

test('the same signer as ethers for valid signatures, their high-s twins and any v', t => {
  const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
  t.notThrows(() => fc.assert(fc.property(bytes32, bytes32, fc.integer({ min: 0, max: 3 }), (key, msg, variant) => {
    let k: SigningKey
    try { k = new SigningKey(hexlify(key)) } catch { return true } // 0 or ≥ n: not a key
    const digest = hexlify(msg)
    const sig = k.sign(digest)
    let s: string
    if (variant === 0) s = sig.serialized
    else if (variant === 1) s = sig.compactSerialized // EIP-2098
    else if (variant === 2) s = hexlify(new Uint8Array([...getBytes(sig.r), ...getBytes(zeroPadValue(toBeHex(N - BigInt(sig.s)), 32)), sig.v === 27 ? 28 : 27])) // high s, other parity
    else s = hexlify(new Uint8Array([...getBytes(sig.r), ...getBytes(sig.s), sig.yParity])) // v as 0/1
    const r = same(digest, s)
    return r.js === r.native && (variant === 2 || r.js === new Wallet(hexlify(key)).address)
  }), { numRuns: 400 }))
})

test('the same refusals as ethers for malformed and out-of-range signatures', t => {
  const digest = hexlify(new Uint8Array(32).fill(7))
  const ok = new SigningKey('0x' + '11'.repeat(32)).sign(digest)
  const rs = (r: bigint, s: bigint, v = 27): string => hexlify(new Uint8Array([...getBytes(toBeHex(r, 32)), ...getBytes(toBeHex(s, 32)), v]))
  const cases = [
    '0x', '0x1234', ok.serialized.slice(0, -2), ok.serialized + '00',
    rs(0n, BigInt(ok.s)), rs(BigInt(ok.r), 0n), rs(N, BigInt(ok.s)), rs(BigInt(ok.r), N), rs(N + 1n, 5n),
    rs(BigInt(ok.r), 2n ** 255n + 1n), rs(BigInt(ok.r), BigInt(ok.s), 29), rs(BigInt(ok.r), BigInt(ok.s), 2), rs(BigInt(ok.r), BigInt(ok.s), 35),
    rs(1n, 1n), rs(N - 1n, N - 1n, 28)
  ]
  for (const c of cases) {
    const r = same(digest, c)
    t.is(r.native, r.js, c)
  }
  t.notThrows(() => fc.assert(fc.property(fc.uint8Array({ minLength: 65, maxLength: 65 }), junk => {
    const r = same(digest, hexlify(junk))
    return r.js === r.native
  }), { numRuns: 300 }))
})

test('installed, the process\'s typed-data checks go through it and agree with ethers', async t => {
  const w = wallet('native-recover')
  const offer = resourceOffer(w.address)
  const sig = await signMessage('ResourceOffer', testDomain, offer, w)
  let calls = 0
  const before = setDigestRecover((d, s) => { calls++; return nativeRecover!(d, s) })
  try {
    t.is(recoverSigner('ResourceOffer', testDomain, offer, sig), w.address)
    t.is(calls, 1, 'the ResourceOffer check went through the installed recovery')
    setDigestRecover()
    t.is(recoverSigner('ResourceOffer', testDomain, offer, sig), w.address, 'and ethers\' own gives the same signer')
    t.true(installNativeRecover())
    t.is(recoverDigest(hexlify(new Uint8Array(32).fill(9)), new SigningKey(w.privateKey).sign(hexlify(new Uint8Array(32).fill(9))).serialized), w.address)
  } finally {
    setDigestRecover(before)
  }
})
