// The pieces of the local API that need no chain: locks (one node per key and data dir, stale locks taken over),
// the token file's mode, api.json ignored once its process is gone, result paths that cannot leave the result,
// and the OpenAPI document built from the same route table the server registers.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { acquireLock, loadOrCreateToken, readApiFile, writeApiFile, removeApiFile, NodeAlreadyRunningError } from './discovery.ts'
import { resultFile } from './server.ts'
import { ROUTES, openApiDocument } from './routes.ts'

let dir: string
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'lilypad-api-unit-')) })
test.after.always(async () => { await rm(dir, { recursive: true, force: true }) })

/** a pid that certainly belonged to a process that has exited */
function deadPid (): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  return Number(r.stdout.toString())
}

test('a lock held by a live process refuses a second holder with NodeAlreadyRunningError; released, it can be taken again', async t => {
  const path = join(dir, 'a', 'node.lock')
  // the live holder: this test's parent process (alive for the test's duration, not us)
  await mkdir(join(dir, 'a'), { recursive: true })
  await writeFile(path, JSON.stringify({ pid: process.ppid, dataDir: '/x' }))
  const err = await t.throwsAsync(acquireLock(path, 'data dir', join(dir, 'a')))
  t.is(err?.name, NodeAlreadyRunningError.name)
  t.regex(err?.message ?? '', new RegExp(`pid ${process.ppid}`))
  t.truthy((err as NodeAlreadyRunningError).hint)
  await rm(path)
  const release = await acquireLock(path, 'data dir', join(dir, 'a'))
  t.is(JSON.parse(await readFile(path, 'utf8')).pid, process.pid)
  await release()
  await t.throwsAsync(stat(path))
})

test('a second node in the same process is refused while the first holds the lock; after release it may start', async t => {
  const path = join(dir, 'same', 'node.lock')
  const release = await acquireLock(path, 'key', '/data')
  const err = await t.throwsAsync(acquireLock(path, 'key', '/data'))
  t.is(err?.name, NodeAlreadyRunningError.name)
  t.is(JSON.parse(await readFile(path, 'utf8')).pid, process.pid, 'the first holder keeps it')
  await release()
  await release() // twice is harmless
  const again = await acquireLock(path, 'key', '/data')
  await again()
})

test('a stale lock (its process gone) is taken over', async t => {
  const path = join(dir, 'b', 'node.lock')
  await mkdir(join(dir, 'b'), { recursive: true })
  await writeFile(path, JSON.stringify({ pid: deadPid(), dataDir: '/x' }))
  const release = await acquireLock(path, 'key', '/data')
  t.deepEqual(JSON.parse(await readFile(path, 'utf8')), { pid: process.pid, dataDir: '/data' })
  await release()
})

test('the token file is 64 hex digits, mode 0600, and kept across starts', async t => {
  const d = join(dir, 'c')
  const a = await loadOrCreateToken(d)
  t.regex(a, /^[0-9a-f]{64}$/)
  t.is((await stat(join(d, 'api-token'))).mode & 0o777, 0o600)
  t.is(await loadOrCreateToken(d), a)
})

test('api.json is read while its process lives and ignored once it is gone', async t => {
  const d = join(dir, 'e')
  await mkdir(d, { recursive: true })
  await writeApiFile(d, { url: 'http://127.0.0.1:1', pid: process.pid, network: 'n', address: '0x1' })
  t.deepEqual(await readApiFile(d), { url: 'http://127.0.0.1:1', pid: process.pid, network: 'n', address: '0x1' })
  await writeFile(join(d, 'api.json'), JSON.stringify({ url: 'http://127.0.0.1:1', pid: deadPid(), network: 'n', address: '0x1' }))
  t.is(await readApiFile(d), undefined)
  await writeFile(join(d, 'api.json'), '{not json')
  t.is(await readApiFile(d), undefined)
  await removeApiFile(d)
  await t.throwsAsync(stat(join(d, 'api.json')))
})

test('result paths: plain files inside the result only (no .., no absolute, no links out, no directories)', async t => {
  const root = join(dir, 'result')
  await mkdir(join(root, 'outputs'), { recursive: true })
  await writeFile(join(root, 'stdout'), 'moo\n')
  await writeFile(join(root, 'outputs', 'a.txt'), 'a')
  await writeFile(join(dir, 'secret'), 'secret')
  await symlink(join(dir, 'secret'), join(root, 'outputs', 'link'))
  await symlink(dir, join(root, 'up'))
  t.deepEqual(await resultFile(root, 'stdout'), { path: join(root, 'stdout'), bytes: 4 })
  t.is((await resultFile(root, 'outputs/a.txt')).bytes, 1)
  for (const bad of ['../secret', 'outputs/../../secret', '/etc/passwd', 'outputs//a.txt', './stdout', 'a\\..\\b', 'x\0y', '']) {
    const err = await t.throwsAsync(resultFile(root, bad), undefined, bad)
    t.is(err?.name, 'BadResultPathError', bad)
  }
  for (const missing of ['outputs/link', 'outputs', 'nope', 'up/secret']) {
    const err = await t.throwsAsync(resultFile(root, missing), undefined, missing)
    t.true(err?.name === 'ResultFileNotFoundError' || err?.name === 'BadResultPathError', missing)
  }
})

test('the OpenAPI document has every route of the table, with its schemas, and bearer security on all but itself', t => {
  const doc = openApiDocument('1.2.3') as { openapi: string, paths: Record<string, Record<string, { operationId: string, security: unknown[], requestBody?: unknown, parameters?: unknown[] }>> }
  t.is(doc.openapi, '3.0.3')
  const ops = Object.values(doc.paths).flatMap(p => Object.values(p))
  t.deepEqual(ops.map(o => o.operationId).sort(), ROUTES.map(r => r.operationId).sort())
  for (const r of ROUTES) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\*$/, '{path}')
    const op = doc.paths[path][r.method.toLowerCase()]
    t.is(op.security.length, r.public === true ? 0 : 1, r.operationId)
    t.is(op.requestBody !== undefined, r.body !== undefined, r.operationId)
  }
})
