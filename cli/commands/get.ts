// `lilypad get <dealId|CID>`: the result directory behind a CID, fetched over bitswap from the network's peers (or
// the peers named with --from), every block hash-checked and the written tree re-added to the same root CID before
// it is kept (node/result-store fetch). A CID needs no key and no chain: only the network file's mesh.
// A deal id is looked up first in the node that owns the key (its job's verified result, copied through its API),
// else on chain (the CID the provider submitted for the deal), with the provider's peer found in the directory.
import { parseArgs } from 'node:util'
import { cp, mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { usageError } from '../usage.ts'
import type { HostOptions, LilypadHost } from '../../node/host/index.ts'

const USAGE = 'lilypad get <dealId|CID> [--from MULTIADDR|PEER_ID …] [--out DIR] [--network N] [--timeout S] [--max-mb MB] [--data-dir DIR] [--json]'
const MAX_TIMEOUT_SEC = 3600
const MAX_FETCH_MB = 1_000_000

interface Entry { name: string, bytes: number }

async function listing (dir: string, prefix = ''): Promise<Entry[]> {
  const out: Entry[] = []
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, e.name)
    if (e.isDirectory()) out.push(...await listing(path, `${prefix}${e.name}/`))
    else out.push({ name: `${prefix}${e.name}`, bytes: (await stat(path)).size })
  }
  return out
}

/**
 * The deal's result from the node that owns the key, when one runs and holds a done job with that deal: its files
 * through the node's API into `out` (default the node's own result directory). Undefined when there is no key, no
 * node, or no such job there.
 */
async function fromNode (network: string, dealId: string, out: string | undefined, dataDirArg: string | undefined): Promise<{ cid: string, dir: string, job: string } | undefined> {
  const { resolveNetworkAndKey } = await import('../context.ts')
  const { runningNode, fromApi } = await import('../node-client.ts')
  let lp
  try { lp = await runningNode(await resolveNetworkAndKey(network)) } catch { return undefined }
  if (lp === undefined) return undefined
  try {
    const job = (await lp.jobs()).find(j => j.dealIds.includes(dealId) && j.state === 'done')
    if (job === undefined) return undefined
    const listed = await lp.files(job.id)
    const { DEFAULT_DATA_DIR } = await import('../../node/result-store/defaults.ts')
    const dir = out ?? join(dataDirArg ?? process.env.LILYPAD_DATA_DIR ?? DEFAULT_DATA_DIR, 'get', 'from-node', listed.cid)
    for (const f of listed.files) {
      const path = resolve(dir, f.name)
      if (!path.startsWith(dir + sep)) throw new UserError(`the node named a result file outside the result: ${f.name.slice(0, 100)}`, { hint: 'this is a bug in the node; fetch by CID instead' })
      await mkdir(dirname(path), { recursive: true })
      await writeFile(path, await lp.get(job.id, f.name))
    }
    return { cid: listed.cid, dir, job: job.id }
  } catch (err) {
    throw await fromApi(err)
  }
}

/** The provider's addresses from its directory record: found by role, matched by its Ethereum address. */
async function providerAddrs (host: LilypadHost, opts: HostOptions, address: string, timeoutMs: number): Promise<string[]> {
  const { Directory } = await import('../../node/directory/index.ts')
  const { Wallet } = await import('ethers')
  if (opts.privateKey === undefined) return []
  // reading needs no signing key of ours: a throwaway one (this node publishes nothing)
  const dir = new Directory(host, { networkId: opts.networkId, domain: opts.domain, signer: Wallet.createRandom(), privateKey: opts.privateKey, timeoutMs })
  const records = await dir.findByRole('resource-provider', { timeoutMs, limit: 64 }).catch(() => [])
  const rec = records.find(r => r.ethAddress.toLowerCase() === address.toLowerCase())
  // the record is the provider's own word: at most 8 of its addresses are dialled, each bound to its peer id
  if (rec === undefined) return []
  const own = `/p2p/${rec.peerId}`
  return rec.multiaddrs.filter(a => !a.includes('/p2p/') || a.endsWith(own)).slice(0, 8).map(a => a.endsWith(own) ? a : `${a}${own}`)
}

export const get: Command = {
  name: 'get',
  summary: 'Fetch and verify a result from the network, by deal id or CID',
  usage: USAGE,
  async run (argv) {
    let v
    try {
      v = parseArgs({ args: argv, allowPositionals: true, options: { from: { type: 'string', multiple: true }, out: { type: 'string', short: 'o' }, network: { type: 'string', short: 'n' }, timeout: { type: 'string' }, 'max-mb': { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } } })
    } catch (err) { throw usageError((err as Error).message, USAGE) }
    if (v.positionals.length !== 1) throw usageError(v.positionals.length === 0 ? 'name the deal id or CID to fetch' : `one deal id or CID at a time (got ${v.positionals.length})`, USAGE)
    const { CID } = await import('multiformats/cid')
    const { DEAL_ID } = await import('../../node/result-store/defaults.ts')
    const target = v.positionals[0]
    const dealId = DEAL_ID.test(target) ? target.toLowerCase() : undefined
    let cid
    if (dealId === undefined) {
      try { cid = CID.parse(target) } catch { throw usageError(`"${target.slice(0, 100)}" is neither a deal id (0x and 64 hex digits) nor a CID`, USAGE) }
    }
    const timeoutText = v.values.timeout ?? '60'
    const timeoutSec = Number(timeoutText)
    if (!/^\d+$/.test(timeoutText) || timeoutSec < 1 || timeoutSec > MAX_TIMEOUT_SEC) throw usageError(`--timeout "${timeoutText}" must be a whole number of seconds from 1 to ${MAX_TIMEOUT_SEC}`, USAGE)
    // what a job with the default disk may leave, unless raised: a stranger's CID may name an endless DAG
    const maxMbText = v.values['max-mb']
    const maxMb = maxMbText === undefined ? undefined : Number(maxMbText)
    if (maxMb !== undefined && !(/^\d+$/.test(maxMbText as string) && maxMb >= 1 && maxMb <= MAX_FETCH_MB)) throw usageError(`--max-mb "${maxMbText}" must be a whole number of megabytes from 1 to ${MAX_FETCH_MB}`, USAGE)
    const from = v.values.from ?? []
    for (const f of from) {
      if (!f.startsWith('/') && !/^(12D3Koo|Qm)[1-9A-HJ-NP-Za-km-z]+$/.test(f)) throw usageError(`--from "${f.slice(0, 100)}" is neither a multiaddr nor a peer id`, USAGE)
    }
    const out = v.values.out !== undefined ? resolve(v.values.out) : undefined
    if (out !== undefined && (await readdir(out).catch(() => [])).length > 0) throw new UserError(`${out} exists and is not empty`, { hint: 'name a new directory with --out', exitCode: 2 })

    const { loadNetwork, DEFAULT_NETWORK } = await import('../../node/config/load.ts')
    const { toUserError } = await import('../context.ts')
    const { DEVNET_ID } = await import('../../node/devnet-marker.ts')
    const { createHost, hostOptionsFromNetwork, localMeshOptions, LOCAL_LISTEN } = await import('../../node/host/index.ts')
    const { ResultStore, DEFAULT_DATA_DIR, FetchTimeoutError, PeerUnreachableError, ResultTooLargeError } = await import('../../node/result-store/result-store.ts')
    const { multiaddr } = await import('@multiformats/multiaddr')
    const name = v.values.network ?? DEFAULT_NETWORK
    let loaded
    try { loaded = await loadNetwork(name) } catch (err) { throw toUserError(err) }
    const print = async (root: string, dir: string, extra: Record<string, string> = {}): Promise<number> => {
      const files = await listing(dir)
      if (v.values.json === true) {
        console.log(JSON.stringify({ ...(dealId !== undefined ? { dealId } : {}), cid: root, path: dir, files, ...extra }))
      } else {
        console.log(`${root}: ${files.length} file${files.length === 1 ? '' : 's'}, verified, in ${dir}`)
        for (const f of files) console.log(`  ${f.name}  ${f.bytes} bytes`)
      }
      return 0
    }
    let provider: string | undefined
    if (dealId !== undefined) {
      // 1. the node that owns the key: its job for the deal, already fetched and verified
      const viaNode = await fromNode(name, dealId, out, v.values['data-dir'])
      if (viaNode !== undefined) return await print(viaNode.cid, viaNode.dir, { via: 'node', job: viaNode.job })
      // 2. the chain: the CID the provider submitted for the deal
      const { dealResultOnChain, NoResultOnChainError } = await import('../../node/result-store/locate.ts')
      try {
        const r = await dealResultOnChain(loaded.network, dealId)
        cid = CID.parse(r.resultCid)
        provider = r.resourceProvider
      } catch (err) {
        if (err instanceof NoResultOnChainError) throw new UserError(err.message, { hint: 'the deal is unknown on this network or its provider has not submitted a result yet; "lilypad job <id>" shows a job\'s deals' })
        if ((err as Error).name === 'SyntaxError' || (err as Error).name === 'TypeError') throw new UserError(`deal ${dealId}: the CID on chain is not a CID`, { hint: 'its provider submitted a malformed result; dispute the deal' })
        throw toUserError(err)
      }
    }
    if (cid === undefined) throw new Error('unreachable: neither a deal nor a CID')
    // its own store under the data dir: a node running on the same data dir keeps its datastore to itself
    const dataDir = join(v.values['data-dir'] ?? process.env.LILYPAD_DATA_DIR ?? DEFAULT_DATA_DIR, 'get')
    const hostOpts = await hostOptionsFromNetwork(loaded.network, loaded.path, dataDir, { ...(name === DEVNET_ID ? localMeshOptions : {}), listen: LOCAL_LISTEN })
    const host = await createHost(hostOpts)
    let store
    try {
      await host.start()
      await Promise.allSettled(loaded.network.bootstrap.map(async b => await host.dial(multiaddr(b), { signal: AbortSignal.timeout(5000) })))
      store = await ResultStore.create({ dataDir, libp2p: host })
      const deadline = Date.now() + timeoutSec * 1000
      // a deal's provider: its addresses from its signed directory record (found by role, matched by address)
      if (provider !== undefined && from.length === 0) from.push(...await providerAddrs(host, hostOpts, provider, Math.min(15_000, timeoutSec * 500)))
      let fetched
      try {
        fetched = await store.fetch(cid, { from, timeoutMs: Math.max(1000, deadline - Date.now()), ...(maxMb !== undefined ? { maxBytes: maxMb * 1e6 } : {}) })
      } catch (err) {
        if (err instanceof FetchTimeoutError) throw new UserError(`${cid.toString()} could not be fetched within ${timeoutSec} s`, { hint: from.length === 0 ? 'no connected peer had it: name the peer that holds it (the provider of the deal) with --from <multiaddr or peer id>' : 'the peers named with --from did not serve it in time; check they are up and hold it, or raise --timeout' })
        if (err instanceof PeerUnreachableError) throw new UserError(err.message, { hint: 'check the --from addresses (a multiaddr ending in /p2p/<peer id>)' })
        if (err instanceof ResultTooLargeError) throw new UserError(err.message, { hint: 'a result bigger than a job could leave was refused; --max-mb raises the bound if you expect it' })
        throw toUserError(err)
      }
      const dir = out ?? fetched.dir
      if (out !== undefined) await cp(fetched.dir, out, { recursive: true })
      return await print(cid.toString(), dir, dealId !== undefined ? { via: 'network', ...(provider !== undefined ? { provider, from: from.join(' ') } : {}) } : {})
    } finally {
      await store?.stop()
      await host.stop()
    }
  }
}
