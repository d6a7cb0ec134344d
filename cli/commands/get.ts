// `lilypad get <CID>`: the result directory behind a CID, fetched over bitswap from the network's peers (or the
// peers named with --from), every block hash-checked and the written tree re-added to the same root CID before it
// is kept (node/result-store fetch). Needs no key and no chain: only the network file's mesh.
import { parseArgs } from 'node:util'
import { cp, readdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { usageError } from '../usage.ts'

const USAGE = 'lilypad get <CID> [--from MULTIADDR|PEER_ID …] [--out DIR] [--network N] [--timeout S] [--data-dir DIR] [--json]'
const MAX_TIMEOUT_SEC = 3600

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

export const get: Command = {
  name: 'get',
  summary: 'Fetch and verify the result directory behind a CID from the network',
  usage: USAGE,
  async run (argv) {
    let v
    try {
      v = parseArgs({ args: argv, allowPositionals: true, options: { from: { type: 'string', multiple: true }, out: { type: 'string', short: 'o' }, network: { type: 'string', short: 'n' }, timeout: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } } })
    } catch (err) { throw usageError((err as Error).message, USAGE) }
    if (v.positionals.length !== 1) throw usageError(v.positionals.length === 0 ? 'name the CID to fetch' : `one CID at a time (got ${v.positionals.length})`, USAGE)
    const { CID } = await import('multiformats/cid')
    let cid
    try { cid = CID.parse(v.positionals[0]) } catch { throw usageError(`"${v.positionals[0].slice(0, 100)}" is not a CID`, USAGE) }
    const timeoutText = v.values.timeout ?? '60'
    const timeoutSec = Number(timeoutText)
    if (!/^\d+$/.test(timeoutText) || timeoutSec < 1 || timeoutSec > MAX_TIMEOUT_SEC) throw usageError(`--timeout "${timeoutText}" must be a whole number of seconds from 1 to ${MAX_TIMEOUT_SEC}`, USAGE)
    const from = v.values.from ?? []
    for (const f of from) {
      if (!f.startsWith('/') && !/^(12D3Koo|Qm)[1-9A-HJ-NP-Za-km-z]+$/.test(f)) throw usageError(`--from "${f.slice(0, 100)}" is neither a multiaddr nor a peer id`, USAGE)
    }
    const out = v.values.out !== undefined ? resolve(v.values.out) : undefined
    if (out !== undefined && (await readdir(out).catch(() => [])).length > 0) throw new UserError(`${out} exists and is not empty`, { hint: 'name a new directory with --out', exitCode: 2 })

    const { loadNetwork, DEFAULT_NETWORK } = await import('../../node/config/load.ts')
    const { toUserError } = await import('../context.ts')
    const { DEVNET_ID } = await import('../../node/devnet.ts')
    const { createHost, hostOptionsFromNetwork, localMeshOptions, LOCAL_LISTEN } = await import('../../node/host/index.ts')
    const { ResultStore, DEFAULT_DATA_DIR, FetchTimeoutError, PeerUnreachableError } = await import('../../node/result-store/result-store.ts')
    const { multiaddr } = await import('@multiformats/multiaddr')
    const name = v.values.network ?? DEFAULT_NETWORK
    let loaded
    try { loaded = await loadNetwork(name) } catch (err) { throw toUserError(err) }
    // its own store under the data dir: a node running on the same data dir keeps its datastore to itself
    const dataDir = join(v.values['data-dir'] ?? process.env.LILYPAD_DATA_DIR ?? DEFAULT_DATA_DIR, 'get')
    const host = await createHost(await hostOptionsFromNetwork(loaded.network, loaded.path, dataDir, { ...(name === DEVNET_ID ? localMeshOptions : {}), listen: LOCAL_LISTEN }))
    let store
    try {
      await host.start()
      await Promise.allSettled(loaded.network.bootstrap.map(async b => await host.dial(multiaddr(b), { signal: AbortSignal.timeout(5000) })))
      store = await ResultStore.create({ dataDir, libp2p: host })
      let fetched
      try {
        fetched = await store.fetch(cid, { from, timeoutMs: timeoutSec * 1000 })
      } catch (err) {
        if (err instanceof FetchTimeoutError) throw new UserError(`${cid.toString()} could not be fetched within ${timeoutSec} s`, { hint: from.length === 0 ? 'no connected peer had it: name the peer that holds it (the provider of the deal) with --from <multiaddr or peer id>' : 'the peers named with --from did not serve it in time; check they are up and hold it, or raise --timeout' })
        if (err instanceof PeerUnreachableError) throw new UserError(err.message, { hint: 'check the --from addresses (a multiaddr ending in /p2p/<peer id>)' })
        throw toUserError(err)
      }
      const dir = out ?? fetched.dir
      if (out !== undefined) await cp(fetched.dir, out, { recursive: true })
      const files = await listing(dir)
      if (v.values.json === true) {
        console.log(JSON.stringify({ cid: cid.toString(), path: dir, files }))
      } else {
        console.log(`${cid.toString()}: ${files.length} file${files.length === 1 ? '' : 's'}, verified, in ${dir}`)
        for (const f of files) console.log(`  ${f.name}  ${f.bytes} bytes`)
      }
      return 0
    } finally {
      await store?.stop()
      await host.stop()
    }
  }
}
