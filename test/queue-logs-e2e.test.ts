// Live logs and the job queue against one in-process devnet (real anvil, libp2p, Docker, Helia), its provider cut to
// one slot: a job that prints lines over time delivers them to the job creator while it runs, before its result; a
// job submitted while the only slot is busy waits in the queue (it sees the provider busy, not gone) and completes
// when the slot frees; a job no provider can match fails fast with a named error. Serial: the tests share the slot.
import test from 'ava'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Wallet } from 'ethers'
import { waitFor } from '../node/testing/fixtures.ts'
import { startDevnet, DEVNET_KEYS, type Devnet } from '../node/devnet.ts'
import { LilypadNode, type JobCreatorSettings } from '../node/node.ts'
import { devKey } from '../node/chain/index.ts'
import type { JobCreator, JobProgressEvents } from '../node/roles/job-creator.ts'
import { afterProposal } from '../core/policy/ban.ts'

let home: string
let devnet: Devnet
const extra: LilypadNode[] = []

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-queue-logs-'))
  devnet = await startDevnet({ home, port: 0, slots: 1 })
})

test.after.always(async () => {
  for (const n of extra) await n.stop().catch(() => {})
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

async function jobCreatorNode (keyIndex: number, name: string, settings: JobCreatorSettings = {}): Promise<{ node: LilypadNode, jc: JobCreator }> {
  const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(keyIndex), dataDir: join(home, name), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') } })
  extra.push(node)
  const jc = await node.createJobCreator({ network: devnet.network, dataDir: join(home, name), jobCreator: settings })
  return { node, jc }
}

/** Resolves with the first event `emitter` emits for which `pred` holds. */
function first<T> (on: (fn: (e: T) => void) => () => void, pred: (e: T) => boolean): Promise<T> {
  return new Promise(resolve => { const off = on(e => { if (pred(e)) { off(); resolve(e) } }) })
}

test.serial('live logs: a job that prints lines over time delivers them to the job creator while it runs, before its result; the result stays the verified one', async t => {
  // a module of our own (the stress image, a script that prints a line, waits, prints the next), served by a provider
  // of our own: the container cannot be done before its last line, so lines seen before the result came live
  const modules = join(home, 'modules')
  await mkdir(join(modules, 'ticker'), { recursive: true })
  await writeFile(join(modules, 'registry.json'), JSON.stringify({ 'ticker:v0.1.0': { dir: 'ticker', description: 'prints a line every few seconds' } }))
  await writeFile(join(modules, 'ticker', 'lilypad_module.json.tmpl'), JSON.stringify({
    machine: { gpu: 0, cpu: 500, ram: 64 },
    job: { APIVersion: 'V1beta1', Spec: { Engine: 'Docker', Docker: { Image: 'lilypad/stress:v0.1.0', Entrypoint: ['/bin/sh', '-c', 'echo tick 1; sleep 3; echo tick 2 >&2; sleep 3; echo tick 3'] }, Network: { Type: 'None' }, Timeout: 60, Outputs: [{ Name: 'outputs', Path: '/outputs' }] } }
  }))
  const rp = await LilypadNode.create({
    network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.provider2), dataDir: join(home, 'rp-ticker'), roles: ['resource-provider'], local: true,
    provider: { slots: 1, modulesDir: modules, modulePolicy: { modulesDir: modules }, announceIntervalMs: 5000 }
  })
  extra.push(rp)
  const { node, jc } = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-logs', { modulesDir: modules })
  const rpAddress = rp.chain.address.toLowerCase()
  await waitFor(() => node.book.offers().some(o => o.offer.provider.toLowerCase() === rpAddress), 60_000, 'the ticker provider\'s offer at the job creator')
  const seen: Array<{ type: string, text?: string, stream?: string, phase?: string }> = []
  const outcome = await jc.run({
    module: 'ticker:v0.1.0', inputs: {}, target: rp.chain.address,
    onProgress: (e: JobProgressEvents) => {
      if (e.type === 'lilypad:job:log') seen.push({ type: 'log', text: e.detail.data, stream: e.detail.stream })
      if (e.type === 'lilypad:job:phase') seen.push({ type: 'phase', phase: e.detail.phase })
    }
  })
  const at = (pred: (x: typeof seen[number]) => boolean): number => seen.findIndex(pred)
  const result = at(x => x.phase === 'result')
  t.true(result > 0, 'a result phase')
  t.true(at(x => x.text?.includes('tick 1') === true) < result, 'the first line arrived before the result')
  t.true(at(x => x.text?.includes('tick 3') === true) < result, 'so did the last')
  t.is(seen.filter(x => x.stream === 'stdout').map(x => x.text).join(''), 'tick 1\ntick 3\n')
  t.is(seen.filter(x => x.stream === 'stderr').map(x => x.text).join(''), 'tick 2\n')
  // the result is the CID-verified download, whatever the live stream said
  t.is(await readFile(join(outcome.path, 'stdout'), 'utf8'), 'tick 1\ntick 3\n')
})

test.serial('queue: with one provider of one slot, a job submitted while the slot is busy waits (queued, the provider seen busy) and completes when the slot frees', async t => {
  const provider = devnet.provider.provider!
  const target = devnet.provider.chain.address
  const { node, jc } = await jobCreatorNode(DEVNET_KEYS.user, 'jc-queue')
  await waitFor(() => node.book.offers().some(o => o.offer.provider.toLowerCase() === target.toLowerCase()), 60_000, 'the provider\'s offer at the job creator')
  const ends: string[] = []
  const starts: string[] = []
  provider.on('job:start', e => { starts.push(e.dealId) })
  provider.on('job:end', e => { ends.push(e.dealId) })
  const started = first<{ dealId: string }>(fn => { provider.on('job:start', fn); return () => { provider.off('job:start', fn) } }, () => true)
  const one = jc.run({ module: 'stress:v0.1.0', inputs: { Mode: 'sleep', Arg: '6', Timeout: '30' }, target })
  await started
  const queued: Array<{ busyProviders: number, waitedMs: number }> = []
  const two = jc.run({ module: 'stress:v0.1.0', inputs: { Mode: 'sleep', Arg: '1', Timeout: '30' }, target, onProgress: e => { if (e.type === 'lilypad:job:queued') queued.push(e.detail) } })
  const [a, b] = await Promise.all([one, two])
  t.true(queued.length >= 1, 'the second job was told it waits in the queue')
  t.is(queued[0].busyProviders, 1)
  t.is(a.exitCode, 0)
  t.is(b.exitCode, 0)
  t.is(b.deal.resourceProvider, target)
  // the slot held one job at a time: the second started after the first ended
  t.true(ends.indexOf(a.dealId) !== -1 && starts.indexOf(b.dealId) > starts.indexOf(a.dealId))
  t.true(ends.indexOf(a.dealId) < ends.indexOf(b.dealId))
  t.true(provider.maxRunning <= 1)
})

test.serial('a job whose only fitting provider is busy and banned fails at once with a named error: not queued for it as "busy"', async t => {
  const provider = devnet.provider.provider!
  const target = devnet.provider.chain.address
  const { node, jc } = await jobCreatorNode(DEVNET_KEYS.user, 'jc-banned', { queueTimeoutMs: 600_000 })
  await waitFor(() => node.book.offers().some(o => o.offer.provider.toLowerCase() === target.toLowerCase()), 60_000, 'the provider\'s offer at the job creator')
  // the provider's one slot is busy (its slot stays in the book as busy) ...
  const started = first<{ dealId: string }>(fn => { provider.on('job:start', fn); return () => { provider.off('job:start', fn) } }, () => true)
  const { jc: other } = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-busy')
  const busy = other.run({ module: 'stress:v0.1.0', inputs: { Mode: 'sleep', Arg: '4', Timeout: '30' }, target })
  await started
  await waitFor(() => node.book.busy(BigInt(Math.floor(Date.now() / 1000))).some(b => b.live.offer.provider.toLowerCase() === target.toLowerCase()), 60_000, 'the busy slot at the job creator')
  // ... and this job creator bans it (as after a deal it never delivered, or an on-chain record of slashes)
  t.is(jc.bans.record(target, 'no-result', node.components.clock.now()), 'banned')
  const queued: unknown[] = []
  const err = await t.throwsAsync(jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'banned' }, target, onProgress: e => { if (e.type === 'lilypad:job:queued') queued.push(e.detail) } }))
  t.is(err?.name, 'NoMatchingProviderError')
  t.regex(err?.message ?? '', new RegExp(`apart from 1 provider that failed this job or is banned for a while \\(${target.toLowerCase()}: no-result\\)`))
  t.deepEqual(queued, [], 'never told it waits for a busy provider: the only one is banned')
  t.is((await busy).exitCode, 0)
})

test.serial('a provider one dial failed to reach is asked again, after the others: demoted, not dropped, the job completes with it; a second failure bans it', async t => {
  // a dial that timed out once (a loaded relay, our own network) failed a job whose only provider it was, and banned
  // that provider for five minutes (a CI run of test/netns-nat.test.ts)
  const target = devnet.provider.chain.address
  const { node, jc } = await jobCreatorNode(DEVNET_KEYS.user, 'jc-redial')
  await waitFor(() => node.book.offers().some(o => o.offer.provider.toLowerCase() === target.toLowerCase()), 60_000, 'the provider\'s offer at the job creator')
  const now = (): number => node.components.clock.now()
  // the verdict the job creator gives a failed dial (core/policy/ban.ts), recorded as its negotiation loop records it
  const verdict = afterProposal({ outcome: 'unreachable' })
  t.false(verdict.exclude, 'the provider stays in the job\'s queue')
  t.is(jc.bans.record(target, verdict.failure!, now()), 'demoted')
  const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'redial' }, target })
  t.is(out.exitCode, 0)
  t.is(out.deal.resourceProvider.toLowerCase(), target.toLowerCase())
  t.is(jc.bans.record(target, verdict.failure!, now()), 'banned', 'a second failed dial within the TTL bans it')
  const err = await t.throwsAsync(jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'banned' }, target }))
  t.is(err?.name, 'NoMatchingProviderError')
  t.regex(err?.message ?? '', new RegExp(`apart from 1 provider that failed this job or is banned for a while \\(${target.toLowerCase()}: unreachable\\)`), 'the error names the provider and why')
})

test.serial('a job that will not accept (--no-accept) says so in its ack of the result: the provider submits the result alone at once, without waiting for an acceptance', async t => {
  const provider = devnet.provider.provider!
  const target = devnet.provider.chain.address
  const { node, jc } = await jobCreatorNode(DEVNET_KEYS.user2, 'jc-no-accept')
  await waitFor(() => node.book.offers().some(o => o.offer.provider.toLowerCase() === target.toLowerCase()), 60_000, 'the provider\'s offer at the job creator')
  // each deal's submission as the provider records it, and whether the ack had said no acceptance will follow
  const submissions = new Map<string, boolean>()
  const waiters = new Map<string, (noAcceptance: boolean) => void>()
  const onDeal = (r: { id: string, phase: string, noAcceptance?: boolean }): void => {
    if (r.phase !== 'submitted' || submissions.has(r.id)) return
    submissions.set(r.id, r.noAcceptance === true)
    waiters.get(r.id)?.(r.noAcceptance === true)
  }
  provider.on('deal', onDeal)
  t.teardown(() => { provider.off('deal', onDeal) })
  const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'no accept' }, target, accept: false })
  t.is(out.exitCode, 0)
  const id = out.dealId.toLowerCase()
  const noAcceptance = submissions.has(id) ? submissions.get(id) : await new Promise<boolean>(resolve => { waiters.set(id, resolve) })
  t.true(noAcceptance, 'submitted after the ack that said no acceptance will follow')
})

test.serial('a job no provider can match fails fast with NoMatchingProviderError', async t => {
  const { jc } = await jobCreatorNode(DEVNET_KEYS.user, 'jc-nomatch', { matchTimeoutMs: 2000 })
  const t0 = Date.now()
  const err = await t.throwsAsync(jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: 'nobody' }, target: Wallet.createRandom().address }))
  t.is(err?.name, 'NoMatchingProviderError')
  t.regex(err?.message ?? '', /fits the job|no resource provider offers/)
  t.true(Date.now() - t0 < 30_000, `failed after ${Date.now() - t0} ms, far inside the queue time (120 s)`)
})
