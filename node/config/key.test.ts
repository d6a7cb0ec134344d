// The light key module against ethers, which the chain code signs with: the same address for every key, the same
// verdict on every address form, and the same refusals.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { getAddress, isAddress as ethersIsAddress, Wallet, HDNodeWallet, Mnemonic } from 'ethers'
import { isAddress, localKey, toAddress, InvalidKeyError } from './key.ts'
import { DEV_MNEMONIC, WELL_KNOWN_DEV_KEYS, wellKnownDevKey } from '../chain/dev-keys.ts'

test('a key\'s address is the one ethers derives, checksummed, for 200 random keys', t => {
  for (let i = 0; i < 200; i++) {
    const hex = `0x${randomBytes(32).toString('hex')}`
    const k = localKey(hex)
    t.is(k.address, new Wallet(hex).address)
    t.is(k.privateKey, hex)
  }
})

test('keys that are not valid secp256k1 secrets are refused with InvalidKeyError, as ethers refuses them', t => {
  const n = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141'
  for (const bad of [`0x${'0'.repeat(64)}`, `0x${n}`, `0x${'f'.repeat(64)}`]) {
    t.throws(() => localKey(bad), { instanceOf: InvalidKeyError })
    t.throws(() => new Wallet(bad))
  }
  for (const bad of ['', '0x', `0x${'1'.repeat(63)}`, `${'1'.repeat(64)}`, `0x${'g'.repeat(64)}`]) t.throws(() => localKey(bad), { instanceOf: InvalidKeyError })
})

test('address checks agree with ethers: lower, upper, right and wrong checksums, wrong lengths, junk', t => {
  const samples: unknown[] = ['0x', '0x123', 'not an address', 42, undefined, `0x${'a'.repeat(41)}`, `0X${'a'.repeat(40)}`, `${'a'.repeat(40)}`]
  for (let i = 0; i < 100; i++) {
    const a = new Wallet(`0x${randomBytes(32).toString('hex')}`).address
    // a wrong checksum: one letter's case flipped
    const at = a.slice(2).search(/[a-fA-F]/) + 2
    const flipped = at >= 2 ? a.slice(0, at) + (a[at] === a[at].toLowerCase() ? a[at].toUpperCase() : a[at].toLowerCase()) + a.slice(at + 1) : a
    samples.push(a, a.toLowerCase(), `0x${a.slice(2).toUpperCase()}`, flipped)
  }
  for (const s of samples) {
    // ethers takes 40 hex digits without 0x too; a network file's address must carry it
    const expected = typeof s === 'string' && s.startsWith('0x') && ethersIsAddress(s)
    t.is(isAddress(s), expected, String(s))
    if (expected) t.is(toAddress(s as string), getAddress(s as string))
    else if (typeof s === 'string') t.throws(() => toAddress(s), { instanceOf: InvalidKeyError })
  }
})

test('the well-known dev keys are the ones the mnemonic derives', t => {
  t.is(WELL_KNOWN_DEV_KEYS.length, 10)
  WELL_KNOWN_DEV_KEYS.forEach((k, i) => { t.is(k, HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), `m/44'/60'/0'/0/${i}`).privateKey) })
  t.throws(() => wellKnownDevKey(10), { instanceOf: RangeError })
})
