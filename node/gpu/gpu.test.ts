// GPU detection on recorded real output (fixtures/: an NVIDIA H200, driver 580.159.04, recorded with
// nvidia-smi on a GPU machine), through a real nvidia-smi executable on PATH that prints it, and into the
// offers a provider's slots make and the matcher pairs with jobs.
import test from 'ava'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { match, type LiveOffer } from '../../protocols/matcher.ts'
import type { JobOffer } from '../../protocols/eip712.ts'
import { machineRequirement, DEFAULT_RESOURCES } from '../modules/index.ts'
import { describeGpus, detectGpus, gpuSlots, parseNvidiaSmiCsv, parseNvidiaSmiXml, type GpuInventory } from './index.ts'

const fixture = async (name: string): Promise<string> => await readFile(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
const UUID = 'GPU-00000000-1111-2222-3333-444444444444'
const H200 = { index: 0, uuid: UUID, name: 'NVIDIA H200', vramMb: 143771, pciBusId: '00000000:00:06.0' }

/** The recorded XML with its one <gpu> repeated n times (other UUIDs and minor numbers), as an n-GPU box prints it. */
async function multiGpuXml (n: number, mig: number[] = []): Promise<string> {
  const xml = await fixture('h200-nvidia-smi-q.xml')
  const start = xml.indexOf('\t<gpu id=')
  const end = xml.indexOf('</gpu>') + '</gpu>'.length
  const gpu = xml.slice(start, end)
  const gpus = Array.from({ length: n }, (_, i) => gpu
    .replace(UUID, `GPU-00000000-1111-2222-3333-${String(i).padStart(12, '0')}`)
    .replace('<minor_number>0</minor_number>', `<minor_number>${i}</minor_number>`)
    .replace('<current_mig>Disabled</current_mig>', mig.includes(i) ? '<current_mig>Enabled</current_mig>' : '<current_mig>Disabled</current_mig>')).join('\n')
  return xml.slice(0, start) + gpus + xml.slice(end).replace('<attached_gpus>1</attached_gpus>', `<attached_gpus>${n}</attached_gpus>`)
}

test('nvidia-smi -q -x (recorded on an H200): model, VRAM, UUID, driver and CUDA version', async t => {
  const r = parseNvidiaSmiXml(await fixture('h200-nvidia-smi-q.xml'))
  t.deepEqual(r, { devices: [{ ...H200, mig: false }], driverVersion: '580.159.04', cudaVersion: 13000 })
})

test('nvidia-smi --query-gpu CSV (recorded): with header and units, and the noheader,nounits form detection asks for', async t => {
  const csv = await fixture('h200-nvidia-smi-query.csv')
  t.deepEqual(parseNvidiaSmiCsv(csv), { devices: [{ ...H200, computeCap: '9.0' }], driverVersion: '580.159.04', cudaVersion: 0 })
  // The same row without header and units, in the field order of CSV_QUERY_FIELDS.
  const [, row] = csv.trim().split('\n')
  const cells = row.split(', ').map(c => c.replace(' MiB', ''))
  const bare = [cells[0], cells[1], cells[2], cells[3], cells[5], cells[6], cells[7]].join(', ')
  t.deepEqual(parseNvidiaSmiCsv(bare + '\n'), { devices: [{ ...H200, computeCap: '9.0' }], driverVersion: '580.159.04', cudaVersion: 0 })
})

test('output that is not what nvidia-smi prints is an NvidiaSmiParseError, not a guess', t => {
  for (const bad of ['<nvidia_smi_log><gpu><uuid>x</uuid></gpu></nvidia_smi_log>', 'not xml at all', '<other/>']) {
    t.is(t.throws(() => parseNvidiaSmiXml(bad)).name, 'NvidiaSmiParseError', bad)
  }
  t.is(t.throws(() => parseNvidiaSmiCsv(`0, ${'X'.repeat(65)}, GPU-1, 1000, 580.1, 9.0, 0:0`)).name, 'NvidiaSmiParseError')
  t.is(t.throws(() => parseNvidiaSmiCsv('0, NVIDIA H200, GPU-1, lots, 580.1, 9.0, 0:0')).name, 'NvidiaSmiParseError')
})

async function fakeDriver (t: { teardown: (fn: () => Promise<void>) => void }, xml: string | undefined, csv: string): Promise<{ bin: string, env: NodeJS.ProcessEnv }> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-gpu-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  if (xml !== undefined) await writeFile(join(dir, 'q.xml'), xml)
  await writeFile(join(dir, 'q.csv'), csv)
  const bin = join(dir, 'nvidia-smi')
  // Prints the recorded output for the arguments detection passes; -q -x fails when no XML was recorded.
  await writeFile(bin, `#!/bin/sh\ncase "$1" in\n  -q) [ -f "${dir}/q.xml" ] && exec cat "${dir}/q.xml"; echo "NVIDIA-SMI has failed" >&2; exit 9;;\n  --query-gpu=*) exec cat "${dir}/q.csv";;\nesac\nexit 2\n`)
  await chmod(bin, 0o755)
  return { bin, env: { PATH: `${dir}:${process.env.PATH ?? ''}` } }
}

test('detection runs nvidia-smi (XML, else the CSV query) and asks the engine what containers can get', async t => {
  const csv = (await fixture('h200-nvidia-smi-query.csv')).trim().split('\n')[1].replace(/ MiB/g, '').split(', ')
  const row = [csv[0], csv[1], csv[2], csv[3], csv[5], csv[6], csv[7]].join(', ') + '\n'
  const driver = await fakeDriver(t, await fixture('h200-nvidia-smi-q.xml'), row)
  const viaXml = await detectGpus({ env: driver.env })
  t.is(viaXml.source, 'nvidia-smi-xml')
  t.deepEqual(viaXml.devices, [{ ...H200, mig: false }])
  t.is(viaXml.cudaVersion, 13000)

  const broken = await fakeDriver(t, undefined, row)
  const viaCsv = await detectGpus({ nvidiaSmi: broken.bin })
  t.is(viaCsv.source, 'nvidia-smi-csv')
  t.deepEqual(viaCsv.devices, [{ ...H200, computeCap: '9.0' }])
  t.regex(viaCsv.notes[0], /-q -x failed/)

  const none = await detectGpus({ nvidiaSmi: '/nonexistent/nvidia-smi' })
  t.deepEqual([none.source, none.devices], ['none', []])
  t.regex(none.notes[0], /not found: no NVIDIA driver/)

  // This machine's engine (no NVIDIA Container Toolkit): the driver's GPUs exist but no container can get them,
  // so a provider here offers none.
  const withEngine = await detectGpus({ env: driver.env, docker: new Docker() })
  t.deepEqual(withEngine.containers, { nvidiaHook: false, nvidiaRuntime: false, cdiDevices: [] })
  t.deepEqual(gpuSlots(withEngine, 1).map(s => s.spec.gpus), [0])
  t.regex(describeGpus(withEngine)[0], /^GPU 0: NVIDIA H200, 143771 MiB \(GPU-0{8}-1111-2222-3333-4{12}; driver 580\.159\.04, CUDA 13\.0; from nvidia-smi-xml\)$/)
})

const withToolkit = (inv: GpuInventory): GpuInventory => ({ ...inv, containers: { nvidiaHook: true, nvidiaRuntime: false, cdiDevices: [] } })

test('slots: each gets its own GPUs by UUID, evenly; MIG-split GPUs are not offered', async t => {
  const one = withToolkit({ ...parseNvidiaSmiXml(await fixture('h200-nvidia-smi-q.xml')), source: 'nvidia-smi-xml', notes: [] })
  t.deepEqual(gpuSlots(one, 1), [{ spec: { gpus: 1, gpuVramMb: 143771, gpuModel: 'NVIDIA H200', cudaVersion: 13000 }, deviceIds: [UUID] }])
  t.deepEqual(gpuSlots(one, 2).map(s => s.spec.gpus), [1, 0])
  const eight = withToolkit({ ...parseNvidiaSmiXml(await multiGpuXml(8, [7])), source: 'nvidia-smi-xml', notes: [] })
  const slots = gpuSlots(eight, 3)
  t.deepEqual(slots.map(s => s.spec.gpus), [3, 2, 2], 'seven whole GPUs: the MIG one is left out')
  const ids = slots.flatMap(s => s.deviceIds)
  t.is(new Set(ids).size, 7, 'no GPU in two slots')
  t.false(ids.some(id => id.endsWith('000000000007')))
})

test('an offer built from the detected H200 is matched by model, count and VRAM', async t => {
  const inv = withToolkit({ ...parseNvidiaSmiXml(await fixture('h200-nvidia-smi-q.xml')), source: 'nvidia-smi-xml', notes: [] })
  const [slot] = gpuSlots(inv, 1)
  const live: LiveOffer = {
    id: '0x' + '1'.padStart(64, '0'),
    signature: '0x',
    offer: { provider: '0x1000000000000000000000000000000000000001', slot: 0, spec: { cpu: 16_000, ramMb: 128_000, diskMb: 64_000, ...slot.spec }, modules: [], price: 1n, collateral: 2n, mediators: ['0x00000000000000000000000000000000000000A1'], expiry: 2000n, nonce: 1n, seedCommit: '0x' + '00'.repeat(32) }
  }
  const job = (want: Parameters<typeof machineRequirement>[1]): JobOffer => ({
    jobCreator: '0x2000000000000000000000000000000000000002', module: 'sdxl:v1', inputs: '{}', spec: machineRequirement(DEFAULT_RESOURCES, want), maxPrice: 5n,
    mediators: ['0x00000000000000000000000000000000000000A1'], target: '0x0000000000000000000000000000000000000000', timeout: 60, auditPpm: 0, expiry: 2000n, nonce: 1n, seedCommit: '0x' + '00'.repeat(32)
  })
  const matches = (want: Parameters<typeof machineRequirement>[1]): boolean => match(job(want), [live], { now: 1000n }).length === 1
  t.true(matches({ gpuModel: 'H200' }))
  t.true(matches({ gpus: 1, gpuVramMb: 140_000 }))
  t.false(matches({ gpuModel: 'H100' }))
  t.false(matches({ gpus: 2 }))
  t.false(matches({ gpuVramMb: 150_000 }))
})
