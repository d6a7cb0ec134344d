// A node that owns its key: the key's and the data dir's locks (a second node for either is refused), the node,
// its job service, and the local API with its token and api.json. `lilypad node` and the SDK's embedded mode
// start nodes this way; stop() undoes it in reverse.
import { join } from 'node:path'
import { LilypadNode, type NodeOptions } from '../node.ts'
import type { NetworkFile } from '../config/network.ts'
import type { JobServiceInit } from '../jobs/index.ts'
import { reportError } from '../components.ts'
import { routerOf } from '../gossip/gossip.ts'
import { serveApi, type ApiChain, type ApiServer } from './server.ts'
import { ApiError } from './errors.ts'
import { LOCK_FILE, acquireLock, keyLockPath, loadOrCreateToken, removeApiFile, writeApiFile } from './discovery.ts'

/** how long a job of the user's node waits for a matching offer (the job creator's queue timeout, 120 s) */
export const USER_MATCH_TIMEOUT_MS = 120_000

export interface UserNodeOptions extends NodeOptions {
  /** the Lilypad home, where the key's lock lives */
  home: string
  /** the local API: loopback on `port` (default 0: any free port); false: none */
  api?: { port?: number, host?: string, maxStreams?: number, heartbeatMs?: number, /** serve the console at /ui/ */ console?: boolean } | false
  jobs?: JobServiceInit
}

export interface UserNode {
  node: LilypadNode
  api?: ApiServer
  token?: string
  /** the console's address with the token in its fragment (the page keeps it, the fragment is never sent), when served */
  consoleUrl?: string
  stop: () => Promise<void>
}

export async function startUserNode (opts: UserNodeOptions): Promise<UserNode> {
  const address = (await import('ethers')).computeAddress(opts.privateKey.startsWith('0x') ? opts.privateKey : `0x${opts.privateKey}`)
  const releaseKey = await acquireLock(keyLockPath(opts.home, opts.network.networkId, address), 'key', opts.dataDir)
  let releaseDir: (() => Promise<void>) | undefined
  let node: LilypadNode | undefined
  let api: ApiServer | undefined
  try {
    releaseDir = await acquireLock(join(opts.dataDir, LOCK_FILE), 'data dir', opts.dataDir)
    // A node holds a queue of jobs: while providers' booked slots are withdrawn from the book (busy looks like none
    // until busy slots are announced), a job waits for an offer as long as it waits for a free slot.
    node = await LilypadNode.create({ ...opts, jobCreator: { matchTimeoutMs: USER_MATCH_TIMEOUT_MS, ...opts.jobCreator } })
    const jobs = await node.startJobs(opts.jobs)
    let token: string | undefined
    if (opts.api !== false) {
      token = await loadOrCreateToken(opts.dataDir)
      const a = opts.api ?? {}
      const n = node
      // (the first chain's client, job creator and records are read per request: the chain may join after the API starts)
      const firstId = opts.network.chainId
      const firstUnavailable = (): ApiError | undefined => {
        const why = n.unavailableChains.get(firstId)
        return why === undefined ? undefined : chainUnavailable(firstId, why)
      }
      const unavailable = (): never => { throw firstUnavailable() ?? new ApiError(503, 'ChainUnavailableError', `the node has no job creator on chain ${firstId} yet`) }
      if (!n.unavailableChains.has(firstId)) await n.createJobCreator(opts)
      api = await serveApi({
        jobs,
        get jobCreator () { return n.jobCreator ?? unavailable() },
        get chain () { return n.unavailableChains.has(firstId) ? unavailable() : n.chain },
        address: n.address, firstChainUnavailable: firstUnavailable,
        book: n.book, networkId: opts.network.networkId,
        peerId: n.host.peerId.toString(), roles: n.roles, logger: n.components.logger,
        network: opts.network, devnet: opts.local === true, ...(opts.jobCreator?.modulesDir !== undefined ? { modulesDir: opts.jobCreator.modulesDir } : {}),
        get reputation () { return n.reputation?.book },
        furtherChain: chainId => furtherChainOf(n, opts.network, chainId),
        mesh: {
          connections: () => n.host.getConnections().map(c => ({ peer: c.remotePeer.toString(), addr: c.remoteAddr.toString(), direction: c.direction })),
          topics: () => topicsOf(n, n.gossip.topics)
        }
      }, { token, ...(a.port !== undefined ? { port: a.port } : {}), ...(a.host !== undefined ? { host: a.host } : {}), ...(a.maxStreams !== undefined ? { maxStreams: a.maxStreams } : {}), ...(a.heartbeatMs !== undefined ? { heartbeatMs: a.heartbeatMs } : {}), ...(a.console === true ? { console: true } : {}) })
      await writeApiFile(opts.dataDir, { url: api.url, pid: process.pid, network: opts.network.networkId, address: node.address })
    }
    const started = node
    let stopping: Promise<void> | undefined
    return {
      node: started,
      ...(api !== undefined ? { api } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(api !== undefined && token !== undefined && opts.api !== false && opts.api?.console === true ? { consoleUrl: `${api.url}/ui/#token=${token}` } : {}),
      stop: async () => {
        stopping ??= (async () => {
          await removeApiFile(opts.dataDir)
          await api?.close()
          await started.stop()
          await releaseDir?.()
          await releaseKey()
        })()
        await stopping
      }
    }
  } catch (err) {
    // undone in reverse; a failure while undoing is logged, the start's own error is what the caller gets
    const c = node?.components
    const undo = async (what: string, f: () => Promise<void>): Promise<void> => {
      try { await f() } catch (e) { if (c !== undefined) reportError(c, 'api', e, `${what} failed while a node start was undone`); else process.stderr.write(`warning: ${what} failed: ${(e as Error).message}\n`) }
    }
    await undo('closing the API', async () => { await api?.close() })
    await undo('stopping the node', async () => { await node?.stop() })
    await undo('removing api.json', async () => { await removeApiFile(opts.dataDir) })
    await undo('releasing the data dir lock', async () => { await releaseDir?.() })
    await undo('releasing the key lock', async () => { await releaseKey() })
    throw err
  }
}

/**
 * A further chain of the network as the API serves it: the node's context on it (its chain client, which owns this
 * key's nonces there, its order book, its job creator). A chain not joined yet, or not served, is a named error.
 */
function furtherChainOf (n: LilypadNode, network: NetworkFile, chainId: number): ApiChain {
  const ctx = n.chainContexts.get(chainId)
  if (ctx !== undefined) {
    return {
      chainId, chain: ctx.chain, book: ctx.book, jobCreator: async () => await n.jobCreatorOn(chainId), reputation: () => ctx.reputation?.book,
      // (shown under the network's id, not the chain's protocol namespace)
      network: { ...ctx.network, networkId: network.networkId },
      topics: () => topicsOf(n, ctx.gossip.topics)
    }
  }
  const why = n.unavailableChains.get(chainId)
  if (why !== undefined) throw chainUnavailable(chainId, why)
  throw new ApiError(400, 'UnknownChainError', `this node does not serve chain ${chainId}`, 'start the node without limiting its chains (NodeOptions.chains)')
}

/** A chain's offer and job-offer topics with their mesh and subscriber counts. */
function topicsOf (n: LilypadNode, topics: { resourceOffers: string, jobOffers: string }): Array<{ topic: string, meshPeers: number, subscribers: number }> {
  return [topics.resourceOffers, topics.jobOffers].map(topic => ({ topic, meshPeers: routerOf(n.host.services.pubsub).getMeshPeers(topic).length, subscribers: n.host.services.pubsub.getSubscribers(topic).length }))
}

/** 503 for a chain of the network the node has not joined yet (its RPC down at start): it is tried again */
function chainUnavailable (chainId: number, why: Error): ApiError {
  return new ApiError(503, 'ChainUnavailableError', `the node has not joined chain ${chainId} yet: ${why.message}`, 'it tries again on its own (2 s, doubling to 60 s); try once the chain\'s RPC answers')
}
