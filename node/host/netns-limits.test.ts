// Connection limits and colocation scoring between hosts with real, non-loopback addresses (network
// namespaces this test creates): the devnet's loopback allow-list is set on the server too, and must not
// exempt anyone here. Needs root (CI runs as root).
import test from 'ava'
import { NetnsLab, NamespaceHosts, INTERNET } from '../testing/netns.ts'
import type { ChildCommand, ChildState } from '../testing/netns-child.ts'
import { waitFor } from '../testing/fixtures.ts'

interface Started { peers: string[], addrs: string[][] }

test('per-IP and total connection caps, the inbound rate limit and IP-colocation scoring hold between namespaces', async t => {
  t.timeout(180_000)
  const lab = await NetnsLab.create()
  t.teardown(async () => { await lab.destroy() })
  await lab.internet()
  const [srvNs, atk1Ns, atk2Ns] = [await lab.publicHost('srv', 2), await lab.publicHost('atk1', 3), await lab.publicHost('atk2', 4)]
  const srv = new NamespaceHosts(lab, srvNs)
  const atk1 = new NamespaceHosts(lab, atk1Ns)
  const atk2 = new NamespaceHosts(lab, atk2Ns)
  const loopbackAllowed = { allow: ['/ip4/127.0.0.0/ipcidr/8'], heartbeatIntervalMs: 200 }

  // server 0: caps of 4 per IP and 6 in all; server 1: at most 2 new connections a second from one IP
  await srv.call({ type: 'start', count: 1, options: { ...loopbackAllowed, listen: [`/ip4/${INTERNET}.2/tcp/4001`], limits: { maxConnections: 6, maxConnectionsPerIp: 4, inboundConnectionThreshold: 100 }, colocationWeight: -20, colocationThreshold: 2 } })
  const { peers: [srvPeer, srvPeer2] } = await srv.call<Started>({ type: 'start', count: 1, options: { ...loopbackAllowed, listen: [`/ip4/${INTERNET}.2/tcp/4002`], limits: { inboundConnectionThreshold: 2 } } })
  const [a1, a2] = await Promise.all([
    atk1.call<Started>({ type: 'start', count: 6, options: { ...loopbackAllowed, listen: [`/ip4/${INTERNET}.3/tcp/0`] } }),
    atk2.call<Started>({ type: 'start', count: 4, options: { ...loopbackAllowed, listen: [`/ip4/${INTERNET}.4/tcp/0`] } })
  ])
  const srvState = async (host = 0): Promise<ChildState> => await srv.call<ChildState>({ type: 'state', host })
  // generous dial timeouts: on a loaded machine a refused dial must be refused by the limit, not the clock
  const dialAll = async (hosts: NamespaceHosts, n: number, addr: string): Promise<boolean[]> =>
    await Promise.all(Array.from({ length: n }, async (_, from) => await hosts.call({ type: 'dial', from, addr, timeoutMs: 30_000 }).then(() => true, () => false)))

  // six peers from one IP: four get in, the gate refuses the other two
  const first = await dialAll(atk1, 6, `/ip4/${INTERNET}.2/tcp/4001/p2p/${srvPeer}`)
  t.is(first.filter(Boolean).length, 4, 'four connections from 11.66.0.3')
  const fromIp = (s: ChildState, ip: string): number => s.connections.filter(c => c.ip === ip).length
  t.is(fromIp(await srvState(), `${INTERNET}.3`), 4)

  // four more from another IP: the total cap of six leaves room for two
  const second = await dialAll(atk2, 4, `/ip4/${INTERNET}.2/tcp/4001/p2p/${srvPeer}`)
  // (AutoNAT dial-backs, outbound and brief, count towards libp2p's own total too: at most two get in)
  const admitted = second.filter(Boolean).length
  t.true(admitted >= 1 && admitted <= 2, `${admitted} connections from 11.66.0.4`)
  // libp2p prunes down to its cap (an AutoNAT dial-back can take it one over for a moment): the caps hold once it
  // settles, so the state checked is the settled one, not a second read that may catch the next dial-back
  let s0: ChildState | undefined
  await waitFor(async () => { s0 = await srvState(); return s0.connections.length <= 6 && fromIp(s0, `${INTERNET}.3`) <= 4 && fromIp(s0, `${INTERNET}.4`) <= 2 }, 10_000, 'at most six connections, four and two per IP')
  t.true(s0 !== undefined && s0.connections.length <= 6)
  t.true(s0 !== undefined && fromIp(s0, `${INTERNET}.3`) <= 4 && fromIp(s0, `${INTERNET}.4`) <= 2)

  // colocation: four gossip peers behind one IP score (4 − 2)² × −20 = −80 each; two behind another, 0
  await Promise.all([srv.call({ type: 'subscribe' }), atk1.call({ type: 'subscribe' }), atk2.call({ type: 'subscribe' })])
  const atk1Peers = new Set(a1.peers)
  const atk2Peers = new Set(a2.peers)
  await waitFor(async () => { const s = await srvState(); return Object.entries(s.scores).filter(([p, v]) => atk1Peers.has(p) && v < -70).length === 4 }, 20_000, 'colocation penalty on the four peers sharing an IP')
  const scores = (await srvState()).scores
  for (const [peer, score] of Object.entries(scores)) {
    if (atk1Peers.has(peer)) t.true(score <= -79 && score > -81, `peer behind the crowded IP scores ${score}`)
    if (atk2Peers.has(peer)) t.true(score >= 0 && score < 1, `peer behind the other IP scores ${score}`)
  }

  // the inbound rate limit counts per IP and second: six dials at once get at most 2 per second elapsed
  const t0 = Date.now()
  const burst = await dialAll(atk1, 6, `/ip4/${INTERNET}.2/tcp/4002/p2p/${srvPeer2}`)
  const seconds = Math.ceil((Date.now() - t0) / 1000)
  const accepted = burst.filter(Boolean).length
  t.true(accepted >= 1 && accepted <= 2 * seconds, `${accepted} of 6 accepted in ${seconds} s`)
  if (seconds < 3) t.true(accepted < 6, 'the burst was limited')
  t.log(`rate limit: ${accepted} of 6 connections accepted over ${seconds} s`)
})

test('a relay caps the reservations made from one IP; a holder that leaves frees its slot', async t => {
  t.timeout(180_000)
  const lab = await NetnsLab.create()
  t.teardown(async () => { await lab.destroy() })
  await lab.internet()
  const relayHosts = new NamespaceHosts(lab, await lab.publicHost('relay', 2))
  const atk = new NamespaceHosts(lab, await lab.publicHost('atk', 3))
  const other = new NamespaceHosts(lab, await lab.publicHost('other', 4))
  // the loopback allow-list is set, as on a devnet, and must not exempt anyone here; the inbound rate limit
  // (5 new connections a second from one IP) is raised so that only the reservation cap refuses
  const { peers: [relayPeer] } = await relayHosts.call<Started>({ type: 'start', count: 1, options: { allow: ['/ip4/127.0.0.0/ipcidr/8'], listen: [`/ip4/${INTERNET}.2/tcp/4001`], relay: true, relayLimits: { maxReservationsPerIp: 2 }, limits: { inboundConnectionThreshold: 100 } } })
  const viaRelay = `/ip4/${INTERNET}.2/tcp/4001/p2p/${relayPeer}/p2p-circuit`
  const relayState = async (): Promise<ChildState> => await relayHosts.call<ChildState>({ type: 'state', host: 0 })
  // a host listening on the relay's circuit address starts only once its reservation is granted
  const reserve = async (hosts: NamespaceHosts): Promise<string> =>
    await hosts.call<Started>({ type: 'start', count: 1, options: { listen: [viaRelay] } }).then(s => s.peers[s.peers.length - 1], (err: Error) => `refused: ${err.message}`)

  // one machine minting peer ids: two reservations granted, the next two refused by the relay
  const first = [await reserve(atk), await reserve(atk)]
  t.false(first.some(r => r.startsWith('refused')), first.join(', '))
  for (let i = 0; i < 2; i++) t.regex(await reserve(atk), /^refused: .*reservation failed with status PERMISSION_DENIED/s)
  // another IP is not affected by the first one's cap
  const fromOther = await reserve(other)
  t.false(fromOther.startsWith('refused'), fromOther)
  t.deepEqual((await relayState()).reservations?.sort(), [...first, fromOther].sort())

  // a holder stops: its connection closes and the relay frees its slot now, not at the reservation's TTL
  await atk.call({ type: 'close', host: 0 })
  await waitFor(async () => (await relayState()).reservations?.includes(first[0]) === false, 30_000, 'the departed holder\'s reservation freed')
  const again = await reserve(atk)
  t.false(again.startsWith('refused'), again)
  t.deepEqual((await relayState()).reservations?.sort(), [first[1], fromOther, again].sort())
})

test('IPv6 addresses count per /64: peers spread over one /64 share one per-IP cap, another /64 has its own', async t => {
  t.timeout(180_000)
  const lab = await NetnsLab.create()
  t.teardown(async () => { await lab.destroy() })
  await lab.internet()
  // one link, a /48 on it: the server, two hosts in one /64 (one subscriber's block), one host in another /64
  const six = { srv: '2001:db8:66::2', a: '2001:db8:66::3', b: '2001:db8:66::4', c: '2001:db8:66:1::3' }
  const spaces: Record<string, string> = {}
  for (const [name, addr] of Object.entries(six)) {
    spaces[name] = await lab.publicHost(`v6${name}`, 10 + Object.keys(spaces).length)
    await lab.addAddress(spaces[name], `${addr}/48`)
  }
  const srv = new NamespaceHosts(lab, spaces.srv)
  const [a, b, c] = [new NamespaceHosts(lab, spaces.a), new NamespaceHosts(lab, spaces.b), new NamespaceHosts(lab, spaces.c)]
  const { peers: [srvPeer] } = await srv.call<Started>({ type: 'start', count: 1, options: { allow: ['/ip4/127.0.0.0/ipcidr/8'], listen: [`/ip6/${six.srv}/tcp/4001`], limits: { maxConnectionsPerIp: 3, inboundConnectionThreshold: 100 } } })
  const target = `/ip6/${six.srv}/tcp/4001/p2p/${srvPeer}`
  const opts = (addr: string): ChildCommand => ({ type: 'start', count: 3, options: { listen: [`/ip6/${addr}/tcp/0`] } })
  await Promise.all([a.call(opts(six.a)), b.call(opts(six.b)), c.call(opts(six.c))])
  const dialAll = async (hosts: NamespaceHosts, n: number): Promise<number> =>
    (await Promise.all(Array.from({ length: n }, async (_, from) => await hosts.call({ type: 'dial', from, addr: target, timeoutMs: 30_000 }).then(() => true, () => false)))).filter(Boolean).length

  t.is(await dialAll(a, 3), 3, 'three from 2001:db8:66::3')
  // another address in the same /64 finds the cap taken
  t.is(await dialAll(b, 3), 0, 'none from 2001:db8:66::4')
  t.is(await dialAll(c, 2), 2, 'two from 2001:db8:66:1::3, another /64')
  const s = await srv.call<ChildState>({ type: 'state', host: 0 })
  const from = (addr: string): number => s.connections.filter(x => x.ip === addr).length
  t.deepEqual([from(six.a), from(six.b), from(six.c)], [3, 0, 2])
})
