// Bootstrap entries with DNS names, resolved through a real DNS server over UDP (ours, on loopback): /dns4
// through A records, /dnsaddr through TXT records that point at a /dns4 address in turn. A silent server
// costs at most the DNS timeout, with a named error.
import test from 'ava'
import { multiaddr } from '@multiformats/multiaddr'
import { createHost, localMeshOptions, type LilypadHost } from './create-host.ts'
import { createDns, DnsTimeoutError } from './dns.ts'
import { startDnsServer } from '../testing/dns-server.ts'
import { testDomain, NETWORK } from '../testing/fixtures.ts'
import { parseNetworkFile } from '../config/load.ts'

async function connected (node: LilypadHost, peer: LilypadHost): Promise<void> {
  if (node.getConnections(peer.peerId).length > 0) return
  await new Promise<void>(resolve => {
    const on = (e: CustomEvent<{ remotePeer: LilypadHost['peerId'] }>): void => { if (e.detail.remotePeer.equals(peer.peerId)) { node.removeEventListener('connection:open', on as never); resolve() } }
    node.addEventListener('connection:open', on as never)
  })
}

test('bootstrap peers named by /dns4 and /dnsaddr are found through DNS', async t => {
  const hosts: LilypadHost[] = []
  t.teardown(async () => { await Promise.all(hosts.map(async h => { await h.stop() })) })
  const seed = await createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions })
  hosts.push(seed)
  const port = Number(seed.getMultiaddrs()[0].getComponents().find(c => c.name === 'tcp')?.value)
  const id = seed.peerId.toString()
  const dns = await startDnsServer({
    A: { 'boot.lilypad.test': ['127.0.0.1'] },
    TXT: { '_dnsaddr.seeds.lilypad.test': [`dnsaddr=/dns4/boot.lilypad.test/tcp/${port}/p2p/${id}`] }
  })
  t.teardown(async () => { await dns.close() })

  for (const entry of [`/dns4/boot.lilypad.test/tcp/${port}/p2p/${id}`, `/dnsaddr/seeds.lilypad.test/p2p/${id}`]) {
    const node = await createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions, bootstrap: [entry], dns: { servers: [dns.server] } })
    hosts.push(node)
    await connected(node, seed)
    t.pass(entry)
  }
})

test('a DNS server that never answers costs one timeout and a named error', async t => {
  const silent = await startDnsServer({}, { silent: true })
  t.teardown(async () => { await silent.close() })
  const dns = createDns({ servers: [silent.server], timeoutMs: 600 })
  const started = Date.now()
  const err = await t.throwsAsync(dns.query('boot.lilypad.test')) as Error & { errors?: Error[] }
  t.true((err.errors ?? []).some(e => e.name === DnsTimeoutError.name), `${err.name}: ${(err.errors ?? []).map(e => e.name).join(', ')}`)
  t.true(Date.now() - started >= 590)
  t.log(`gave up after ${Date.now() - started} ms`)

  // a dial to a name only the silent server could resolve fails instead of hanging
  const node = await createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions, dns: { servers: [silent.server], timeoutMs: 600 } })
  t.teardown(async () => { await node.stop() })
  await t.throwsAsync(node.dial(multiaddr('/dns4/boot.lilypad.test/tcp/4001/p2p/12D3KooWLx2RmNrXqBNRPYbRFMgU1RvW9jCvCchcdLHY37BZCkdE'), { signal: AbortSignal.timeout(30_000) }))
})

test('the network file accepts bootstrap entries by address or DNS name, with a peer id, and names a bad one', t => {
  const base = { networkId: 'n', chainId: 1, rpcUrl: 'http://127.0.0.1:1', contracts: { token: '0x' + '1'.repeat(40), market: '0x' + '2'.repeat(40), directory: '0x' + '3'.repeat(40), jobManager: '0x' + '4'.repeat(40) } }
  const id = '12D3KooWLx2RmNrXqBNRPYbRFMgU1RvW9jCvCchcdLHY37BZCkdE'
  const good = [`/ip4/1.2.3.4/tcp/4001/p2p/${id}`, `/dns4/boot.example.org/tcp/4001/p2p/${id}`, `/dns6/boot.example.org/tcp/4001/p2p/${id}`, '/dnsaddr/bootstrap.example.org', `/dns4/boot.example.org/tcp/443/tls/ws/p2p/${id}`]
  t.deepEqual(parseNetworkFile(JSON.stringify({ ...base, bootstrap: good }), 'n.json').bootstrap, good)
  for (const [bad, re] of [['boot.example.org:4001', /not a multiaddr/], ['/dns4/boot.example.org/tcp/4001', /\/p2p\/<peer id>/], [`/tcp/4001/p2p/${id}`, /must start with/]] as const) {
    const err = t.throws(() => parseNetworkFile(JSON.stringify({ ...base, bootstrap: [bad] }), 'n.json'))
    t.is(err?.name, 'NetworkFileError')
    t.regex(err?.message ?? '', re)
  }
})
