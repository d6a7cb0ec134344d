// Several jobs with the same result (same module, same inputs) are fetched at once by a job creator, among others:
// every fetch must complete. @helia/bitswap joins a second want of a CID to the first one's entry after that entry
// was marked cancelled (its block had arrived), and such a want never resolved — the fetch timeout the 10-job
// end-to-end test hit now and then. The store now runs one fetch per CID at a time.
import test from 'ava'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ResultStore } from './index.ts'

test('ten results, three of them alike, fetched at once by two stores from two providers: every fetch completes', async t => {
  const base = await mkdtemp(join(tmpdir(), 'lilypad-same-cid-'))
  const providers = await Promise.all([0, 1].map(async i => await ResultStore.create({ dataDir: join(base, `provider-${i}`) })))
  const fetchers = await Promise.all([0, 1].map(async i => await ResultStore.create({ dataDir: join(base, `fetcher-${i}`) })))
  t.teardown(async () => {
    for (const s of [...fetchers, ...providers]) await s.stop()
    await rm(base, { recursive: true, force: true })
  })
  const results: Array<{ cid: string, from: ResultStore, to: ResultStore, text: string }> = []
  for (let k = 0; k < 10; k++) {
    const dir = join(base, `result-${k}`)
    const text = `job ${k % 3}\n`.repeat(100 + (k % 3))
    await mkdir(join(dir, 'outputs'), { recursive: true })
    await writeFile(join(dir, 'stdout'), text)
    await writeFile(join(dir, 'exitCode'), '0')
    const from = providers[k % 2]
    results.push({ cid: (await from.addDirectory(dir)).toString(), from, to: fetchers[k % 2], text })
  }
  // the job creator's own fetch timeout (60 s): the never-resolving want this guards against fails any timeout, while
  // a 20 s one failed both fetches of one CID on a machine loaded nine deep (npm test beside a soak and other tests)
  const got = await Promise.allSettled(results.map(async r => await r.to.fetch(r.cid, { from: r.from.multiaddrs(), timeoutMs: 60_000 })))
  t.deepEqual(got.filter(g => g.status === 'rejected').map(g => ((g as PromiseRejectedResult).reason as Error).name), [])
  for (const [k, g] of got.entries()) {
    if (g.status === 'fulfilled') t.is(await readFile(join(g.value.dir, 'stdout'), 'utf8'), results[k].text)
  }
})
