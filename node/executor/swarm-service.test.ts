import test from 'ava'
import { DEFAULT_RESOURCES, type JobSpec } from '../modules/spec.ts'
import { containerConfig } from './container.ts'
import { bindMount, engineAddress, serviceName, serviceSpec } from './swarm-service.ts'

const spec: JobSpec = {
  image: 'sha256:' + 'a'.repeat(64), entrypoint: ['/bin/sh', '-c'], args: ['echo hi'], env: { A: '1' }, workingDir: '/work', network: 'none',
  outputs: [{ name: 'outputs', path: '/outputs' }], inputs: [], timeoutSec: 60, resources: { ...DEFAULT_RESOURCES, cpu: 500, ramMb: 128 }
} as unknown as JobSpec
const sandbox = { user: '65534:65534', pidsLimit: 256, fullNetworkMode: 'bridge', binds: ['/r/outputs:/outputs:rw', '/in:/inputs:ro'], logMaxBytes: 9_000_000 }
const opts = { labels: { 'org.lilypad.owner': 'o', 'org.lilypad.job': 'j' }, gpuKind: 'NVIDIA-GPU', gpus: 0, allGpus: false, constraints: ['node.id!=x'], apiVersion: '1.41' }

test('the plain executor\'s sandbox, said as a one-shot replicated-job service', t => {
  const s = serviceSpec('lilypad-x', containerConfig(spec, sandbox), opts) as any
  const c = s.TaskTemplate.ContainerSpec
  t.deepEqual(s.Mode, { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } })
  t.deepEqual(s.TaskTemplate.RestartPolicy, { Condition: 'none', MaxAttempts: 0 })
  t.deepEqual([c.Command, c.Args, c.Env, c.Dir, c.User], [['/bin/sh', '-c'], ['echo hi'], ['A=1'], '/work', '65534:65534'])
  t.true(c.ReadOnly)
  t.deepEqual(c.CapabilityDrop, ['ALL'])
  t.is(c.Privileges, undefined, 'no-new-privileges cannot be said before API 1.44')
  t.deepEqual(c.Labels, opts.labels)
  t.deepEqual(c.Mounts, [{ Type: 'bind', Source: '/r/outputs', Target: '/outputs', ReadOnly: false }, { Type: 'bind', Source: '/in', Target: '/inputs', ReadOnly: true }])
  t.deepEqual(s.TaskTemplate.Resources, { Limits: { NanoCPUs: 500_000_000, MemoryBytes: 128 * 1048576, Pids: 256 }, Reservations: { NanoCPUs: 500_000_000, MemoryBytes: 128 * 1048576 } })
  t.deepEqual(s.TaskTemplate.LogDriver, { Name: 'local', Options: { 'max-size': '9000000', 'max-file': '2', compress: 'false' } })
  t.deepEqual(s.TaskTemplate.Networks, [], 'no network: the task joins none')
  t.deepEqual(s.TaskTemplate.Placement, { Constraints: ['node.id!=x'] })
  const newer = serviceSpec('lilypad-x', containerConfig(spec, sandbox), { ...opts, apiVersion: '1.44' }) as any
  t.deepEqual(newer.TaskTemplate.ContainerSpec.Privileges, { NoNewPrivileges: true })
})

test('network for a job that asks, GPUs as generic resources, "all GPUs" refused by name', t => {
  const net = serviceSpec('n', containerConfig({ ...spec, network: 'full' } as JobSpec, { ...sandbox, fullNetworkMode: 'host' }), opts) as any
  t.deepEqual(net.TaskTemplate.Networks, [{ Target: 'host' }])
  const gpu = serviceSpec('g', containerConfig(spec, sandbox), { ...opts, gpus: 2 }) as any
  t.deepEqual(gpu.TaskTemplate.Resources.Reservations.GenericResources, [{ DiscreteResourceSpec: { Kind: 'NVIDIA-GPU', Value: 2 } }])
  t.throws(() => serviceSpec('a', containerConfig(spec, sandbox), { ...opts, allGpus: true }), { name: 'GpuUnavailableError' })
})

test('binds, names and engine addresses are checked', t => {
  t.throws(() => bindMount('relative:/x'), { name: 'SwarmConfigError' })
  t.regex(serviceName('owner', 'job'), /^lilypad-[0-9a-f]{16}-[0-9a-f]{6}$/)
  t.not(serviceName('owner', 'job'), serviceName('owner', 'job'), 'a re-run never collides with a service being removed')
  t.deepEqual(engineAddress('tcp://10.0.0.5:2375'), { host: '10.0.0.5', port: 2375, protocol: 'http' })
  t.deepEqual(engineAddress('https://node-b:2376'), { host: 'node-b', port: 2376, protocol: 'https' })
  t.deepEqual(engineAddress('unix:///var/run/docker.sock'), { socketPath: '/var/run/docker.sock' })
  t.throws(() => engineAddress('ssh://node-b'), { name: 'SwarmConfigError' })
  t.throws(() => engineAddress('not a url'), { name: 'SwarmConfigError' })
})

test('a cluster view whose engine fails says so, and keeps the last view: a broken engine answering 500 to every call', async t => {
  const { createServer } = await import('node:http')
  const { mkdtemp, rm } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { default: Docker } = await import('dockerode')
  const { SwarmExecutor } = await import('./swarm.ts')
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-broken-engine-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const socketPath = join(dir, 'engine.sock')
  const seen: string[] = []
  const server = createServer((req, res) => {
    seen.push(req.url ?? '')
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'the engine broke' }))
  })
  await new Promise<void>(resolve => server.listen(socketPath, resolve))
  t.teardown(() => { server.close() })
  const reports: Array<{ what: string, message: string }> = []
  const cluster = new SwarmExecutor({ docker: new Docker({ socketPath }) }).cluster({ refreshMs: 60_000, onError: (err, what) => { reports.push({ what, message: (err as Error).message }) } })
  await cluster.start()
  t.teardown(() => { cluster.stop() })
  t.deepEqual(cluster.snapshot(), [], 'nothing is offered from an engine that does not answer')
  t.true(reports.some(r => /at start/.test(r.what) && /the engine broke/.test(r.message)), JSON.stringify(reports))
  t.true(reports.some(r => /event stream/.test(r.what)), JSON.stringify(reports))
  t.true(seen.some(u => u.startsWith('/nodes')) && seen.some(u => u.startsWith('/events')), seen.join(' '))
})
