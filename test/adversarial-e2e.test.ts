// Issue 10's availability attack, end to end: 1,000 junk offers priced at 0 from 1,000 keys live on the mesh (900
// bound to peer ids nobody runs, 100 to an attacker peer that takes every proposal and never answers), and honest
// `lilypad run` jobs — each a fresh CLI process with a job-creator node that has never seen the mesh — still find
// the devnet's provider and complete. The time each run took is measured by `lilypad bench --only adversarial`.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDevnet, type Devnet } from '../node/devnet.ts'
import { startJunkAttack, junkLive, runCowsay, honestDeals, type JunkAttack } from '../bench/adversarial.ts'

let home: string
let devnet: Devnet
let attack: JunkAttack

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-adversarial-'))
  devnet = await startDevnet({ home, port: 0, slots: 2 })
})

test.after.always(async () => {
  await attack?.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

test.serial('honest lilypad run jobs complete while 1,000 junk offers from 1,000 keys are live', async t => {
  // two CLI runs, each a fresh node syncing 1,000 offers: minutes on a loaded machine, with no assertion between
  t.timeout(900_000)
  attack = await startJunkAttack(devnet, { count: 1000, silent: 100 })
  await junkLive(devnet, 1000)
  const junk = devnet.bootstrap.book.offers().filter(o => o.offer.price === 0n)
  t.true(junk.length >= 1000, `the bootstrap node holds ${junk.length} junk offers`)
  t.true(junk.every(o => o.binding !== undefined), 'all of them validly signed and bound: this is junk the mesh must carry')
  const ran = honestDeals(devnet)
  t.teardown(() => { ran.stop() })
  const runs = []
  for (let i = 0; i < 2; i++) runs.push(await runCowsay(home, i))
  for (const r of runs) {
    t.true(ran.ids.has(r.dealId.toLowerCase()), `deal ${r.dealId} ran on the devnet's honest provider`)
    t.log(`run total ${r.totalMs} ms, process start → countersigned ${r.matchedMs} ms`)
  }
})
