// Staged inputs in a real container (the Docker engine, the built-in images): wordcount counts a URL input and
// an IPFS input held by another Helia node, both mounted read-only where the module's spec says; a job cannot
// write to its inputs; and a job whose inputs are at fault gets a result that says so, the same on every run.
import test from 'ava'
import { createHash, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { loadModule, type JobSpec } from '../modules/index.ts'
import { ensureBuiltinImages, pinSpecImage } from '../modules/images.ts'
import { Executor } from '../executor/index.ts'
import { readResultStatus } from '../executor/status.ts'
import { ResultStore } from '../result-store/index.ts'
import { INPUT_ERROR_EXIT_CODE, isJobInputFault, stageInputs, writeInputErrorResult } from './index.ts'

const docker = new Docker()

test.before(async () => {
  await ensureBuiltinImages(docker, { only: ['stress:v0.1.0', 'wordcount:v0.1.0'] })
})

interface Ctx { teardown: (fn: () => Promise<void> | void) => void }

async function tempDir (t: Ctx): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-inputs-run-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

async function store (t: Ctx): Promise<ResultStore> {
  const s = await ResultStore.create({ dataDir: join(await tempDir(t), 'data') })
  t.teardown(async () => { await s.stop() })
  return s
}

async function serve (t: Ctx, body: string): Promise<string> {
  const server = http.createServer((_req, res) => { res.end(body) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => { server.closeAllConnections(); server.close(); await once(server, 'close') })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const LOCAL = { allowAddresses: ['127.0.0.1/32'] }
const POEM = 'so much depends\nupon\na red wheel\nbarrow\n'
const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

test('wordcount counts a URL input and an IPFS input, each mounted read-only at its path', async t => {
  const [jc, rp] = await Promise.all([store(t), store(t)])
  const base = await tempDir(t)
  await writeFile(join(base, 'words.txt'), 'one two three\nfour five\n')
  const held = await jc.holdInput(join(base, 'words.txt'))
  t.teardown(held.release)
  const url = `${await serve(t, POEM)}/texts/poem.txt`
  const spec = await pinSpecImage(docker, (await loadModule('wordcount:v0.1.0', { Data: held.cid.toString(), URL: url, Checksum: `sha256:${sha(POEM)}` })).spec)
  t.deepEqual(spec.inputSources.map(s => s.path), ['/inputs/data', '/inputs/url'])

  const staged = await rp.readBlocks(async blocks => await stageInputs(spec, { deadline: Date.now() + 60_000, dir: join(base, 'staged'), blocks, policy: LOCAL }), { from: jc.multiaddrs()[0] })
  const resultDir = join(base, 'result')
  const r = await new Executor({ docker }).run(spec, { resultDir, jobId: randomUUID(), inputMounts: staged.mounts })
  await staged.release()
  t.is(r.exitCode, 0)
  t.is(await readFile(join(resultDir, 'outputs', 'counts.txt'), 'utf8'), [
    'text lines=0 words=0 bytes=0',
    'data lines=2 words=5 bytes=24',
    'url/poem.txt lines=4 words=8 bytes=40',
    ''
  ].join('\n'))
})

test('a job cannot write to its inputs', async t => {
  const base = await tempDir(t)
  const url = `${await serve(t, POEM)}/poem.txt`
  const stress = (await loadModule('stress:v0.1.0', { Mode: 'touch', Arg: '/inputs/data/poem.txt' })).spec
  const spec: JobSpec = { ...await pinSpecImage(docker, stress), inputSources: [{ source: 'urldownload', url, path: '/inputs/data' }] }
  const staged = await stageInputs(spec, { deadline: Date.now() + 60_000, dir: join(base, 'staged'), policy: LOCAL })
  const resultDir = join(base, 'result')
  const r = await new Executor({ docker }).run(spec, { resultDir, jobId: randomUUID(), inputMounts: staged.mounts })
  t.is(r.exitCode, 5, 'touch failed')
  t.regex(await readFile(join(resultDir, 'stderr'), 'utf8'), /cannot create \/inputs\/data\/poem.txt/)
  t.is(await readFile(join(base, 'staged', '0', 'poem.txt'), 'utf8'), POEM, 'the staged file is unchanged')
  await staged.release()
})

test('a job whose inputs are at fault gets a result that says so, the same CID on every run', async t => {
  const s = await store(t)
  const base = await tempDir(t)
  const url = `${await serve(t, 'not the poem\n')}/poem.txt`
  const spec = (await loadModule('wordcount:v0.1.0', { URL: url, Checksum: `sha256:${sha(POEM)}` })).spec
  const cids: string[] = []
  for (const run of ['provider', 'mediator']) {
    const err = await t.throwsAsync(stageInputs(spec, { deadline: Date.now() + 60_000, dir: join(base, run, 'staged'), policy: LOCAL }))
    t.true(isJobInputFault(err))
    if (!isJobInputFault(err)) return
    const resultDir = join(base, run, 'result')
    await writeInputErrorResult(resultDir, err, spec.outputs)
    t.is(await readFile(join(resultDir, 'exitCode'), 'utf8'), String(INPUT_ERROR_EXIT_CODE))
    t.is(await readFile(join(resultDir, 'stderr'), 'utf8'),
      `lilypad: the job's inputs were not staged: InputChecksumError: input 0 (url ${url} at /inputs/url): content does not match its checksum sha256:${sha(POEM)}\n` +
      'hint: the server sent something else than the checksum names: fix the URL or the checksum\n')
    cids.push((await s.addDirectory(resultDir)).toString())
  }
  t.is(cids[0], cids[1])
})

test('the time its inputs took comes out of the container\'s time; the status names the job\'s limit, the same whatever the fetch took', async t => {
  const s = await store(t)
  const base = await tempDir(t)
  // a job that would sleep for its whole 600 s limit: only the fetch's share of that time (usedMs) stops it
  const spec = await pinSpecImage(docker, (await loadModule('stress:v0.1.0', { Mode: 'sleep', Arg: '600' })).spec)
  const cids: string[] = []
  for (const [run, usedMs] of [['provider', 598_500], ['mediator', 599_000]] as const) {
    const resultDir = join(base, run)
    const r = await new Executor({ docker }).run(spec, { resultDir, jobId: randomUUID(), timeoutSec: 600, usedMs })
    t.is(r.exitCode, 137)
    const status = await readResultStatus(resultDir)
    t.is(status?.status, 'timeout')
    t.is(status?.limits?.timeoutSec, 600)
    cids.push((await s.addDirectory(resultDir)).toString())
  }
  t.is(cids[0], cids[1])
})
