import test from 'ava'
import { nonceWordOf, pickNonce, NONCE_WORDS_PER_HOUR } from './nonce.ts'

test('one word per hour: nonces of one hour share their bitmap word, the next hour starts a new one', t => {
  const h = 1_795_791_600_000 // an hour boundary (ms)
  t.is(nonceWordOf(h), nonceWordOf(h + 3_599_999))
  t.is(nonceWordOf(h + 3_600_000) - nonceWordOf(h), NONCE_WORDS_PER_HOUR)
  t.true((nonceWordOf(Date.UTC(2100, 0, 1)) << 8n) + 255n < 1n << 64n, 'fits the deal\'s uint64 nonce for a long time')
})

test('a nonce is free on chain and not taken locally, drawn at random; a full word gives none', t => {
  const word = 42n
  const seen = new Set<bigint>()
  let r = 0
  const random = (): number => { r = (r + 0.37) % 1; return r }
  const bitmap = (1n << 200n) - 1n // bits 0..199 used on chain
  for (let i = 0; i < 56; i++) {
    const n = pickNonce(word, bitmap, x => seen.has(x), random)
    t.not(n, undefined)
    t.is(n! >> 8n, word, 'in the word asked for')
    t.true((n! & 255n) >= 200n, 'not used on chain')
    t.false(seen.has(n!), 'not taken by one of ours')
    seen.add(n!)
  }
  t.is(pickNonce(word, bitmap, x => seen.has(x), random), undefined, 'all 256 used or taken')
  t.is(pickNonce(word, (1n << 256n) - 1n, () => false, Math.random), undefined)
})
