// The result store with real Helia nodes on 127.0.0.1 (and the real Docker engine for the same-job-twice test).
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { mkdtemp, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { once } from 'node:events'
import { exporter } from 'ipfs-unixfs-exporter'
import { setImmediate as tick } from 'node:timers/promises'
import Docker from 'dockerode'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { CID } from 'multiformats/cid'
import { loadModule } from '../modules/index.ts'
import { ensureBuiltinImages, pinSpecImage } from '../modules/images.ts'
import { Executor } from '../executor/index.ts'
import { ResultStore, ResultRetention, OpenResults, DOWNLOADS_DIR } from './index.ts'

interface Ctx { teardown: (fn: () => Promise<void> | void) => void }

async function tempDir (t: Ctx): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-store-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

async function store (t: Ctx, dataDir?: string): Promise<ResultStore> {
  const s = await ResultStore.create({ dataDir: dataDir ?? join(await tempDir(t), 'data') })
  t.teardown(async () => { await s.stop() })
  return s
}

/** A result directory like the executor writes. */
async function makeResult (dir: string, payload: Buffer, extra: Record<string, string> = {}): Promise<string> {
  await mkdir(join(dir, 'outputs', 'nested'), { recursive: true })
  await mkdir(join(dir, 'outputs', 'empty'), { recursive: true })
  await writeFile(join(dir, 'stdout'), 'hello\n')
  await writeFile(join(dir, 'stderr'), '')
  await writeFile(join(dir, 'exitCode'), '0')
  await writeFile(join(dir, 'outputs', 'nested', 'data.bin'), payload)
  for (const [k, v] of Object.entries(extra)) await writeFile(join(dir, 'outputs', k), v)
  return dir
}

/** The CID of the first file block under a result (to check that blocks, not just the root, are kept or gone). */
async function firstFileCid (s: ResultStore, root: CID): Promise<CID> {
  const dir = await exporter(root, s.helia.blockstore)
  if (dir.type !== 'directory') throw new Error('not a directory')
  for await (const e of dir.entries()) if (e.name === 'stdout') return e.cid
  throw new Error('no stdout in the result')
}

/** Relative path → content (directories as "<dir>"), for comparing trees. */
async function snapshot (root: string, dir = root, out: Record<string, string> = {}): Promise<Record<string, string>> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) { out[relative(root, p)] = '<dir>'; await snapshot(root, p, out) } else out[relative(root, p)] = (await readFile(p)).toString('base64')
  }
  return out
}

test('a result directory becomes a deterministic UnixFS directory CID', async t => {
  const s = await store(t)
  const base = await tempDir(t)
  const payload = randomBytes(300_000)
  const a = await makeResult(join(base, 'a'), payload)
  const b = await makeResult(join(base, 'b'), payload)
  // Different paths and mtimes, same names and bytes.
  await utimes(join(b, 'stdout'), new Date(2001, 1, 1), new Date(2001, 1, 1))
  const cidA = await s.addDirectory(a)
  t.is(cidA.version, 1)
  t.is(cidA.code, 0x70, 'dag-pb directory')
  t.true((await s.addDirectory(a)).equals(cidA), 'adding twice gives the same CID')
  t.true((await s.addDirectory(b)).equals(cidA), 'same content elsewhere gives the same CID')
  await writeFile(join(b, 'exitCode'), '1')
  t.false((await s.addDirectory(b)).equals(cidA), 'different content, different CID')
  const err = await t.throwsAsync(s.addDirectory(join(a, 'stdout')))
  t.is(err?.name, 'NotADirectoryResultError')
})

test('the same deterministic job run twice gives the same result CID', async t => {
  const docker = new Docker()
  await ensureBuiltinImages(docker, { only: ['primes:v0.1.0'] })
  const spec = await pinSpecImage(docker, (await loadModule('primes:v0.1.0', { N: '3000' })).spec)
  const ex = new Executor({ docker })
  const s = await store(t)
  const base = await tempDir(t)
  const first = await ex.run(spec, { resultDir: join(base, 'run1') })
  const second = await ex.run(spec, { resultDir: join(base, 'run2') })
  t.is(first.exitCode, 0)
  t.is(await readFile(join(first.resultDir, 'stdout'), 'utf8'), 'n=3000 count=430 largest=2999\n')
  const c1 = await s.addDirectory(first.resultDir)
  const c2 = await s.addDirectory(second.resultDir)
  t.true(c1.equals(c2), `${c1.toString()} vs ${c2.toString()}`)
})

test('fetch by CID from another node over bitswap, verified and written under downloaded-files/<CID>/', async t => {
  const base = await tempDir(t)
  const provider = await store(t, join(base, 'provider'))
  const fetcher = await store(t, join(base, 'fetcher'))
  const result = await makeResult(join(base, 'result'), randomBytes(2 * 1024 * 1024 + 123), { 'note.txt': 'lily pad\n' })
  const cid = await provider.addDirectory(result)
  const from = provider.multiaddrs()[0].toString()
  t.regex(from, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
  const got = await fetcher.fetch(cid.toString(), { from, timeoutMs: 20_000 })
  t.true(got.cid.equals(cid))
  t.is(got.dir, join(base, 'fetcher', DOWNLOADS_DIR, cid.toString()))
  t.deepEqual(await snapshot(got.dir), await snapshot(result))
  t.true((await stat(join(got.dir, 'outputs', 'empty'))).isDirectory(), 'empty directories survive')
  t.true(await fetcher.has(cid), 'the fetched result is kept locally')
  // A second fetch is served from the downloads directory.
  t.is((await fetcher.fetch(cid, { timeoutMs: 1000 })).dir, got.dir)
})

test('a peer\'s spent wants and its wants for blocks this store lacks are dropped by the sweep: one connection, result after result, holds none', async t => {
  const base = await tempDir(t)
  // bitswap's do-not-resend window shortened to 1 ms (default 5 s); the sweep's own timer is left out of it
  const provider = await ResultStore.create({ dataDir: join(base, 'provider'), doNotResendBlockWindowMs: 1, wantSweepMs: 3_600_000, staleWantMs: 0 })
  t.teardown(async () => { await provider.stop() })
  const fetcher = await store(t, join(base, 'fetcher'))
  const from = provider.multiaddrs()[0].toString()
  for (let i = 0; i < 3; i++) {
    const cid = await provider.addDirectory(await makeResult(join(base, `result-${i}`), randomBytes(600 * 1024), { 'i.txt': String(i) }))
    await fetcher.fetch(cid, { from, timeoutMs: 20_000 })
  }
  // and blocks the provider does not have: the fetcher gives up, its wants stay at the provider
  for (let i = 0; i < 3; i++) {
    const missing = await store(t, join(base, `elsewhere-${i}`))
    const cid = await missing.addDirectory(await makeResult(join(base, `missing-${i}`), randomBytes(1024)))
    await t.throwsAsync(fetcher.fetch(cid, { from, timeoutMs: 500 }), { name: 'FetchTimeoutError' })
  }
  // what @helia/bitswap keeps on its own: the fetcher's wants, sent or never servable, over this one connection
  const ledgers = (provider.helia as unknown as { blockBrokers: Array<{ name: string, bitswap: { peerWantLists: { ledgerMap: Map<unknown, { wants: Map<string, { status: string }> }> } } }> })
    .blockBrokers.find(b => b.name === 'bitswap')!.bitswap.peerWantLists.ledgerMap
  const kept = (status: string): number => [...ledgers.values()].reduce((n, l) => n + [...l.wants.values()].filter(w => w.status === status).length, 0)
  t.true(kept('want') >= 3, `wants for missing blocks held before the sweep: ${kept('want')}`)
  await tick()
  t.is(provider.sweepWants(), 0)
  t.is(kept('want') + kept('sent') + kept('sending'), 0)
})

test('a hostile provider\'s result bigger than the fetch\'s bound: the fetch stops there with a named error and writes nothing', async t => {
  const base = await tempDir(t)
  const provider = await store(t, join(base, 'provider'))
  const fetcher = await store(t, join(base, 'fetcher'))
  const offered = 40 * 1024 * 1024
  const cid = await provider.addDirectory(await makeResult(join(base, 'huge'), randomBytes(offered)))
  const maxBytes = 1024 * 1024
  const err = await t.throwsAsync(fetcher.fetch(cid, { from: provider.multiaddrs()[0].toString(), timeoutMs: 20_000, maxBytes }))
  t.is(err?.name, 'ResultTooLargeError')
  t.is((err as unknown as { maxBytes: number }).maxBytes, maxBytes)
  t.regex(String((err as unknown as { hint: string }).hint), /disk it asked for/)
  t.deepEqual(await readdir(fetcher.downloadsDir), [], 'no partial tree is left')
  let held = 0
  for await (const { bytes } of fetcher.helia.blockstore.getAll()) for await (const part of bytes) held += part.byteLength
  // the exporter reads up to 16 blocks (1 MiB each) ahead of what it has counted
  t.true(held < maxBytes + 17 * 1024 * 1024, `the fetcher took in ${held} of the ${offered} bytes offered`)
})

test('a wide and deep result (more entries than are fetched at once, directories in directories) arrives whole', async t => {
  const base = await tempDir(t)
  const provider = await store(t, join(base, 'provider'))
  const fetcher = await store(t, join(base, 'fetcher'))
  const result = await makeResult(join(base, 'result'), randomBytes(300_000))
  for (let i = 0; i < 19; i++) await writeFile(join(result, 'outputs', `f${i}.txt`), `file ${i}\n`.repeat(i))
  let deep = join(result, 'outputs', 'nested')
  for (let d = 0; d < 4; d++) {
    deep = join(deep, `level${d}`)
    await mkdir(deep)
    for (let i = 0; i < 11; i++) await writeFile(join(deep, `g${i}`), randomBytes(1000 * i))
  }
  const cid = await provider.addDirectory(result)
  const got = await fetcher.fetch(cid, { from: provider.multiaddrs()[0].toString(), timeoutMs: 20_000 })
  t.deepEqual(await snapshot(got.dir), await snapshot(result))
})

test('a hostile result of many large files: entries fetched side by side still stop near the bound', async t => {
  const base = await tempDir(t)
  const provider = await store(t, join(base, 'provider'))
  const fetcher = await store(t, join(base, 'fetcher'))
  const result = await makeResult(join(base, 'wide'), Buffer.alloc(0))
  for (let i = 0; i < 8; i++) await writeFile(join(result, 'outputs', `big${i}`), randomBytes(5 * 1024 * 1024))
  const cid = await provider.addDirectory(result)
  const maxBytes = 1024 * 1024
  const err = await t.throwsAsync(fetcher.fetch(cid, { from: provider.multiaddrs()[0].toString(), timeoutMs: 20_000, maxBytes }))
  t.is(err?.name, 'ResultTooLargeError')
  t.deepEqual(await readdir(fetcher.downloadsDir), [], 'no partial tree is left')
  let held = 0
  for await (const { bytes } of fetcher.helia.blockstore.getAll()) for await (const part of bytes) held += part.byteLength
  // the side-by-side entries share the 16 blocks of read-ahead a lone file has
  t.true(held < maxBytes + 17 * 1024 * 1024, `the fetcher took in ${held} of the 40 MiB offered`)
})

test('a want sweep that throws is reported to the owner, not an uncaught exception', async t => {
  const base = await tempDir(t)
  let report: (e: Error) => void = () => {}
  const reported = new Promise<Error>(resolve => { report = resolve })
  const s = await ResultStore.create({ dataDir: join(base, 'data'), wantSweepMs: 20, onSweepError: err => { report(err) } })
  t.teardown(async () => { await s.stop() })
  // as a @helia/bitswap whose internals changed under the sweep would
  s.sweepWants = () => { throw new TypeError('ledgerMap.values is not a function') }
  t.is((await reported).message, 'ledgerMap.values is not a function')
})

test('fetching an unknown CID times out with a named error and leaves nothing behind', async t => {
  const base = await tempDir(t)
  const provider = await store(t, join(base, 'provider'))
  const fetcher = await store(t, join(base, 'fetcher'))
  const unknown = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')
  const err = await t.throwsAsync(fetcher.fetch(unknown, { from: provider.multiaddrs()[0].toString(), timeoutMs: 750 }))
  t.is(err?.name, 'FetchTimeoutError')
  t.is((err as unknown as { cid: string }).cid, unknown.toString())
  t.deepEqual(await readdir(fetcher.downloadsDir), [])
})

test('fetching from a peer that is gone is a named error', async t => {
  const base = await tempDir(t)
  const gone = await ResultStore.create({ dataDir: join(base, 'gone') })
  const addr = gone.multiaddrs()[0].toString()
  const cid = await gone.addDirectory(await makeResult(join(base, 'r'), randomBytes(1000)))
  await gone.stop()
  const fetcher = await store(t, join(base, 'fetcher'))
  const err = await t.throwsAsync(fetcher.fetch(cid, { from: addr, timeoutMs: 10_000 }))
  t.is(err?.name, 'PeerUnreachableError')
  t.deepEqual(await readdir(fetcher.downloadsDir), [])
})

test('CAR export round-trips into a fresh, unconnected store', async t => {
  const base = await tempDir(t)
  const a = await store(t, join(base, 'a'))
  const c = await store(t, join(base, 'c'))
  const result = await makeResult(join(base, 'result'), randomBytes(700_000))
  const cid = await a.addDirectory(result)
  const carPath = join(base, 'result.car')
  await a.exportCarToFile(cid, carPath)
  const roots = await c.importCar(await readFile(carPath))
  t.deepEqual(roots.map(String), [cid.toString()])
  t.true(await c.has(cid))
  // Exporting again from the importing store gives the same bytes.
  const again: Uint8Array[] = []
  for await (const chunk of c.exportCar(cid)) again.push(chunk)
  t.deepEqual(Buffer.concat(again), await readFile(carPath))
  // And the content is all there: fetching locally needs no peer.
  const got = await c.fetch(cid, { timeoutMs: 5000 })
  t.deepEqual(await snapshot(got.dir), await snapshot(result))
})

test('retention removes results by age and by total size, and their blocks', async t => {
  const s = await store(t)
  const base = await tempDir(t)
  const now = Date.now()
  const day = 24 * 3600 * 1000
  const old = await s.addDirectory(await makeResult(join(base, 'old'), randomBytes(100_000)), { addedAt: now - 10 * day })
  const mid = await s.addDirectory(await makeResult(join(base, 'mid'), randomBytes(100_000)), { addedAt: now - 2 * day })
  const recent = await s.addDirectory(await makeResult(join(base, 'new'), randomBytes(100_000)), { addedAt: now })
  t.deepEqual((await s.list()).map(r => r.cid.toString()), [old, mid, recent].map(String))
  const byAge = await s.prune({ maxAgeMs: 7 * day, now })
  t.deepEqual(byAge.map(String), [old.toString()])
  t.false(await s.has(old), 'blocks of the removed result are garbage-collected')
  t.true(await s.has(mid))
  const bySize = await s.prune({ maxTotalBytes: 150_000, now })
  t.deepEqual(bySize.map(String), [mid.toString()])
  t.false(await s.has(mid))
  t.true(await s.has(recent))
  t.deepEqual((await s.prune({ maxAgeMs: 7 * day, maxTotalBytes: 10 ** 9, now })), [])
})

test('retention keeps a result while any open deal holds it: two deals with the same output, and a deal run again whose old result is let go', async t => {
  const base = await tempDir(t)
  const provider = await store(t, join(base, 'provider'))
  const same = await provider.addDirectory(await makeResult(join(base, 'same'), Buffer.from('moo\n')), { addedAt: 0 })
  const first = await provider.addDirectory(await makeResult(join(base, 'first'), randomBytes(1000)), { addedAt: 0 })
  const rerun = await provider.addDirectory(await makeResult(join(base, 'rerun'), randomBytes(1000)), { addedAt: 0 })
  const open = new OpenResults()
  const retention = new ResultRetention(provider, { maxAgeMs: 0, maxTotalBytes: 0, now: () => 1, keep: cid => open.has(cid) })
  t.true(open.set('1:a', same.toString()), 'newly kept')
  t.false(open.set('1:b', same.toString()), 'already kept for deal a')
  t.true(open.set('2:c', first.toString()))
  // deal a ends: b (same output) still holds the CID; deal c is run again and holds a new result: its first goes
  open.set('1:a', undefined)
  t.true(open.set('2:c', rerun.toString()))
  t.is(open.size, 2)
  t.deepEqual((await retention.check()).map(String), [first.toString()])
  t.true(await provider.has(same))
  t.true(await provider.has(rerun))
  // b and c end: nothing is kept and both go
  open.set('1:b', undefined)
  open.set('2:c', undefined)
  t.is(open.size, 0)
  t.deepEqual((await retention.check()).map(String).sort(), [same.toString(), rerun.toString()].sort())
})

test('retention on a provider: its results go oldest first past the age and size limits, open deals\' results stay; a job creator\'s downloads stay pinned until unpinned', async t => {
  const base = await tempDir(t)
  const provider = await store(t, join(base, 'provider'))
  const jc = await store(t, join(base, 'jc'))
  const hour = 3600 * 1000
  let clock = 1_000_000 * hour
  const results: CID[] = []
  for (let i = 0; i < 4; i++) {
    results.push(await provider.addDirectory(await makeResult(join(base, `r${i}`), randomBytes(60_000)), { addedAt: clock }))
    clock += hour
  }
  // The job creator downloads result 0 (real bitswap), which pins it on its node.
  const fetched = await jc.fetch(results[0], { from: provider.multiaddrs()[0].toString(), timeoutMs: 20_000 })
  await jc.settled()
  const leaf = await firstFileCid(jc, results[0])
  // The job creator made a result of its own too (it is also a provider on this node): only that may go.
  const own = await jc.addDirectory(await makeResult(join(base, 'own'), randomBytes(10_000)), { addedAt: 0 })
  const open = new Set([results[1].toString()]) // result 1's deal is still open
  const retention = new ResultRetention(provider, { maxAgeMs: 2.5 * hour, maxTotalBytes: 130_000, now: () => clock, keep: cid => open.has(cid) })
  const events: CID[][] = []
  retention.on('pruned', cids => { events.push(cids) })
  // Now = 4 h after the first: results 0 and 1 are past 2.5 h, but 1 is kept; then the oldest unkept (2) goes
  // for size: 1 + 3 (about 2 × 60 kB) fit in 130 kB.
  const pruned = await retention.check()
  t.deepEqual(pruned.map(String), [results[0], results[2]].map(String))
  t.deepEqual(events.map(e => e.map(String)), [pruned.map(String)])
  t.false(await provider.has(results[0]), 'the blocks are garbage-collected')
  t.false(await provider.has(results[2]))
  t.true(await provider.has(results[1]))
  t.true(await provider.has(results[3]))
  t.deepEqual((await provider.list()).map(r => r.cid.toString()), [results[1], results[3]].map(String))
  // The job creator's store under the harshest policy: its own result goes, the download stays.
  t.deepEqual((await jc.prune({ maxAgeMs: 0, maxTotalBytes: 0, now: clock })).map(String), [own.toString()])
  t.true(await jc.has(results[0]))
  t.true(await jc.has(leaf))
  t.deepEqual(await snapshot(fetched.dir), await snapshot(join(base, 'r0')))
  // Unpinned, the download and its blocks go.
  await jc.unpin(results[0])
  t.false(await jc.has(results[0]))
  t.false(await jc.has(leaf))
  await t.throwsAsync(stat(fetched.dir), { code: 'ENOENT' })
  t.deepEqual(await jc.list(), [])
  await retention.stop()
})

test('the retention service prunes on its timer and after a result is added, and stops', async t => {
  const base = await tempDir(t)
  const s = await store(t, join(base, 'p'))
  const first = await s.addDirectory(await makeResult(join(base, 'a'), randomBytes(40_000)), { addedAt: 1 })
  const second = await s.addDirectory(await makeResult(join(base, 'b'), randomBytes(40_000)), { addedAt: 2 })
  // The timer's first tick finds 80 kB over a 50 kB budget.
  const retention = new ResultRetention(s, { maxTotalBytes: 50_000, intervalMs: 20, now: () => 10 })
  const byTimer = once(retention, 'pruned')
  retention.start()
  t.true(retention.started)
  t.deepEqual(((await byTimer)[0] as CID[]).map(String), [first.toString()])
  t.true(await s.has(second))
  // A result added: noteAdded() prunes at once, without waiting for the timer.
  await retention.stop()
  t.false(retention.started)
  const later = new ResultRetention(s, { maxTotalBytes: 50_000, intervalMs: 3_600_000, now: () => 10 })
  const third = await s.addDirectory(await makeResult(join(base, 'c'), randomBytes(40_000)), { addedAt: 3 })
  const byAdd = once(later, 'pruned')
  later.noteAdded()
  t.deepEqual(((await byAdd)[0] as CID[]).map(String), [second.toString()])
  t.true(await s.has(third))
  await later.stop()
})

test('the store can share an existing libp2p host and leaves it running when stopped', async t => {
  const host = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  t.teardown(async () => { await host.stop() })
  const base = await tempDir(t)
  const shared = await ResultStore.create({ dataDir: join(base, 'shared'), libp2p: host })
  t.false(shared.ownsHost)
  t.is(shared.peerId, host.peerId.toString())
  const other = await store(t, join(base, 'other'))
  const cid = await shared.addDirectory(await makeResult(join(base, 'r'), randomBytes(50_000)))
  const got = await other.fetch(cid, { from: host.getMultiaddrs()[0].toString(), timeoutMs: 10_000 })
  t.true(got.cid.equals(cid))
  // A second result, fetched by peer id alone: the connection and addresses are known now.
  const cid2 = await shared.addDirectory(await makeResult(join(base, 'r2'), randomBytes(20_000)))
  t.true((await other.fetch(cid2, { from: host.peerId.toString(), timeoutMs: 10_000 })).cid.equals(cid2))
  await shared.stop()
  t.is(host.status, 'started')
})

test.serial('a stopped store leaves no sockets open', async t => {
  const sockets = (): number => process.getActiveResourcesInfo().filter(r => r.startsWith('TCP')).length
  const before = sockets()
  const base = await tempDir(t)
  const a = await ResultStore.create({ dataDir: join(base, 'a') })
  const b = await ResultStore.create({ dataDir: join(base, 'b') })
  const cid = await a.addDirectory(await makeResult(join(base, 'r'), randomBytes(10_000)))
  await b.fetch(cid, { from: a.multiaddrs()[0].toString(), timeoutMs: 10_000 })
  t.true(sockets() > before)
  await a.stop()
  await b.stop()
  // Closed sockets release their handles within a few turns of the event loop; count turns, not time.
  for (let turn = 0; turn < 100 && sockets() > before; turn++) await tick()
  t.is(sockets(), before)
})
