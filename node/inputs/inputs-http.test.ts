// URL inputs against a real HTTP server on 127.0.0.1 (allowed by the test's policy; the default policy refuses
// it): fetched and mounted, checksums, and the attacks — private addresses directly and by redirect, redirect
// loops, oversize by Content-Length and by bytes, a trickling server, a silent one, too many inputs, path
// traversal, an abort mid-transfer, more fetches than the provider allows at once.
import test from 'ava'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import { promisify } from 'node:util'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ManualClock } from '../../core/clock.ts'
import { DEFAULT_RESOURCES, type InputSource, type JobSpec } from '../modules/spec.ts'
import { FetchSlots, inputPolicy, stageInputs, stageJobInputs, specialRange, type BlockReader, type InputPolicy, type StageOptions } from './index.ts'

interface Ctx { teardown: (fn: () => Promise<void> | void) => void }

const LOCAL: Partial<InputPolicy> = { allowAddresses: ['127.0.0.1/32'] }

async function tempDir (t: Ctx): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-inputs-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

interface Server { base: string, port: number, connections: number, requests: string[], closed: Array<Promise<unknown>> }

async function serve (t: Ctx, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const s: Server = { base: '', port: 0, connections: 0, requests: [], closed: [] }
  const server = http.createServer((req, res) => {
    s.requests.push(req.url ?? '')
    s.closed.push(once(res, 'close'))
    handler(req, res)
  })
  server.on('connection', () => { s.connections++ })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  s.port = (server.address() as AddressInfo).port
  s.base = `http://127.0.0.1:${s.port}`
  t.teardown(async () => { server.closeAllConnections(); server.close(); await once(server, 'close') })
  return s
}

function spec (inputSources: InputSource[], diskMb = DEFAULT_RESOURCES.diskMb): Pick<JobSpec, 'inputSources' | 'outputs' | 'resources'> {
  return { inputSources, outputs: [{ name: 'outputs', path: '/outputs' }], resources: { ...DEFAULT_RESOURCES, diskMb } }
}

const url = (u: string, path = '/inputs/data', checksum?: string): InputSource => ({ source: 'urldownload', url: u, path, ...(checksum !== undefined ? { checksum } : {}) })

async function stage (t: Ctx, s: ReturnType<typeof spec>, opts: Partial<StageOptions> = {}): Promise<{ dir: string, run: Promise<Awaited<ReturnType<typeof stageInputs>>> }> {
  const dir = join(await tempDir(t), 'staged')
  return { dir, run: stageInputs(s, { deadline: Date.now() + 60_000, dir, policy: LOCAL, ...opts }) }
}

const WORDS = 'the quick brown fox\njumps over the lazy dog\n'
const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

test('a URL input is fetched, checked against its checksum and mounted at its path; release removes it', async t => {
  const srv = await serve(t, (_req, res) => { res.end(WORDS) })
  const { dir, run } = await stage(t, spec([url(`${srv.base}/files/words.txt?x=1`, '/inputs/data', `sha256:${sha(WORDS)}`)]))
  const staged = await run
  t.deepEqual(staged.mounts, [{ source: join(dir, '0'), target: '/inputs/data' }])
  t.is(await readFile(join(dir, '0', 'words.txt'), 'utf8'), WORDS, 'the file is named after the URL\'s last path segment')
  t.is(staged.bytes, Buffer.byteLength(WORDS))
  t.deepEqual(srv.requests, ['/files/words.txt?x=1'])
  await staged.release()
  t.false(existsSync(dir))
})

test('a body that does not match the checksum: InputChecksumError, nothing left behind', async t => {
  const srv = await serve(t, (_req, res) => { res.end('something else\n') })
  const { dir, run } = await stage(t, spec([url(`${srv.base}/w.txt`, '/inputs/data', `sha256:${sha(WORDS)}`)]))
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputChecksumError')
  t.true((err as unknown as { jobFault: boolean }).jobFault)
  t.regex((err as unknown as { hint: string }).hint, /checksum/)
  t.false(existsSync(dir))
})

test('the default policy refuses loopback, private, link-local and mapped addresses, without connecting', async t => {
  const srv = await serve(t, (_req, res) => { res.end(WORDS) })
  const hosts = [`127.0.0.1:${srv.port}`, `localhost:${srv.port}`, `[::1]:${srv.port}`, `[::ffff:127.0.0.1]:${srv.port}`, '169.254.169.254', '[fd00:ec2::254]', '10.1.2.3', '192.168.0.1', '172.16.5.4', '0.0.0.0', '100.64.0.1', '[fe80::1]']
  for (const h of hosts) {
    const { dir, run } = await stage(t, spec([url(`http://${h}/latest/meta-data/`)]), { policy: {} })
    const err = await t.throwsAsync(run, undefined, h)
    t.is(err?.name, 'InputAddressRefusedError', h)
    t.regex(err?.message ?? '', /an address this provider does not fetch from/, h)
    t.false(existsSync(dir), h)
  }
  t.is(srv.connections, 0, 'nothing reached the server')
  t.is(specialRange('8.8.8.8'), undefined, 'public addresses are fine')
  t.is(specialRange('2606:4700::1111'), undefined)
})

test('a redirect to the metadata service, or to a loopback address the policy does not allow, is refused', async t => {
  const srv = await serve(t, (req, res) => {
    const to = req.url === '/meta' ? 'http://169.254.169.254/latest/meta-data/' : req.url === '/other' ? `http://127.0.0.2:${srv.port}/x` : '/never'
    res.writeHead(302, { location: to }).end()
  })
  for (const path of ['/meta', '/other']) {
    const { run } = await stage(t, spec([url(`${srv.base}${path}`)]))
    const err = await t.throwsAsync(run, undefined, path)
    t.is(err?.name, 'InputAddressRefusedError', path)
  }
  t.deepEqual(srv.requests, ['/meta', '/other'], 'the redirect targets were never requested')
})

test('a redirect loop ends after maxRedirects hops: InputRedirectError', async t => {
  const srv = await serve(t, (req, res) => { res.writeHead(301, { location: req.url === '/a' ? '/b' : '/a' }).end() })
  const { run } = await stage(t, spec([url(`${srv.base}/a`)]), { policy: { ...LOCAL, maxRedirects: 4 } })
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputRedirectError')
  t.regex(err?.message ?? '', /more than 4 redirects/)
  t.is(srv.requests.length, 5, 'the first request and four redirects')
})

test('oversize by Content-Length: refused before the body is read', async t => {
  let sent = 0
  const srv = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) })
    // the body would follow; the client must not wait for it
    const chunk = Buffer.alloc(64 * 1024)
    const pump = (): void => { while (!res.destroyed && sent < 50 * 1024 * 1024 && res.write(chunk)) sent += chunk.length }
    res.on('drain', pump)
    pump()
  })
  const { dir, run } = await stage(t, spec([url(`${srv.base}/big`)]), { policy: { ...LOCAL, maxInputBytes: 1024 * 1024 } })
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputTooLargeError')
  t.regex(err?.message ?? '', /Content-Length 52428800 over the limit of 1048576 bytes/)
  await srv.closed[0]
  t.true(sent < 50 * 1024 * 1024, 'the connection was dropped before the body was sent')
  t.false(existsSync(dir))
})

test('oversize by actual bytes (chunked, no length): cut at the cap, the connection dropped', async t => {
  const srv = await serve(t, (_req, res) => {
    const chunk = Buffer.alloc(64 * 1024, 1)
    const pump = (): void => { while (!res.destroyed && res.write(chunk)) { /* as fast as the client reads */ } }
    res.on('drain', pump)
    pump()
  })
  const { dir, run } = await stage(t, spec([url(`${srv.base}/endless`)]), { policy: { ...LOCAL, maxInputBytes: 1024 * 1024 } })
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputTooLargeError')
  t.regex(err?.message ?? '', /the body over the limit of 1048576 bytes/)
  await srv.closed[0]
  t.false(existsSync(dir))
})

test('inputs count against the job\'s disk share: two inputs that fit alone but not together', async t => {
  const body = 'x'.repeat(700_000)
  const srv = await serve(t, (_req, res) => { res.end(body) })
  const { run } = await stage(t, spec([url(`${srv.base}/a`, '/inputs/a'), url(`${srv.base}/b`, '/inputs/b')], 1))
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputTooLargeError')
  t.regex(err?.message ?? '', /all inputs together over the limit of 1000000 bytes/)
})

test('slowloris: a server trickling bytes is cut off when the fetch time is up (injected clock)', async t => {
  const clock = new ManualClock()
  let trickling!: () => void
  const started = new Promise<void>(resolve => { trickling = resolve })
  const srv = await serve(t, (_req, res) => {
    res.writeHead(200)
    const drip = setInterval(() => { if (!res.destroyed) { res.write('.'); trickling() } }, 20)
    res.on('close', () => { clearInterval(drip) })
  })
  const { dir, run } = await stage(t, spec([url(`${srv.base}/slow`)]), { clock, deadline: clock.now() + 3_600_000, policy: { ...LOCAL, fetchTimeoutMs: 60_000 } })
  await started
  await clock.advance(60_000)
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputTimeoutError')
  t.regex(err?.message ?? '', /input 0 .*not fetched in time \(this provider's limit of 60000 ms\)/)
  await srv.closed[0]
  t.false(existsSync(dir))
})

test('the fetch deadline comes out of the job\'s time: a job with no time left fetches nothing', async t => {
  const clock = new ManualClock()
  const srv = await serve(t, (_req, res) => { res.end(WORDS) })
  const { run } = await stage(t, spec([url(`${srv.base}/w`)]), { clock, deadline: clock.now() })
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputTimeoutError')
  t.regex(err?.message ?? '', /no time left before the job's deadline/)
  t.is(srv.connections, 0)
  // and the job's deadline, when nearer than the provider's limit, is what cuts a fetch short
  const held: ServerResponse[] = []
  let arrived!: () => void
  const waiting = new Promise<void>(resolve => { arrived = resolve })
  const srv2 = await serve(t, (_req, res) => { res.writeHead(200); res.write('a'); held.push(res); arrived() })
  const second = await stage(t, spec([url(`${srv2.base}/w`)]), { clock, deadline: clock.now() + 5000 })
  await waiting
  await clock.advance(5000)
  const err2 = await t.throwsAsync(second.run)
  t.regex(err2?.message ?? '', /not fetched in time \(the job's deadline\)/)
})

test('a server that goes silent after its headers: idle timeout', async t => {
  const srv = await serve(t, (_req, res) => { res.writeHead(200); res.flushHeaders() })
  const { run } = await stage(t, spec([url(`${srv.base}/silent`)]), { policy: { ...LOCAL, idleTimeoutMs: 300 } })
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputTimeoutError')
  t.regex(err?.message ?? '', /sent nothing for 300 ms/)
})

test('HTTP errors are named: 404 is InputHttpError', async t => {
  const srv = await serve(t, (_req, res) => { res.writeHead(404).end('no') })
  const { run } = await stage(t, spec([url(`${srv.base}/missing`)]))
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputHttpError')
  t.is((err as unknown as { status: number }).status, 404)
})

test('the job\'s abort stops a fetch mid-transfer and removes what was staged', async t => {
  let first!: () => void
  const flowing = new Promise<void>(resolve => { first = resolve })
  const srv = await serve(t, (req, res) => {
    if (req.url === '/small') { res.end(WORDS); return }
    res.writeHead(200)
    const drip = setInterval(() => { if (!res.destroyed) { res.write('x'.repeat(1000)); first() } }, 10)
    res.on('close', () => { clearInterval(drip) })
  })
  const ac = new AbortController()
  const { dir, run } = await stage(t, spec([url(`${srv.base}/small`, '/inputs/a'), url(`${srv.base}/stream`, '/inputs/b')]), { signal: ac.signal })
  await flowing
  t.true(existsSync(dir), 'staging had begun')
  ac.abort(new Error('the deal failed'))
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputsAbortedError')
  t.false((err as unknown as { jobFault: boolean }).jobFault, 'an abort is not the job\'s fault')
  await Promise.all(srv.closed)
  t.false(existsSync(dir))
})

test('too many inputs: refused before anything is fetched', async t => {
  const srv = await serve(t, (_req, res) => { res.end(WORDS) })
  const many = Array.from({ length: 5 }, (_, i) => url(`${srv.base}/${i}`, `/inputs/${i}`))
  const { dir, run } = await stage(t, spec(many), { policy: { ...LOCAL, maxInputs: 4 } })
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'TooManyInputsError')
  t.regex(err?.message ?? '', /5 inputs, more than this provider's limit of 4/)
  t.is(srv.connections, 0)
  t.false(existsSync(dir))
})

test('path traversal and odd mount paths are refused before anything is fetched', async t => {
  const srv = await serve(t, (_req, res) => { res.end(WORDS) })
  const bad: Array<[string, RegExp]> = [
    ['/inputs/../../etc/passwd', /"\." or "\.\." segment/],
    ['/inputs/./a', /"\." or "\.\." segment/],
    ['inputs/a', /not absolute/],
    ['/', /root of the container/],
    ['/inputs//a', /empty path segment/],
    ['/inputs/a/', /empty path segment/],
    ['/inputs/a:rw', /character ":"/],
    ['/inputs/a,b', /character ","/],
    ['/inputs/a b', /character " "/],
    ['/proc/self', /inside \/proc/],
    ['/tmp', /inside \/tmp/],
    ['/outputs/in', /nested with output "outputs"/],
    ['/outputs', /the same path as output "outputs"/],
    [`/${'a'.repeat(300)}`, /longer than 255/]
  ]
  for (const [path, why] of bad) {
    const { run } = await stage(t, spec([url(`${srv.base}/w`, path)]))
    const err = await t.throwsAsync(run, undefined, path)
    t.is(err?.name, 'InputPathError', path)
    t.regex(err?.message ?? '', why, path)
  }
  const { run } = await stage(t, spec([url(`${srv.base}/w`, '/inputs'), url(`${srv.base}/w`, '/inputs/b')]))
  t.regex((await t.throwsAsync(run))?.message ?? '', /nested with input 0 at \/inputs/)
  t.is(srv.connections, 0)
})

test('unsupported sources and URLs are named before anything is fetched', async t => {
  const cases: Array<[InputSource, RegExp]> = [
    [{ source: 's3', path: '/inputs/a' }, /storage source "s3" is not fetched here/],
    [url('file:///etc/passwd'), /scheme file:/],
    [url('ftp://example.com/x'), /scheme ftp:/],
    [url('http://user:secret@example.com/x'), /carries credentials/],
    [{ source: 'ipfs', cid: 'not-a-cid', path: '/inputs/a' }, /not a CID/],
    [{ source: 'ipfs', cid: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', path: '/inputs/a' }, /codec 0x71 is not UnixFS/],
    [url('https://example.com/x', '/inputs/a', 'md5:abc'), /is not "sha256:<64 hex digits>"/]
  ]
  for (const [source, why] of cases) {
    const { run } = await stage(t, spec([source]))
    const err = await t.throwsAsync(run, undefined, why.source)
    t.is(err?.name, 'UnsupportedInputError', why.source)
    t.regex(err?.message ?? '', why)
  }
})

test('fetches at once are bounded across jobs by the provider\'s FetchSlots', async t => {
  const slots = new FetchSlots(2)
  const held: ServerResponse[] = []
  let active = 0
  let peak = 0
  const changed: Array<() => void> = []
  const srv = await serve(t, (_req, res) => {
    active++; peak = Math.max(peak, active)
    res.on('close', () => { active-- })
    held.push(res)
    for (const f of changed.splice(0)) f()
  })
  const until = async (cond: () => boolean): Promise<void> => { while (!cond()) await new Promise<void>(resolve => { changed.push(resolve) }) }
  const job = (n: number): Promise<unknown> => stage(t, spec([url(`${srv.base}/${n}a`, '/inputs/a'), url(`${srv.base}/${n}b`, '/inputs/b')]), { slots }).then(async s => await s.run)
  const jobs = Promise.all([job(1), job(2)])
  for (let released = 0; released < 4;) {
    await until(() => held.length >= Math.min(2, 4 - released))
    // every fetch not holding a slot is queued, so no further request can arrive until one is answered
    while (slots.running + slots.queued < 4 - released) await new Promise<void>(resolve => { setImmediate(resolve) })
    t.true(active <= 2, `${active} requests at once`)
    const res = held.shift()!
    res.end(WORDS)
    await once(res, 'close')
    released++
  }
  await jobs
  t.is(peak, 2, 'two at once, never more')
  t.is(slots.peak, 2)
  t.is(slots.running, 0)
})

test('staged files are plain files of the job\'s bytes, nothing else in the staging directory', async t => {
  const srv = await serve(t, (_req, res) => { res.end(WORDS) })
  const { dir, run } = await stage(t, spec([url(`${srv.base}/a/%2e%2e`, '/inputs/a'), url(`${srv.base}/`, '/inputs/b')]))
  const staged = await run
  t.deepEqual(staged.inputs.map(i => i.target), ['/inputs/a', '/inputs/b'])
  // a URL whose last segment is not a plain name gets the name "download"
  t.true((await stat(join(dir, '0', 'download'))).isFile())
  t.true((await stat(join(dir, '1', 'download'))).isFile())
})

// https against a real TLS server on 127.0.0.1, its certificate issued by a throwaway authority made with openssl
interface Tls { ca: string, key: string, cert: string, selfKey: string, selfCert: string }
async function makeTls (t: Ctx): Promise<Tls> {
  const dir = await tempDir(t)
  const ssl = async (...args: string[]): Promise<void> => { await promisify(execFile)('openssl', args, { cwd: dir }) }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n')
  await ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=lilypad test authority')
  await ssl('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=127.0.0.1')
  await ssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', 'san.ext')
  // a certificate for the right address that signs itself: what an attacker in the path could present
  await ssl('req', '-x509', ...ec, '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1')
  const r = async (f: string): Promise<string> => await readFile(join(dir, f), 'utf8')
  return { ca: await r('ca.pem'), key: await r('leaf.key'), cert: await r('leaf.pem'), selfKey: await r('self.key'), selfCert: await r('self.pem') }
}

async function serveTls (t: Ctx, key: string, cert: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ base: string, requests: string[] }> {
  const requests: string[] = []
  const server = https.createServer({ key, cert }, (req, res) => { requests.push(req.url ?? ''); handler(req, res) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => { server.closeAllConnections(); server.close(); await once(server, 'close') })
  return { base: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

test('https: fetched from a server whose certificate a trusted authority issued, checked against its checksum', async t => {
  const tls = await makeTls(t)
  const srv = await serveTls(t, tls.key, tls.cert, (_req, res) => { res.end(WORDS) })
  const { dir, run } = await stage(t, spec([url(`${srv.base}/words.txt`, '/inputs/data', `sha256:${sha(WORDS)}`)]), { policy: { ...LOCAL, trustedCa: [tls.ca] } })
  const staged = await run
  t.is(await readFile(join(dir, '0', 'words.txt'), 'utf8'), WORDS)
  await staged.release()
})

test('https: certificates are verified; an unknown authority or a self-signed certificate is refused before any request', async t => {
  const tls = await makeTls(t)
  const issued = await serveTls(t, tls.key, tls.cert, (_req, res) => { res.end(WORDS) })
  const self = await serveTls(t, tls.selfKey, tls.selfCert, (_req, res) => { res.end(WORDS) })
  const cases: Array<[typeof issued, Partial<InputPolicy>]> = [[issued, LOCAL], [self, { ...LOCAL, trustedCa: [tls.ca] }]]
  for (const [srv, policy] of cases) {
    const { dir, run } = await stage(t, spec([url(`${srv.base}/words.txt`)]), { policy })
    const err = await t.throwsAsync(run)
    t.is(err?.name, 'InputUnreachableError')
    t.regex(err?.message ?? '', /certificate was not accepted/)
    t.regex((err as unknown as { hint: string }).hint, /certificate/)
    t.false(existsSync(dir))
    t.deepEqual(srv.requests, [], 'no request was sent over the unverified connection')
  }
})

test('https: a redirect down to http is refused, the http target never requested', async t => {
  const tls = await makeTls(t)
  const plain = await serve(t, (_req, res) => { res.end(WORDS) })
  const srv = await serveTls(t, tls.key, tls.cert, (_req, res) => { res.writeHead(302, { location: `${plain.base}/words.txt` }).end() })
  const { run } = await stage(t, spec([url(`${srv.base}/words.txt`)]), { policy: { ...LOCAL, trustedCa: [tls.ca] } })
  const err = await t.throwsAsync(run)
  t.is(err?.name, 'InputRedirectError')
  t.regex(err?.message ?? '', /from https down to http/)
  t.deepEqual(plain.requests, [])
})

test('the input policy checks its trusted authorities', t => {
  t.throws(() => inputPolicy({ trustedCa: ['not a certificate'] }), { instanceOf: RangeError, message: /PEM/ })
})

test('a job without inputs, or with URL inputs only, never goes through the node\'s block reader (no dial of the job creator)', async t => {
  const srv = await serve(t, (_req, res) => { res.end(WORDS) })
  let reads = 0
  const reader: BlockReader = { readBlocks: async () => { reads++; throw new Error('no IPFS input here') } }
  const none = await stageJobInputs(spec([]), { deadline: Date.now() + 60_000, dir: join(await tempDir(t), 'none'), policy: LOCAL }, reader, 'a-peer')
  t.deepEqual(none.mounts, [])
  const dir = join(await tempDir(t), 'urls')
  const staged = await stageJobInputs(spec([url(`${srv.base}/w.txt`)]), { deadline: Date.now() + 60_000, dir, policy: LOCAL }, reader, 'a-peer')
  t.is(await readFile(join(dir, '0', 'w.txt'), 'utf8'), WORDS)
  await staged.release()
  t.is(reads, 0)
})
