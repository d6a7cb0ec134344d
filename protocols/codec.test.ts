import test from 'ava'
import { encode, decode as cborgDecode } from 'cborg'
import { decodeEnvelope, encodeEnvelope, MAX_SIZE } from './codec.ts'
import { MessageValidationError } from './errors.ts'
import { ReplayCache } from './replay-cache.ts'
import { validateEnvelope } from './validation.ts'
import { validateGossip } from './gossip/validator.ts'
import { idOf } from './eip712.ts'
import { testDomain, wallet, resourceOffer, jobOffer, signedResourceOffer, signedJobOffer, nowSec } from '../node/testing/fixtures.ts'

const rp = wallet('codec-rp')
const jc = wallet('codec-jc')

function codeOf (t: { throws: Function }, fn: () => unknown): { code: string, action: string } {
  const err = (t.throws as (f: () => unknown, e: object) => MessageValidationError)(fn, { instanceOf: MessageValidationError })
  return { code: err.code, action: err.action }
}

test('round trip is exact and deterministic', async t => {
  const env = await signedResourceOffer(rp, resourceOffer(rp.address, { modules: ['a', 'b'], price: 2n ** 90n, nonce: 2n ** 63n }))
  const a = encodeEnvelope(env)
  const b = encodeEnvelope({ ...env, value: { ...env.value } })
  t.deepEqual(a, b)
  const back = decodeEnvelope(a)
  t.deepEqual(back, env)
  t.deepEqual(encodeEnvelope(back), a)
  const job = await signedJobOffer(jc, jobOffer(jc.address))
  t.deepEqual(decodeEnvelope(encodeEnvelope({ ...job, peer: '12D3KooWxyz' })), { ...job, peer: '12D3KooWxyz' })
})

test('valid messages verify with the stated signer and their EIP-712 id', async t => {
  const env = await signedResourceOffer(rp, resourceOffer(rp.address))
  const v = validateEnvelope(decodeEnvelope(encodeEnvelope(env)), { domain: testDomain, now: nowSec() })
  t.is(v.signer, rp.address)
  t.is(v.id, idOf('ResourceOffer', testDomain, env.value))
})

test('bad signature is REJECTed', async t => {
  const env = await signedResourceOffer(rp, resourceOffer(rp.address))
  const forged = { ...env, value: { ...env.value, price: 1n } }
  t.deepEqual(codeOf(t, () => validateEnvelope(forged, { domain: testDomain, now: nowSec() })), { code: 'BAD_SIGNATURE', action: 'REJECT' })
  const otherSigner = await signedResourceOffer(wallet('someone-else'), resourceOffer(rp.address))
  t.deepEqual(codeOf(t, () => validateEnvelope(otherSigner, { domain: testDomain, now: nowSec() })), { code: 'BAD_SIGNATURE', action: 'REJECT' })
})

test('a message for another chain or another contract fails the signature (REJECT)', async t => {
  const otherChain = await signedResourceOffer(rp, resourceOffer(rp.address), { ...testDomain, chainId: 1n })
  t.deepEqual(codeOf(t, () => validateEnvelope(otherChain, { domain: testDomain, now: nowSec() })), { code: 'BAD_SIGNATURE', action: 'REJECT' })
  const otherContract = await signedJobOffer(jc, jobOffer(jc.address), { ...testDomain, verifyingContract: '0x000000000000000000000000000000000000dEaD' })
  t.deepEqual(codeOf(t, () => validateEnvelope(otherContract, { domain: testDomain, now: nowSec() })), { code: 'BAD_SIGNATURE', action: 'REJECT' })
})

test('expired and too-far expiries are IGNOREd', async t => {
  const expired = await signedResourceOffer(rp, resourceOffer(rp.address, { expiry: nowSec() - 1n }))
  t.deepEqual(codeOf(t, () => validateEnvelope(expired, { domain: testDomain, now: nowSec() })), { code: 'EXPIRED', action: 'IGNORE' })
  const far = await signedResourceOffer(rp, resourceOffer(rp.address, { expiry: nowSec() + 100_000n }))
  t.deepEqual(codeOf(t, () => validateEnvelope(far, { domain: testDomain, now: nowSec() })), { code: 'EXPIRY_TOO_FAR', action: 'IGNORE' })
})

test('duplicates and replayed nonces are IGNOREd', async t => {
  const replay = new ReplayCache()
  const o = resourceOffer(rp.address)
  const env = await signedResourceOffer(rp, o)
  validateEnvelope(env, { domain: testDomain, now: nowSec(), replay })
  t.deepEqual(codeOf(t, () => validateEnvelope(env, { domain: testDomain, now: nowSec(), replay })), { code: 'DUPLICATE', action: 'IGNORE' })
  const sameNonce = await signedResourceOffer(rp, { ...o, slot: 7 })
  t.deepEqual(codeOf(t, () => validateEnvelope(sameNonce, { domain: testDomain, now: nowSec(), replay })), { code: 'REPLAYED_NONCE', action: 'IGNORE' })
})

test('oversized messages are REJECTed before and after encoding', async t => {
  const big = await signedResourceOffer(rp, resourceOffer(rp.address, { modules: Array.from({ length: 60 }, (_, i) => `module-${i}-${'x'.repeat(80)}`) }))
  t.deepEqual(codeOf(t, () => encodeEnvelope(big)), { code: 'OVERSIZED', action: 'REJECT' })
  t.deepEqual(codeOf(t, () => decodeEnvelope(new Uint8Array(MAX_SIZE.JobOffer + 1))), { code: 'OVERSIZED', action: 'REJECT' })
  const env = await signedResourceOffer(rp, resourceOffer(rp.address))
  const bytes = encodeEnvelope(env)
  const raw = cborgDecode(bytes) as unknown[]
  const padded = encode([1, 1, raw[2], raw[3], 'p'.repeat(MAX_SIZE.ResourceOffer)])
  t.is(codeOf(t, () => decodeEnvelope(padded)).action, 'REJECT')
})


test('malformed input is REJECTed with a named code', async t => {
  t.deepEqual(codeOf(t, () => decodeEnvelope(new Uint8Array([0xff, 0x00]))), { code: 'MALFORMED', action: 'REJECT' })
  t.deepEqual(codeOf(t, () => decodeEnvelope(encode({ a: 1 }))), { code: 'MALFORMED', action: 'REJECT' })
  t.deepEqual(codeOf(t, () => decodeEnvelope(encode([2, 1, [], new Uint8Array(65)]))), { code: 'UNKNOWN_VERSION', action: 'REJECT' })
  t.deepEqual(codeOf(t, () => decodeEnvelope(encode([1, 9, [], new Uint8Array(65)]))), { code: 'UNKNOWN_KIND', action: 'REJECT' })
  t.deepEqual(codeOf(t, () => decodeEnvelope(encode([1, 1, [1, 2, 3], new Uint8Array(65)]))), { code: 'SCHEMA', action: 'REJECT' })
  const env = await signedResourceOffer(rp, resourceOffer(rp.address))
  const raw = cborgDecode(encodeEnvelope(env)) as unknown[]
  const fields = raw[2] as unknown[]
  const badSlot = [...fields]; badSlot[1] = 2 ** 40 // uint32 overflow
  t.deepEqual(codeOf(t, () => decodeEnvelope(encode([1, 1, badSlot, raw[3]]))), { code: 'SCHEMA', action: 'REJECT' })
  const job = await signedJobOffer(jc, jobOffer(jc.address))
  t.deepEqual(codeOf(t, () => validateGossip('resource-offers', encodeEnvelope(job), { domain: testDomain, now: nowSec(), replay: new ReplayCache() })), { code: 'WRONG_KIND', action: 'REJECT' })
  // a non-canonical integer encoding (slot 0 as a 2-byte uint) of an otherwise valid message
  const nonCanonical = encodeNonCanonical(raw)
  t.is(codeOf(t, () => decodeEnvelope(nonCanonical)).action, 'REJECT')
  // a uint96 written as a byte string although it fits in 64 bits is not the canonical form
  const smallPriceAsBytes = [...fields]; smallPriceAsBytes[4] = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 100])
  t.deepEqual(codeOf(t, () => decodeEnvelope(encode([1, 1, smallPriceAsBytes, raw[3]]))), { code: 'SCHEMA', action: 'REJECT' })
})

/** Same values with the envelope version written as a 1-byte-extended uint (0x18 0x01): valid CBOR, not canonical. */
function encodeNonCanonical (raw: unknown[]): Uint8Array {
  const b = encode(raw)
  // b[0] is the array header; b[1] is the version 0x01
  const out = new Uint8Array(b.length + 1)
  out[0] = b[0]; out[1] = 0x18; out[2] = 0x01
  out.set(b.subarray(2), 3)
  return out
}

test('offer withdrawals round-trip and verify; forged ones are REJECTed', async t => {
  const { signWithdrawal } = await import('./withdrawal.ts')
  const w = { provider: rp.address, slot: 1, expiry: nowSec() + 60n, nonce: 99n }
  const env = { kind: 'OfferWithdrawal' as const, value: w, signature: await signWithdrawal(testDomain, w, rp) }
  const back = decodeEnvelope(encodeEnvelope(env), ['ResourceOffer', 'OfferWithdrawal'])
  t.deepEqual(back, env)
  t.is(validateEnvelope(back, { domain: testDomain, now: nowSec() }).signer, rp.address)
  const forged = { ...env, value: { ...w, provider: jc.address } }
  t.deepEqual(codeOf(t, () => validateEnvelope(forged, { domain: testDomain, now: nowSec() })), { code: 'BAD_SIGNATURE', action: 'REJECT' })
})

test('a bound peer hint round-trips and verifies; an unbound, moved or foreign binding is REJECTed, an expired one IGNOREd; a verified binding is cached', async t => {
  const { boundResourceOffer } = await import('../node/testing/fixtures.ts')
  const { PeerBindingCache, signPeerBinding } = await import('./peer-binding.ts')
  const env = await boundResourceOffer(rp, resourceOffer(rp.address), '12D3KooWbound')
  const bytes = encodeEnvelope(env)
  t.deepEqual(decodeEnvelope(bytes), env)
  const bindings = new PeerBindingCache()
  const v = validateGossip('resource-offers', bytes, { domain: testDomain, now: nowSec(), replay: new ReplayCache(), bindings })
  t.is(v.peer, '12D3KooWbound')
  t.deepEqual(v.binding, env.binding)
  t.true(bindings.has({ account: rp.address, peerId: '12D3KooWbound', expiry: env.binding!.expiry }, env.binding!.signature))
  const gossip = (e: typeof env): { code: string, action: string } => codeOf(t, () => validateGossip('resource-offers', encodeEnvelope(e), { domain: testDomain, now: nowSec(), replay: new ReplayCache() }))
  t.deepEqual(gossip({ kind: env.kind, value: env.value, signature: env.signature, peer: '12D3KooWbound' }), { code: 'UNBOUND_PEER', action: 'REJECT' })
  t.deepEqual(gossip({ kind: env.kind, value: env.value, signature: env.signature }), { code: 'UNBOUND_PEER', action: 'REJECT' })
  t.deepEqual(gossip({ ...env, peer: '12D3KooWother' }), { code: 'BAD_PEER_BINDING', action: 'REJECT' })
  const expiry = nowSec() + 60n
  t.deepEqual(gossip({ ...env, binding: { expiry, signature: await signPeerBinding(testDomain, { account: rp.address, peerId: '12D3KooWbound', expiry }, jc) } }), { code: 'BAD_PEER_BINDING', action: 'REJECT' })
  const old = nowSec() - 1n
  t.deepEqual(gossip({ ...env, binding: { expiry: old, signature: await signPeerBinding(testDomain, { account: rp.address, peerId: '12D3KooWbound', expiry: old }, rp) } }), { code: 'EXPIRED', action: 'IGNORE' })
  // a job offer's hint may stay bare
  const job = await signedJobOffer(jc, jobOffer(jc.address))
  t.is(validateGossip('job-offers', encodeEnvelope({ ...job, peer: '12D3KooWjc' }), { domain: testDomain, now: nowSec(), replay: new ReplayCache() }).peer, '12D3KooWjc')
  // malformed binding slots
  const raw = cborgDecode(bytes) as unknown[]
  for (const slot of [['p', 1], ['p', -1, new Uint8Array(65)], ['p', 1, new Uint8Array(64)], [7, 1, new Uint8Array(65)]]) {
    t.deepEqual(codeOf(t, () => decodeEnvelope(encode([...raw.slice(0, 4), slot]))), { code: 'MALFORMED', action: 'REJECT' })
  }
})
