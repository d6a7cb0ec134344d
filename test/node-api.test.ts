// The user's node against one in-process devnet (real anvil, libp2p, Docker, Helia): a job-creation-only node
// with its local API; every route refuses bad input with a 4xx and a named error; a job through the API
// completes and its files are fetched; ten jobs at once with one key complete with no nonce error; cancel before
// agreement costs nothing, after agreement the deal runs to its end; the SDK example runs; `lilypad run` goes
// through the node; the CLI's job and money commands; a second node for the key is refused; jobs survive a restart.
// Serial: the tests share the user's key and check exact balances.
import test from 'ava'
import { execFile, spawn } from 'node:child_process'
import { request } from 'node:http'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Wallet } from 'ethers'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, type Devnet } from '../node/devnet.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import { startUserNode, type UserNode } from '../node/api/user-node.ts'
import { Lilypad, LilypadError, type Job } from '../sdk/index.ts'
import type { JobRecord } from '../node/jobs/index.ts'

const execFileP = promisify(execFile)
/** what a nonce collision looks like from ethers, the node or the contract (not the job offer's own nonce) */
const NONCE_ERROR = /nonce too low|nonce has already been used|replacement (fee|transaction) too low|NonceUsed|NONCE_EXPIRED/i
let home: string
let devnet: Devnet
let user: UserNode
let lp: Lilypad
const userKey = devKey(DEVNET_KEYS.user)
const userAddress = new Wallet(userKey).address
let dataDir: string

async function startUser (): Promise<UserNode> {
  return await startUserNode({
    home, network: devnet.network, networkPath: devnet.networkPath, privateKey: userKey, dataDir, roles: [], local: true,
    components: { logger: { level: 'warn' } },
    // a job that matches nothing waits (so a cancel finds it looking for a provider)
    jobCreator: { matchTimeoutMs: 60_000 },
    api: { port: 0, maxStreams: 16, heartbeatMs: 1000 }
  })
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-node-api-'))
  devnet = await startDevnet({ home, port: 0, slots: 4 })
  dataDir = join(home, 'nodes', 'devnet', userAddress.toLowerCase())
  user = await startUser()
  lp = await Lilypad.connect({ dataDir })
})

test.after.always(async () => {
  await user?.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

const cliEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data'), WEB3_PRIVATE_KEY: '' })

async function cli (...args: string[]): Promise<{ stdout: string, stderr: string, code: number }> {
  return await cliWith({}, ...args)
}

async function cliWith (env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ stdout: string, stderr: string, code: number }> {
  try {
    const r = await execFileP(process.execPath, ['cli/bin.ts', ...args], { env: { ...cliEnv(), ...env }, timeout: 120_000 })
    return { ...r, code: 0 }
  } catch (err) {
    const e = err as { stdout: string, stderr: string, code: number }
    return { stdout: e.stdout, stderr: e.stderr, code: e.code }
  }
}

/** A raw request, so the Host and Origin headers are what the test says (fetch sets Host itself). */
async function raw (method: string, path: string, opts: { headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, headers: Record<string, unknown>, body: string }> {
  const url = new URL(user.api?.url as string)
  return await new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: opts.headers ?? {} }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

const auth = (): Record<string, string> => ({ authorization: `Bearer ${user.token as string}` })
const json = (): Record<string, string> => ({ ...auth(), 'content-type': 'application/json' })

/** Resolves with the job once `cond` holds, checked on every change the node's job service reports. */
async function jobWhen (id: string, cond: (j: JobRecord) => boolean): Promise<JobRecord> {
  const jobs = user.node.jobs!
  const now = jobs.get(id)
  if (cond(now)) return now
  return await new Promise(resolve => {
    const check = (): void => { const j = jobs.get(id); if (cond(j)) { jobs.off('event', onEvent); resolve(j) } }
    const onEvent = (jobId: string): void => { if (jobId === id) check() }
    jobs.on('event', onEvent)
  })
}

test.serial('every route refuses bad input with a 4xx and a named error; no token 401; foreign Host or an Origin 403; no CORS headers', async t => {
  const id = 'job-0123456789abcdef'
  const cases: Array<[string, string, { headers?: Record<string, string>, body?: string }, number, string]> = [
    ['GET', '/v1/jobs', {}, 401, 'UnauthorizedError'],
    ['GET', '/v1/jobs', { headers: { authorization: 'Bearer ' + '0'.repeat(64) } }, 401, 'UnauthorizedError'],
    ['GET', '/v1/jobs', { headers: { authorization: 'Basic abc' } }, 401, 'UnauthorizedError'],
    ['GET', '/v1/jobs', { headers: { ...auth(), host: 'evil.example:80' } }, 403, 'ForeignHostError'],
    ['GET', '/v1/jobs', { headers: { ...auth(), host: '127.0.0.1:1' } }, 403, 'ForeignHostError'],
    ['GET', '/v1/openapi.json', { headers: { host: 'rebind.example' } }, 403, 'ForeignHostError'],
    ['GET', '/v1/balance', { headers: { ...auth(), origin: 'https://evil.example' } }, 403, 'BrowserOriginError'],
    ['GET', '/v1/nothing', { headers: auth() }, 404, 'RouteNotFoundError'],
    ['GET', '/v1/node', {}, 401, 'UnauthorizedError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module": 1}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","extra":1}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","inputs":{"1bad":"x"}}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","maxPrice":"-1"}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","maxPrice":"1.0000000000000000001"}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","target":"0x12"}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","audit":2}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","gpu":{"gpus":-1}}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","inputFiles":{"F":"relative/path"}}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","inputFiles":{"F":"/no/such/file"}}' }, 400, 'InputFileError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","inputs":{"F":"x"},"inputFiles":{"F":"/etc/passwd"}}' }, 400, 'InputNameConflictError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{not json' }, 400, 'BadRequestError'],
    ['POST', '/v1/jobs', { headers: { ...auth(), 'content-type': 'text/plain' }, body: 'cowsay' }, 415, 'UnsupportedMediaTypeError'],
    ['POST', '/v1/jobs', { headers: json(), body: JSON.stringify({ module: 'cowsay:v0.0.1', inputs: { Message: 'x'.repeat(70_000) } }) }, 413, 'BodyTooLargeError'],
    ['GET', '/v1/jobs?state=odd', { headers: auth() }, 400, 'ValidationError'],
    ['GET', '/v1/jobs?limit=0', { headers: auth() }, 400, 'ValidationError'],
    ['GET', '/v1/jobs/nope', { headers: auth() }, 400, 'ValidationError'],
    ['GET', `/v1/jobs/${id}`, { headers: auth() }, 404, 'JobNotFoundError'],
    ['POST', `/v1/jobs/${id}/cancel`, { headers: auth() }, 404, 'JobNotFoundError'],
    ['GET', `/v1/jobs/${id}/events`, { headers: auth() }, 404, 'JobNotFoundError'],
    ['GET', `/v1/jobs/${id}/events?after=x`, { headers: auth() }, 400, 'ValidationError'],
    ['GET', `/v1/jobs/${id}/files`, { headers: auth() }, 404, 'JobNotFoundError'],
    ['GET', `/v1/jobs/${id}/files/stdout`, { headers: auth() }, 404, 'JobNotFoundError'],
    ['POST', '/v1/deposit', { headers: json(), body: '{"amount":"0"}' }, 400, 'BadAmountError'],
    ['POST', '/v1/deposit', { headers: json(), body: '{"amount":"1e18"}' }, 400, 'ValidationError'],
    ['POST', '/v1/deposit', { headers: json(), body: '{"amount":1}' }, 400, 'ValidationError'],
    ['POST', '/v1/deposit', { headers: json(), body: '{"amount":"99999999"}' }, 409, 'InsufficientBalanceError'],
    ['POST', '/v1/withdraw', { headers: json(), body: '{"amount":"99999999"}' }, 409, 'InsufficientDepositError'],
    ['POST', '/v1/withdraw', { headers: json(), body: '{}' }, 400, 'ValidationError'],
    // a chain the network does not have (by name or id) is named; a malformed one is refused by the schema
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","chain":"nope"}' }, 400, 'UnknownChainError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","chain":4242}' }, 400, 'UnknownChainError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","chain":-1}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs', { headers: json(), body: '{"module":"cowsay:v0.0.1","chain":"Bad Name"}' }, 400, 'ValidationError'],
    ['GET', '/v1/balance?chain=nope', { headers: auth() }, 400, 'UnknownChainError'],
    ['GET', '/v1/jobs?chain=%00', { headers: auth() }, 400, 'ValidationError'],
    ['POST', '/v1/deposit', { headers: json(), body: '{"amount":"1","chain":"nope"}' }, 400, 'UnknownChainError']
  ]
  for (const [method, path, opts, status, name] of cases) {
    const r = await raw(method, path, opts)
    const what = `${method} ${path} ${JSON.stringify(opts.headers ?? {}).slice(0, 80)}`
    t.is(r.status, status, what)
    const body = JSON.parse(r.body) as { error: { name: string, message: string } }
    t.is(body.error.name, name, what)
    t.true(body.error.message.length > 0, what)
    t.notRegex(r.body, /at .*\.ts:\d+/, what)
    t.false(Object.keys(r.headers).some(h => h.startsWith('access-control-')), what)
  }
  // the OpenAPI document needs no token and describes the routes
  const doc = await raw('GET', '/v1/openapi.json')
  t.is(doc.status, 200)
  t.truthy((JSON.parse(doc.body) as { paths: Record<string, unknown> }).paths['/v1/jobs/{id}/cancel'])
  // the SDK re-creates the named errors
  const err = await t.throwsAsync(lp.job('job-0123456789abcdef'))
  t.true(err instanceof LilypadError)
  t.is(err?.name, 'JobNotFoundError')
  t.is((err as LilypadError).status, 404)
})

test.serial('a job through the API completes; its events stream to the end; its result files are fetched, nothing outside them', async t => {
  const seen: string[] = []
  const out = await lp.run('cowsay:v0.0.1', { Message: 'moo' }, { onProgress: e => { seen.push(e.type === 'phase' ? `phase:${e.data.phase}` : e.type === 'state' ? `state:${e.data.state}` : e.type) } })
  t.is(out.exitCode, 0)
  t.deepEqual(out.status, { status: 'ok' })
  t.true(seen.includes('state:queued') && seen.includes('phase:matched') && seen.includes('phase:downloaded') && seen.at(-1) === 'state:done', seen.join(' '))
  const stdout = new TextDecoder().decode(await lp.get(out.jobId, 'stdout'))
  t.regex(stdout, /< moo >/)
  const files = await lp.files(out.jobId)
  t.is(files.cid, out.resultCid)
  t.true(files.files.some(f => f.name === 'stdout' && f.bytes === Buffer.byteLength(stdout)))
  for (const bad of ['..%2F..%2Fapi-token', '%2e%2e/x', 'outputs/..%2F..%2Fstdout']) {
    const r = await raw('GET', `/v1/jobs/${out.jobId}/files/${bad}`, { headers: auth() })
    t.is(r.status, 400, bad)
    t.is((JSON.parse(r.body) as { error: { name: string } }).error.name, 'BadResultPathError', bad)
  }
  const r = await raw('GET', `/v1/jobs/${out.jobId}/files/no-such-file`, { headers: auth() })
  t.is(r.status, 404)
  // the job's record: done, its deal, its history
  const job = await lp.job(out.jobId)
  t.is(job.state, 'done')
  t.deepEqual(job.dealIds, [out.dealId])
  t.true((job.events ?? []).length > 5)
  // a cancel after the end is refused by name
  const e = await t.throwsAsync(lp.cancel(out.jobId))
  t.is(e?.name, 'JobEndedError')
  t.is((e as LilypadError).status, 409)
})

test.serial('ten jobs at once with one key through one node all complete: no nonce error, none failed', async t => {
  const submitted = await Promise.all(Array.from({ length: 10 }, async (_, i) => await lp.submit('cowsay:v0.0.1', { Message: `job ${i}` })))
  t.is(new Set(submitted.map(j => j.id)).size, 10)
  const ended = await Promise.all(submitted.map(async j => await jobWhen(j.id, r => r.terminal)))
  for (const j of ended) {
    t.is(j.state, 'done', `${j.id}: ${j.error?.name ?? ''} ${j.error?.message ?? ''}`)
    t.is(j.outcome?.exitCode, 0)
    t.false(j.events.some(e => NONCE_ERROR.test(JSON.stringify(e.data))), j.id)
  }
  t.is(new Set(ended.map(j => j.outcome?.dealId)).size, 10)
  for (const [i, j] of ended.entries()) t.regex(new TextDecoder().decode(await lp.get(j.id, 'stdout')), new RegExp(`< job ${i} >`))
})

test.serial('cancel before a deal is agreed costs nothing; after, the deal runs to its end and cancel says how the money goes', async t => {
  t.timeout(240_000)
  const before = await lp.balance()
  t.log('balance read')
  // no offer is this cheap: the job waits for one (matchTimeoutMs 60 s) — and is cancelled meanwhile
  const job = await lp.submit('cowsay:v0.0.1', { Message: 'never' }, { maxPrice: '0.000000000000000001' })
  await jobWhen(job.id, j => j.state === 'matching')
  t.log('matching')
  const a = await lp.cancel(job.id)
  t.log('cancelled')
  t.true(a.cancelled)
  t.is(a.state, 'cancelled')
  t.regex(a.money, /nothing was spent/)
  t.is((await lp.job(job.id)).error?.name, 'JobCancelledError')
  const after = await lp.balance()
  t.deepEqual({ wallet: after.wallet, deposit: after.deposit }, { wallet: before.wallet, deposit: before.deposit })
  // earlier jobs' deals may close meanwhile (less locked), never more
  t.true(BigInt(after.locked.wei) <= BigInt(before.locked.wei))
  // cancelling twice answers the same
  t.true((await lp.cancel(job.id)).cancelled)

  // after a provider countersigned: not stopped; the job completes and is paid as priced, to the wei. So that no
  // other deal moves the two deposits meanwhile, every earlier deal of this key is waited for until it is closed.
  const reader = await ChainClient.create({ network: devnet.network, privateKey: devKey(DEVNET_KEYS.admin) })
  t.teardown(async () => { await reader.stop() })
  const closed = ['Settled', 'MediatedCorrect', 'MediatedWrong', 'TimedOutResult', 'TimedOutMediation'] as const
  for (const j of await lp.jobs()) {
    for (const id of j.dealIds) {
      const w = await reader.watchDeal(id)
      try { await w.waitFor([...closed], 120_000) } finally { await w.stop() }
    }
  }
  const rpAddress = devnet.provider.chain.address
  const [jc0, rp0] = await Promise.all([reader.depositOf(userAddress), reader.depositOf(rpAddress)])
  const late = await lp.submit('cowsay:v0.0.1', { Message: 'late' })
  await jobWhen(late.id, j => j.dealIds.length > 0)
  t.log('late matched')
  const b = await lp.cancel(late.id)
  t.log('late cancel answered')
  t.false(b.cancelled)
  t.is(b.dealId, (await lp.job(late.id)).dealIds[0])
  t.regex(b.money, /runs to its end/)
  t.regex(b.money, /1 LP/)
  const end = await jobWhen(late.id, j => j.terminal)
  t.is(end.state, 'done')
  t.true(end.events.some(e => e.type === 'note' && String(e.data.message).startsWith('cancel asked too late')))
  const w = await reader.watchDeal(b.dealId as string)
  try { t.is((await w.waitFor([...closed], 120_000)).state, 'Settled') } finally { await w.stop() }
  const [jc1, rp1] = await Promise.all([reader.depositOf(userAddress), reader.depositOf(rpAddress)])
  t.is(jc0 - jc1, DEVNET_PRICE, 'the job creator paid the price, no more')
  t.is(rp1 - rp0, DEVNET_PRICE, 'the provider was paid the price, its collateral back')
})

test.serial('the SDK example runs against the node (docs/sdk.md)', async t => {
  const r = await execFileP(process.execPath, ['examples/sdk-run.ts'], { env: { ...process.env, LILYPAD_HOME: home, LILYPAD_NODE_DIR: dataDir, MESSAGE: 'from the example' }, timeout: 120_000 })
  t.regex(r.stdout, /< from the example >/)
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { jobId: string, exitCode: number }
  t.is(last.exitCode, 0)
  t.is((await lp.job(last.jobId)).state, 'done')
})

test.serial('an embedded node (Lilypad.embedded) runs a job with another key', async t => {
  const other = await Lilypad.embedded({ network: devnet.networkPath, home, privateKey: devKey(DEVNET_KEYS.user2), dataDir: join(home, 'embedded') })
  t.teardown(async () => { await other.close() })
  const out = await other.run('cowsay:v0.0.1', { Message: 'embedded' })
  t.regex(new TextDecoder().decode(await other.get(out.jobId, 'stdout')), /< embedded >/)
  t.is((await other.node()).address, new Wallet(devKey(DEVNET_KEYS.user2)).address)
})

test.serial('lilypad run goes through the running node; jobs, job, logs, balance and deposit are its clients', async t => {
  const r = await cli('run', 'cowsay:v0.0.1', '-i', 'Message=via node', '--json')
  t.is(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout) as { dealId: string, exitCode: number, path: string }
  t.is(doc.exitCode, 0)
  const listed = JSON.parse((await cli('jobs', '--json')).stdout) as { jobs: Job[] }
  const mine = listed.jobs.find(j => j.dealIds.includes(doc.dealId))
  t.truthy(mine, 'the run is one of the node\'s jobs')
  const human = await cli('run', 'cowsay:v0.0.1', '-i', 'Message=moo')
  t.is(human.code, 0, human.stderr)
  t.regex(human.stdout, /< moo >/)
  t.regex(human.stderr, /submitted to the running node/)
  const one = JSON.parse((await cli('job', mine!.id, '--json')).stdout) as Job
  t.is(one.state, 'done')
  const logs = await cli('logs', mine!.id)
  t.regex(logs.stdout, /phase +downloaded/)
  const followed = await cli('logs', mine!.id, '-f', '--json')
  t.is((JSON.parse(followed.stdout) as { events: unknown[] }).events.length, one.events?.length ?? -1)
  const before = JSON.parse((await cli('balance', '--json')).stdout) as { deposit: { wei: string }, via: string }
  t.is(before.via, 'node')
  const dep = await cli('deposit', '1.5', '--json')
  t.is(dep.code, 0, dep.stderr)
  const after = JSON.parse(dep.stdout) as { deposit: { wei: string, lp: string }, via: string }
  t.is(BigInt(after.deposit.wei) - BigInt(before.deposit.wei), 1_500_000_000_000_000_000n)
  const wd = await cli('withdraw', '1.5')
  t.is(wd.code, 0, wd.stderr)
  t.regex(wd.stdout, /deposit +\d+(\.\d+)? LP/)
  const bad = await cli('cancel', 'job-0123456789abcdef')
  t.is(bad.code, 1)
  t.regex(bad.stderr, /no job job-0123456789abcdef/)
  t.regex(bad.stderr, /hint: /)
  t.notRegex(bad.stderr, /at .*\.ts:\d+/)
})

test.serial('a CLI killed mid-job: the node finishes the job; lilypad get <dealId> fetches its result, through the node and from the network', async t => {
  const child = spawn(process.execPath, ['cli/bin.ts', 'run', 'cowsay:v0.0.1', '-i', 'Message=killed cli'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  // killed as soon as the node has the job: before any deal, the job creator's side of it all runs in the node
  const id = await new Promise<string>((resolve, reject) => {
    let err = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (c: string) => { err += c; const m = /job (job-[0-9a-f]{16}) submitted to the running node/.exec(err); if (m !== null) resolve(m[1]) })
    child.on('exit', code => { reject(new Error(`lilypad run exited (${code}) before submitting: ${err}`)) })
  })
  child.kill('SIGKILL')
  const done = await jobWhen(id, j => j.state === 'done' || j.state === 'failed' || j.state === 'cancelled')
  t.is(done.state, 'done', JSON.stringify(done.error))
  const dealId = done.dealIds.at(-1) as string
  t.regex(dealId, /^0x[0-9a-f]{64}$/)

  // through the node that owns the key: its verified copy
  const out1 = join(home, 'got-via-node')
  const r1 = await cli('get', dealId, '-o', out1, '--json')
  t.is(r1.code, 0, r1.stderr)
  const d1 = JSON.parse(r1.stdout) as { via: string, cid: string, job: string, files: Array<{ name: string }> }
  t.is(d1.via, 'node')
  t.is(d1.job, id)
  t.is(d1.cid, done.outcome?.resultCid ?? '')
  t.regex(await readFile(join(out1, 'stdout'), 'utf8'), /< killed cli >/)

  // anyone else (another key, no node of theirs): the CID on chain, the provider found in the directory, bitswap
  const out2 = join(home, 'got-via-network')
  const r2 = await cliWith({ WEB3_PRIVATE_KEY: devKey(DEVNET_KEYS.user2) }, 'get', dealId, '-o', out2, '--json', '--timeout', '60')
  t.is(r2.code, 0, r2.stderr)
  const d2 = JSON.parse(r2.stdout) as { via: string, cid: string, provider: string, from: string }
  t.is(d2.via, 'network')
  t.regex(d2.from, /\/p2p\/12D3Koo/, 'the provider\'s addresses came from its directory record')
  t.is(d2.cid, d1.cid)
  t.is(await readFile(join(out2, 'stdout'), 'utf8'), await readFile(join(out1, 'stdout'), 'utf8'))

  // a deal with no result on chain: a named error with a hint, no stack
  const none = await cli('get', `0x${'ab'.repeat(32)}`)
  t.is(none.code, 1)
  t.regex(none.stderr, /no result was submitted on chain for deal 0x(ab){32}/)
  t.regex(none.stderr, /hint: /)
  t.notRegex(none.stderr, /at .*\.ts:\d+/)
})

test.serial('a second node for the same key or data dir is refused with a named error; jobs survive a restart', async t => {
  const err = await t.throwsAsync(startUser())
  t.is(err?.name, 'NodeAlreadyRunningError')
  const r = await cli('node', '--roles', 'none', '--api', '0')
  t.is(r.code, 1)
  t.regex(r.stderr, /a node for this key already runs/)
  t.regex(r.stderr, /hint: /)
  const before = (await lp.jobs()).map(j => `${j.id} ${j.state}`)
  await user.stop()
  // without a node the CLI's job commands say how to start one; balance reads the chain
  const none = await cli('jobs')
  t.is(none.code, 1)
  t.regex(none.stderr, /no node runs/)
  t.is((JSON.parse((await cli('balance', '--json')).stdout) as { via: string }).via, 'chain')
  user = await startUser()
  lp = await Lilypad.connect({ dataDir })
  t.deepEqual((await lp.jobs()).map(j => `${j.id} ${j.state}`), before)
})
