// The mediator against real parts: anvil with the contracts, libp2p hosts on 127.0.0.1, Docker re-runs of the
// cowsay module and Helia stores. The provider's side is played by this file (it runs the job with the same
// executor and adds the result to its own store); the job creator challenges and pushes the case, or an
// on-chain audit starts the dispute and the mediator pulls the case from the provider.
import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { multiaddr } from '@multiformats/multiaddr'
import { startDevnet, agreeDeal, increaseTime, LP, type Devnet } from '../../contracts/fixture.ts'
import { Roles } from '../chain/index.ts'
import { idOf, signMessage, type Deal, type JobOffer } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { DisputeCase } from '../../protocols/dispute/index.ts'
import { createHost, localMeshOptions, type LilypadHost } from '../host/index.ts'
import { ResultStore } from '../result-store/index.ts'
import { Executor } from '../executor/index.ts'
import { loadModule, ensureBuiltinImages, pinSpecImage } from '../modules/index.ts'
import { DisputeService, DisputeRefusedError, handOffDispute, closeUnmediated } from '../dispute/index.ts'
import { Mediator, type DisputeRecord } from './mediator.ts'
import { ZERO_ADDRESS, freshNonce } from '../testing/fixtures.ts'
import { quietComponents } from '../components.ts'
import type { NetworkFile } from '../config/network.ts'

const docker = new Docker()
let net: Devnet
let network: NetworkFile
let tmp: string
let partyHost: LilypadHost
let mediatorHost: LilypadHost
let party: DisputeService
let partyStore: ResultStore
let executor: Executor
let mediator: Mediator

async function startMediator (dataDir: string): Promise<Mediator> {
  const store = await ResultStore.create({ dataDir })
  const m = await Mediator.create(quietComponents(), { host: mediatorHost, chain: net.m1, store, executor, network, dataDir, pullAfterMs: 300, pullIntervalMs: 500 })
  m.on('failure', err => { console.error('mediator failure', err) })
  await m.start()
  const stop = m.stop.bind(m)
  m.stop = async () => { await stop(); await store.stop() }
  return m
}

test.before(async () => {
  await ensureBuiltinImages(docker, { only: ['cowsay:v0.0.1'] })
  net = await startDevnet()
  network = { ...net.deployment.network, rpcUrl: net.anvil.rpcUrl }
  tmp = await mkdtemp(join(tmpdir(), 'lilypad-mediator-'))
  executor = new Executor({ docker })
  ;[partyHost, mediatorHost] = await Promise.all([0, 1].map(async () => await createHost({ networkId: network.networkId, domain: net.domain, ...localMeshOptions })))
  party = new DisputeService(partyHost, { networkId: network.networkId })
  await party.start()
  partyStore = await ResultStore.create({ dataDir: join(tmp, 'party') })
  await partyHost.dial(multiaddr(mediatorHost.getMultiaddrs()[0]), { signal: AbortSignal.timeout(5000) })
  // the provider registers its peer id, so a mediator can pull a case from it
  await net.rp.register(Roles.ResourceProvider, partyHost.peerId.toString())
  mediator = await startMediator(join(tmp, 'mediator'))
})

test.after.always(async () => {
  await mediator?.stop()
  await party?.stop()
  await partyStore?.stop()
  await Promise.all([partyHost, mediatorHost].map(async h => await h?.stop()))
  await net?.stop()
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

async function signedJob (message: string): Promise<Envelope<'JobOffer'>> {
  const job: JobOffer = {
    jobCreator: net.jc.address,
    module: 'cowsay:v0.0.1',
    inputs: JSON.stringify({ Message: message }),
    spec: { cpu: 500, ramMb: 64, diskMb: 0, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 },
    maxPrice: LP(100),
    mediators: [net.m1.address],
    target: ZERO_ADDRESS,
    timeout: 60,
    auditPpm: 0,
    expiry: BigInt(Math.floor(Date.now() / 1000) + 3600),
    nonce: freshNonce(), seedCommit: '0x' + '00'.repeat(32)
  }
  return { kind: 'JobOffer', value: job, signature: await signMessage('JobOffer', net.domain, job, net.jc.wallet) }
}

/** The provider's work: runs the job (or tampers with its output) and submits the result CID. */
async function provide (job: Envelope<'JobOffer'>, deal: Deal, opts: { tamper?: boolean } = {}): Promise<{ cid: string }> {
  const loaded = await loadModule(job.value.module, JSON.parse(job.value.inputs))
  const resultDir = join(await mkdtemp(join(tmp, 'rp-')), 'result')
  await executor.run(await pinSpecImage(docker, loaded.spec), { resultDir })
  if (opts.tamper === true) await writeFile(join(resultDir, 'stdout'), 'a cow that never ran\n')
  const cid = (await partyStore.addDirectory(resultDir)).toString()
  await net.rp.submitResult(deal, cid)
  return { cid }
}

async function dealFor (job: Envelope<'JobOffer'>, over: Partial<Deal> = {}): Promise<{ deal: Deal, id: string, dispute: DisputeCase }> {
  const { deal, id } = await agreeDeal(net, { jobOfferId: idOf('JobOffer', net.domain, job.value), mediators: [net.m1.address], nonce: job.value.nonce, ...over })
  const dispute: DisputeCase = { dealId: id, deal: { kind: 'Deal', value: deal, signature: await signMessage('Deal', net.domain, deal, net.jc.wallet) }, jobOffer: job }
  return { deal, id, dispute }
}

/** The mediator's record of `id` once it finished with it (subscribes first, then looks, so no event is missed). */
async function finished (id: string): Promise<DisputeRecord> {
  const m = mediator
  return await new Promise((resolve, reject) => {
    const check = (): void => {
      m.records.get(id).then(r => { if (r?.terminal === true) { m.off('verdict', check); m.off('abandoned', check); resolve(r) } }, reject)
    }
    m.on('verdict', check)
    m.on('abandoned', check)
    check()
  })
}

const balances = async (): Promise<bigint[]> => await Promise.all([net.jc, net.rp, net.m1].map(async c => await c.depositOf()))

test.serial('an honest result challenged: the mediator re-runs it, finds the same CID, the provider is paid and the mediator gets the fee', async t => {
  const job = await signedJob('honest cow')
  const [jc0, rp0, m0] = await balances()
  const { deal, id, dispute } = await dealFor(job)
  await provide(job, deal)
  t.is((await net.jc.challenge(deal)).toLowerCase(), net.m1.address.toLowerCase())
  await handOffDispute(party, net.m1.address, dispute, { chain: net.jc })
  const rec = await finished(id)
  t.is((await net.jc.dealRecord(id)).state, 'MediatedCorrect')
  const [jc1, rp1, m1] = await balances()
  t.is(jc1 - jc0, -(deal.price + deal.mediationFee), 'the job creator paid the price and the fee')
  t.is(rp1 - rp0, deal.price, 'the provider got the price (and its collateral back)')
  t.is(m1 - m0, deal.mediationFee, 'the mediator got the fee')
  t.is(rec.phase, 'done')
  t.is(rec.via, 'push')
  t.is(rec.mediatorCid, rec.resultCid)
})

test.serial('a wrong result challenged: the verdict slashes the provider and refunds the job creator', async t => {
  const job = await signedJob('cheated cow')
  const [jc0, rp0, m0] = await balances()
  const { deal, id, dispute } = await dealFor(job)
  await provide(job, deal, { tamper: true })
  await net.jc.challenge(deal)
  await handOffDispute(party, net.m1.address, dispute, { chain: net.jc })
  const rec = await finished(id)
  t.is((await net.jc.dealRecord(id)).state, 'MediatedWrong')
  const [jc1, rp1, m1] = await balances()
  t.is(jc1 - jc0, deal.collateral - deal.mediationFee, 'the job creator got its price back plus the collateral, less the fee it paid')
  t.is(rp1 - rp0, -deal.collateral, 'the provider lost its collateral')
  t.is(m1 - m0, deal.mediationFee, 'the mediator got the fee')
  t.false(rec.resultCorrect)
  t.not(rec.mediatorCid, rec.resultCid)
})

test.serial('an on-chain audit with nobody pushing: the mediator pulls the case from the provider and mediates', async t => {
  const job = await signedJob('audited cow')
  const { deal, id, dispute } = await dealFor(job, { auditPpm: 1_000_000 })
  party.remember(dispute) // the provider keeps its deals' cases; the job creator is offline
  await provide(job, deal)
  const drawn = await net.stranger.drawAudit(deal)
  t.is(drawn.outcome, 'audited', 'auditPpm = 1,000,000 always audits')
  const rec = await finished(id)
  t.is((await net.jc.dealRecord(id)).state, 'MediatedCorrect')
  t.is(rec.via, 'pull')
  t.true(rec.audit)
})

test.serial('pushed cases that do not match the chain are refused with the named reason', async t => {
  const job = await signedJob('refused cow')
  const { deal, id, dispute } = await dealFor(job)
  // not challenged yet
  const notYet = await t.throwsAsync(handOffDispute(party, net.m1.address, dispute, { chain: net.jc }), { instanceOf: DisputeRefusedError })
  t.is(notYet?.code, 'NOT_CHALLENGED')
  await provide(job, deal)
  await net.jc.challenge(deal)
  // the right deal id with another job: the job offer's id is not the deal's
  const other = await signedJob('something else')
  const wrongJob = await t.throwsAsync(party.push(mediatorHost.peerId, { ...dispute, jobOffer: other }), { instanceOf: DisputeRefusedError })
  t.is(wrongJob?.code, 'JOB_OFFER_MISMATCH')
  // the right job, re-signed by someone else
  const forged = { ...job, signature: await signMessage('JobOffer', net.domain, job.value, net.stranger.wallet) }
  t.is((await t.throwsAsync(party.push(mediatorHost.peerId, { ...dispute, jobOffer: forged }), { instanceOf: DisputeRefusedError }))?.code, 'FORGED_JOB_OFFER')
  // other terms under the challenged id
  const altered = { ...dispute, deal: { ...dispute.deal, value: { ...deal, price: deal.price + 1n } } }
  t.is((await t.throwsAsync(party.push(mediatorHost.peerId, altered), { instanceOf: DisputeRefusedError }))?.code, 'DEAL_MISMATCH')
  t.true(mediator.metrics.casesPushed >= 2)
  // the honest case still goes through
  await handOffDispute(party, net.m1.address, dispute, { chain: net.jc })
  t.true((await finished(id)).resultCorrect)
  t.is((await net.jc.dealRecord(id)).state, 'MediatedCorrect')
})

test.serial('a restarted mediator resumes from its stored block and mediates a challenge it missed while down', async t => {
  await mediator.stop()
  const job = await signedJob('missed cow')
  const { deal, id, dispute } = await dealFor(job)
  party.remember(dispute)
  await provide(job, deal, { tamper: true })
  await net.jc.challenge(deal)
  mediator = await startMediator(join(tmp, 'mediator'))
  const rec = await finished(id)
  t.is(rec.via, 'pull')
  t.false(rec.resultCorrect)
  t.is((await net.jc.dealRecord(id)).state, 'MediatedWrong')
})

test.serial('a mediator that never answers: after the window the keeper closes the deal, the result stands and the fee goes back', async t => {
  // m2 runs no node here, so an audit that draws it is never mediated
  const job = await signedJob('unanswered cow')
  const [jc0, rp0, m20] = await Promise.all([net.jc, net.rp, net.m2].map(async c => await c.depositOf()))
  const { deal, id } = await dealFor(job, { auditPpm: 1_000_000, mediators: [net.m2.address] })
  await provide(job, deal)
  await net.rp.drawAudit(deal)
  t.is((await net.rp.dealRecord(id)).state, 'Challenged')
  const closing = closeUnmediated(net.rp, deal, { pollMs: 100 })
  await increaseTime(net.provider, deal.mediateTimeout + 1)
  t.is(await closing, 'timed-out')
  t.is((await net.rp.dealRecord(id)).state, 'TimedOutMediation')
  const [jc1, rp1, m21] = await Promise.all([net.jc, net.rp, net.m2].map(async c => await c.depositOf()))
  t.is(jc1 - jc0, -deal.price, 'the job creator paid the price and got its fee back')
  t.is(rp1 - rp0, deal.price, 'the provider was paid: its result stands')
  t.is(m21 - m20, 0n, 'the absent mediator earned nothing')
  t.is(await closeUnmediated(net.rp, deal), 'closed', 'a second keeper finds it closed')
})
