// What the killed-provider tests share: a deal countersigned and left on a provider's disk (what a provider that
// crashed right after countersigning has), the engine's own account of a provider's containers, and a provider in
// its own process to SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type Docker from 'dockerode'
import { parseEther, ZeroAddress, type Wallet } from 'ethers'
import { signMessage, idOf, type JobOffer } from '../../protocols/eip712.ts'
import { buildDeal, defaultDealTerms } from '../../protocols/negotiation/messages.ts'
import type { RpDealRecord } from '../../node/roles/resource-provider.ts'
import { DealStore } from '../../node/deal-store/deal-store.ts'
import { countersignedDeal } from '../../core/lifecycle/provider.ts'
import { DEVNET_PRICE } from '../../node/devnet.ts'
import { LABEL_JOB, LABEL_OWNER } from '../../node/executor/index.ts'

interface Teardown { teardown: (f: () => void | Promise<void>) => void }

/**
 * A stress job (sleeps 4 s: long enough to be running when the provider dies) agreed by both parties under `domain`
 * and stored countersigned in `dealsDir`: the provider's restart agrees and runs it. The deal leaves minutes for it.
 * Dated by the chain's clock (`chain`, its latest block), which the provider judges the agree window by: a test that
 * moved a chain's time ahead left a deal dated by the local clock already past its agree window, never run.
 */
export async function leaveCountersignedDeal (o: { domain: { chainId: bigint, verifyingContract: string }, mediators: string[], jobCreator: Wallet, provider: Wallet, dealsDir: string, nonceTag: bigint, chain: { provider: { getBlock: (tag: 'latest') => Promise<{ timestamp: number } | null> } } }): Promise<string> {
  const { domain } = o
  const nowMs = Math.max(Date.now(), ((await o.chain.provider.getBlock('latest'))?.timestamp ?? 0) * 1000)
  const now = BigInt(Math.floor(nowMs / 1000))
  const job: JobOffer = {
    jobCreator: o.jobCreator.address, module: 'stress:v0.1.0', inputs: JSON.stringify({ Mode: 'sleep', Arg: '4', Timeout: '60' }), spec: { cpu: 500, ramMb: 64, diskMb: 10, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 },
    maxPrice: DEVNET_PRICE, mediators: [...o.mediators], target: ZeroAddress, timeout: 60, auditPpm: 0, expiry: now + 600n, nonce: BigInt(Date.now()) * 1000n + o.nonceTag, seedCommit: '0x' + '00'.repeat(32)
  }
  const jobEnv = { kind: 'JobOffer' as const, value: job, signature: await signMessage('JobOffer', domain, job, o.jobCreator) }
  const offer = { provider: o.provider.address, slot: 0, spec: { cpu: 1000, ramMb: 1024, diskMb: 1000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, modules: [], price: DEVNET_PRICE, collateral: parseEther('2'), mediators: job.mediators, expiry: now + 600n, nonce: 2n, seedCommit: '0x' + '00'.repeat(32) }
  const deal = buildDeal(job, idOf('JobOffer', domain, job), offer, idOf('ResourceOffer', domain, offer), job.mediators, { ...defaultDealTerms, resultSlack: 300, mediationFee: parseEther('1') }, now)
  const dealId = idOf('Deal', domain, deal)
  const [jcSig, rpSig] = await Promise.all([signMessage('Deal', domain, deal, o.jobCreator), signMessage('Deal', domain, deal, o.provider)])
  await new DealStore<RpDealRecord>(o.dealsDir).put(countersignedDeal({ dealId, deal, job: jobEnv, jobCreatorSignature: jcSig, providerSignature: rpSig, slot: 0 }, nowMs))
  return dealId
}

export interface ContainerWatch {
  /** containers of the owner alive at once, at most */
  readonly most: number
  /** containers of the owner created */
  readonly created: number
  /** the deal's container started */
  started: Promise<void>
  /** a second container was created (the first removed and the job run again) */
  rerun: Promise<'rerun'>
}

/** The engine's own events about an owner's containers, from now until the test ends. */
export async function watchContainers (t: Teardown, docker: Docker, owner: string, dealId: string): Promise<ContainerWatch> {
  const live = new Set<string>()
  let onStart: () => void = () => {}
  let onRerun: () => void = () => {}
  const w = {
    most: 0,
    created: 0,
    started: new Promise<void>(resolve => { onStart = resolve }),
    rerun: new Promise<'rerun'>(resolve => { onRerun = () => { resolve('rerun') } })
  }
  const events = await docker.getEvents({ filters: { type: ['container'], event: ['create', 'start', 'destroy'], label: [`${LABEL_OWNER}=${owner}`] } })
  t.teardown(() => { (events as unknown as { destroy: () => void }).destroy() })
  events.on('data', (buf: Buffer) => {
    for (const line of buf.toString().split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { Action: string, id: string, Actor: { Attributes: Record<string, string> } }
      if (e.Action === 'create') { live.add(e.id); w.created++; if (w.created > 1) onRerun() }
      if (e.Action === 'destroy') live.delete(e.id)
      if (e.Action === 'start' && e.Actor.Attributes[LABEL_JOB] === dealId) onStart()
      w.most = Math.max(w.most, live.size)
    }
  })
  return w
}

/**
 * A resource provider in its own process (node/testing/provider-child.ts), killed when the test ends. It agrees the
 * deal left on its disk within the deal's validity rather than the default 15 s from the countersignature: a process
 * starting on a loaded machine took longer, found the deal past its agree window and never ran it (the test then
 * waited for a container that never came).
 */
function spawnProvider (t: Teardown, o: { networkPath: string, privateKey: string, dataDir: string, slots: number }): ChildProcess {
  const child = spawn(process.execPath, ['node/testing/provider-child.ts', JSON.stringify({ ...o, price: DEVNET_PRICE.toString(), agreeWindowMs: 600_000 })], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  void createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', () => {})
  return child
}

/**
 * Starts a provider in its own process on `dataDir`, SIGKILLs it once the watched deal's container has started, and
 * returns the containers the owner has left on the engine.
 */
export async function killMidJob (t: Teardown, docker: Docker, containers: ContainerWatch, o: { owner: string, networkPath: string, privateKey: string, dataDir: string, slots: number }): Promise<Docker.ContainerInfo[]> {
  const { owner, ...spawnOpts } = o
  const child = spawnProvider(t, spawnOpts)
  await containers.started
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
  return await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner}`] } })
}
