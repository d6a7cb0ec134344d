import test from 'ava'
import { encode } from 'cborg'
import { hexlify, randomBytes } from 'ethers'
import { MessageValidationError } from '../errors.ts'
import { decodeLogFrame, decodeLogRequest, encodeLogFrame, encodeLogRequest, splitChunk, MAX_LOG_CHUNK, MAX_LOG_FRAME } from './messages.ts'

test('log requests and frames round-trip; output is split into bounded chunks', t => {
  const dealId = hexlify(randomBytes(32))
  t.deepEqual(decodeLogRequest(encodeLogRequest({ type: 'follow', dealId })), { type: 'follow', dealId })
  const data = new TextEncoder().encode('tick 1\n')
  t.deepEqual(decodeLogFrame(encodeLogFrame({ type: 'chunk', stream: 'stderr', data })), { type: 'chunk', stream: 'stderr', data })
  t.deepEqual(decodeLogFrame(encodeLogFrame({ type: 'dropped', bytes: 4096 })), { type: 'dropped', bytes: 4096 })
  t.deepEqual(decodeLogFrame(encodeLogFrame({ type: 'end', code: 'LIMIT', detail: 'spent' })), { type: 'end', code: 'LIMIT', detail: 'spent' })
  t.deepEqual(decodeLogFrame(encodeLogFrame({ type: 'end', code: 'DONE' })), { type: 'end', code: 'DONE' })
  const big = new Uint8Array(MAX_LOG_CHUNK * 2 + 5)
  t.deepEqual(splitChunk(big).map(c => c.length), [MAX_LOG_CHUNK, MAX_LOG_CHUNK, 5])
  t.true(encodeLogFrame({ type: 'chunk', stream: 'stdout', data: new Uint8Array(MAX_LOG_CHUNK) }).length <= MAX_LOG_FRAME)
  t.throws(() => encodeLogFrame({ type: 'chunk', stream: 'stdout', data: new Uint8Array(MAX_LOG_CHUNK + 1) }), { instanceOf: RangeError })
})

test('malformed, oversized and unknown log messages are MessageValidationErrors with a code', t => {
  const bad = (f: () => unknown): string => (t.throws(f, { instanceOf: MessageValidationError }) as MessageValidationError).code
  t.is(bad(() => decodeLogRequest(new Uint8Array(500))), 'OVERSIZED')
  t.is(bad(() => decodeLogRequest(encode([1, 'follow', new Uint8Array(31)]))), 'MALFORMED')
  t.is(bad(() => decodeLogRequest(encode([2, 'follow', new Uint8Array(32)]))), 'MALFORMED')
  t.is(bad(() => decodeLogFrame(new Uint8Array(MAX_LOG_FRAME + 1))), 'OVERSIZED')
  t.is(bad(() => decodeLogFrame(encode([1, 'chunk', 3, new Uint8Array(1)]))), 'MALFORMED')
  t.is(bad(() => decodeLogFrame(encode([1, 'chunk', 1, new Uint8Array(0)]))), 'MALFORMED')
  t.is(bad(() => decodeLogFrame(encode([1, 'chunk', 1, 'text']))), 'MALFORMED')
  t.is(bad(() => decodeLogFrame(encode([1, 'dropped', -1]))), 'MALFORMED')
  t.is(bad(() => decodeLogFrame(encode([1, 'end', 'WHATEVER', '']))), 'MALFORMED')
  t.is(bad(() => decodeLogFrame(encode([1, 'result', 1]))), 'MALFORMED')
  t.is(bad(() => decodeLogFrame(new TextEncoder().encode('garbage'))), 'MALFORMED')
})
