// The executor against the real Docker engine, with the built-in modules' images built locally (once; the
// builder reuses them across files and runs).
import test from 'ava'
import { once } from 'node:events'
import { chmod, mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import Docker from 'dockerode'
import { loadModule, type JobSpec } from '../modules/index.ts'
import { ensureBuiltinImages, pinSpecImage } from '../modules/images.ts'
import { ResultStore } from '../result-store/index.ts'
import { Executor, type ExecutorOptions, type RunOptions } from './index.ts'
import { containerConfig } from './container.ts'

// The cow of Lilypad's hello world (shared/seed/: `lilypad run cowsay:v0.0.1 -i Message="moo"`).
const MOO_COW = [
  ' _____',
  '< moo >',
  ' -----',
  '        \\   ^__^',
  '         \\  (oo)\\_______',
  '            (__)\\       )\\/\\',
  '                ||----w |',
  '                ||     ||',
  ''
].join('\n')

const docker = new Docker()

test.before(async () => {
  await ensureBuiltinImages(docker, { only: ['cowsay:v0.0.1', 'stress:v0.1.0', 'wordcount:v0.1.0'] })
})

interface Ctx { teardown: (fn: () => Promise<void>) => void }

async function tempDir (t: Ctx): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-exec-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

async function specOf (ref: string, inputs: Record<string, string>): Promise<JobSpec> {
  return await pinSpecImage(docker, (await loadModule(ref, inputs)).spec)
}

/** Runs and checks afterwards that the engine holds no container of this job. */
async function runJob (t: Ctx & { is: (a: unknown, b: unknown, m?: string) => void }, spec: JobSpec, execOpts: ExecutorOptions = {}, runOpts: Partial<RunOptions> = {}) {
  const jobId = runOpts.jobId ?? randomUUID()
  const resultDir = join(await tempDir(t), 'result')
  const ex = new Executor({ docker, ...execOpts })
  // an aborted run returns before its container's removal has finished (it never waits long on the engine)
  let created = false
  ex.once('container:create', () => { created = true })
  const removed = once(ex, 'container:removed')
  try {
    return await ex.run(spec, { resultDir, jobId, ...runOpts })
  } finally {
    if (created) await removed
    const left = await docker.listContainers({ all: true, filters: { label: [`org.lilypad.job=${jobId}`] } })
    t.is(left.length, 0, 'the container was removed')
  }
}

const read = async (dir: string, name: string): Promise<string> => await readFile(join(dir, name), 'utf8')

test('cowsay prints the cow of the seed, byte for byte', async t => {
  const spec = await specOf('cowsay:v0.0.1', { Message: 'moo' })
  t.regex(spec.image, /^sha256:[0-9a-f]{64}$/, 'the image is pinned by id')
  const r = await runJob(t, spec)
  t.is(r.exitCode, 0)
  t.false(r.oomKilled)
  t.false(r.timedOut)
  t.is(await read(r.resultDir, 'stdout'), MOO_COW)
  t.is(await read(r.resultDir, 'stderr'), '')
  t.is(await read(r.resultDir, 'exitCode'), '0')
  t.is(r.status, 'ok')
  t.is(await read(r.resultDir, 'status'), '{"status":"ok"}\n', 'an ordinary run records nothing node-specific')
  t.deepEqual((await readdir(r.resultDir)).sort(), ['exitCode', 'outputs', 'status', 'stderr', 'stdout'])
  t.true(r.durationMs > 0 && r.runMs > 0 && r.runMs <= r.durationMs)
})

test('a job asking more CPU than the engine has (a canary asking for its whole slot where the engine sees fewer cores than the node counted) runs with every core the engine has', async t => {
  const info = await docker.info() as { NCPU: number }
  const spec = await specOf('cowsay:v0.0.1', { Message: 'moo' })
  // the engine refuses a quota above its cores; the executor caps it at them
  const asked = { ...spec, resources: { ...spec.resources, cpu: (info.NCPU + 4) * 1000, ramMb: 2048 } }
  const ex = new Executor({ docker })
  t.is(await ex.engineCpus(), info.NCPU)
  const config = containerConfig(asked, { user: '1000:1000', pidsLimit: 64, fullNetworkMode: 'bridge', binds: [], logMaxBytes: 1024, engineCpus: info.NCPU })
  t.is(config.HostConfig?.NanoCpus, info.NCPU * 1_000_000_000)
  t.is(config.HostConfig?.Memory, 2048 * 1024 * 1024, 'the memory it asked')
  t.is(containerConfig(spec, { user: '1000:1000', pidsLimit: 64, fullNetworkMode: 'bridge', binds: [], logMaxBytes: 1024, engineCpus: info.NCPU }).HostConfig?.NanoCpus, spec.resources.cpu * 1_000_000, 'an ask within the engine\'s cores is given as asked')
  const r = await runJob(t, asked)
  t.is(r.status, 'ok')
  t.is(await read(r.resultDir, 'stdout'), MOO_COW)
})

test('cowsay wraps a long message in a multi-line balloon', async t => {
  const r = await runJob(t, await specOf('cowsay:v0.0.1', { Message: 'the quick brown fox jumps over the lazy dog and keeps running far away' }))
  t.is(r.exitCode, 0)
  const lines = (await read(r.resultDir, 'stdout')).split('\n')
  t.deepEqual(lines.slice(0, 4), [
    ' _________________________________________',
    '/ the quick brown fox jumps over the lazy \\',
    '\\ dog and keeps running far away          /',
    ' -----------------------------------------'
  ])
})

test('a non-zero exit is a result with stderr captured', async t => {
  const r = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'exit', Arg: '3' }))
  t.is(r.exitCode, 3)
  t.is(await read(r.resultDir, 'exitCode'), '3')
  t.is(await read(r.resultDir, 'stdout'), 'stress: exiting with 3\n')
  t.is(await read(r.resultDir, 'stderr'), 'stress: failing on purpose with 3\n')
  t.is(r.status, 'ok', 'a non-zero exit of its own is an ordinary end')
})

test('out of memory is a kill at the memory limit, and the result is the same whether or not the engine kept its OOM record', async t => {
  const [oom, self] = await Promise.all([
    runJob(t, await specOf('stress:v0.1.0', { Mode: 'oom', RamMb: '16' })),
    runJob(t, await specOf('stress:v0.1.0', { Mode: 'selfkill', RamMb: '16' }))
  ])
  t.is(oom.exitCode, 137, `stderr: ${await readFile(join(oom.resultDir, 'stderr'), 'utf8').catch(() => '?')}`)
  t.false(oom.timedOut)
  t.is(oom.status, 'killed')
  t.is(await read(oom.resultDir, 'status'), '{"status":"killed","limits":{"ramMb":16}}\n')
  // A SIGKILL the engine has no OOM record of (here the job's own) writes the very same status: the result
  // (and its CID) cannot depend on a record the engine may lose.
  t.is(self.exitCode, 137)
  t.is(await read(self.resultDir, 'stdout'), 'stress: killing myself\n')
  t.not(self.oomKilled, true)
  t.is(await read(self.resultDir, 'status'), await read(oom.resultDir, 'status'))
})

test('the deadline kills the container and is reported', async t => {
  const r = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'sleep', Arg: '60' }), {}, { timeoutSec: 1 })
  t.true(r.timedOut)
  t.not(r.exitCode, 0)
  t.is(await read(r.resultDir, 'status'), '{"status":"timeout","limits":{"timeoutSec":1}}\n')
})

test('an abort signal stops the job and the container is still removed', async t => {
  const ac = new AbortController()
  const spec = await specOf('stress:v0.1.0', { Mode: 'sleep', Arg: '60' })
  // Abort once this job's container is running: the engine's start event for its label (other tests of this file
  // start containers of the same image at the same time)
  const jobId = randomUUID()
  const events = await docker.getEvents({ filters: { type: ['container'], event: ['start'], label: [`org.lilypad.job=${jobId}`] } })
  t.teardown(async () => { (events as unknown as { destroy: () => void }).destroy() })
  events.once('data', () => { ac.abort() })
  const err = await t.throwsAsync(runJob(t, spec, {}, { signal: ac.signal, jobId }))
  t.is(err?.name, 'ExecutionAbortedError')
})

test('no network unless the module asks: a TCP connect fails in the sandbox and works on the host network', async t => {
  const server = createServer(socket => { connections++; socket.end() })
  let connections = 0
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => { server.close() })
  const port = (server.address() as { port: number }).port
  const sandboxed = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'connect', Arg: `127.0.0.1:${port}` }))
  t.is(sandboxed.exitCode, 7)
  t.regex(await read(sandboxed.resultDir, 'stderr'), /connect to 127\.0\.0\.1:\d+ failed/)
  t.is(connections, 0)
  // Control: the same job asking for network, run on the host network, reaches the listener.
  const spec = await specOf('stress:v0.1.0', { Mode: 'connect', Arg: `127.0.0.1:${port}`, Network: 'full' })
  t.is(spec.network, 'full')
  const open = await runJob(t, spec, { fullNetworkMode: 'host' })
  t.is(open.exitCode, 0, await read(open.resultDir, 'stderr'))
  t.is(connections, 1)
})

test('outputs over the cap are reported and not kept', async t => {
  const r = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'write', Arg: '8' }), { outputCapBytes: 1024 * 1024 })
  t.true(r.outputTooLarge)
  t.deepEqual(await readdir(join(r.resultDir, 'outputs')), [])
  t.is(await read(r.resultDir, 'status'), '{"status":"output-limit","limits":{"outputBytes":1048576}}\n')
  const ok = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'write', Arg: '1' }), { outputCapBytes: 2 * 1024 * 1024 })
  t.false(ok.outputTooLarge)
  t.deepEqual(await readdir(join(ok.resultDir, 'outputs')), ['blob'])
})

test('a job\'s outputs are also capped by the disk it asked for: the bound its job creator fetches by', async t => {
  const spec = await specOf('stress:v0.1.0', { Mode: 'write', Arg: '8' })
  const small = { ...spec, resources: { ...spec.resources, diskMb: 2 } }
  const r = await runJob(t, small)
  t.true(r.outputTooLarge, 'the provider\'s own cap (100 MiB) is not what stopped it')
  t.deepEqual(await readdir(join(r.resultDir, 'outputs')), [])
  t.is(await read(r.resultDir, 'status'), '{"status":"output-limit","limits":{"outputBytes":2000000}}\n')
})

test('a stream cap that would let an honest result pass the job creators\' bound is refused', t => {
  const err = t.throws(() => new Executor({ docker, streamCapBytes: 32 * 1024 * 1024 }))
  t.is(err?.name, 'ExecutorConfigError')
  t.regex(String((err as unknown as { hint: string }).hint), /at most 16 MiB/)
})

test('stdout is capped and the truncation reported', async t => {
  const r = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'flood', Arg: '200000' }), { streamCapBytes: 1000 })
  t.is(r.exitCode, 0)
  t.true(r.stdoutTruncated)
  t.false(r.stderrTruncated)
  t.is(await read(r.resultDir, 'stdout'), 'x'.repeat(1000))
  t.is(await read(r.resultDir, 'status'), '{"status":"ok","truncated":{"stdout":true},"limits":{"streamBytes":1000}}\n')
})

test('a 150 MB output under the default 100 MB cap: a clear output-limit status, not empty outputs and exit 0', async t => {
  const r = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'write', Arg: '150' }))
  t.is(r.status, 'output-limit')
  t.deepEqual(await readdir(join(r.resultDir, 'outputs')), [])
  t.is(await read(r.resultDir, 'status'), `{"status":"output-limit","limits":{"outputBytes":${100 * 1024 * 1024}}}\n`)
})

test('timeout, OOM and output cap end in different results (and result CIDs)', async t => {
  // Killed three ways, the first two with the same exit code and empty stdout and stderr (they used to give
  // byte-identical results): now each one's status names the cause and the limit.
  const [timeout, oom, cap] = await Promise.all([
    runJob(t, await specOf('stress:v0.1.0', { Mode: 'sleep', Arg: '60' }), {}, { timeoutSec: 1 }),
    runJob(t, await specOf('stress:v0.1.0', { Mode: 'oom', RamMb: '16' })),
    runJob(t, await specOf('stress:v0.1.0', { Mode: 'write', Arg: '8' }), { outputCapBytes: 1024 * 1024 })
  ])
  t.deepEqual([timeout.status, oom.status, cap.status], ['timeout', 'killed', 'output-limit'])
  t.deepEqual([timeout.exitCode, oom.exitCode], [137, 137])
  const store = await ResultStore.create({ dataDir: join(await tempDir(t), 'store') })
  t.teardown(async () => { await store.stop() })
  const cids = await Promise.all([timeout, oom, cap].map(async r => (await store.addDirectory(r.resultDir)).toString()))
  t.is(new Set(cids).size, 3, cids.join(' '))
})

test('the root file system is read-only, /tmp is writable, /inputs is read-only', async t => {
  const root = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'rootfs' }))
  t.is(root.exitCode, 4)
  t.regex(await read(root.resultDir, 'stderr'), /read-only/i)
  const tmp = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'touch', Arg: '/tmp/scratch' }))
  t.is(tmp.exitCode, 0)
  const inputs = join(await tempDir(t), 'inputs')
  await mkdir(inputs)
  await writeFile(join(inputs, 'data.txt'), 'one two\nthree\n')
  const ro = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'touch', Arg: '/inputs/new' }), {}, { inputsDir: inputs })
  t.is(ro.exitCode, 5)
  const wc = await runJob(t, await specOf('wordcount:v0.1.0', { Text: 'a b c' }), {}, { inputsDir: inputs })
  t.is(wc.exitCode, 0)
  t.is(await read(wc.resultDir, 'stdout'), 'text lines=0 words=3 bytes=5\ndata.txt lines=2 words=3 bytes=14\n')
  t.is(await read(join(wc.resultDir, 'outputs'), 'counts.txt'), await read(wc.resultDir, 'stdout'))
})

test('the job runs as a non-root user', async t => {
  const r = await runJob(t, await specOf('stress:v0.1.0', { Mode: 'id' }))
  t.is(await read(r.resultDir, 'stdout'), 'uid=65534 gid=65534\n')
})

test('a missing image is a named error', async t => {
  const spec = { ...(await specOf('stress:v0.1.0', { Mode: 'id' })), image: `lilypad/not-built-${randomUUID().slice(0, 8)}:v0` }
  const err = await t.throwsAsync(runJob(t, spec, { pullTimeoutMs: 10_000 }))
  t.is(err?.name, 'ImageMissingError')
  t.regex(err?.message ?? '', /is not present/)
  const noPull = await t.throwsAsync(runJob(t, spec, { pull: false }))
  t.is(noPull?.name, 'ImageMissingError')
})

test('an engine that is down is a clear error and the process stays up', async t => {
  const spec = await specOf('cowsay:v0.0.1', { Message: 'moo' })
  const dead = new Executor({ socketPath: '/nonexistent/docker.sock' })
  const err = await t.throwsAsync(dead.run(spec, { resultDir: join(await tempDir(t), 'r') }))
  t.is(err?.name, 'DockerUnavailableError')
  t.regex((err as unknown as { hint: string }).hint, /start the Docker engine/)
  // Same process, a reachable engine: work goes on.
  const r = await runJob(t, spec)
  t.is(await read(r.resultDir, 'stdout'), MOO_COW)
})

test('a GPU request on a machine without GPUs is a clear error', async t => {
  const base = await specOf('cowsay:v0.0.1', { Message: 'moo' })
  const spec: JobSpec = { ...base, resources: { ...base.resources, gpus: 1 } }
  const ex = new Executor({ docker })
  t.is(await ex.detectGpus(), 0)
  const err = await t.throwsAsync(ex.run(spec, { resultDir: join(await tempDir(t), 'r') }))
  t.is(err?.name, 'GpuUnavailableError')
  t.regex(err?.message ?? '', /asks for 1 GPU/)
})

test('too little free disk is refused before anything runs', async t => {
  const spec = await specOf('cowsay:v0.0.1', { Message: 'moo' })
  const ex = new Executor({ docker, minFreeBytes: Number.MAX_SAFE_INTEGER })
  const resultDir = join(await tempDir(t), 'r')
  const err = await t.throwsAsync(ex.run(spec, { resultDir }))
  t.is(err?.name, 'InsufficientDiskError')
  await t.throwsAsync(readdir(resultDir), { code: 'ENOENT' })
})

test('live output: each piece of a running container\'s output is fed as it is produced, bounded by the stream cap, and the result files are unchanged', async t => {
  const inputs = await tempDir(t)
  await chmod(inputs, 0o755)
  const base = await specOf('stress:v0.1.0', { Mode: 'sleep', Arg: '1' })
  // the container cannot end before the test has seen its first line: it waits for a file the test writes then
  const spec: JobSpec = { ...base, entrypoint: ['/bin/sh', '-c', 'echo first; while [ ! -e /inputs/go ]; do sleep 0.1; done; echo second >&2; head -c 3000 /dev/zero | tr "\\0" y'], args: [] }
  const live: Array<{ stream: string, text: string }> = []
  let sawFirst: () => void = () => {}
  const first = new Promise<void>(resolve => { sawFirst = resolve })
  const run = runJob(t, spec, { streamCapBytes: 1000 }, {
    inputsDir: inputs,
    onOutput: c => { live.push({ stream: c.stream, text: c.data.toString() }); if (c.data.toString().includes('first')) sawFirst() }
  })
  await first
  t.deepEqual(live.map(l => l.stream), ['stdout'], 'only what was produced so far')
  await writeFile(join(inputs, 'go'), '')
  const r = await run
  const out = live.filter(l => l.stream === 'stdout').map(l => l.text).join('')
  const err = live.filter(l => l.stream === 'stderr').map(l => l.text).join('')
  t.is(err, 'second\n')
  t.is(out.length, 1000, 'no more than the cap is fed')
  t.is(out, await read(r.resultDir, 'stdout'), 'the feed is what the result keeps')
  t.true(r.stdoutTruncated)
})
