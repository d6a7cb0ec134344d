import test from 'ava'
import { encode } from 'cborg'
import { encodeEnvelope } from '../codec.ts'
import { MessageValidationError } from '../errors.ts'
import { wallet, resourceOffer, boundResourceOffer, mediatorA, testDomain } from '../../node/testing/fixtures.ts'
import { signWithdrawal } from '../withdrawal.ts'
import { decodeCursor, decodeSyncAnswer, decodeSyncRequest, encodeCursor, encodeSyncAnswer, encodeSyncRequest, MAX_SYNC_OFFERS, MAX_SYNC_REQUEST } from './messages.ts'

test('requests, pages and "busy" round-trip; cursors are sequence numbers', async t => {
  const filter = { spec: { cpu: 1000, ramMb: 512, diskMb: 100, gpus: 1, gpuVramMb: 8000, gpuModel: 'H100', cudaVersion: 12000 }, maxPrice: 10n ** 20n, module: 'cowsay:v0.0.1', mediators: [mediatorA] }
  t.deepEqual(decodeSyncRequest(encodeSyncRequest({ type: 'pull', filter, cursor: encodeCursor(42), limit: 128 })), { type: 'pull', filter, cursor: encodeCursor(42), limit: 128 })
  t.deepEqual(decodeSyncRequest(encodeSyncRequest({ type: 'pull', limit: 1 })), { type: 'pull', limit: 1 })
  t.is(decodeCursor(encodeCursor(123_456)), 123_456)
  const w = wallet('sync-codec')
  const env = await boundResourceOffer(w, resourceOffer(w.address), '12D3KooWsync')
  const record = new Uint8Array([1, 2, 3])
  const back = decodeSyncAnswer(encodeSyncAnswer({ type: 'offers', offers: [{ offer: env, peerRecord: record }, { offer: env }], next: encodeCursor(7) }))
  t.is(back.type, 'offers')
  if (back.type !== 'offers') return
  t.deepEqual(back.offers.map(o => o.offer), [env, env])
  t.deepEqual(back.offers[0].peerRecord, record)
  t.is(back.offers[1].peerRecord, undefined)
  t.deepEqual(Array.from(back.offers[0].bytes ?? []), Array.from(encodeEnvelope(env)), 'the exact bytes, for a verifier worker')
  t.is(decodeCursor(back.next), 7)
  t.deepEqual(decodeSyncAnswer(encodeSyncAnswer({ type: 'busy', retryAfterMs: 5000 })), { type: 'busy', retryAfterMs: 5000 })
})

test('malformed and oversized sync messages are MessageValidationErrors with a code', async t => {
  const bad = (f: () => unknown): string => (t.throws(f, { instanceOf: MessageValidationError }) as MessageValidationError).code
  t.is(bad(() => decodeSyncRequest(new Uint8Array(MAX_SYNC_REQUEST + 1))), 'OVERSIZED')
  t.is(bad(() => decodeSyncRequest(new TextEncoder().encode('garbage'))), 'MALFORMED')
  t.is(bad(() => decodeSyncRequest(encode([1, 'pull', null, null, 0]))), 'MALFORMED')
  t.is(bad(() => decodeSyncRequest(encode([1, 'pull', [1, 2, 3], null, 5]))), 'MALFORMED')
  t.is(bad(() => decodeSyncRequest(encode([1, 'pull', null, new Uint8Array(40), 5]))), 'MALFORMED')
  t.is(bad(() => decodeSyncAnswer(encode([1, 'offers', Array(MAX_SYNC_OFFERS + 1).fill([new Uint8Array(1), null]), null]))), 'MALFORMED')
  t.is(bad(() => decodeSyncAnswer(encode([1, 'offers', [[new Uint8Array(1), 'addr']], null]))), 'MALFORMED')
  t.is(bad(() => decodeSyncAnswer(encode([1, 'offers', [[new Uint8Array(10), null]], null]))), 'MALFORMED')
  t.is(bad(() => decodeSyncAnswer(encode([1, 'offers', [[new Uint8Array(1), new Uint8Array(4000)]], null]))), 'MALFORMED')
  t.is(bad(() => decodeSyncAnswer(encode([1, 'busy', -1]))), 'MALFORMED')
})

test('a booked slot\'s offer travels with its withdrawal; a withdrawal of another slot, or not newer, is MALFORMED', async t => {
  const w = wallet('sync-busy')
  const env = await boundResourceOffer(w, resourceOffer(w.address, { slot: 3, nonce: 100n }), '12D3KooWsync')
  const withdrawal = { kind: 'OfferWithdrawal' as const, value: { provider: w.address, slot: 3, expiry: env.value.expiry, nonce: 101n }, signature: await signWithdrawal(testDomain, { provider: w.address, slot: 3, expiry: env.value.expiry, nonce: 101n }, w) }
  const back = decodeSyncAnswer(encodeSyncAnswer({ type: 'offers', offers: [{ offer: env, withdrawal }, { offer: env }] }))
  if (back.type !== 'offers') { t.fail(); return }
  t.deepEqual(back.offers[0].withdrawal, withdrawal)
  t.is(back.offers[1].withdrawal, undefined)
  const bad = (over: Partial<typeof withdrawal.value>): string => (t.throws(() => decodeSyncAnswer(encodeSyncAnswer({ type: 'offers', offers: [{ offer: env, withdrawal: { ...withdrawal, value: { ...withdrawal.value, ...over } } }] })), { instanceOf: MessageValidationError }) as MessageValidationError).code
  t.is(bad({ slot: 4 }), 'MALFORMED')
  t.is(bad({ nonce: 100n }), 'MALFORMED')
  t.is(bad({ provider: wallet('someone-else').address }), 'MALFORMED')
})
