// The remote signer (a browser wallet as a job creator): each request is answered once, by the account's own
// signature of exactly what was asked, or by a transaction hash for a transaction request; a request withdrawn
// (the deal moved on) or unanswered ends with a named error and leaves nothing open.
import test from 'ava'
import { Wallet, getAddress } from 'ethers'
import { RemoteSigner, type SignatureRequest, type TransactionRequestToWallet } from './remote-signer.ts'

const domain = { name: 'Lilypad', version: '1', chainId: 31337, verifyingContract: '0x' + '11'.repeat(20) }
const types = { Accept: [{ name: 'dealId', type: 'bytes32' }, { name: 'resultCid', type: 'string' }] }
const value = { dealId: '0x' + '22'.repeat(32), resultCid: 'bafyr' }

function signer (opts: { timeoutMs?: number } = {}): { s: RemoteSigner, key: Wallet, signs: SignatureRequest[], sends: TransactionRequestToWallet[] } {
  const key = new Wallet(Wallet.createRandom().privateKey)
  const signs: SignatureRequest[] = []
  const sends: TransactionRequestToWallet[] = []
  const s = new RemoteSigner(key.address, r => { signs.push(r) }, { ...opts, askSend: r => { sends.push(r) } })
  return { s, key, signs, sends }
}

test('a signature request is answered by the account\'s signature of exactly that typed data', async t => {
  const { s, key, signs } = signer()
  const asked = s.askSignature(domain, types, value)
  t.is(signs.length, 1)
  t.is(signs[0].kind, 'Accept')
  t.deepEqual((signs[0].typedData as { message: unknown }).message, value)
  const other = await key.signTypedData(domain, types, { ...value, resultCid: 'bafyother' })
  t.is(t.throws(() => { s.answer(signs[0].request, other) })?.name, 'SignatureMismatchError', 'a signature of anything else is refused')
  t.is(t.throws(() => { s.answerTransaction(signs[0].request, '0x' + '33'.repeat(32)) })?.name, 'SignatureRequestNotFoundError', 'a hash is no answer to a signature request')
  const sig = await key.signTypedData(domain, types, value)
  s.answer(signs[0].request, sig)
  t.is(await asked, sig)
  t.is(t.throws(() => { s.answer(signs[0].request, sig) })?.name, 'SignatureRequestNotFoundError', 'answered once')
})

test('a transaction request names the account, the contract, the call and the chain; answered by a hash', async t => {
  const { s, key, sends } = signer()
  const asked = s.askTransaction('Challenge', { to: '0x' + 'ab'.repeat(20), data: '0x1234', chainId: 31337 })
  t.deepEqual(sends.map(r => ({ ...r, request: '' })), [{ request: '', kind: 'Challenge', account: key.address, transaction: { from: key.address, to: getAddress('0x' + 'ab'.repeat(20)), data: '0x1234', chainId: '0x7a69' } }])
  t.is(t.throws(() => { s.answer(sends[0].request, '0x' + '11'.repeat(65)) })?.name, 'SignatureRequestNotFoundError', 'a signature is no answer to a transaction request')
  s.answerTransaction(sends[0].request, '0x' + 'CD'.repeat(32))
  t.is(await asked, '0x' + 'cd'.repeat(32))
})

test('a request withdrawn by its signal, or unanswered in time, ends with a named error and is gone', async t => {
  const { s, key, signs } = signer({ timeoutMs: 50 })
  const ac = new AbortController()
  const withdrawn = s.askSignature(domain, types, value, { signal: ac.signal })
  ac.abort(new Error('the deal moved on'))
  t.is((await t.throwsAsync(withdrawn))?.message, 'the deal moved on')
  t.is(t.throws(() => { s.answer(signs[0].request, '0x') })?.name, 'SignatureRequestNotFoundError')
  const late = s.askSignature(domain, types, value)
  t.is((await t.throwsAsync(late))?.name, 'SignatureTimeoutError')
  const closed = s.askTransaction('Challenge', { to: key.address, data: '0x', chainId: 1 })
  s.close(new Error('the job ended'))
  t.is((await t.throwsAsync(closed))?.message, 'the job ended')
})
