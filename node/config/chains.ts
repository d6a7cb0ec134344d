// The chains of a network: the list a network file gives (or the one chain of a file written before there were
// several), one chain's view of the network (what a per-chain part of a node — its chain client, follower, roles —
// is given), the lookup `--chain <id|name>` uses, and the file form a network is written back in.
import type { NetworkChain, NetworkFile } from './network.ts'

export class UnknownChainError extends Error {
  static override name = 'UnknownChainError'
  override name = 'UnknownChainError'
  readonly known: string[]
  constructor (asked: string, network: NetworkFile) {
    const known = chainsOf(network).map(chainLabel)
    super(`the network "${network.networkId}" has no chain "${asked}" (its chains: ${known.join(', ')})`)
    this.known = known
  }
}

/** "name (id)" or the id alone. */
export function chainLabel (c: Pick<NetworkChain, 'chainId' | 'name'>): string {
  return c.name === undefined ? String(c.chainId) : `${c.name} (${c.chainId})`
}

/**
 * The first chain's RPC endpoints in failover order. A caller that set `rpcUrl` on a copy (`{ ...network, rpcUrl }`:
 * a devnet's port, a test's proxy, WEB3_RPC_URL) meant that URL: a list that does not start with it is not used.
 */
export function rpcUrlsOf (n: Pick<NetworkFile, 'rpcUrl' | 'rpcUrls'>): string[] {
  return n.rpcUrls !== undefined && n.rpcUrls.length > 0 && n.rpcUrls[0] === n.rpcUrl ? [...n.rpcUrls] : [n.rpcUrl]
}

/** The network's first chain, from its top-level fields. */
export function firstChainOf (n: NetworkFile): NetworkChain {
  const c: NetworkChain = {
    chainId: n.chainId,
    rpcUrl: n.rpcUrl,
    rpcUrls: rpcUrlsOf(n),
    contracts: n.contracts,
    deployBlock: n.deployBlock
  }
  if (n.chainName !== undefined) c.name = n.chainName
  return Object.assign(c, optionalChainFields(n))
}

/** Per-chain fields spelt alike in a chain entry and at a network's top level. */
const OPTIONAL_CHAIN_FIELDS = ['confirmations', 'explorerUrl', 'mediators', 'bridges', 'marketBounds', 'jobManagerConfig', 'rewards'] as const
type OptionalChainFields = Pick<NetworkChain, (typeof OPTIONAL_CHAIN_FIELDS)[number]>

/** Those of `from` that are set. */
function optionalChainFields (from: OptionalChainFields): OptionalChainFields {
  const out: Record<string, unknown> = {}
  for (const k of OPTIONAL_CHAIN_FIELDS) if (from[k] !== undefined) out[k] = from[k]
  return out as OptionalChainFields
}

/**
 * Every chain of the network, the first first. The first entry is always made from the top-level fields, so a
 * caller that changed those (an RPC override from the environment, a devnet's port) sees the change here too.
 */
export function chainsOf (n: NetworkFile): NetworkChain[] {
  const first = firstChainOf(n)
  // chains[0] is the first chain; the top-level fields win over it (they are what a caller may have changed)
  const rest = n.chains === undefined ? [] : n.chains.slice(1).filter(c => c.chainId !== first.chainId)
  return [first, ...rest]
}

const PER_CHAIN = ['chainName', 'rpcUrls', ...OPTIONAL_CHAIN_FIELDS] as const

/**
 * The network as seen from one of its chains: the top-level chain fields are that chain's, the rest (mesh,
 * bootstrap, swarm key, deal terms) the network's. `chains` keeps every chain, this one first.
 */
export function chainView (n: NetworkFile, chainId: number): NetworkFile {
  const all = chainsOf(n)
  const c = all.find(x => x.chainId === chainId)
  if (c === undefined) throw new UnknownChainError(String(chainId), n)
  return withFirst(n, c, all.filter(x => x.chainId !== chainId))
}

/** `n` with `c` as its first chain (the top-level fields) and `rest` after it. */
export function withFirst (n: NetworkFile, c: NetworkChain, rest: NetworkChain[]): NetworkFile {
  const out: NetworkFile = { ...n }
  for (const k of PER_CHAIN) delete out[k]
  out.chainId = c.chainId
  out.rpcUrl = c.rpcUrls[0] ?? c.rpcUrl
  if (c.rpcUrls.length > 1) out.rpcUrls = [...c.rpcUrls]
  out.contracts = c.contracts
  out.deployBlock = c.deployBlock
  if (c.name !== undefined) out.chainName = c.name
  Object.assign(out, optionalChainFields(c))
  out.chains = [c, ...rest]
  return out
}

/** The chain `--chain` names: its id (decimal) or its name; absent, the network's first. */
export function findChain (n: NetworkFile, idOrName?: string): NetworkChain {
  const all = chainsOf(n)
  if (idOrName === undefined || idOrName === '') return all[0]
  const byName = all.find(c => c.name === idOrName)
  if (byName !== undefined) return byName
  if (/^\d+$/.test(idOrName)) {
    const byId = all.find(c => c.chainId === Number(idOrName))
    if (byId !== undefined) return byId
  }
  throw new UnknownChainError(idOrName, n)
}

/** A chain entry as the file holds it (rpcUrl is implied by rpcUrls). */
function chainJson (c: NetworkChain): Record<string, unknown> {
  const { rpcUrl: _first, rpcUrls, ...rest } = c
  return { ...(c.name !== undefined ? { name: c.name } : {}), ...rest, rpcUrls }
}

/**
 * The network as a file: a one-chain network in the form files had before there were several (so such files are
 * written exactly as before), a network of several chains as a `chains` list with the network-wide fields beside it.
 */
export function networkFileJson (n: NetworkFile): Record<string, unknown> {
  const all = chainsOf(n)
  const { chains: _chains, ...single } = n
  if (all.length === 1) {
    const out: Record<string, unknown> = { ...single }
    // a single RPC URL is written as before; several as rpcUrls beside it
    if (n.rpcUrls !== undefined && n.rpcUrls.length <= 1) delete out.rpcUrls
    return out
  }
  const shared: Record<string, unknown> = { ...single }
  for (const k of ['chainId', 'rpcUrl', 'contracts', 'deployBlock', ...PER_CHAIN] as const) delete shared[k]
  return { ...shared, chains: all.map(chainJson) }
}

/** The network with `chain` added after its others (or, when a chain with its id is there, put in its place). */
export function withChain (n: NetworkFile, chain: NetworkChain): NetworkFile {
  const all = chainsOf(n)
  const i = all.findIndex(c => c.chainId === chain.chainId)
  if (i === 0) return withFirst(n, chain, all.slice(1))
  return { ...n, chains: i < 0 ? [...all, chain] : all.map((c, j) => j === i ? chain : c) }
}

/** A network from its network-wide fields and its chains (the first one's fields at the top level). */
export function networkOfChains (shared: NetworkFile, chains: NetworkChain[]): NetworkFile {
  if (chains.length === 0) throw new RangeError('a network has at least one chain')
  return withFirst(shared, chains[0], chains.slice(1))
}
