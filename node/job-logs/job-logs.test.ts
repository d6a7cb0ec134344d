// Live logs between real libp2p hosts on 127.0.0.1: the deal's job creator follows the output (backlog first, then
// as it is produced); a stranger cannot open the deal's stream; nobody can push to a job creator; floods are cut at
// the bound on both sides, and the peer that floods or lies loses points in the peer guard.
import test from 'ava'
import { hexlify, randomBytes } from 'ethers'
import { lpStream } from '@libp2p/utils'
import { encode } from 'cborg'
import { startHosts, connectMesh, stopAll, NETWORK, waitFor } from '../testing/fixtures.ts'
import { quietComponents } from '../components.ts'
import { ManualClock } from '../../core/clock.ts'
import { PeerGuard } from '../peer-guard/index.ts'
import { protocols } from '../../protocols/protocol-id.ts'
import { encodeLogFrame, MAX_LOG_CHUNK, MAX_LOG_FRAME } from '../../protocols/logs/index.ts'
import type { LilypadHost } from '../host/create-host.ts'
import { LiveLogs, followLogs, type LogChunk } from './index.ts'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Chunks as they arrive, and a way to wait (on the arrival itself, not a timer) for one that matches. */
function collector (): { chunks: LogChunk[], onChunk: (c: LogChunk) => void, until: (pred: (all: string) => boolean) => Promise<void>, all: () => string } {
  const chunks: LogChunk[] = []
  const waiters = new Set<() => void>()
  const all = (): string => chunks.map(c => new TextDecoder().decode(c.data)).join('')
  return {
    chunks,
    all,
    onChunk: c => { chunks.push(c); for (const w of waiters) w() },
    until: async pred => {
      if (pred(all())) return
      await new Promise<void>(resolve => { const w = (): void => { if (pred(all())) { waiters.delete(w); resolve() } }; waiters.add(w) })
    }
  }
}

async function setup (t: import('ava').ExecutionContext, n: number, limits: ConstructorParameters<typeof LiveLogs>[2]['limits'] = {}): Promise<{ hosts: LilypadHost[], logs: LiveLogs, guard: PeerGuard, clock: ManualClock }> {
  const hosts = await startHosts(n)
  t.teardown(async () => { await stopAll(hosts) })
  await connectMesh(hosts)
  const clock = new ManualClock()
  const guard = new PeerGuard(quietComponents(clock), {}, { banThreshold: 1000 })
  const logs = new LiveLogs(hosts[0], quietComponents(clock), { networkId: NETWORK, guard, limits })
  await logs.start()
  t.teardown(async () => { await logs.stop() })
  return { hosts, logs, guard, clock }
}

test('the deal\'s job creator gets the output produced before it attached, then each piece as it is produced, then DONE', async t => {
  const { hosts: [rpHost, jcHost], logs } = await setup(t, 2)
  const dealId = hexlify(randomBytes(32))
  logs.expect(dealId, jcHost.peerId.toString())
  logs.publish(dealId, { stream: 'stdout', data: text('tick 1\n') })
  const c = collector()
  const following = followLogs(jcHost, quietComponents(), { networkId: NETWORK, peer: rpHost.peerId.toString(), dealId, signal: AbortSignal.timeout(30_000), onChunk: c.onChunk })
  await c.until(s => s.includes('tick 1'))
  logs.publish(dealId, { stream: 'stderr', data: text('tick 2\n') })
  await c.until(s => s.includes('tick 2'))
  t.deepEqual(c.chunks.map(x => x.stream), ['stdout', 'stderr'])
  logs.end(dealId)
  const r = await following
  t.is(r.code, 'DONE')
  t.is(r.bytes, 14)
})

test('a stranger cannot open a deal\'s log stream (it hears UNKNOWN_DEAL and loses a point); nobody can push logs to a job creator', async t => {
  const { hosts: [rpHost, jcHost, stranger], logs, guard } = await setup(t, 3)
  const dealId = hexlify(randomBytes(32))
  logs.expect(dealId, jcHost.peerId.toString())
  logs.publish(dealId, { stream: 'stdout', data: text('secret output\n') })
  const c = collector()
  const r = await followLogs(stranger, quietComponents(), { networkId: NETWORK, peer: rpHost.peerId.toString(), dealId, signal: AbortSignal.timeout(30_000), onChunk: c.onChunk })
  t.is(r.code, 'UNKNOWN_DEAL')
  t.is(c.chunks.length, 0, 'not one byte of the deal\'s output')
  t.is(guard.points(stranger.peerId.toString()), 1)
  // an unknown deal is refused the same way, so a stranger cannot tell which deals exist
  t.is((await followLogs(stranger, quietComponents(), { networkId: NETWORK, peer: rpHost.peerId.toString(), dealId: hexlify(randomBytes(32)), signal: AbortSignal.timeout(30_000), onChunk: c.onChunk })).code, 'UNKNOWN_DEAL')
  // the job creator pulls; it serves no log protocol, so a peer that is not its provider (or any peer) cannot push
  const push = await t.throwsAsync(stranger.dialProtocol(jcHost.peerId, protocols.logs(NETWORK), { signal: AbortSignal.timeout(10_000) }))
  t.is(push?.name, 'UnsupportedProtocolError')
})

test('a provider cuts a follower at the deal\'s byte budget (LIMIT) and drops output over the per-second rate', async t => {
  const { hosts: [rpHost, jcHost], logs } = await setup(t, 2, { maxBytesPerDeal: 40 * 1024, burstBytes: 16 * 1024, bytesPerSecond: 1024 })
  const dealId = hexlify(randomBytes(32))
  logs.expect(dealId, jcHost.peerId.toString())
  const c = collector()
  let dropped = 0
  const following = followLogs(jcHost, quietComponents(), { networkId: NETWORK, peer: rpHost.peerId.toString(), dealId, signal: AbortSignal.timeout(30_000), onChunk: c.onChunk, onDropped: n => { dropped += n } })
  logs.publish(dealId, { stream: 'stdout', data: text('start\n') })
  await c.until(s => s.includes('start'))
  // 64 KiB at once: the burst (16 KiB) passes, the rest is over the rate (the provider's clock does not move)
  logs.publish(dealId, { stream: 'stdout', data: new Uint8Array(64 * 1024).fill(120) })
  logs.publish(dealId, { stream: 'stdout', data: text('after\n') })
  logs.end(dealId)
  const r = await following
  t.is(r.code, 'DONE')
  t.true(r.bytes <= 16 * 1024, `${r.bytes} bytes passed the rate`)
  t.true(dropped >= 64 * 1024 - 16 * 1024, `${dropped} bytes reported dropped`)

  // the per-deal budget: a follower that has been sent maxBytesPerDeal is ended with LIMIT
  const { hosts: [rp2, jc2], logs: logs2, clock } = await setup(t, 2, { maxBytesPerDeal: 20 * 1024, burstBytes: 8 * 1024, bytesPerSecond: 8 * 1024 })
  const deal2 = hexlify(randomBytes(32))
  logs2.expect(deal2, jc2.peerId.toString())
  const c2 = collector()
  const following2 = followLogs(jc2, quietComponents(), { networkId: NETWORK, peer: rp2.peerId.toString(), dealId: deal2, signal: AbortSignal.timeout(30_000), onChunk: c2.onChunk })
  logs2.publish(deal2, { stream: 'stdout', data: text('go\n') })
  await c2.until(s => s.includes('go'))
  for (let i = 0; i < 5; i++) {
    logs2.publish(deal2, { stream: 'stdout', data: new Uint8Array(8 * 1024 - 1).fill(65) })
    await clock.advance(1000)
  }
  const r2 = await following2
  t.is(r2.code, 'LIMIT')
  t.true(r2.bytes <= 20 * 1024)
})

test('log streams per peer and stream opens per second are bounded', async t => {
  const { hosts: [rpHost, jcHost], logs, clock } = await setup(t, 2, { streamsPerPeer: 2, opensBurst: 3, opensPerSecond: 0.001 })
  const dealId = hexlify(randomBytes(32))
  logs.expect(dealId, jcHost.peerId.toString())
  const stop = new AbortController()
  t.teardown(() => { stop.abort() })
  const open = (onChunk: (c: LogChunk) => void = () => {}): Promise<{ code: string }> => followLogs(jcHost, quietComponents(), { networkId: NETWORK, peer: rpHost.peerId.toString(), dealId, signal: stop.signal, onChunk })
  logs.publish(dealId, { stream: 'stdout', data: text('x\n') })
  // both held streams are being served (each got the backlog) before the third is opened
  const a = collector()
  const b = collector()
  const held = [open(a.onChunk), open(b.onChunk)]
  await Promise.all([a.until(s => s.includes('x')), b.until(s => s.includes('x'))])
  t.is((await open()).code, 'BUSY')
  t.is((await open()).code, 'RATE_LIMITED', 'the fourth open in a burst of three')
  t.is(clock.pending, 0)
  stop.abort()
  t.deepEqual((await Promise.all(held)).map(r => r.code), ['STOPPING', 'STOPPING'])
  // readers that went away free their streams at once (not at the deal's end): the peer is served again
  await waitFor(() => logs.streams === 0, 10_000, 'the abandoned streams released')
  await clock.advance(1_000_000)
  const again = new AbortController()
  const c = collector()
  const back = followLogs(jcHost, quietComponents(), { networkId: NETWORK, peer: rpHost.peerId.toString(), dealId, signal: again.signal, onChunk: c.onChunk })
  await c.until(s => s.includes('x'))
  again.abort()
  t.is((await back).code, 'STOPPING')
})

test('a provider that floods or lies is cut off by the job creator and penalised', async t => {
  const hosts = await startHosts(2)
  t.teardown(async () => { await stopAll(hosts) })
  await connectMesh(hosts)
  const [liar, jcHost] = hosts
  const guard = new PeerGuard(quietComponents(new ManualClock()), {}, { banThreshold: 1000 })
  let mode: 'flood' | 'garbage' | 'huge' = 'flood'
  await liar.handle(protocols.logs(NETWORK), (stream) => {
    void (async () => {
      const lp = lpStream(stream, { maxDataLength: 4 * MAX_LOG_FRAME })
      await lp.read()
      try {
        if (mode === 'garbage') { await lp.write(encode([1, 'chunk', 9, new Uint8Array(3)])); return }
        if (mode === 'huge') { await lp.write(new Uint8Array(MAX_LOG_FRAME + 100)); return }
        // ignores every bound: 8 KiB chunks as fast as it can
        for (let i = 0; i < 1000; i++) await lp.write(encodeLogFrame({ type: 'chunk', stream: 'stdout', data: new Uint8Array(MAX_LOG_CHUNK).fill(66) }))
      } catch {
        // cut off by the job creator: what this test wants
      }
    })()
  }, { runOnLimitedConnection: true })
  const follow = async (): Promise<unknown> => await followLogs(jcHost, quietComponents(), {
    networkId: NETWORK, peer: liar.peerId.toString(), dealId: hexlify(randomBytes(32)), signal: AbortSignal.timeout(30_000), onChunk: () => {}, guard, limits: { maxBytesPerDeal: 64 * 1024 }
  })
  const flood = await t.throwsAsync(follow())
  t.is(flood?.name, 'LogStreamError')
  t.is((flood as Error & { code: string }).code, 'FLOOD')
  mode = 'garbage'
  t.is(((await t.throwsAsync(follow())) as Error & { code: string }).code, 'MALFORMED')
  mode = 'huge'
  t.is(((await t.throwsAsync(follow())) as Error & { code: string }).code, 'FLOOD')
  t.is(guard.points(liar.peerId.toString()), 15, 'five points for each lie')
})
