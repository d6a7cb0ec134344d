// Secure WebSockets behind a TLS-terminating reverse proxy, as docs/operators.md sets it up: a real nginx
// (Debian's nginx-light) terminates TLS with a certificate from our own test CA and forwards the upgraded
// connection to a node listening on plain /ws on loopback; the node announces the proxy's /tls/ws address;
// another node dials that address, verifies the certificate, and the two exchange gossip over it.
import test from 'ava'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile, readFile, mkdir } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import tls from 'node:tls'
import { multiaddr } from '@multiformats/multiaddr'
import { createHost, localMeshOptions, type LilypadHost } from './create-host.ts'
import { GossipService } from '../gossip/gossip.ts'
import { OrderBook } from '../../protocols/order-book.ts'
import { idOf } from '../../protocols/eip712.ts'
import { testDomain, NETWORK, wallet, resourceOffer, boundResourceOffer, waitFor, waitForMesh } from '../testing/fixtures.ts'

const run = promisify(execFile)
const NGINX = '/usr/sbin/nginx'
const OPENSSL = '/usr/bin/openssl'

/** A CA and a server certificate for 127.0.0.1 and localhost signed by it. */
async function certificates (dir: string): Promise<{ ca: string, cert: string, key: string }> {
  const p = (f: string): string => join(dir, f)
  await run(OPENSSL, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=Lilypad test CA', '-keyout', p('ca.key'), '-out', p('ca.pem')])
  await run(OPENSSL, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', p('server.key'), '-out', p('server.csr')])
  await writeFile(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n')
  await run(OPENSSL, ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p('ext.cnf'), '-out', p('server.pem')])
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key') }
}

/** The reverse-proxy block of docs/operators.md, on a test port with test certificates. */
function nginxConfig (dir: string, port: number, upstream: number, certs: { cert: string, key: string }): string {
  return `daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'tmp')}; proxy_temp_path ${join(dir, 'tmp')}; fastcgi_temp_path ${join(dir, 'tmp')};
  uwsgi_temp_path ${join(dir, 'tmp')}; scgi_temp_path ${join(dir, 'tmp')};
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${certs.cert};
    ssl_certificate_key ${certs.key};
    location / {
      proxy_pass http://127.0.0.1:${upstream};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
`
}

async function freePort (): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  s.close()
  await once(s, 'close')
  return port
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const c = connect(port, '127.0.0.1')
    c.once('connect', () => { c.destroy(); resolve(true) })
    c.once('error', () => { resolve(false) })
  })
}

test('a node behind an nginx TLS proxy is dialled at its /tls/ws address and gossips over it', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-wss-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(join(dir, 'tmp'))
  const certs = await certificates(dir)

  const hosts: LilypadHost[] = []
  const services: GossipService[] = []
  t.teardown(async () => { services.forEach(s => { s.stop() }); await Promise.all(hosts.map(async h => { await h.stop() })) })
  const upstream = await freePort()
  // the free port may be taken between our check and nginx's bind: then nginx exits, and we try another
  let proxyPort = 0
  for (let attempt = 0; attempt < 3 && proxyPort === 0; attempt++) {
    const port = await freePort()
    await writeFile(join(dir, 'nginx.conf'), nginxConfig(dir, port, upstream, certs))
    const nginx = spawn(NGINX, ['-e', join(dir, 'error.log'), '-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] })
    const exited = once(nginx, 'exit')
    t.teardown(async () => { if (nginx.exitCode === null) { nginx.kill('SIGTERM'); await exited } })
    await waitFor(async () => nginx.exitCode !== null || await accepts(port), 20_000, 'nginx listening')
    if (nginx.exitCode === null) proxyPort = port
  }
  t.not(proxyPort, 0, `nginx did not start: ${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`)

  const wssAddr = `/ip4/127.0.0.1/tcp/${proxyPort}/tls/ws`
  const behind = await createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions, listen: [`/ip4/127.0.0.1/tcp/${upstream}/ws`], announce: [wssAddr] })
  const dialer = await createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions })
  hosts.push(behind, dialer)
  t.true(behind.getMultiaddrs().some(a => a.toString() === `${wssAddr}/p2p/${behind.peerId.toString()}`), 'the proxy address is announced')

  // the certificate is checked: before this process trusts our test CA, the dial fails
  const stranger = await createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions })
  hosts.push(stranger)
  // (the WebSocket transport rejects with the browser-style ErrorEvent, not an Error)
  await t.throwsAsync(stranger.dial(multiaddr(`${wssAddr}/p2p/${behind.peerId.toString()}`), { signal: AbortSignal.timeout(15_000) }), { any: true })
  // now it trusts the CA, as a machine trusts a public one (this process only)
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), await readFile(certs.ca, 'utf8')])

  for (const h of [behind, dialer]) services.push(new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
  services.forEach(s => { s.start() })
  const conn = await dialer.dial(multiaddr(`${wssAddr}/p2p/${behind.peerId.toString()}`), { signal: AbortSignal.timeout(15_000) })
  t.is(conn.remoteAddr.toString(), `${wssAddr}/p2p/${behind.peerId.toString()}`)
  t.true(conn.encryption !== undefined && conn.remotePeer.equals(behind.peerId))

  const topic = services[0].topics.resourceOffers
  // published into a formed mesh (a publish before the first heartbeat grafts the peer can be dropped)
  await waitForMesh([dialer, behind], topic)
  const w = wallet('wss-provider')
  const env = await boundResourceOffer(w, resourceOffer(w.address), behind.peerId.toString())
  const got = new Promise<void>(resolve => { services[1].onVerified(v => { if (v.id === idOf('ResourceOffer', testDomain, env.value)) resolve() }) })
  await services[0].publishResourceOffer(env)
  await Promise.race([got, new Promise((_resolve, reject) => { setTimeout(() => { reject(new Error('the offer did not arrive over wss within 60 s')) }, 60_000).unref() })])
  t.is(services[1].book?.size, 1)
})
