// Issue 12's load test: 30 jobs submitted at once with one key through the user's node (its local API), 2
// providers × 2 slots (real anvil, libp2p, Docker, Helia): all 30 complete, none reported failed, no nonce error,
// no slot holding two deals at once, both providers used. Throughput is reported by `lilypad bench`, not judged here.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDevnet, type Devnet } from '../node/devnet.ts'
import type { LilypadNode } from '../node/node.ts'
import type { UserNode } from '../node/api/user-node.ts'
import { secondProvider, userNode, measureThroughput } from '../bench/throughput.ts'

let home: string
let devnet: Devnet
let rp2: LilypadNode
let user: UserNode

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-throughput-'))
  devnet = await startDevnet({ home, port: 0, slots: 2 })
  rp2 = await secondProvider(devnet, home)
  user = await userNode(devnet, home)
})

test.after.always(async () => {
  await user?.stop()
  await rp2?.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

test('30 jobs at once with one key through the node, 2 providers × 2 slots: 30/30 done, no nonce error, no double-booking', async t => {
  t.timeout(600_000)
  const providers = [devnet.provider.provider!, rp2.provider!]
  const holding = new Map<string, string>()
  let overlaps = 0
  for (const p of providers) {
    p.on('job:start', e => { const k = `${p.address}:${e.slot}`; if (holding.has(k)) overlaps++; holding.set(k, e.dealId) })
    p.on('job:end', e => { const k = `${p.address}:${e.slot}`; if (holding.get(k) === e.dealId) holding.delete(k) })
  }
  const r = await measureThroughput(user, { jobs: 30 })
  t.deepEqual(r.failed, [])
  t.is(r.done, 30)
  t.is(r.nonceErrors, 0)
  t.is(overlaps, 0)
  for (const p of providers) t.true(p.maxRunning <= 2, `${p.address} ran ${p.maxRunning} at once`)
  t.is(Object.keys(r.perProvider).length, 2, JSON.stringify(r.perProvider))
  t.log(`${r.jobsPerMin} jobs/min, submit → end p50 ${r.jobMs.p50} ms, p95 ${r.jobMs.p95} ms, per provider ${JSON.stringify(r.perProvider)}`)
})
