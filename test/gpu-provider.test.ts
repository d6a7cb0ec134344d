// A provider's detected GPUs reach its offers (recorded H200 output, node/gpu/fixtures): each slot offers its own
// share — model, VRAM, CUDA version — and a job creator's node matches a job asking for an H200 to the slot that
// has it, never to the one without. (This machine has no GPU: running a container on the device IDs is covered
// by the executor's container-configuration tests; on real hardware it is not verified here.)
import test from 'ava'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEther } from 'ethers'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, type Devnet } from '../node/devnet.ts'
import { LilypadNode } from '../node/node.ts'
import { devKey } from '../node/chain/index.ts'
import { parseNvidiaSmiXml, type GpuInventory } from '../node/gpu/index.ts'
import { machineRequirement, DEFAULT_RESOURCES } from '../node/modules/index.ts'
import { waitFor } from '../node/testing/fixtures.ts'
import type { JobOffer } from '../protocols/eip712.ts'

let home: string
let devnet: Devnet
const nodes: LilypadNode[] = []

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-gpu-provider-'))
  devnet = await startDevnet({ home, port: 0, slots: 1 })
})

test.after.always(async () => {
  for (const n of nodes) await n.stop().catch(() => {})
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

test('a provider with one H200 and two slots offers it on one slot; a job asking for an H200 matches only that slot', async t => {
  const xml = await readFile(new URL('../node/gpu/fixtures/h200-nvidia-smi-q.xml', import.meta.url), 'utf8')
  // as detection reports a machine whose engine has the NVIDIA Container Toolkit
  const gpus: GpuInventory = { ...parseNvidiaSmiXml(xml), source: 'nvidia-smi-xml', notes: [], containers: { nvidiaHook: true, nvidiaRuntime: false, cdiDevices: [] } }
  const rp = await LilypadNode.create({
    network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.provider2), dataDir: join(home, 'rp-gpu'), roles: ['resource-provider'], local: true,
    provider: { gpus, slots: 2, price: DEVNET_PRICE, collateral: parseEther('2'), announceIntervalMs: 2000 }
  })
  nodes.push(rp)
  const provider = rp.provider!
  t.like(provider.templateOf(0).spec, { gpus: 1, gpuVramMb: 143771, gpuModel: 'NVIDIA H200', cudaVersion: 13000 })
  t.like(provider.templateOf(1).spec, { gpus: 0, gpuVramMb: 0, gpuModel: '' })
  t.deepEqual(provider.gpuShares?.map(s => s.deviceIds), [['GPU-00000000-1111-2222-3333-444444444444'], []], 'slot 0 runs on the H200 by UUID')

  const jc = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.user2), dataDir: join(home, 'jc'), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') } })
  nodes.push(jc)
  const addr = provider.address.toLowerCase()
  await waitFor(() => jc.book.get(addr, 0) !== undefined && jc.book.get(addr, 1) !== undefined, 60_000, 'both slots\' offers at the job creator')
  t.like(jc.book.get(addr, 0)!.offer.spec, { gpus: 1, gpuVramMb: 143771, gpuModel: 'NVIDIA H200', cudaVersion: 13000 })
  t.is(jc.book.get(addr, 1)!.offer.spec.gpus, 0)

  const job = (want: Parameters<typeof machineRequirement>[1]): JobOffer => ({
    jobCreator: '0x2000000000000000000000000000000000000002', module: 'cowsay:v0.0.1', inputs: '{}', spec: machineRequirement(DEFAULT_RESOURCES, want), maxPrice: DEVNET_PRICE,
    mediators: devnet.network.mediators ?? [], target: provider.address, timeout: 60, auditPpm: 0, expiry: BigInt(Math.floor(Date.now() / 1000) + 600), nonce: 1n, seedCommit: '0x' + '00'.repeat(32)
  })
  const now = BigInt(Math.floor(Date.now() / 1000))
  const slotsFor = (want: Parameters<typeof machineRequirement>[1]): number[] => jc.book.match(job(want), { now, limit: 16, maxPerPeer: 4 }).map(c => c.live.offer.slot).sort()
  t.deepEqual(slotsFor({ gpuModel: 'H200' }), [0])
  t.deepEqual(slotsFor({ gpus: 1, gpuVramMb: 80_000 }), [0])
  t.deepEqual(slotsFor({ gpuModel: 'H100' }), [])
  t.deepEqual(slotsFor({}), [0, 1], 'a job without GPUs may take either slot')
})
