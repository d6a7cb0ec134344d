// One process of the soak benchmark (bench/soak.ts), started by it: a resource provider, or a job creator that runs
// cowsay at a steady rate. Logs (pino JSON, status lines included) go to stderr; a job creator prints one JSON line
// per job on stdout. SIGTERM stops it cleanly.
// Usage: node bench/soak-child.ts '<json: { role, network, networkPath, key, dataDir, statusIntervalMs, dealRetentionMs, liveHeapIntervalMs?, intervalMs?, slots? }>'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseEther } from 'ethers'
import { LilypadNode } from '../node/node.ts'
import { createComponents } from '../node/components.ts'
import type { NetworkFile } from '../node/config/network.ts'
import { reportUnhandledRejections, tuneNodeProcess } from '../node/runtime.ts'
import { liveHeap } from './live-heap.ts'

interface ChildOptions {
  role: 'provider' | 'job-creator'
  name: string
  networkPath: string
  key: string
  dataDir: string
  statusIntervalMs: number
  dealRetentionMs: number
  /** a full collection this often, then a `live heap` line (bench/live-heap.ts) */
  liveHeapIntervalMs?: number
  /** job creator: a job starts every intervalMs (at most `inFlight` at once) */
  intervalMs?: number
  inFlight?: number
  slots?: number
}

tuneNodeProcess()
const opts = JSON.parse(process.argv[2] ?? '{}') as ChildOptions
const network = JSON.parse(await readFile(opts.networkPath, 'utf8')) as NetworkFile
const components = createComponents({ logger: { base: { node: opts.name }, format: 'json' } })
reportUnhandledRejections(components)
const node = await LilypadNode.create({
  network, networkPath: opts.networkPath, privateKey: opts.key, dataDir: opts.dataDir, local: true, components,
  roles: opts.role === 'provider' ? ['resource-provider'] : [],
  housekeeping: { statusIntervalMs: opts.statusIntervalMs, dealRetentionMs: opts.dealRetentionMs },
  ...(opts.role === 'provider' ? { provider: { slots: opts.slots ?? 2, price: parseEther('0.5'), collateral: parseEther('2'), announceIntervalMs: 5000 } } : {})
})
let stopping = false
const stop = new Promise<void>(resolve => { process.once('SIGTERM', () => { stopping = true; resolve() }); process.once('SIGINT', () => { stopping = true; resolve() }) })
components.logger.info({ node: opts.name, peer: node.host.peerId.toString(), addrs: node.host.getMultiaddrs().map(String) }, 'soak child ready')
const live = opts.liveHeapIntervalMs !== undefined ? setInterval(() => { components.logger.info(liveHeap(), 'live heap') }, opts.liveHeapIntervalMs) : undefined

if (opts.role === 'job-creator') {
  const jc = await node.createJobCreator({ network, dataDir: join(opts.dataDir, 'jc') })
  const running = new Set<Promise<void>>()
  let n = 0
  // one job: up to three attempts, as a user would retry; the line says how many it took and why
  const job = async (i: number): Promise<void> => {
    const t0 = performance.now()
    const errors: string[] = []
    for (let attempt = 1; attempt <= 3 && !stopping; attempt++) {
      try {
        const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: `${opts.name} ${i}` } })
        process.stdout.write(JSON.stringify({ t: Date.now(), source: opts.name, ok: true, ms: Math.round(performance.now() - t0), attempts: attempt, errors, providerRetries: out.retries.length }) + '\n')
        return
      } catch (err) {
        errors.push(`${(err as Error).name}: ${(err as Error).message}`.slice(0, 300))
        if (!stopping) await new Promise(resolve => setTimeout(resolve, 2000))
      }
    }
    if (!stopping) process.stdout.write(JSON.stringify({ t: Date.now(), source: opts.name, ok: false, ms: Math.round(performance.now() - t0), attempts: errors.length, errors }) + '\n')
  }
  const tick = setInterval(() => {
    if (stopping || running.size >= (opts.inFlight ?? 2)) return
    const p = job(n++).finally(() => { running.delete(p) })
    running.add(p)
  }, opts.intervalMs ?? 10_000)
  await stop
  clearInterval(tick)
  await Promise.allSettled([...running])
} else {
  await stop
}
clearInterval(live)
await node.stop()
process.exit(0)
