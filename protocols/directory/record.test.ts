import test from 'ava'
import { getBytes } from 'ethers'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encodeSignedNodeRecord, nodeRecordDigest, nodeRecordKey, nodeRecordSelector, nodeRecordValidator, signNodeRecord, type NodeRecord } from './record.ts'
import { MessageValidationError } from '../errors.ts'
import { testDomain, wallet, nowSec } from '../../node/testing/fixtures.ts'
import type { PrivateKey } from '@libp2p/interface'

async function signed (r: NodeRecord, eth = wallet('dir-eth'), key: PrivateKey): Promise<Uint8Array> {
  const signature = await signNodeRecord(testDomain, r, eth)
  const peerSignature = await key.sign(getBytes(nodeRecordDigest(testDomain, r)))
  return encodeSignedNodeRecord({ record: { kind: 'NodeRecord', value: r, signature }, peerSignature })
}

test('node records: valid accepted; forged, misplaced and expired rejected; newest seq selected', async t => {
  const key = await generateKeyPair('Ed25519')
  const other = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key).toString()
  const eth = wallet('dir-eth')
  const record: NodeRecord = { peerId, multiaddrs: ['/ip4/127.0.0.1/tcp/4001'], roles: ['mediator'], ethAddress: eth.address, seq: 5n, expiry: nowSec() + 600n }
  const validate = nodeRecordValidator(testDomain, nowSec)
  const key1 = nodeRecordKey(peerId)
  const good = await signed(record, eth, key)
  await t.notThrowsAsync(validate(key1, good))

  const reject = async (value: Uint8Array, k = key1): Promise<string> => (await t.throwsAsync(validate(k, value), { instanceOf: MessageValidationError }))?.code ?? ''
  // Ethereum signature by another key claiming this address
  t.is(await reject(await signed(record, wallet('impostor'), key)), 'BAD_SIGNATURE')
  // libp2p signature by another peer's key
  t.is(await reject(await signed(record, eth, other)), 'BAD_SIGNATURE')
  // a valid record stored under another peer's key
  t.is(await reject(good, nodeRecordKey(peerIdFromPrivateKey(other).toString())), 'BAD_SIGNATURE')
  // expired
  t.is(await reject(await signed({ ...record, expiry: nowSec() - 1n }, eth, key)), 'EXPIRED')
  // garbage
  t.is(await reject(new Uint8Array([1, 2, 3])), 'MALFORMED')

  const newer = await signed({ ...record, seq: 9n }, eth, key)
  const select = nodeRecordSelector()
  t.is(select(key1, [good, newer, new Uint8Array([0xff])]), 1)
  t.is(select(key1, [newer, good]), 0)
})
