// GPUs into containers: the DeviceRequests the executor builds, checked against the real Docker engine of
// this machine. It has no GPU and no NVIDIA Container Toolkit, so what can be shown here is that the engine
// accepts and records the requests exactly as sent (create, inspect) and that starting one reaches its
// device-driver selection, which refuses; what a GPU machine would then do is not verified here (see
// docs/modules.md, "GPUs: what was verified where").
import test from 'ava'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { DEFAULT_RESOURCES, loadModule, type JobSpec } from '../modules/index.ts'
import { ensureBuiltinImages, pinSpecImage } from '../modules/images.ts'
import { Executor, gpuDeviceRequests, gpuStartError } from './index.ts'

const docker = new Docker()
const LABEL = 'org.lilypad.test'
const H200 = 'GPU-00000000-1111-2222-3333-444444444444'

test.before(async () => {
  await ensureBuiltinImages(docker, { only: ['cowsay:v0.0.1'] })
})

test('device requests: by count, all (-1), or the slot\'s device UUIDs (never both)', t => {
  const r = { ...DEFAULT_RESOURCES }
  t.is(gpuDeviceRequests(r), undefined)
  t.deepEqual(gpuDeviceRequests({ ...r, gpus: 2 }), [{ Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] }])
  t.deepEqual(gpuDeviceRequests({ ...r, gpus: 1, allGpus: true }), [{ Driver: 'nvidia', Count: -1, Capabilities: [['gpu']] }])
  t.deepEqual(gpuDeviceRequests({ ...r, gpus: 1 }, [H200, 'GPU-b']), [{ Driver: 'nvidia', DeviceIDs: [H200], Capabilities: [['gpu']] }])
  t.deepEqual(gpuDeviceRequests({ ...r, gpus: 1, allGpus: true }, [H200, 'GPU-b']), [{ Driver: 'nvidia', DeviceIDs: [H200, 'GPU-b'], Capabilities: [['gpu']] }])
  const err = t.throws(() => gpuDeviceRequests({ ...r, gpus: 3 }, [H200]))
  t.is(err.name, 'GpuUnavailableError')
})

test('the engine records the device requests as sent, and its driver selection refuses them on this GPU-less machine', async t => {
  const tag = randomUUID()
  t.teardown(async () => {
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${tag}`] } })) await docker.getContainer(c.Id).remove({ force: true })
  })
  const cases = [gpuDeviceRequests({ ...DEFAULT_RESOURCES, gpus: 1 }), gpuDeviceRequests({ ...DEFAULT_RESOURCES, gpus: 1, allGpus: true }), gpuDeviceRequests({ ...DEFAULT_RESOURCES, gpus: 1 }, [H200])]
  for (const DeviceRequests of cases) {
    const c = await docker.createContainer({ Image: 'lilypad/cowsay:v0.0.1', Labels: { [LABEL]: tag }, HostConfig: { NetworkMode: 'none', DeviceRequests } })
    const recorded = (await c.inspect()).HostConfig.DeviceRequests as Array<Record<string, unknown>>
    const sent = DeviceRequests?.[0] as { Count?: number, DeviceIDs?: string[] }
    t.deepEqual(recorded, [{ Driver: 'nvidia', Count: sent.Count ?? 0, DeviceIDs: sent.DeviceIDs ?? null, Capabilities: [['gpu']], Options: null }])
    const refused = await t.throwsAsync(c.start())
    t.regex(refused.message, /could not select device driver "nvidia" with capabilities: \[\[gpu\]\]/)
    const named = gpuStartError(refused, { gpus: 1, allGpus: false })
    t.is(named?.name, 'GpuUnavailableError')
    t.regex(named?.message ?? '', /cannot give containers GPUs .*NVIDIA Container Toolkit/)
    await c.remove({ force: true })
  }
})

test('the executor passes the slot\'s GPUs to the engine and reports the refusal as GpuUnavailableError, leaving no container', async t => {
  const base = (await loadModule('cowsay:v0.0.1', { Message: 'gpu' })).spec
  const spec: JobSpec = { ...(await pinSpecImage(docker, base)), resources: { ...base.resources, gpus: 1 } }
  // An operator who declares a GPU the engine cannot actually hand out: the engine is the judge.
  const ex = new Executor({ docker, gpusAvailable: 1 })
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-gpu-exec-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const jobId = `gpu-${randomUUID()}`
  const err = await t.throwsAsync(ex.run(spec, { resultDir: join(dir, 'r'), jobId, gpuDeviceIds: [H200] }))
  t.is(err.name, 'GpuUnavailableError')
  t.regex(err.message, /asks for 1 GPU\(s\) but the container engine cannot give containers GPUs/)
  t.deepEqual(await docker.listContainers({ all: true, filters: { label: [`org.lilypad.job=${jobId}`] } }), [])
})
