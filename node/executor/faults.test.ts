// Executor faults against the real Docker engine: the engine taken away mid-job through a unix-socket proxy the
// test controls (dropped, refused, frozen), a provider process SIGKILLed with containers running, a disk that
// fills up. Every wait is on an event (the executor's, the engine's, a child's line), never on a sleep.
// Each fault runs against both executors: the plain one, and the Swarm one on a real single-node swarm (made by
// the first test process that needs it and left by the last: node/testing/swarm.ts).
import test, { type ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { randomUUID } from 'node:crypto'
import Docker from 'dockerode'
import { loadModule, type JobSpec } from '../modules/index.ts'
import { ensureBuiltinImages, pinSpecImage } from '../modules/images.ts'
import { startDockerProxy, type DockerProxy } from '../testing/docker-proxy.ts'
import { mountTmpfs } from '../testing/tmpfs.ts'
import { shared, useSwarm, type TestSwarm } from '../testing/swarm.ts'
import { Executor, LABEL_JOB, LABEL_OWNER, loadExecutorOwner, SwarmExecutor, type ExecutorOptions, type EngineLostError } from './index.ts'

const docker = new Docker()
let stress: JobSpec
let swarm: TestSwarm | undefined

test.before(async () => {
  await ensureBuiltinImages(docker, { only: ['stress:v0.1.0'] })
  stress = await pinSpecImage(docker, (await loadModule('stress:v0.1.0', { Mode: 'id' })).spec)
  swarm = await useSwarm(docker)
})

test.after.always(async () => {
  await swarm?.release()
})

/** The executor kinds every fault is tried on: a single engine, and a Swarm (each job a one-shot service). */
const KINDS = ['docker', 'swarm'] as const
type Kind = typeof KINDS[number]

const make = (kind: Kind, opts: ExecutorOptions): Executor => kind === 'swarm' ? new SwarmExecutor(opts) : new Executor(opts)

/** One test per executor kind; a Swarm one holds the test swarm shared (a drain test elsewhere waits for it). */
function each (title: string, fn: (t: ExecutionContext, kind: Kind) => Promise<void>): void {
  for (const kind of KINDS) {
    test(`${title} [${kind}]`, async t => { if (kind === 'swarm') await shared(async () => { await fn(t, kind) }); else await fn(t, kind) })
  }
}

interface Ctx { teardown: (fn: () => Promise<void> | void) => void }

async function tempDir (t: Ctx): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-faults-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** A job in the stress image: a shell script. */
const shell = (script: string): JobSpec => ({ ...stress, entrypoint: ['/bin/sh', '-c', script], args: [] })

/** Prints, then waits for the test to create /inputs/go (so the cut surely lands mid-job), then prints again. */
const gated = (): JobSpec => shell('echo before; while [ ! -e /inputs/go ]; do sleep 0.05; done; echo after; echo done >&2')

async function proxy (t: Ctx): Promise<DockerProxy> {
  const p = await startDockerProxy()
  t.teardown(async () => { await p.close() })
  return p
}

/** An executor through the proxy; its containers are removed (through the real socket) in teardown. */
function executor (t: Ctx, kind: Kind, opts: ExecutorOptions): Executor {
  const ex = make(kind, opts)
  t.teardown(async () => { await removeOwned(ex.owner, kind) })
  return ex
}

async function owned (owner: string): Promise<Docker.ContainerInfo[]> {
  return await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner}`] } })
}

/** Whatever a test left of an owner's containers (and services), removed through the real socket with their scratch directories. */
async function removeOwned (owner: string, kind: Kind): Promise<void> {
  await make(kind, { docker, owner }).reconcile(() => false)
}

/** Resolves at the executor's container:start event; rejects if the run fails first. */
async function started (ex: Executor, running: Promise<unknown>): Promise<void> {
  await Promise.race([once(ex, 'container:start'), running.then(() => { throw new Error('the run ended before its container started') })])
}

async function gatedJob (t: Ctx): Promise<{ resultDir: string, inputsDir: string, go: () => Promise<void> }> {
  const base = await tempDir(t)
  const inputsDir = join(base, 'inputs')
  await mkdir(inputsDir)
  return { resultDir: join(base, 'result'), inputsDir, go: async () => { await writeFile(join(inputsDir, 'go'), '') } }
}

/**
 * A gated job through a proxy whose socket goes away for good mid-job: the run ends in EngineLostError while
 * its container runs on (the proxy stays down; the caller brings it up).
 */
async function lostJob (t: Ctx & { throwsAsync: (p: Promise<unknown>) => Promise<unknown> }, kind: Kind, opts: ExecutorOptions = {}): Promise<{ p: DockerProxy, ex: Executor, job: Awaited<ReturnType<typeof gatedJob>>, jobId: string, err: EngineLostError, lostAfterMs: number }> {
  const p = await proxy(t)
  const ex = executor(t, kind, { socketPath: p.path, reconnectMs: 500, ...opts })
  const job = await gatedJob(t)
  const jobId = randomUUID()
  const running = ex.run(gated(), { ...job, jobId })
  await started(ex, running)
  const cutAt = performance.now()
  await p.down()
  const err = await t.throwsAsync(running) as EngineLostError
  return { p, ex, job, jobId, err, lostAfterMs: performance.now() - cutAt }
}

each('the engine socket dropped mid-job and back: detected, reconnected, the result is the uninterrupted one', async (t, kind) => {
  const p = await proxy(t)
  const ex = executor(t, kind, { socketPath: p.path, reconnectMs: 60_000 })
  const job = await gatedJob(t)
  const running = ex.run(gated(), { ...job, jobId: randomUUID() })
  await started(ex, running)
  const lost = once(ex, 'engine:lost')
  const cutAt = performance.now()
  await p.down()
  await lost
  t.log(`loss detected ${(performance.now() - cutAt).toFixed(0)} ms after the socket went away`)
  const back = once(ex, 'engine:back')
  await p.up()
  await back
  await job.go()
  const r = await running
  t.is(r.exitCode, 0)
  t.is(r.status, 'ok')
  t.is(r.reconnects, 1)
  t.is(await readFile(join(r.resultDir, 'stdout'), 'utf8'), 'before\nafter\n', 'output from before, during and after the gap')
  t.is(await readFile(join(r.resultDir, 'stderr'), 'utf8'), 'done\n')
  t.is(await readFile(join(r.resultDir, 'status'), 'utf8'), '{"status":"ok"}\n')
  t.deepEqual(await owned(ex.owner), [], 'the container was removed')
})

each('an engine that stays away: EngineLostError while the container still runs; a re-run adopts it', async (t, kind) => {
  const { p, ex, job, jobId, err, lostAfterMs } = await lostJob(t, kind, { reconnectMs: 1500 })
  t.log(`EngineLostError ${lostAfterMs.toFixed(0)} ms after the socket went away (reconnect window 1500 ms)`)
  t.is(err.name, 'EngineLostError')
  t.is(err.reason, 'unreachable')
  t.true(err.containerLeft)
  t.true(err.retryable)
  t.regex(err.hint, /dockerd/)
  // Seen through the real socket: the job had not ended, so the loss was found by watching, not by its exit.
  const [left] = await owned(ex.owner)
  t.is(left.State, 'running')
  t.is(left.Labels[LABEL_JOB], jobId)
  // The engine is back: the same job run again takes over the container instead of starting a second one.
  await p.up()
  const adopted = once(ex, 'container:adopted')
  const again = ex.run(gated(), { ...job, jobId })
  const [info] = await adopted as [{ containerId: string, running: boolean }]
  t.is(info.containerId, left.Id)
  t.true(info.running)
  await job.go()
  const r = await again
  t.true(r.adopted)
  t.is(await readFile(join(r.resultDir, 'stdout'), 'utf8'), 'before\nafter\n')
  t.deepEqual(await owned(ex.owner), [])
})

each('a re-run whose result directory was deleted and made again starts afresh: the old container writes elsewhere', async (t, kind) => {
  const { p, ex, job, jobId } = await lostJob(t, kind)
  await p.up()
  // what a caller clearing the job's directory before running again does (the mediator does)
  await rm(job.resultDir, { recursive: true })
  const replaced = once(ex, 'container:removed')
  const again = ex.run(gated(), { ...job, jobId })
  t.is((await replaced)[0].why, 'replaced')
  await started(ex, again)
  await job.go()
  const r = await again
  t.false(r.adopted)
  t.is(await readFile(join(r.resultDir, 'stdout'), 'utf8'), 'before\nafter\n')
})

each('staged inputs: a re-run with the same ones adopts the container; inputs staged anew start afresh', async (t, kind) => {
  for (const restaged of [false, true]) {
    const p = await proxy(t)
    const ex = executor(t, kind, { socketPath: p.path, reconnectMs: 500 })
    const job = await gatedJob(t)
    const staged = join(await tempDir(t), '0')
    await mkdir(staged)
    await writeFile(join(staged, 'words.txt'), 'one two\n')
    const inputMounts = [{ source: staged, target: '/data' }]
    const spec = shell('cat /data/words.txt; while [ ! -e /inputs/go ]; do sleep 0.05; done; cat /data/words.txt')
    const jobId = randomUUID()
    const running = ex.run(spec, { ...job, jobId, inputMounts })
    await started(ex, running)
    await p.down()
    await t.throwsAsync(running, { name: 'EngineLostError' })
    await p.up()
    if (restaged) {
      // what the provider does when it stages a job's inputs again (after a restart): delete, fetch, write
      await rm(staged, { recursive: true })
      await mkdir(staged)
      await writeFile(join(staged, 'words.txt'), 'one two\n')
    }
    const event = once(ex, restaged ? 'container:removed' : 'container:adopted')
    const again = ex.run(spec, { ...job, jobId, inputMounts })
    await event
    if (restaged) await started(ex, again)
    await job.go()
    const r = await again
    t.is(r.adopted, !restaged)
    t.is(await readFile(join(r.resultDir, 'stdout'), 'utf8'), 'one two\none two\n', restaged ? 'inputs staged anew' : 'adopted')
  }
})

each('a frozen daemon (connections open, nothing answered) is taken as lost too', async (t, kind) => {
  const p = await proxy(t)
  const ex = executor(t, kind, { socketPath: p.path, healthTimeoutMs: 1000, reconnectMs: 1000 })
  const job = await gatedJob(t)
  const running = ex.run(gated(), { ...job, jobId: randomUUID() })
  await started(ex, running)
  const frozenAt = performance.now()
  p.freeze()
  const err = await t.throwsAsync(running) as EngineLostError
  t.log(`EngineLostError ${(performance.now() - frozenAt).toFixed(0)} ms after the daemon froze (health timeout 1000 ms + reconnect window 1000 ms)`)
  t.is(err.name, 'EngineLostError')
  t.is(err.reason, 'unreachable')
  const [left] = await owned(ex.owner)
  t.is(left.State, 'running', 'found by watching, not by the job\'s end')
})

each('a job that ended while the engine was away: the re-run adopts the exited container and its output', async (t, kind) => {
  const { p, ex, job, jobId, err } = await lostJob(t, kind)
  t.is(err.name, 'EngineLostError')
  // the job finishes on the real engine while the executor cannot see it
  const [left] = await owned(ex.owner)
  await job.go()
  await docker.getContainer(left.Id).wait()
  await p.up()
  const adopted = once(ex, 'container:adopted')
  const again = ex.run(gated(), { ...job, jobId })
  t.false((await adopted)[0].running)
  const r = await again
  t.true(r.adopted)
  t.is(r.status, 'ok')
  t.is(await readFile(join(r.resultDir, 'stdout'), 'utf8'), 'before\nafter\n')
  t.is(await readFile(join(r.resultDir, 'stderr'), 'utf8'), 'done\n')
  t.deepEqual(await owned(ex.owner), [])
})

each('output that the engine\'s log cannot prove complete after a loss: EngineLostError(output-lost), no result made up', async (t, kind) => {
  const p = await proxy(t)
  // a small engine-side log: the job's 200 kB rotate it, so what it held cannot be shown to be everything
  const ex = executor(t, kind, { socketPath: p.path, reconnectMs: 60_000, logMaxBytes: 64 * 1024 })
  const job = await gatedJob(t)
  const spec = shell('echo before; while [ ! -e /inputs/go ]; do sleep 0.05; done; head -c 200000 /dev/zero | tr "\\0" x; echo')
  const running = ex.run(spec, { ...job, jobId: randomUUID() })
  await started(ex, running)
  const lost = once(ex, 'engine:lost')
  await p.down()
  await lost
  const back = once(ex, 'engine:back')
  await p.up()
  await back
  await job.go()
  const err = await t.throwsAsync(running) as EngineLostError
  t.is(err.name, 'EngineLostError')
  t.is(err.reason, 'output-lost')
  t.false(err.containerLeft)
  t.deepEqual(await owned(ex.owner), [], 'the container was removed')
  t.deepEqual((await readdir(job.resultDir).catch(() => [])).filter(n => ['stdout', 'stderr', 'exitCode', 'status'].includes(n)), [], 'no result files')
})

each('after the engine returns, reconcile() removes a lost job that is not kept', async (t, kind) => {
  const { p, ex, jobId, err } = await lostJob(t, kind)
  t.is(err.name, 'EngineLostError')
  t.is((await owned(ex.owner)).length, 1)
  await p.up()
  const report = await ex.reconcile(() => false)
  t.deepEqual(report, { kept: [], removed: [jobId] })
  t.deepEqual(await owned(ex.owner), [])
})

each('Ctrl-C with the engine gone never hangs: abort while the socket refuses, stop() while the daemon is frozen', async (t, kind) => {
  const p = await proxy(t)
  // A reconnect window far longer than the test: only the abort can end these runs.
  const ex = executor(t, kind, { socketPath: p.path, reconnectMs: 600_000, callTimeoutMs: 600_000 })
  const job = await gatedJob(t)
  const ac = new AbortController()
  const running = ex.run(gated(), { ...job, jobId: randomUUID(), signal: ac.signal })
  await started(ex, running)
  const lost = once(ex, 'engine:lost')
  await p.down()
  await lost
  let t0 = performance.now()
  ac.abort()
  await t.throwsAsync(running, { name: 'ExecutionAbortedError' })
  t.log(`abort with the socket refusing: settled in ${(performance.now() - t0).toFixed(0)} ms`)

  // A frozen daemon: connections accepted, nothing answered; the executor has not even noticed yet.
  await p.up()
  const job2 = await gatedJob(t)
  const running2 = ex.run(gated(), { ...job2, jobId: randomUUID() })
  await started(ex, running2)
  p.freeze()
  t0 = performance.now()
  await ex.stop()
  t.log(`stop() with the daemon frozen: settled in ${(performance.now() - t0).toFixed(0)} ms`)
  await t.throwsAsync(running2, { name: 'ExecutionAbortedError' })
  await t.throwsAsync(ex.run(gated(), { ...job2 }), { name: 'ExecutionAbortedError' }, 'a stopped executor starts nothing')
  // What the frozen engine could not remove is left for reconcile (here: teardown through the real socket).
  await p.up()
})

/** Live containers of one owner per the engine's own events, with the most seen at once (total and per job). */
async function watchContainers (t: Ctx, owner: string): Promise<{ max: () => number, maxPerJob: () => number }> {
  const live = new Map<string, string>()
  let max = 0
  let maxPerJob = 0
  const events = await docker.getEvents({ filters: { type: ['container'], event: ['create', 'destroy'], label: [`${LABEL_OWNER}=${owner}`] } })
  events.on('data', (buf: Buffer) => {
    for (const line of buf.toString().split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { Action: string, id: string, Actor: { Attributes: Record<string, string> } }
      if (e.Action === 'create') live.set(e.id, e.Actor.Attributes[LABEL_JOB]); else live.delete(e.id)
      max = Math.max(max, live.size)
      const perJob = new Map<string, number>()
      for (const j of live.values()) perJob.set(j, (perJob.get(j) ?? 0) + 1)
      maxPerJob = Math.max(maxPerJob, ...perJob.values())
    }
  })
  t.teardown(() => { (events as unknown as { destroy: () => void }).destroy() })
  return { max: () => max, maxPerJob: () => maxPerJob }
}

each('a provider process killed with containers running: after restart no orphans, adopted or removed, never two per job', async (t, kind) => {
  const base = await tempDir(t)
  const dataDir = join(base, 'provider')
  const owner = await loadExecutorOwner(dataDir)
  t.teardown(async () => { await removeOwned(owner, kind) })
  const watch = await watchContainers(t, owner)
  const inputs = join(base, 'inputs')
  await mkdir(inputs)
  // A: the provider still runs this deal, same configuration: adopted. B: no longer ours to run: removed.
  // C: the deal is re-run with a different configuration: the old container goes before the new one starts.
  const jobs = [
    { jobId: 'deal-a', spec: gated(), resultDir: join(base, 'a'), inputsDir: inputs },
    { jobId: 'deal-b', spec: shell('sleep 600'), resultDir: join(base, 'b') },
    { jobId: 'deal-c', spec: shell('sleep 600'), resultDir: join(base, 'c') }
  ]
  // Containers the restarted provider must not touch: another provider's (same job id as B) and another program's.
  const strangers = await Promise.all([
    docker.createContainer({ Image: stress.image, Entrypoint: ['/bin/sleep', '600'], Labels: { [LABEL_OWNER]: 'another-provider', [LABEL_JOB]: 'deal-b' }, HostConfig: { NetworkMode: 'none' } }),
    docker.createContainer({ Image: stress.image, Entrypoint: ['/bin/sleep', '600'], Labels: { 'org.example.someone-else': randomUUID() }, HostConfig: { NetworkMode: 'none' } })
  ])
  t.teardown(async () => { for (const c of strangers) await c.remove({ force: true }).catch(() => {}) })
  for (const c of strangers) await c.start()

  const child = spawn(process.execPath, ['node/testing/executor-child.ts', JSON.stringify({ dataDir, jobs, kind })], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const startedJobs = new Set<string>()
  for await (const line of createInterface({ input: child.stdout })) {
    const msg = JSON.parse(line) as { started?: string }
    if (msg.started !== undefined) startedJobs.add(msg.started)
    if (startedJobs.size === jobs.length) break
  }
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
  t.deepEqual((await owned(owner)).map(c => c.State).sort(), ['running', 'running', 'running'], 'the killed provider\'s containers run on')

  // The restarted provider: same data directory, so the same owner id.
  const ex = make(kind, { owner: await loadExecutorOwner(dataDir) })
  const report = await ex.reconcile(jobId => jobId === 'deal-a' || jobId === 'deal-c')
  t.deepEqual(report.removed, ['deal-b'])
  t.deepEqual(report.kept.sort(), ['deal-a', 'deal-c'])

  const adopted = once(ex, 'container:adopted')
  const a = ex.run(gated(), { jobId: 'deal-a', resultDir: join(base, 'a'), inputsDir: inputs })
  await adopted
  await writeFile(join(inputs, 'go'), '')
  const ra = await a
  t.true(ra.adopted)
  t.is(await readFile(join(ra.resultDir, 'stdout'), 'utf8'), 'before\nafter\n')

  const rc = await ex.run(shell('echo rerun'), { jobId: 'deal-c', resultDir: join(base, 'c') })
  t.false(rc.adopted)
  t.is(await readFile(join(rc.resultDir, 'stdout'), 'utf8'), 'rerun\n')

  t.deepEqual(await owned(owner), [], 'no orphans')
  t.true(watch.max() <= jobs.length, `at most ${jobs.length} containers (the killed provider's slots) at once, saw ${watch.max()}`)
  t.is(watch.maxPerJob(), 1, 'never two containers for one job')
  for (const c of strangers) t.true((await c.inspect()).State.Running, 'other owners\' and other programs\' containers untouched')
})

each('a job that writes past the disk it asked for stops at it, on a disk it would have filled; one asking for more disk than is free is refused before it runs', async (t, kind) => {
  const disk = await mountTmpfs({ bytes: 8 * 1024 * 1024 })
  t.teardown(async () => { await disk.unmount() })
  const ex = executor(t, kind, { minFreeBytes: 0 })
  const base: JobSpec = { ...(await pinSpecImage(docker, (await loadModule('stress:v0.1.0', { Mode: 'write', Arg: '20' })).spec)) }
  // asked for 1 MB, writes 20 MB into an 8 MiB disk: its outputs are capped at what it asked for (they once filled
  // the disk and the result could not be written); the result is written, with the status saying why it is empty
  const r = await ex.run({ ...base, resources: { ...base.resources, diskMb: 1 } }, { resultDir: join(disk.path, 'result') })
  t.true(r.outputTooLarge)
  t.is(r.resultStatus.status, 'output-limit')
  t.is(r.resultStatus.limits?.outputBytes, 1_000_000)
  t.deepEqual(await readdir(join(r.resultDir, 'outputs')), [])
  await rm(r.resultDir, { recursive: true, force: true })
  // asked for 16 MB with 8 MiB free: refused before anything runs
  const err = await t.throwsAsync(ex.run({ ...base, resources: { ...base.resources, diskMb: 16 } }, { resultDir: join(disk.path, 'result') }))
  t.is(err?.name, 'InsufficientDiskError')
  t.regex((err as unknown as { hint: string }).hint, /free space/)
  t.deepEqual(await readdir(disk.path), [], 'no result directory left behind')
})

each('the disk full while the result files are written (no inode left): DiskFullError, nothing left behind', async (t, kind) => {
  // Bytes to spare but few inodes: the job takes the rest, so the executor's writes fail with ENOSPC after the
  // free-space check passed.
  const disk = await mountTmpfs({ bytes: 8 * 1024 * 1024, inodes: 64 })
  t.teardown(async () => { await disk.unmount() })
  const ex = executor(t, kind, { minFreeBytes: 0 })
  const spec = shell('i=0; while touch /outputs/f$i 2>/dev/null; do i=$((i+1)); done; echo made $i files')
  spec.resources = { ...spec.resources, diskMb: 1 }
  const err = await t.throwsAsync(ex.run(spec, { resultDir: join(disk.path, 'result') }))
  t.is(err?.name, 'DiskFullError')
  t.regex((err as unknown as { hint: string }).hint, /free space/)
  t.deepEqual(await readdir(disk.path), [], 'no result directory left behind')
})
