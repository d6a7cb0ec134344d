// The job service's own rules, over a stand-in job creator whose runs the test ends by hand (the real one runs in
// test/node-api.test.ts against a devnet): states from progress events, bounds on jobs and history, queueing past
// maxRunning, cancel before a deal (nothing spent) and after one (runs to its end), a new kind of progress event
// kept without a new shape, records that survive a restart, and old jobs pruned.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CustomProgressEvent } from 'progress-events'
import { quietComponents } from '../components.ts'
import type { JobCreator, JobRequest, JobOutcome } from '../roles/job-creator.ts'
import { JobService, type JobRecord } from './index.ts'

interface Pending { req: JobRequest, resolve: (o: JobOutcome) => void, reject: (e: unknown) => void }

/** Runs that end when the test says so; aborted runs reject with the signal's reason, as the real one does. */
class StandIn {
  readonly pending: Pending[] = []
  readonly waiters: Array<() => void> = []
  readonly deals = { get: async (id: string) => id === '0xdeal' ? { deal: { price: 10n ** 18n, mediationFee: 10n ** 18n, resultTimeout: 60n, resourceProvider: '0xprovider' } } : undefined, open: async () => [] }
  readonly driver = { until: async (_id: string, _done: unknown, signal: AbortSignal) => await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) }) }
  async run (req: JobRequest): Promise<JobOutcome> {
    return await new Promise<JobOutcome>((resolve, reject) => {
      req.signal?.addEventListener('abort', () => { reject(req.signal?.reason) }, { once: true })
      this.pending.push({ req, resolve, reject })
      for (const w of this.waiters.splice(0)) w()
    })
  }

  async started (n: number): Promise<void> {
    while (this.pending.length < n) await new Promise<void>(resolve => { this.waiters.push(resolve) })
  }
}

const outcome = (dealId: string): JobOutcome => ({ dealId, resultCid: 'bafy', path: '/nonexistent/result', exitCode: 0, providerPeer: 'p', challenged: false, phasesMs: {}, retries: [] } as unknown as JobOutcome)

async function tempDir (t: { teardown: (f: () => Promise<void>) => void }): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lilypad-jobs-'))
  t.teardown(async () => { await rm(d, { recursive: true, force: true }) })
  return d
}

async function service (jc: StandIn, dir: string, init = {}): Promise<JobService> {
  const s = new JobService(quietComponents(), { defaultChainId: 1337, jobCreatorOn: async () => jc as unknown as JobCreator }, dir, init)
  await s.start()
  return s
}

async function ended (s: JobService, id: string): Promise<JobRecord> {
  const now = s.get(id)
  if (now.terminal) return now
  return await new Promise(resolve => { const on = (j: JobRecord): void => { if (j.id === id && j.terminal) { s.off('change', on); resolve(j) } }; s.on('change', on) })
}

test('a job runs through the job creator of the chain it names (default the first) and keeps its chain; a chain that cannot be served fails the job with its own named error', async t => {
  const dir = await tempDir(t)
  const first = new StandIn()
  const second = new StandIn()
  const down = Object.assign(new Error('chain 1339 could not be joined'), { name: 'RpcUnreachableError' })
  const s = new JobService(quietComponents(), {
    defaultChainId: 1337,
    jobCreatorOn: async chainId => {
      if (chainId === 1337) return first as unknown as JobCreator
      if (chainId === 1338) return second as unknown as JobCreator
      throw down
    }
  }, dir)
  await s.start()
  t.teardown(async () => { await s.stop() })
  const a = s.submit({ module: 'cowsay:v0.0.1', inputs: {} })
  const b = s.submit({ module: 'cowsay:v0.0.1', inputs: {}, chainId: 1338 })
  await first.started(1)
  await second.started(1)
  t.is(first.pending.length, 1)
  t.is(second.pending.length, 1)
  t.deepEqual([s.get(a.id).chainId, s.get(b.id).chainId], [1337, 1338])
  t.deepEqual([s.chainOf(s.get(a.id)), s.chainOf(s.get(b.id))], [1337, 1338])
  second.pending[0].resolve(outcome('0xdeal'))
  t.is((await ended(s, b.id)).state, 'done')
  const c = s.submit({ module: 'cowsay:v0.0.1', inputs: {}, chainId: 1339 })
  const end = await ended(s, c.id)
  t.is(end.state, 'failed')
  t.is(end.error?.name, 'RpcUnreachableError')
  // a record written before there were several chains has none: it is on the first
  const { chainId: _c, ...old } = s.get(a.id)
  t.is(s.chainOf(old as JobRecord), 1337)
})

test('states follow the progress events; the outcome and the history are kept; a log event is kept as type log', async t => {
  const dir = await tempDir(t)
  const jc = new StandIn()
  const s = await service(jc, dir)
  t.teardown(async () => { await s.stop() })
  const job = s.submit({ module: 'cowsay:v0.0.1', inputs: { Message: 'hi' }, maxPrice: 5n })
  await jc.started(1)
  t.is(s.get(job.id).state, 'matching')
  const p = jc.pending[0]
  p.req.onProgress?.(new CustomProgressEvent('lilypad:job:phase', { phase: 'offered', ms: 1 }))
  p.req.onProgress?.(new CustomProgressEvent('lilypad:job:phase', { phase: 'matched', ms: 2, dealId: '0xdeal' }))
  t.is(s.get(job.id).state, 'running')
  t.deepEqual(s.get(job.id).dealIds, ['0xdeal'])
  p.req.onProgress?.(new CustomProgressEvent('lilypad:job:tx', { what: 'accept(1)', hash: '0xh', gasUsed: 21000n }))
  p.req.onProgress?.(new CustomProgressEvent('lilypad:job:log', { stream: 'stdout', data: 'moo\n' }) as never)
  p.resolve(outcome('0xdeal'))
  const end = await ended(s, job.id)
  t.is(end.state, 'done')
  t.is(end.outcome?.dealId, '0xdeal')
  t.is(end.outcome?.status, null)
  t.deepEqual(end.events.map(e => e.type), ['state', 'state', 'phase', 'phase', 'state', 'tx', 'log', 'state'])
  t.deepEqual(end.events.find(e => e.type === 'tx')?.data, { what: 'accept(1)', hash: '0xh', gasUsed: '21000' })
  t.deepEqual(end.events.find(e => e.type === 'log')?.data, { stream: 'stdout', data: 'moo\n' })
  t.deepEqual(end.events.map(e => e.seq), [1, 2, 3, 4, 5, 6, 7, 8])
})

test('bounds: jobs not ended, jobs running at once (the rest queued), events per job', async t => {
  const dir = await tempDir(t)
  const jc = new StandIn()
  const s = await service(jc, dir, { maxUnfinished: 3, maxRunning: 2, maxEvents: 4 })
  t.teardown(async () => { await s.stop() })
  const a = s.submit({ module: 'm', inputs: {} })
  const b = s.submit({ module: 'm', inputs: {} })
  const c = s.submit({ module: 'm', inputs: {} })
  t.is(t.throws(() => s.submit({ module: 'm', inputs: {} }))?.name, 'TooManyJobsError')
  await jc.started(2)
  t.is(s.get(c.id).state, 'queued')
  for (let i = 0; i < 10; i++) jc.pending[0].req.onProgress?.(new CustomProgressEvent('lilypad:job:note', { message: `n${i}` }))
  t.is(s.get(a.id).events.length, 4)
  t.true(s.get(a.id).eventsDropped > 0)
  t.is(s.get(a.id).events.at(-1)?.seq, s.get(a.id).events.length + s.get(a.id).eventsDropped)
  jc.pending[0].resolve(outcome('0xa'))
  await ended(s, a.id)
  await jc.started(3)
  t.is(s.get(c.id).state, 'matching')
  t.is(s.get(b.id).state, 'matching')
})

test('cancel: a queued or matching job ends cancelled (nothing spent); one with a countersigned deal runs on and the answer says what it costs', async t => {
  const dir = await tempDir(t)
  const jc = new StandIn()
  const s = await service(jc, dir, { maxRunning: 1 })
  t.teardown(async () => { await s.stop() })
  const running = s.submit({ module: 'm', inputs: {} })
  const queued = s.submit({ module: 'm', inputs: {} })
  await jc.started(1)
  const q = await s.cancel(queued.id)
  t.true(q.cancelled)
  t.is(s.get(queued.id).state, 'cancelled')
  const m = await s.cancel(running.id)
  t.deepEqual({ cancelled: m.cancelled, state: m.state }, { cancelled: true, state: 'cancelled' })
  t.regex(m.money, /nothing was spent/)
  t.is(s.get(running.id).error?.name, 'JobCancelledError')
  t.true((await s.cancel(running.id)).cancelled)
  const late = s.submit({ module: 'm', inputs: {} })
  await jc.started(2)
  jc.pending[1].req.onProgress?.(new CustomProgressEvent('lilypad:job:phase', { phase: 'matched', ms: 1, dealId: '0xdeal' }))
  const l = await s.cancel(late.id)
  t.false(l.cancelled)
  t.is(l.dealId, '0xdeal')
  t.regex(l.money, /runs to its end.*1 LP \+ 1 LP mediation fee/)
  t.is(s.get(late.id).state, 'running')
  jc.pending[1].resolve(outcome('0xdeal'))
  t.is((await ended(s, late.id)).state, 'done')
  t.is((await t.throwsAsync(s.cancel(late.id)))?.name, 'JobEndedError')
  t.is(t.throws(() => s.get('job-0000000000000000'))?.name, 'JobNotFoundError')
})

test('records survive a restart: ended jobs as they were, a job without a deal fails NodeRestartedError, one with a deal follows it', async t => {
  const dir = await tempDir(t)
  const jc = new StandIn()
  const s = await service(jc, dir)
  const done = s.submit({ module: 'm', inputs: {} })
  const looking = s.submit({ module: 'm', inputs: {} })
  const agreed = s.submit({ module: 'm', inputs: {} })
  await jc.started(3)
  jc.pending[0].resolve(outcome('0xa'))
  await ended(s, done.id)
  jc.pending[2].req.onProgress?.(new CustomProgressEvent('lilypad:job:phase', { phase: 'matched', ms: 1, dealId: '0xdeal' }))
  await s.stop()
  t.is(jc.pending.length, 3)
  const again = await service(new StandIn(), dir)
  t.teardown(async () => { await again.stop() })
  t.is(again.get(done.id).state, 'done')
  t.is(again.get(looking.id).state, 'failed')
  t.is(again.get(looking.id).error?.name, 'NodeRestartedError')
  t.is(again.get(agreed.id).state, 'running')
  t.true(again.get(agreed.id).resumed)
  t.deepEqual(again.list().map(j => j.id).sort(), [done.id, looking.id, agreed.id].sort())
})

test('only the newest maxKept ended jobs are kept', async t => {
  const dir = await tempDir(t)
  const jc = new StandIn()
  const s = await service(jc, dir, { maxKept: 2 })
  t.teardown(async () => { await s.stop() })
  const ids: string[] = []
  for (let i = 0; i < 4; i++) {
    const j = s.submit({ module: 'm', inputs: {} })
    ids.push(j.id)
    await jc.started(i + 1)
    jc.pending[i].resolve(outcome(`0x${i}`))
    await ended(s, j.id)
  }
  t.deepEqual(s.list().map(j => j.id).sort(), ids.slice(2).sort())
  await s.stop()
  const again = await service(new StandIn(), dir)
  t.teardown(async () => { await again.stop() })
  t.deepEqual(again.list().map(j => j.id).sort(), ids.slice(2).sort())
})
