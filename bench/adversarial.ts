// Honest jobs against a mesh full of junk: an attacker node joins a running devnet and gossips junk resource
// offers priced at 0 from many keys — most bound to peer ids nobody runs, some to a peer of its own that takes
// every proposal and never answers — then `lilypad run cowsay` is run as a user runs it (a fresh CLI process, a
// fresh job-creator node that has never seen the mesh). Measured: each run's total time, and the time from the
// process's start until it had a provider's countersignature (a newly joined job creator matching an honest
// provider). Shared by `lilypad bench --only adversarial` and test/adversarial-e2e.test.ts.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Wallet, keccak256, toUtf8Bytes } from 'ethers'
import type { Devnet } from '../node/devnet.ts'
import { createHost, localMeshOptions, domainOfNetwork, type LilypadHost } from '../node/host/index.ts'
import { GossipService } from '../node/gossip/gossip.ts'
import { signMessage, type ResourceOffer } from '../protocols/eip712.ts'
import { signPeerBinding } from '../protocols/peer-binding.ts'
import type { Envelope } from '../protocols/codec.ts'
import { median, percentile, round } from './stats.ts'

const execFileP = promisify(execFile)
const CLI = fileURLToPath(new URL('../cli/bin.ts', import.meta.url))
const PHASES_AFTER_MATCH = ['agreed', 'running', 'result', 'downloaded', 'settled']

export interface JunkAttack {
  host: LilypadHost
  gossip: GossipService
  offers: number
  /** offers bound to the attacker's own peer, which never answers a proposal */
  silent: number
  stop: () => Promise<void>
}

/** Signs `count` junk offers from `count` keys (price 0, a machine bigger than any) and gossips them into the devnet. */
export async function startJunkAttack (devnet: Devnet, opts: { count?: number, silent?: number, ttlSec?: number } = {}): Promise<JunkAttack> {
  const count = opts.count ?? 1000
  const silent = Math.min(count, opts.silent ?? Math.floor(count / 10))
  const network = devnet.network
  const domain = domainOfNetwork(network)
  const host = await createHost({ networkId: network.networkId, domain, ...localMeshOptions })
  await host.start()
  // the attacker's own peer takes proposals and never answers
  await host.handle(`/lilypad/${network.networkId}/deal/1.0.0`, stream => { void lpStream(stream).read().catch(() => { /* the job creator gave up */ }) })
  const gossip = new GossipService(host, { networkId: network.networkId, domain, jobOffers: false })
  gossip.start()
  const stop = async (): Promise<void> => { gossip.stop(); await host.stop() }
  try {
    await host.dial(multiaddr(network.bootstrap[0]), { signal: AbortSignal.timeout(60_000) })
    const topic = gossip.topics.resourceOffers
    await waitUntil(() => host.services.pubsub.getSubscribers(topic).length > 0, 60_000)
    const now = BigInt(Math.floor(Date.now() / 1000))
    const expiry = now + BigInt(opts.ttlSec ?? 1800)
    const mediators = network.mediators ?? []
    const envs: Array<Envelope<'ResourceOffer'>> = []
    for (let i = 0; i < count; i++) {
      const w = new Wallet(keccak256(toUtf8Bytes(`lilypad-junk:${i}`)))
      const peerId = i < silent ? host.peerId.toString() : peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      const offer: ResourceOffer = {
        provider: w.address, slot: 0, spec: { cpu: 256_000, ramMb: 1_024_000, diskMb: 10_000_000, gpus: 8, gpuVramMb: 81_920, gpuModel: 'NVIDIA H100 80GB HBM3', cudaVersion: 13000 },
        modules: [], price: 0n, collateral: 0n, mediators, expiry, nonce: now * 1000n + BigInt(i), seedCommit: '0x' + '00'.repeat(32)
      }
      envs.push({
        kind: 'ResourceOffer', value: offer, signature: await signMessage('ResourceOffer', domain, offer, w),
        peer: peerId, binding: { expiry, signature: await signPeerBinding(domain, { account: w.address, peerId, expiry }, w) }
      })
    }
    for (const env of envs) await gossip.publishResourceOffer(env)
    return { host, gossip, offers: count, silent, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

async function waitUntil (cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for the attacker to join the mesh')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** Resolves once the devnet's bootstrap node holds at least `n` offers of keys other than its providers'. */
export async function junkLive (devnet: Devnet, n: number): Promise<void> {
  const honest = new Set([devnet.provider.chain.address.toLowerCase()])
  const count = (): number => devnet.bootstrap.book.offers().filter(o => !honest.has(o.offer.provider.toLowerCase())).length
  if (count() >= n) return
  await new Promise<void>(resolve => {
    const off = devnet.bootstrap.gossip.onVerified(() => { if (count() >= n) { off(); resolve() } })
  })
}

export interface RunFigures { totalMs: number, matchedMs: number, dealId: string }

/** One `lilypad run cowsay` as a user runs it; its total time and its process start → countersigned deal. */
export async function runCowsay (home: string, i: number): Promise<RunFigures> {
  const env = { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data') }
  const { stdout } = await execFileP(process.execPath, [CLI, 'run', 'cowsay:v0.0.1', '-i', `Message=through the junk ${i}`, '--json'], { env, maxBuffer: 16 << 20 })
  const o = JSON.parse(stdout) as { dealId: string, totalMs: number, phasesMs: Record<string, number> }
  const after = PHASES_AFTER_MATCH.reduce((n, p) => n + (o.phasesMs[p] ?? 0), 0)
  return { totalMs: o.totalMs, matchedMs: o.totalMs - after, dealId: o.dealId }
}

export interface AdversarialBenchResult {
  junkOffers: number
  junkKeys: number
  /** junk offers bound to the attacker's silent peer (the rest to peer ids nobody runs) */
  junkSilent: number
  runs: number
  /** the same runs without junk, first */
  cleanTotalMs: { p50: number }
  /** process start → a provider's countersignature, without junk */
  cleanTimeToMatchMs: { p50: number }
  totalMs: { p50: number, p95: number }
  /** process start → a provider's countersignature, with the junk live */
  timeToMatchMs: { p50: number, max: number }
  /** runs whose deal went to the devnet's honest provider */
  honest: number
}

/** Deal ids the devnet's own provider ran (its job:end events), to tell honest matches from the rest. */
export function honestDeals (devnet: Devnet): { ids: Set<string>, stop: () => void } {
  const ids = new Set<string>()
  const rp = devnet.provider.provider
  const onEnd = (e: { dealId: string }): void => { ids.add(e.dealId.toLowerCase()) }
  rp?.on('job:end', onEnd)
  return { ids, stop: () => { rp?.off('job:end', onEnd) } }
}

export async function benchAdversarial (devnet: Devnet, home: string, opts: { runs?: number, junk?: number } = {}): Promise<AdversarialBenchResult> {
  const runs = opts.runs ?? 5
  const ran = honestDeals(devnet)
  const clean: RunFigures[] = []
  // one warm-up run (compile cache, images), then clean runs for comparison
  await runCowsay(home, -1)
  for (let i = 0; i < Math.max(1, Math.ceil(runs / 2)); i++) clean.push(await runCowsay(home, i))
  const attack = await startJunkAttack(devnet, { count: opts.junk ?? 1000 })
  try {
    await junkLive(devnet, attack.offers)
    const figures: RunFigures[] = []
    for (let i = 0; i < runs; i++) figures.push(await runCowsay(home, 100 + i))
    return {
      junkOffers: attack.offers,
      junkKeys: attack.offers,
      junkSilent: attack.silent,
      runs,
      cleanTotalMs: { p50: round(median(clean.map(f => f.totalMs))) },
      cleanTimeToMatchMs: { p50: round(median(clean.map(f => f.matchedMs))) },
      totalMs: { p50: round(median(figures.map(f => f.totalMs))), p95: round(percentile(figures.map(f => f.totalMs), 0.95)) },
      timeToMatchMs: { p50: round(median(figures.map(f => f.matchedMs))), max: round(Math.max(...figures.map(f => f.matchedMs))) },
      honest: figures.filter(f => ran.ids.has(f.dealId.toLowerCase())).length
    }
  } finally {
    ran.stop()
    await attack.stop()
  }
}
