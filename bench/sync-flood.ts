// CPU amplification through offer sync: many peers connect to one node (each connection makes it pull their
// offers) and pull from it as fast as they can, while an honest peer pings it. The node runs in its own process
// (bench/sync-flood-victim.ts) and reports its event-loop delay and CPU time; the ping round trips are measured
// from outside. Speaks both sync versions (1.0.0: the whole page at once, 2.0.0: paged answers to a request), so
// the same attack can be run against the code before and after the bounds.
// Run: npx node bench/sync-flood.ts [attackers=40] [pullsEach=5] [durationMs=10000]
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { lpStream } from '@libp2p/utils'
import { encode } from 'cborg'
import { multiaddr } from '@multiformats/multiaddr'
import { encodeEnvelope } from '../protocols/codec.ts'
import { startHosts, stopAll, NETWORK, wallet, resourceOffer, signedResourceOffer, boundResourceOffer } from '../node/testing/fixtures.ts'
import type { LilypadHost } from '../node/host/create-host.ts'

export interface SyncFloodOptions { attackers?: number, pullsEach?: number, durationMs?: number, bookSize?: number }
export interface SyncFloodResult {
  attackers: number
  pingBeforeP50Ms: number
  pingDuringP50Ms: number
  pingDuringP99Ms: number
  pingDuringMaxMs: number
  pingsFailed: number
  victim: { lagP50Ms: number, lagP99Ms: number, lagMaxMs: number, cpuMs: number, bookSize: number, metrics?: unknown }
  attackerPulls: { answered: number, busy: number, failed: number }
}

const q = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] * 10) / 10 }

export async function benchSyncFlood (o: SyncFloodOptions = {}): Promise<SyncFloodResult> {
  const attackers = o.attackers ?? 40
  const child = fork(fileURLToPath(new URL('./sync-flood-victim.ts', import.meta.url)), [String(o.bookSize ?? 10_000)], { execPath: process.execPath, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ready = await once(child, 'message') as [{ addrs: string[], peer: string }]
  const victim = multiaddr(ready[0].addrs[0])
  const hosts = await startHosts(attackers + 1)
  const [prober, ...evil] = hosts
  try {
    // 256 validly signed junk offers from 64 keys: bound (what 2.0.0 accepts) and unbound (what 1.0.0 accepted)
    const keys = Array.from({ length: 64 }, (_, i) => wallet(`flood-junk-${i}`))
    const peer = evil[0].peerId.toString()
    const bound = await Promise.all(Array.from({ length: 256 }, async (_, i) => encodeEnvelope(await boundResourceOffer(keys[i % 64], resourceOffer(keys[i % 64].address, { slot: i, price: 0n }), peer))))
    const unbound = await Promise.all(Array.from({ length: 256 }, async (_, i) => encodeEnvelope({ ...(await signedResourceOffer(keys[i % 64], resourceOffer(keys[i % 64].address, { slot: 1000 + i, price: 0n }))), peer })))
    const v1 = encode([1, 'offers', unbound.map(b => [b, []])])
    const v2 = encode([1, 'offers', bound.map(b => [b, null]), null])
    for (const h of evil) {
      await h.handle(`/lilypad/${NETWORK}/offers/1.0.0`, stream => { void lpStream(stream, { maxDataLength: 2 << 20 }).write(v1).then(async () => { await stream.close() }).catch(err => { stream.abort(err as Error) }) })
      await h.handle(`/lilypad/${NETWORK}/offers/3.0.0`, stream => {
        const lp = lpStream(stream, { maxDataLength: 2 << 20 })
        void lp.read().then(async () => { await lp.write(v2); await stream.close() }).catch(err => { stream.abort(err as Error) })
      })
    }
    await prober.dial(victim)
    const ping = async (): Promise<number | undefined> => { try { return await prober.services.ping.ping(victim, { signal: AbortSignal.timeout(5000) }) } catch { return undefined } }
    const before: number[] = []
    for (let i = 0; i < 20; i++) { const r = await ping(); if (r !== undefined) before.push(r) }
    child.send({ type: 'start' })
    const pulls = { answered: 0, busy: 0, failed: 0 }
    const pullFrom = async (h: LilypadHost): Promise<void> => {
      for (let i = 0; i < (o.pullsEach ?? 5); i++) {
        try {
          let stream
          try {
            stream = await h.dialProtocol(victim, `/lilypad/${NETWORK}/offers/3.0.0`, { signal: AbortSignal.timeout(5000) })
            const lp = lpStream(stream, { maxDataLength: 4 << 20 })
            await lp.write(encode([1, 'pull', null, null, 256]))
            const a = (await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray()
            if (new TextDecoder().decode(a).includes('busy')) pulls.busy++; else pulls.answered++
          } catch (err) {
            if ((err as Error).name !== 'UnsupportedProtocolError') throw err
            stream = await h.dialProtocol(victim, `/lilypad/${NETWORK}/offers/1.0.0`, { signal: AbortSignal.timeout(5000) })
            await lpStream(stream, { maxDataLength: 4 << 20 }).read({ signal: AbortSignal.timeout(10_000) })
            pulls.answered++
          }
          await stream.close().catch(() => { stream?.abort(new Error('close')) })
        } catch {
          pulls.failed++
        }
      }
    }
    const t0 = performance.now()
    const during: number[] = []
    let failed = 0
    const attack = Promise.all(evil.map(async h => { await h.dial(victim, { signal: AbortSignal.timeout(10_000) }).catch(() => {}); await pullFrom(h) }))
    while (performance.now() - t0 < (o.durationMs ?? 10_000)) {
      const r = await ping()
      if (r === undefined) failed++; else during.push(r)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    await attack
    child.send({ type: 'stop' })
    const [report] = await once(child, 'message') as [SyncFloodResult['victim']]
    return { attackers, pingBeforeP50Ms: q(before, 0.5), pingDuringP50Ms: q(during, 0.5), pingDuringP99Ms: q(during, 0.99), pingDuringMaxMs: q(during, 1), pingsFailed: failed, victim: report, attackerPulls: pulls }
  } finally {
    child.send({ type: 'exit' })
    await Promise.race([once(child, 'exit'), new Promise(resolve => setTimeout(resolve, 5000))])
    if (child.exitCode === null) child.kill('SIGKILL')
    await stopAll(hosts)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [a, p, d] = process.argv.slice(2).map(Number)
  console.log(JSON.stringify(await benchSyncFlood({ ...(a > 0 ? { attackers: a } : {}), ...(p > 0 ? { pullsEach: p } : {}), ...(d > 0 ? { durationMs: d } : {}) })))
  process.exit(0)
}
