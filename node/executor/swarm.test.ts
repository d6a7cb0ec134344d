// The Swarm executor against a real single-node Docker Swarm (initialised by the first test process that needs it
// and left by the last: node/testing/swarm.ts): the same jobs give the same results (and CIDs) as through the
// plain executor, the sandbox holds, a node drained mid-job ends the job with a named, retryable error, and the
// cluster's capacity follows its nodes.
import test, { type ExecutionContext } from 'ava'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import Docker from 'dockerode'
import { loadModule, type JobSpec } from '../modules/index.ts'
import { ensureBuiltinImages, pinSpecImage } from '../modules/images.ts'
import { ResultStore } from '../result-store/index.ts'
import { exclusive, shared, useSwarm, type TestSwarm } from '../testing/swarm.ts'
import { pause } from './engine.ts'
import { Executor, LABEL_OWNER, SwarmExecutor, type EngineLostError, type ExecutionResult, type RunOptions, type SwarmExecutorOptions, type SwarmNode } from './index.ts'

const docker = new Docker()
let swarm: TestSwarm

test.before(async () => {
  await ensureBuiltinImages(docker, { only: ['cowsay:v0.0.1', 'stress:v0.1.0', 'wordcount:v0.1.0'] })
  swarm = await useSwarm(docker)
})

test.after.always(async () => {
  await swarm?.release()
})

/** A test that runs jobs on the swarm: held shared, so a drain test in another process waits for it (and it for one). */
const swarmTest = (title: string, fn: (t: ExecutionContext) => Promise<void>): void => { test(title, async t => { await shared(async () => { await fn(t) }) }) }

interface Ctx { teardown: (fn: () => Promise<void> | void) => void }

async function tempDir (t: Ctx): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-swarm-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

async function specOf (ref: string, inputs: Record<string, string>): Promise<JobSpec> {
  return await pinSpecImage(docker, (await loadModule(ref, inputs)).spec)
}

const services = async (owner: string): Promise<Docker.Service[]> =>
  await docker.listServices({ filters: { label: [`${LABEL_OWNER}=${owner}`] } }) as unknown as Docker.Service[]
const containers = async (owner: string): Promise<Docker.ContainerInfo[]> =>
  await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner}`] } })

function swarmExecutor (t: Ctx, opts: SwarmExecutorOptions = {}): SwarmExecutor {
  const ex = new SwarmExecutor({ docker, ...opts })
  t.teardown(async () => { await ex.reconcile(() => false) })
  return ex
}

/** Runs a job on an executor and checks that nothing of it is left on the engine (no service, no container). */
async function runOn (t: Ctx & { deepEqual: (a: unknown, b: unknown, m?: string) => void }, ex: Executor, spec: JobSpec, runOpts: Partial<RunOptions> = {}): Promise<ExecutionResult> {
  const resultDir = join(await tempDir(t), 'result')
  const r = await ex.run(spec, { resultDir, jobId: randomUUID(), ...runOpts })
  t.deepEqual(await containers(ex.owner), [], 'the container was removed')
  if (ex instanceof SwarmExecutor) t.deepEqual(await services(ex.owner), [], 'the service was removed')
  return r
}

async function cidOf (t: Ctx, dir: string): Promise<string> {
  const store = await ResultStore.create({ dataDir: join(await tempDir(t), 'store') })
  try { return (await store.addDirectory(dir)).toString() } finally { await store.stop() }
}

const read = async (dir: string, name: string): Promise<string> => await readFile(join(dir, name), 'utf8')

swarmTest('the cowsay job gives the same result CID through the Swarm executor as through the plain one', async t => {
  const spec = await specOf('cowsay:v0.0.1', { Message: 'moo' })
  const plain = await runOn(t, new Executor({ docker }), spec)
  const onSwarm = await runOn(t, swarmExecutor(t), spec)
  t.is(onSwarm.status, 'ok')
  t.is(onSwarm.exitCode, 0)
  t.regex(await read(onSwarm.resultDir, 'stdout'), /< moo >/)
  t.is(await cidOf(t, onSwarm.resultDir), await cidOf(t, plain.resultDir))
})

swarmTest('a non-zero exit, the deadline and an OOM kill end the same on Swarm as on one engine (same statuses, same CIDs)', async t => {
  const jobs: Array<[JobSpec, Partial<RunOptions>]> = [
    [await specOf('stress:v0.1.0', { Mode: 'exit', Arg: '3' }), {}],
    [await specOf('stress:v0.1.0', { Mode: 'sleep', Arg: '60' }), { timeoutSec: 1 }],
    [await specOf('stress:v0.1.0', { Mode: 'oom', RamMb: '16' }), {}]
  ]
  const ex = swarmExecutor(t)
  const plain = new Executor({ docker })
  for (const [spec, o] of jobs) {
    // both at once: two OOM kills at the same moment once left one without the engine's OOM record, which the
    // status no longer depends on
    const [a, b] = await Promise.all([runOn(t, plain, spec, o), runOn(t, ex, spec, o)])
    t.is(b.status, a.status)
    t.is(b.exitCode, a.exitCode)
    t.is(await cidOf(t, b.resultDir), await cidOf(t, a.resultDir), `${a.status} exit ${a.exitCode}`)
  }
})

swarmTest('the sandbox on Swarm: read-only root, writable /tmp, read-only /inputs and outputs, a non-root user, no network', async t => {
  const ex = swarmExecutor(t)
  t.is((await runOn(t, ex, await specOf('stress:v0.1.0', { Mode: 'rootfs' }))).exitCode, 4)
  t.is((await runOn(t, ex, await specOf('stress:v0.1.0', { Mode: 'touch', Arg: '/tmp/scratch' }))).exitCode, 0)
  t.is(await read((await runOn(t, ex, await specOf('stress:v0.1.0', { Mode: 'id' }))).resultDir, 'stdout'), 'uid=65534 gid=65534\n')
  const inputs = join(await tempDir(t), 'inputs')
  await mkdir(inputs)
  await writeFile(join(inputs, 'data.txt'), 'one two\nthree\n')
  t.is((await runOn(t, ex, await specOf('stress:v0.1.0', { Mode: 'touch', Arg: '/inputs/new' }), { inputsDir: inputs })).exitCode, 5)
  const wc = await runOn(t, ex, await specOf('wordcount:v0.1.0', { Text: 'a b c' }), { inputsDir: inputs })
  t.is(await read(join(wc.resultDir, 'outputs'), 'counts.txt'), 'text lines=0 words=3 bytes=5\ndata.txt lines=2 words=3 bytes=14\n')
  // a TCP connect from the sandbox to a server on the host's loopback fails: the task has only its own loopback
  const server = createServer(socket => { connections++; socket.end() })
  let connections = 0
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const port = (server.address() as { port: number }).port
  const net = await runOn(t, ex, await specOf('stress:v0.1.0', { Mode: 'connect', Arg: `127.0.0.1:${port}` }))
  t.is(net.exitCode, 7, await read(net.resultDir, 'stderr'))
  t.is(connections, 0)
  // control: the same job asking for network, its task on the host network, reaches the listener
  const open = await runOn(t, swarmExecutor(t, { fullNetworkMode: 'host' }), await specOf('stress:v0.1.0', { Mode: 'connect', Arg: `127.0.0.1:${port}`, Network: 'full' }))
  t.is(open.exitCode, 0, await read(open.resultDir, 'stderr'))
  t.is(connections, 1)
})

/** Prints, then waits for the test to create /inputs/go, then prints again. */
async function gatedJob (t: Ctx): Promise<{ spec: JobSpec, resultDir: string, inputsDir: string, go: () => Promise<void> }> {
  const stress = await specOf('stress:v0.1.0', { Mode: 'id' })
  const base = await tempDir(t)
  const inputsDir = join(base, 'inputs')
  await mkdir(inputsDir)
  const spec = { ...stress, entrypoint: ['/bin/sh', '-c', 'echo before; while [ ! -e /inputs/go ]; do sleep 0.05; done; echo after'], args: [] }
  return { spec, resultDir: join(base, 'result'), inputsDir, go: async () => { await writeFile(join(inputsDir, 'go'), '') } }
}

async function setAvailability (nodeId: string, availability: 'active' | 'drain'): Promise<void> {
  const node = docker.getNode(nodeId)
  const info = await node.inspect()
  await node.update({ version: info.Version.Index, ...info.Spec, Availability: availability })
}

/** Resolves once `cond` holds, polling the engine's state; fails after `ms`. */
async function until (what: string, cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (!await cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await pause(50)
  }
}

test.serial('a node drained mid-job: the job ends in a named, retryable error (not a made-up result), its service removed; the cluster offers nothing until the node is back', async t => {
  // no other test process runs swarm jobs while the (only) node is drained
  await exclusive(async () => {
    try { await drainedMidJob(t) } finally { await setAvailability(swarm.nodeId, 'active') }
  })
})

async function drainedMidJob (t: ExecutionContext): Promise<void> {
  const ex = swarmExecutor(t)
  const cluster = ex.cluster({ refreshMs: 60_000 })
  t.teardown(() => { cluster.stop() })
  await cluster.start()
  const shape = { cpu: 100, ramMb: 64, gpus: 0 }
  const self = (): SwarmNode | undefined => cluster.snapshot().find(n => n.id === swarm.nodeId)
  t.true(self()?.ready === true && self()?.active === true)
  t.is(self()?.cpu, cpus().length * 1000, 'the node offers its CPUs')
  t.true(cluster.slots(shape) >= 1)

  const job = await gatedJob(t)
  const placed = once(ex, 'job:placed')
  const running = ex.run(job.spec, { resultDir: job.resultDir, inputsDir: job.inputsDir, jobId: randomUUID() })
  await Promise.race([once(ex, 'container:start'), running])
  t.is((await placed)[0].nodeId, swarm.nodeId, 'placed on the (only) node')
  const drained = new Promise<void>(resolve => { const off = cluster.onChange(nodes => { if (nodes.find(n => n.id === swarm.nodeId)?.active === false) { off(); resolve() } }) })
  await setAvailability(swarm.nodeId, 'drain')
  const err = await t.throwsAsync(running) as EngineLostError
  t.is(err.name, 'EngineLostError')
  t.is(err.reason, 'node-drained')
  t.true(err.retryable)
  t.regex(err.hint, /availability active/)
  t.deepEqual(await services(ex.owner), [], 'the job\'s service was removed')
  await until('the container removed', async () => (await containers(ex.owner)).length === 0)
  await t.throwsAsync(readFile(join(job.resultDir, 'stdout')), { code: 'ENOENT' }, 'no result was written')

  // the node-event stream told the cluster view: nothing fits on a drained node
  await drained
  t.is(cluster.slots(shape), 0)
  // a run now cannot be placed: a named error after the scheduling window, not a hang
  const short = swarmExecutor(t, { scheduleTimeoutMs: 1500 })
  const again = await gatedJob(t)
  const err2 = await t.throwsAsync(short.run(again.spec, { resultDir: again.resultDir, inputsDir: again.inputsDir })) as EngineLostError
  t.is(err2.reason, 'unschedulable')
  t.true(err2.retryable)
  t.deepEqual(await services(short.owner), [])

  const back = new Promise<void>(resolve => { const off = cluster.onChange(nodes => { if (nodes.find(n => n.id === swarm.nodeId)?.active === true) { off(); resolve() } }) })
  await setAvailability(swarm.nodeId, 'active')
  await back
  t.true(cluster.slots(shape) >= 1)
  // and the job, run again, gives its ordinary result
  const rerun = ex.run(job.spec, { resultDir: job.resultDir, inputsDir: job.inputsDir, jobId: randomUUID() })
  await Promise.race([once(ex, 'container:start'), rerun])
  await job.go()
  const r = await rerun
  t.is(r.status, 'ok')
  t.is(await read(r.resultDir, 'stdout'), 'before\nafter\n')
}

swarmTest('the cluster view counts other services\' reservations and not this provider\'s own jobs', async t => {
  const ex = swarmExecutor(t)
  const other = await docker.createService({
    Name: `lilypad-test-other-${randomUUID().slice(0, 8)}`,
    TaskTemplate: { ContainerSpec: { Image: (await specOf('stress:v0.1.0', { Mode: 'id' })).image, Command: ['/bin/sh', '-c', 'sleep 60'] }, Resources: { Reservations: { NanoCPUs: 500_000_000, MemoryBytes: 64 * 1048576 } }, RestartPolicy: { Condition: 'none' } },
    Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } }
  } as unknown as Docker.CreateServiceOptions)
  t.teardown(async () => { await other.remove() })
  // the view settles on exactly the other service's reservation: a task of an earlier test's service still being
  // removed counted once (.ci/run: 128 MB read right after the CPU matched), so both are waited for together
  let self: Awaited<ReturnType<typeof ex.nodes>>[number] | undefined
  await until('the other service\'s task holds its node, and only it', async () => {
    self = (await ex.nodes()).find(n => n.id === swarm.nodeId)
    return self?.reserved.cpu === 500 && self.reserved.ramMb === 64
  })
  t.deepEqual([self?.reserved.cpu, self?.reserved.ramMb], [500, 64])
})

swarmTest('reconcile() removes a service of a job that is not kept, and keeps one that is', async t => {
  const ex = swarmExecutor(t)
  const a = await gatedJob(t)
  const b = await gatedJob(t)
  const ida = randomUUID()
  const idb = randomUUID()
  const ra = ex.run(a.spec, { resultDir: a.resultDir, inputsDir: a.inputsDir, jobId: ida })
  const rb = ex.run(b.spec, { resultDir: b.resultDir, inputsDir: b.inputsDir, jobId: idb })
  await until('both running', async () => (await containers(ex.owner)).filter(c => c.State === 'running').length === 2)
  // another executor of the same owner (a restarted provider) reconciles: job a is still to run, b is not
  const restarted = new SwarmExecutor({ docker, owner: ex.owner })
  const report = await restarted.reconcile(id => id === ida)
  t.deepEqual(report.kept, [ida])
  t.deepEqual(report.removed, [idb])
  t.deepEqual((await services(ex.owner)).map(s => (s as unknown as { Spec: { Labels: Record<string, string> } }).Spec.Labels['org.lilypad.job']), [ida])
  await t.throwsAsync(rb)
  await a.go()
  t.is((await ra).status, 'ok')
})
