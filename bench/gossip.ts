// Gossip benchmark: offer propagation (publish → accepted by the receiving node's validator) in local
// meshes of 20, 50 and 100 real libp2p nodes on 127.0.0.1, all in this one process (so all nodes share its
// CPU, which makes the figures pessimistic for bigger meshes). Offers are signed before timing starts. Ten providers
// (on ten of the nodes) publish in turn, each offer bound to its provider's peer as announcers do; the warm-up
// round has every node see every provider's peer binding once (nodes verify a binding once and cache it).
// Signatures are recovered by the process's shared verifier: worker threads, or inline slices with
// LILYPAD_VERIFIER=inline.
// Run: npx node bench/gossip.ts   (or import { benchGossip })
import { fileURLToPath } from 'node:url'
import { OrderBook } from '../protocols/order-book.ts'
import { idOf } from '../protocols/eip712.ts'
import { GossipService } from '../node/gossip/gossip.ts'
import { startHosts, connectMesh, waitForMesh, stopAll, testDomain, NETWORK, wallet, resourceOffer, boundResourceOffer } from '../node/testing/fixtures.ts'
import { sharedVerifier, WorkerVerifier } from '../node/verifier/index.ts'

export interface GossipBenchOptions { sizes?: number[], messages?: number, /** messages sent first and left out of the figures (JIT, first streams) */ warmup?: number }
export interface GossipBenchResult { nodes: number, messages: number, deliveries: number, p50Ms: number, p99Ms: number, maxMs: number }

function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] * 10) / 10
}

async function benchOne (nodes: number, messages: number, warmup: number): Promise<GossipBenchResult> {
  // the production heartbeat (1 s), not the tests' 200 ms: a hundred nodes' heartbeats in one process at 5 Hz
  // would cost more CPU than the messages being measured
  // and dial and handshake timeouts well past production's 10 s: a hundred handshakes in one process on a busy
  // machine can take longer, and setting up the mesh is not what is measured
  const hosts = await startHosts(nodes, { heartbeatIntervalMs: 1000, limits: { dialTimeoutMs: 120_000, inboundUpgradeTimeoutMs: 120_000 } })
  const services = hosts.map(h => new GossipService(h, { networkId: NETWORK, domain: testDomain, book: new OrderBook() }))
  try {
    services.forEach(s => { s.start() })
    await connectMesh(hosts, [], { concurrency: 8, timeoutMs: 120_000 })
    await waitForMesh(hosts, services[0].topics.resourceOffers, 120_000)
    const publishers = Array.from({ length: Math.min(10, nodes) }, (_, k) => (k * 7) % nodes)
    const envs = await Promise.all(Array.from({ length: warmup + messages }, async (_, i) => {
      const from = publishers[i % publishers.length]
      const w = wallet(`bench-${nodes}-${from}`)
      return await boundResourceOffer(w, resourceOffer(w.address, { slot: i }), hosts[from].peerId.toString())
    }))
    const v = sharedVerifier()
    if (v instanceof WorkerVerifier) await v.ready()
    const latencies: number[] = []
    const perMessage: number[] = []
    for (let i = 0; i < warmup + messages; i++) {
      const from = publishers[i % publishers.length]
      const id = idOf('ResourceOffer', testDomain, envs[i].value)
      let t0 = 0
      const all = new Promise<void>(resolve => {
        let left = nodes - 1
        const offs = services.map((s, k) => k === from ? () => {} : s.onVerified(v => {
          if (v.id !== id) return
          if (i >= warmup) latencies.push(performance.now() - t0); perMessage[i] = performance.now() - t0
          offs[k]()
          if (--left === 0) resolve()
        }))
      })
      t0 = performance.now()
      await services[from].publishResourceOffer(envs[i])
      await all
    }
    if (process.env.BENCH_DEBUG !== undefined) console.error(perMessage.map(x => Math.round(x)).join(" "))
    return { nodes, messages, deliveries: latencies.length, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), maxMs: percentile(latencies, 1) }
  } finally {
    services.forEach(s => { s.stop() })
    await stopAll(hosts)
  }
}

export async function benchGossip (options: GossipBenchOptions = {}): Promise<GossipBenchResult[]> {
  const out: GossipBenchResult[] = []
  // the warm-up covers each publisher once at least, so no measured message carries a binding a node has not seen
  for (const n of options.sizes ?? [20, 50, 100]) out.push(await benchOne(n, options.messages ?? 50, Math.max(options.warmup ?? 10, Math.min(10, n))))
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = process.argv.slice(2).map(Number).filter(n => n > 0)
  console.log(JSON.stringify({ verifier: sharedVerifier().kind, results: await benchGossip(sizes.length > 0 ? { sizes } : {}) }))
  process.exit(0)
}
