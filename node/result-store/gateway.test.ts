// The read-only gateway over a real Helia store: files and listings of results held here, byte-exact; nothing
// else — an unheld CID, a path outside the result, a write, a page that would run script — is served.
import test from 'ava'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ResultStore } from './result-store.ts'
import { serveGateway } from './gateway.ts'

test('GET /ipfs/<CID>/<path> serves what this node holds, as data; everything else is refused with a reason', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-gateway-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const store = await ResultStore.create({ dataDir: join(dir, 'store') })
  t.teardown(async () => { await store.stop() })
  const result = join(dir, 'result')
  await mkdir(join(result, 'outputs'), { recursive: true })
  await writeFile(join(result, 'stdout'), 'the cow says moo\n')
  await writeFile(join(result, 'outputs', 'page.html'), '<script>alert(document.cookie)</script>')
  const cid = (await store.addDirectory(result)).toString()
  const gw = await serveGateway(store, { port: 0, maxInFlight: 4 })
  t.teardown(async () => { await gw.close() })
  const get = async (path: string, init?: RequestInit): Promise<Response> => await fetch(new URL(path, gw.url), init)

  const stdout = await get(`/ipfs/${cid}/stdout`)
  t.is(stdout.status, 200, await stdout.clone().text())
  t.is(await stdout.text(), 'the cow says moo\n')
  t.is(stdout.headers.get('content-type'), 'text/plain; charset=utf-8')
  t.is(stdout.headers.get('x-content-type-options'), 'nosniff')

  const listing = await (await get(`/ipfs/${cid}/`)).json() as { cid: string, entries: Array<{ name: string }> }
  t.is(listing.cid, cid)
  t.deepEqual(listing.entries.map(e => e.name).sort(), ['outputs', 'stdout'])

  const page = await get(`/ipfs/${cid}/outputs/page.html`)
  t.is(page.headers.get('content-type'), 'application/octet-stream', 'never served as a page')
  t.regex(page.headers.get('content-security-policy') ?? '', /sandbox/)
  t.is(await page.text(), '<script>alert(document.cookie)</script>')

  const head = await get(`/ipfs/${cid}/stdout`, { method: 'HEAD' })
  t.is(head.headers.get('content-length'), '17')

  // a CID this node does not hold: 404 at once, no fetch from the network
  const other = await get('/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/stdout')
  t.is(other.status, 404)
  t.regex(await other.text(), /is not held by this node/)
  t.is((await get(`/ipfs/${cid}/nosuchfile`)).status, 404)
  t.is((await get(`/ipfs/${cid}/%2e%2e/stdout`)).status, 400)
  t.is((await get('/ipfs/not-a-cid')).status, 400)
  t.is((await get(`/ipfs/${cid}/stdout`, { method: 'POST', body: 'x' })).status, 405)
  t.is((await get('/admin')).status, 404)
})
