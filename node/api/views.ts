// What the console (and any other client) reads besides jobs and balances: the modules a job can name with the
// inputs their templates declare, the network as this node sees it (chain head and how far its follower is
// behind, mesh peers, mediators, this node's deals by phase), providers with their reputation. Every view is
// bounded (lists cut at a fixed length) and names amounts in LP (with wei beside).
import { formatLP } from '../../core/lp.ts'
import type { Reputation } from '../../core/reputation/index.ts'
import type { ChainRecord } from '../../core/reputation/score.ts'
import type { OrderBook } from '../../protocols/order-book.ts'
import type { ChainClient } from '../chain/index.ts'
import type { NetworkFile } from '../config/network.ts'
import type { JobCreator } from '../roles/job-creator.ts'
import { declaredInputs, loadRegistry, readModuleTemplate, resolveModule } from '../modules/index.ts'

const MAX_LISTED = 1000
const MAX_PEERS = 200

export function amount (wei: bigint): { lp: string, wei: string } { return { lp: formatLP(wei), wei: wei.toString() } }

/** The mesh as a view needs it: connections and gossip topics (a libp2p host answers this). */
export interface MeshView {
  connections: () => Array<{ peer: string, addr: string, direction: string }>
  topics: () => Array<{ topic: string, meshPeers: number, subscribers: number }>
}

/** Providers' chain records, when the node keeps them (a job creator's reputation feed). */
export type ReputationView = Pick<Reputation, 'score' | 'standing'> & { record?: (provider: string) => ChainRecord }

export interface ModuleInputView { name: string, required: boolean, default?: string }
export interface ModuleView { ref: string, description?: string, inputs: ModuleInputView[] }

function inputsOf (template: string): ModuleInputView[] {
  return declaredInputs(template).map(i => ({ name: i.name, required: i.required, ...(i.default !== undefined ? { default: i.default } : {}) }))
}

/** The built-in modules with their declared inputs (the registry, read once per call: a few small files). */
export async function builtinModules (modulesDir?: string): Promise<ModuleView[]> {
  const registry = loadRegistry(modulesDir)
  const out: ModuleView[] = []
  for (const [ref, entry] of Object.entries(registry)) {
    const m = await resolveModule(ref, modulesDir !== undefined ? { modulesDir } : {})
    out.push({ ref, ...(entry.description !== undefined ? { description: entry.description } : {}), inputs: inputsOf(await readModuleTemplate(m)) })
  }
  return out
}

/** Any module reference the node resolves (built-in, name:version, a git repository pinned to a commit). */
export async function moduleView (ref: string, opts: { modulesDir?: string, signal?: AbortSignal } = {}): Promise<ModuleView & { kind: string, pinned: string }> {
  const m = await resolveModule(ref, opts)
  const description = m.kind === 'builtin' ? loadRegistry(opts.modulesDir)[ref]?.description : undefined
  return { ref, kind: m.kind, pinned: m.pinned, ...(description !== undefined ? { description } : {}), inputs: inputsOf(await readModuleTemplate(m)) }
}

/** Offers grouped by provider, each with its reputation where the node keeps providers' records. */
export function providersView (book: OrderBook, reputation: ReputationView | undefined): Array<Record<string, unknown>> {
  const by = new Map<string, { address: string, peer?: string, offers: number, minPrice: bigint, slots: number[], modules: Set<string>, spec: Record<string, unknown> }>()
  for (const l of book.offers()) {
    const p = by.get(l.offer.provider) ?? { address: l.offer.provider, ...(l.peer !== undefined ? { peer: l.peer } : {}), offers: 0, minPrice: l.offer.price, slots: [], modules: new Set<string>(), spec: { ...l.offer.spec } }
    p.offers++
    p.slots.push(l.offer.slot)
    for (const m of l.offer.modules) p.modules.add(m)
    if (l.offer.price < p.minPrice) p.minPrice = l.offer.price
    by.set(l.offer.provider, p)
  }
  return [...by.values()].slice(0, MAX_LISTED).map(p => ({
    address: p.address,
    ...(p.peer !== undefined ? { peer: p.peer } : {}),
    offers: p.offers,
    minPrice: amount(p.minPrice),
    slots: p.slots.sort((a, b) => a - b).slice(0, 64),
    // an empty list in an offer means "every module"
    modules: [...p.modules].slice(0, 64),
    spec: p.spec,
    ...(reputation !== undefined
      ? { reputation: { score: reputation.score(p.address), standing: reputation.standing(p.address), ...(reputation.record !== undefined ? { record: reputation.record(p.address) } : {}) } }
      : {})
  }))
}

export interface NetworkViewParts {
  network: NetworkFile
  chain: ChainClient
  book: OrderBook
  jobCreator: JobCreator
  peerId: string
  mesh?: MeshView
}

/** The network as this node sees it. Chain reads are bounded by the RPC's own timeouts; each is one call. */
export async function networkView (p: NetworkViewParts): Promise<Record<string, unknown>> {
  const [head, deals, mediatorList] = await Promise.all([
    p.chain.provider.getBlock('latest'),
    p.jobCreator.deals.all(),
    onChainMediators(p.chain)
  ])
  const followed = p.chain.follower.nextBlock - 1
  const byPhase: Record<string, number> = {}
  for (const d of deals) byPhase[d.phase] = (byPhase[d.phase] ?? 0) + 1
  const open = deals.filter(d => !d.terminal).sort((a, b) => b.updatedAt - a.updatedAt).slice(0, 100)
  const inOffers = new Set<string>()
  for (const l of p.book.offers()) for (const m of l.offer.mediators) inOffers.add(m.toLowerCase())
  const named = new Set((p.network.mediators ?? []).map(m => m.toLowerCase()))
  const all = new Map<string, { address: string, registered: boolean, networkDefault: boolean, inOffers: boolean }>()
  for (const a of [...mediatorList, ...(p.network.mediators ?? []), ...[...inOffers]]) {
    const k = a.toLowerCase()
    if (all.has(k) || all.size >= 100) continue
    all.set(k, { address: a, registered: mediatorList.some(m => m.toLowerCase() === k), networkDefault: named.has(k), inOffers: inOffers.has(k) })
  }
  const connections = p.mesh?.connections() ?? []
  const headAge = head !== null ? Math.max(0, Math.round(Date.now() / 1000 - head.timestamp)) : undefined
  return {
    network: p.network.networkId,
    peerId: p.peerId,
    chain: {
      chainId: p.network.chainId,
      rpcUrl: redactRpc(p.network.rpcUrl),
      head: head?.number ?? null,
      ...(headAge !== undefined ? { headAgeSec: headAge } : {}),
      followed,
      lagBlocks: head !== null ? Math.max(0, head.number - followed) : null,
      contracts: { market: p.network.contracts.market, token: p.network.contracts.token }
    },
    mesh: { peers: new Set(connections.map(c => c.peer)).size, connections: connections.slice(0, MAX_PEERS), topics: p.mesh?.topics() ?? [] },
    mediators: [...all.values()],
    deals: {
      byPhase,
      open: open.map(d => ({ dealId: d.dealId, phase: d.phase, provider: d.deal.resourceProvider, price: amount(d.deal.price), updatedAt: new Date(d.updatedAt).toISOString() }))
    },
    offers: p.book.offers().length
  }
}

async function onChainMediators (chain: ChainClient): Promise<string[]> {
  const n = Number(await chain.directory.mediatorCount())
  const out: string[] = []
  for (let i = 0; i < Math.min(n, 100); i++) out.push(await chain.directory.mediatorAt(i))
  return out
}

/** An RPC URL may carry a key (https://…/v3/<key>): only scheme, host and port are shown. */
export function redactRpc (url: string): string {
  try { const u = new URL(url); return `${u.protocol}//${u.host}` } catch { return '(unparsable)' }
}
