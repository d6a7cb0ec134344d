import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { getBytes } from 'ethers'
import { Directory } from './directory.ts'
import { createLogger } from '../observability/logger.ts'
import { createHost, localMeshOptions, type LilypadHost } from '../host/create-host.ts'
import { connectMesh, stopAll, testDomain, NETWORK, wallet, waitFor, nowSec } from '../testing/fixtures.ts'
import { encodeSignedNodeRecord, nodeRecordDigest, nodeRecordKey, signNodeRecord, nodeRecordValidator, type NodeRecord } from '../../protocols/directory/record.ts'

test('directory: publish records, find a mediator and a solver by role; a forged record is refused', async t => {
  const keys = await Promise.all(Array.from({ length: 5 }, async () => await generateKeyPair('Ed25519')))
  const hosts: LilypadHost[] = await Promise.all(keys.map(async privateKey => await createHost({ networkId: NETWORK, domain: testDomain, privateKey, ...localMeshOptions })))
  t.teardown(async () => { await stopAll(hosts) })
  const dirs = hosts.map((h, i) => new Directory(h, { networkId: NETWORK, domain: testDomain, signer: wallet(`dir-${i}`), privateKey: keys[i], timeoutMs: 10_000 }))
  await connectMesh(hosts)
  // kad-dht adds peers to its routing table after identify; it emits no event for that, so poll
  await waitFor(async () => {
    const sizes = await Promise.all(hosts.map(async h => {
      let n = 0
      try {
        for await (const e of h.services.dht.getClosestPeers(h.peerId.toMultihash().bytes, { signal: AbortSignal.timeout(2000) })) if (e.name === 'FINAL_PEER') n++
      } catch {}
      return n
    }))
    return sizes.every(n => n > 0)
  }, 20_000, 'DHT routing tables')

  const mediator = await dirs[1].publish({ roles: ['mediator'] })
  await dirs[3].publish({ roles: ['solver', 'mediator'] })
  await dirs[4].publish({ roles: ['resource-provider'] })

  const found = await dirs[0].findByRole('mediator', { timeoutMs: 10_000 })
  t.deepEqual(found.map(r => r.ethAddress).sort(), [wallet('dir-1').address, wallet('dir-3').address].sort())
  const rec = found.find(r => r.peerId === hosts[1].peerId.toString()) as NodeRecord
  t.deepEqual(rec, mediator)
  t.true(rec.multiaddrs.length > 0)
  const solvers = await dirs[2].findByRole('solver', { timeoutMs: 10_000 })
  t.deepEqual(solvers.map(r => r.peerId), [hosts[3].peerId.toString()])

  // a forged record: node 4 tries to store a record claiming node 1's peer id with its own keys
  const forged: NodeRecord = { ...mediator, ethAddress: wallet('dir-4').address, seq: mediator.seq + 1n, roles: ['mediator'] }
  const value = encodeSignedNodeRecord({
    record: { kind: 'NodeRecord', value: forged, signature: await signNodeRecord(testDomain, forged, wallet('dir-4')) },
    peerSignature: await keys[4].sign(getBytes(nodeRecordDigest(testDomain, forged)))
  })
  await t.throwsAsync(nodeRecordValidator(testDomain, nowSec)(nodeRecordKey(hosts[1].peerId.toString()), value))
  // kad-dht's put reports per-peer failures as query events rather than throwing; the peers' validators
  // refuse to store it, so every reader still gets the genuine record
  try {
    for await (const _ of hosts[4].services.dht.put(nodeRecordKey(hosts[1].peerId.toString()), value, { signal: AbortSignal.timeout(5000) })) { /* drain */ }
  } catch {}
  const values: Uint8Array[] = []
  try {
    for await (const e of hosts[2].services.dht.get(nodeRecordKey(hosts[1].peerId.toString()), { signal: AbortSignal.timeout(5000) })) if (e.name === 'VALUE') values.push(e.value)
  } catch {}
  t.true(values.length > 0)
  t.false(values.some(v => Buffer.from(v).equals(Buffer.from(value))))
  const after = await dirs[2].get(hosts[1].peerId.toString())
  t.is(after?.ethAddress, wallet('dir-1').address)
  t.true((after?.expiry ?? 0n) > nowSec())
})

test('stopping a node with no DHT peer cuts its directory publish short instead of waiting out the publish time limit', async t => {
  const key = await generateKeyPair('Ed25519')
  const host = await createHost({ networkId: NETWORK, domain: testDomain, privateKey: key, ...localMeshOptions })
  t.teardown(async () => { await stopAll([host]) })
  const lines: Array<Record<string, unknown>> = []
  const log = createLogger({ level: 'debug', format: 'json', destination: { write (l: string) { lines.push(JSON.parse(l) as Record<string, unknown>) } } })
  // a time limit far beyond ava's: before, stop() awaited the publish in flight until its limit, so this test hung
  const dir = new Directory(host, { networkId: NETWORK, domain: testDomain, signer: wallet('dir-alone'), privateKey: key, timeoutMs: 3_600_000 })
  dir.keepPublished({ roles: ['resource-provider'], log })
  await dir.stop()
  t.deepEqual(lines.filter(l => l.level !== 20).map(l => l.msg), [], 'a publish cut short by stop is neither a failure to warn about nor retried')
})
