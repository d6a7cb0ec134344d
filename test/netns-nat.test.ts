// Hosts in network namespaces this test creates: a bootstrap node that relays (its name published in DNS as
// a /dnsaddr record), a resource provider behind a NAT (nftables masquerade; inbound dropped unless the
// provider started it), and job creators on other hosts. They are the real `lilypad node` and `lilypad run`
// processes; anvil (in the root namespace) is reached through a port bridge, the Docker engine through its
// unix socket. A job runs end to end twice: from a job creator behind a NAT of its own, where no direct
// path exists and the relay carries everything; then from a job creator with a public address, where the
// job starts on a relayed connection and moves to a direct one. Needs root (CI runs as root).
import test from 'ava'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import Docker from 'dockerode'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { NetnsLab, INTERNET } from '../node/testing/netns.ts'
import { LineLog } from '../node/testing/lines.ts'
import { serveSocketToPort } from '../node/testing/port-bridge.ts'
import { startDevnet, LP } from '../contracts/fixture.ts'
import { loadOrCreatePeerKey } from '../node/host/keys.ts'
import { ensureBuiltinImages } from '../node/modules/index.ts'
import type { NetworkFile } from '../node/config/network.ts'

const repo = fileURLToPath(new URL('..', import.meta.url))
const node = process.execPath
const BOOT = `${INTERNET}.2`
const JC = `${INTERNET}.3`
const PRICE = LP(1)

interface ConnectionLine { peer: string, addr: string, direction: string, relayed: boolean }

/** The provider's `connection open` log records (pino writes one JSON object a line off a terminal) from line `from` on. */
function connectionsOf (log: LineLog, from: number): ConnectionLine[] {
  return log.lines.slice(from).filter(l => l.startsWith('{') && l.includes('"msg":"connection open"'))
    .map(l => JSON.parse(l) as ConnectionLine & { msg: string }).filter(r => r.msg === 'connection open')
}

test('a provider behind NAT serves jobs through the bootstrap relay, then over a direct connection', async t => {
  t.timeout(480_000)
  const lab = await NetnsLab.create()
  t.teardown(async () => { await lab.destroy() })
  const tmp = await mkdtemp(join(tmpdir(), 'lilypad-netns-'))
  t.teardown(async () => { await rm(tmp, { recursive: true, force: true }) })
  const chain = await startDevnet()
  t.teardown(async () => { await chain.stop() })
  await ensureBuiltinImages(new Docker(), { only: ['cowsay:v0.0.1'] })

  const inet = await lab.internet()
  const bootNs = await lab.publicHost('boot', 2)
  const jcNs = await lab.publicHost('jc', 3)
  const { host: provNs } = await lab.natHost('prov', 4)
  const { host: jcNatNs } = await lab.natHost('jcnat', 5)

  // the chain: an RPC endpoint on the internet namespace, carried to anvil through a unix socket
  const anvilPort = Number(new URL(chain.anvil.rpcUrl).port)
  const bridgeSocket = join(tmp, 'anvil.sock')
  const rootSide = await serveSocketToPort(bridgeSocket, anvilPort)
  t.teardown(async () => { await rootSide.close() })
  const bridge = lab.spawn(inet, node, [join(repo, 'node/testing/port-bridge.ts'), `${INTERNET}.1`, '18545', bridgeSocket], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new LineLog(bridge.stdout).waitFor(/^listening/, 30_000)

  // DNS: the network file names the bootstrap node by /dnsaddr; every host asks the internet's DNS server
  const bootKey = await loadOrCreatePeerKey(join(tmp, 'boot', 'peer.key'))
  const bootId = peerIdFromPrivateKey(bootKey).toString()
  const records = { A: { 'boot.lilypad.test': [BOOT] }, TXT: { '_dnsaddr.boot.lilypad.test': [`dnsaddr=/dns4/boot.lilypad.test/tcp/4001/p2p/${bootId}`] } }
  const dns = lab.spawn(inet, node, [join(repo, 'node/testing/dns-server.ts'), `${INTERNET}.1`, '53', JSON.stringify(records)], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new LineLog(dns.stdout).waitFor(/^listening/, 30_000)
  for (const ns of [bootNs, jcNs, provNs, jcNatNs]) await lab.netnsFile(ns, 'resolv.conf', `nameserver ${INTERNET}.1\n`)

  const network: NetworkFile = {
    ...chain.deployment.network,
    rpcUrl: `http://${INTERNET}.1:18545`,
    bootstrap: [`/dnsaddr/boot.lilypad.test/p2p/${bootId}`],
    mediators: [chain.m1.address],
    dealTerms: { resultSlack: 10, judgeWindow: 30, mediateTimeout: 120, mediationFee: LP(1).toString() }
  }
  const networkPath = join(tmp, 'network.json')
  await writeFile(networkPath, JSON.stringify(network, null, 2))
  const keys = chain.anvil.keys

  const lilypad = (ns: string, name: string, key: string, args: string[], env: Record<string, string> = {}): { proc: ReturnType<NetnsLab['spawn']>, log: LineLog, out: LineLog } => {
    const proc = lab.spawn(ns, node, [join(repo, 'cli/bin.ts'), ...args], {
      cwd: repo,
      env: { ...process.env, LILYPAD_HOME: join(tmp, name), LILYPAD_DATA_DIR: join(tmp, name, 'data'), WEB3_PRIVATE_KEY: key, ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    return { proc, log: new LineLog(proc.stdout, proc.stderr), out: new LineLog(proc.stdout) }
  }

  const boot = lilypad(bootNs, 'boot', keys[7], ['node', '--log-level', 'info', '--roles', 'solver,directory', '--relay', '--network', networkPath, '--data-dir', join(tmp, 'boot'), '--listen', `/ip4/${BOOT}/tcp/4001`])
  await boot.log.waitFor(/Ctrl-C stops it/, 90_000)
  const prov = lilypad(provNs, 'prov', keys[3], ['node', '--log-level', 'info', '--roles', 'resource-provider', '--network', networkPath, '--data-dir', join(tmp, 'prov')])
  // reachable: a reservation at the bootstrap relay gives the provider a relayed address
  const addrLine = await prov.log.waitFor(/^\{.*p2p-circuit.*"msg":"addresses"/, 90_000)
  t.regex(addrLine, new RegExp(`/ip4/${BOOT.replace(/\./g, '\\.')}/tcp/4001/p2p/${bootId}/p2p-circuit/p2p/`))
  t.notRegex(addrLine, new RegExp(`/ip4/${INTERNET.replace(/\./g, '\\.')}\\.4/`), 'the NAT\'s public address is not advertised (AutoNAT never confirmed it)')

  const [jcBefore, rpBefore] = await Promise.all([chain.jc.depositOf(), chain.rp.depositOf()])
  const runJob = async (ns: string, label: string): Promise<{ dealId: string, path: string }> => {
    // its log at info on stderr: a failure shows each proposal's outcome
    const run = lilypad(ns, `jc-${label}`, keys[1], ['run', 'cowsay:v0.0.1', '-i', `Message=${label}`, '--network', networkPath, '--json'], { LILYPAD_LOG_LEVEL: 'info' })
    const [code] = await once(run.proc, 'exit') as [number]
    t.is(code, 0, `lilypad run (${label}) failed:\n${run.log.tail(40)}\nprovider:\n${prov.log.tail(30)}`)
    // stdout holds exactly the one JSON document (log records go to stderr)
    const out = JSON.parse(run.out.lines.join('\n')) as { dealId: string, path: string, exitCode: number }
    t.is(out.exitCode, 0)
    t.true((await readFile(join(out.path, 'stdout'), 'utf8')).includes(`< ${label} >`))
    return out
  }

  // 1. both behind NAT: no direct path (hole punching finds no public address to try), the relay carries the job
  const mark1 = prov.log.lines.length
  await runJob(jcNatNs, 'relayed')
  const jcConns1 = connectionsOf(prov.log, mark1).filter(c => c.peer !== bootId)
  t.true(jcConns1.length > 0, 'the job creator reached the provider')
  t.true(jcConns1.every(c => c.relayed && c.addr.includes(`/p2p/${bootId}/p2p-circuit`)), JSON.stringify(jcConns1))

  // 2. a job creator with a public address: the job starts on a relayed connection and moves to a direct one
  const mark2 = prov.log.lines.length
  await runJob(jcNs, 'direct')
  const conns2 = connectionsOf(prov.log, mark2).filter(c => c.peer !== bootId)
  const firstRelayed = conns2.findIndex(c => c.relayed)
  t.true(firstRelayed >= 0, 'the job creator first reached the provider through the relay')
  const jcPeer = conns2[firstRelayed].peer
  const direct = conns2.slice(firstRelayed + 1).find(c => c.peer === jcPeer && !c.relayed)
  t.truthy(direct, `a direct connection followed: ${JSON.stringify(conns2)}`)
  t.true(direct?.addr.startsWith(`/ip4/${JC}/tcp/`), direct?.addr)
  const show = (c: ConnectionLine): string => `${c.direction} ${c.relayed ? 'relayed' : 'direct'} ${c.addr.replace(/\/p2p\/12D3KooW\w+/g, '/p2p/…')}`
  t.log(`behind NAT: ${jcConns1.map(show).join('; ')}`)
  t.log(`public: ${conns2.filter(c => c.peer === jcPeer).map(show).join('; ')}`)

  // the ledger: each job paid the price, the mediation fee and the collateral came back
  const [jcAfter, rpAfter] = await Promise.all([chain.jc.depositOf(), chain.rp.depositOf()])
  t.is(jcBefore - jcAfter, 2n * PRICE)
  t.is(rpAfter - rpBefore, 2n * PRICE)
})
