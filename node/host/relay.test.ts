// Circuit relay v2 between real hosts on loopback: a node listening on /p2p-circuit gets a reservation at a
// relay and a relayed address; our protocols run over the relayed connection (openStream reuses it); the
// relay enforces its reservation cap, data limit and duration limit.
import test from 'ava'
import { once } from 'node:events'
import { multiaddr } from '@multiformats/multiaddr'
import { Circuit } from '@multiformats/multiaddr-matcher'
import type { Connection, Stream } from '@libp2p/interface'
import { createHost, localMeshOptions, type HostOptions, type LilypadHost } from './create-host.ts'
import { openStream, isRelayed } from './connections.ts'
import { testDomain, NETWORK } from '../testing/fixtures.ts'

const SINK = `/lilypad/${NETWORK}/test-sink/1.0.0`

async function host (over: Partial<HostOptions>, stop: LilypadHost[]): Promise<LilypadHost> {
  // generous dial and handshake timeouts: a loaded machine must not turn a slow handshake into a failure here
  const h = await createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions, limits: { dialTimeoutMs: 60_000, inboundUpgradeTimeoutMs: 60_000 }, ...over })
  stop.push(h)
  return h
}

/** Resolves with the node's relayed address once its reservation is made. */
async function relayedAddress (h: LilypadHost): Promise<string> {
  const find = (): string | undefined => h.getMultiaddrs().map(String).find(a => Circuit.exactMatch(multiaddr(a)))
  const now = find()
  if (now !== undefined) return now
  return await new Promise(resolve => {
    const on = (): void => { const a = find(); if (a !== undefined) { h.removeEventListener('self:peer:update', on); resolve(a) } }
    h.addEventListener('self:peer:update', on)
  })
}

/** Counts the bytes each inbound sink stream delivers before it ends. */
async function sink (h: LilypadHost): Promise<Array<Promise<number>>> {
  const streams: Array<Promise<number>> = []
  await h.handle(SINK, (stream: Stream) => {
    streams.push((async () => {
      let n = 0
      try { for await (const chunk of stream) n += chunk.byteLength } catch {}
      return n
    })())
  }, { runOnLimitedConnection: true })
  return streams
}

test('a node behind a relay is reachable through it; the relay caps reservations, data and duration', async t => {
  const hosts: LilypadHost[] = []
  t.teardown(async () => { await Promise.all(hosts.map(async h => { await h.stop() })) })
  const relay = await host({ relay: true, relayLimits: { maxReservations: 1, maxDataBytes: 64n * 1024n, maxDurationMs: 3000 } }, hosts)
  const relayAddr = relay.getMultiaddrs()[0]
  const behind = await host({ listen: ['/p2p-circuit'] }, hosts)
  await behind.dial(relayAddr, { signal: AbortSignal.timeout(60_000) })
  const viaRelay = await relayedAddress(behind)
  t.true(viaRelay.startsWith(relayAddr.toString()), viaRelay)
  t.is(relay.services.relay?.reservations.size, 1)

  // the relay holds one reservation at most: a second node asking for one at it is refused
  const second = createHost({ networkId: NETWORK, domain: testDomain, ...localMeshOptions, listen: [`${relayAddr.toString()}/p2p-circuit`] })
  const err = await t.throwsAsync(second)
  t.regex(err?.message ?? '', /RESERVATION_REFUSED/)
  t.is(relay.services.relay?.reservations.size, 1)

  // a dialer reaches the node through the relay: a limited connection, used by openStream
  const counts = await sink(behind)
  const dialer = await host({}, hosts)
  const conn = await dialer.dial(multiaddr(viaRelay), { signal: AbortSignal.timeout(60_000) })
  t.true(isRelayed(conn))
  t.not(conn.limits, undefined)
  // the limit the relay announced, less what the handshakes already used
  t.true((conn.limits?.bytes ?? 0n) > 60n * 1024n && (conn.limits?.bytes ?? 0n) <= 64n * 1024n, `${conn.limits?.bytes} bytes left`)
  const small = await openStream(dialer, behind.peerId, SINK, { signal: AbortSignal.timeout(60_000) })
  t.is(dialer.getConnections(behind.peerId).length, 1, 'openStream used the relayed connection, no second dial')
  small.send(new Uint8Array(1000))
  await small.close()
  t.is(await counts[0], 1000)

  // more than the data limit: the relay resets the connection before it all arrives
  const closed = once(dialer, 'connection:close') as Promise<[CustomEvent<Connection>]>
  const big = await openStream(dialer, behind.peerId, SINK, { signal: AbortSignal.timeout(60_000) })
  const chunk = new Uint8Array(16 * 1024)
  try {
    for (let i = 0; i < 16; i++) if (!big.send(chunk)) await big.onDrain({ signal: AbortSignal.timeout(60_000) })
    await big.close({ signal: AbortSignal.timeout(60_000) })
  } catch {}
  const [ev] = await closed
  t.is(ev.detail.id, conn.id)
  const delivered = await counts[1]
  t.true(delivered < 16 * 16 * 1024, `${delivered} bytes of 256 KiB arrived`)
  t.true(delivered <= 64 * 1024, `${delivered} bytes delivered, limit 64 KiB`)

  // an idle relayed connection is closed at the duration limit, not before
  const started = Date.now()
  const idle = await dialer.dial(multiaddr(viaRelay), { signal: AbortSignal.timeout(60_000) })
  t.true(isRelayed(idle))
  await new Promise<void>(resolve => {
    const on = (e: CustomEvent<Connection>): void => { if (e.detail.id === idle.id) { dialer.removeEventListener('connection:close', on); resolve() } }
    dialer.addEventListener('connection:close', on)
  })
  t.true(Date.now() - started >= 2900, `closed after ${Date.now() - started} ms`)
})
