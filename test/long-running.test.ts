// A devnet that keeps working while it runs (issue 20), against real parts: anvil, libp2p, Docker, Helia.
// - an "hour-old" devnet (libp2p's address TTL shortened to seconds) still serves `lilypad run` from a new process;
// - the bootstrap node restarts (same key, same address): a long-lived job creator and a new `lilypad run` succeed;
// - the provider restarts (same peer id, new port): the same, with nothing else restarted;
// - every devnet node logs what it is doing (status lines) and the failures it meets.
// Serial: the tests share the devnet and its accounts.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { startDevnet, DEVNET_KEYS, type Devnet } from '../node/devnet.ts'
import { LilypadNode } from '../node/node.ts'
import { devKey } from '../node/chain/index.ts'
import { createLogger } from '../node/observability/logger.ts'
import type { JobCreator } from '../node/roles/job-creator.ts'
import { waitFor } from '../node/testing/fixtures.ts'

const execFileP = promisify(execFile)
const ADDRESS_TTL_MS = 3000

let home: string
let devnet: Devnet
const lines: Array<Record<string, unknown>> = []
let jcNode: LilypadNode
let jc: JobCreator

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-long-'))
  const logger = createLogger({ level: 'debug', format: 'json', destination: { write (l: string) { lines.push(JSON.parse(l) as Record<string, unknown>) } } })
  devnet = await startDevnet({
    home, port: 0, slots: 2, components: { logger },
    // an hour in seconds: libp2p forgets addresses after 3 s; reach re-stores connected peers' every second
    node: {
      host: { addressTtlMs: ADDRESS_TTL_MS, reach: { refreshIntervalMs: 1000, bootstrapCheckMs: 500, bootstrapRetryMinMs: 200, bootstrapRetryMaxMs: 1000 } },
      housekeeping: { statusIntervalMs: 1000 },
      // results of settled deals go after a minute (the devnet's judge window is 30 s)
      resultRetention: { maxAgeMs: 60_000, intervalMs: 2000 }
    }
  })
  // a job creator that stays up through every restart below (like the job bridge, or a user's node)
  jcNode = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.user2), dataDir: join(home, 'jc'), roles: [], local: true, components: { logger: logger.child({ node: 'jc' }) }, host: { privateKey: await generateKeyPair('Ed25519'), reach: { bootstrapCheckMs: 500, bootstrapRetryMinMs: 200, bootstrapRetryMaxMs: 1000 } } })
  jc = await jcNode.createJobCreator({ network: devnet.network, dataDir: join(home, 'jc') })
})

test.after.always(async () => {
  await jcNode?.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

async function cliRun (message: string): Promise<{ exitCode: number, path: string }> {
  const { stdout } = await execFileP(process.execPath, ['cli/bin.ts', 'run', 'cowsay:v0.0.1', '-i', `Message=${message}`, '--json'], { env: { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data'), WEB3_PRIVATE_KEY: '' }, timeout: 90_000 })
  return JSON.parse(stdout) as { exitCode: number, path: string }
}

async function longLivedRun (message: string): Promise<string> {
  const out = await jc.run({ module: 'cowsay:v0.0.1', inputs: { Message: message } })
  return await readFile(join(out.path, 'stdout'), 'utf8')
}

test.serial('an hour-old devnet (address TTL shortened to seconds) still serves a new lilypad run', async t => {
  const first = await cliRun('fresh')
  t.is(first.exitCode, 0)
  const started = Date.now()
  // several address lifetimes pass: without reach the bootstrap would now serve the provider's offers with no address
  await waitFor(() => Date.now() - started > 3 * ADDRESS_TTL_MS, 20_000, 'three address lifetimes')
  const bootPeers = await devnet.bootstrap.host.peerStore.get(devnet.provider.host.peerId)
  t.true(bootPeers.addresses.length > 0, 'the bootstrap still holds the provider\'s addresses')
  const old = await cliRun('an hour later')
  t.is(old.exitCode, 0)
  t.regex(await readFile(join(old.path, 'stdout'), 'utf8'), /an hour later/)
  t.regex(await longLivedRun('long-lived, an hour later'), /long-lived, an hour later/)
})

test.serial('the bootstrap node restarts: the provider and a long-lived job creator reconnect by themselves; new jobs succeed', async t => {
  const boot = await devnet.restartBootstrap()
  // the provider redials the bootstrap, which pulls its offers on the new connection
  await waitFor(() => boot.book.offers().some(o => o.offer.provider === devnet.provider.chain.address), 20_000, 'the provider\'s offers at the restarted bootstrap')
  await waitFor(() => jcNode.host.getConnections(boot.host.peerId).length > 0, 20_000, 'the long-lived job creator to reconnect')
  t.regex(await longLivedRun('after a bootstrap restart'), /after a bootstrap restart/)
  t.is((await cliRun('new run after a bootstrap restart')).exitCode, 0)
  t.truthy(lines.find(l => l.msg === 'lost the connection to a bootstrap peer: redialling' && l.node === 'provider'), 'the provider logged the loss')
  t.truthy(lines.find(l => l.msg === 'reconnected to bootstrap peer' && l.node === 'provider'), 'and the reconnection')
})

test.serial('the provider restarts with the same peer id on a new port: new jobs succeed, nothing else restarted', async t => {
  const oldAddrs = devnet.provider.host.getMultiaddrs().map(String)
  const oldPeer = devnet.provider.host.peerId.toString()
  const rp = await devnet.restartProvider()
  t.is(rp.host.peerId.toString(), oldPeer, 'the same peer id')
  t.notDeepEqual(rp.host.getMultiaddrs().map(String), oldAddrs, 'a new port')
  await waitFor(() => devnet.bootstrap.book.offers().some(o => o.offer.provider === rp.chain.address && rp.provider?.announcer.ownOffer(o.id, 0n) !== undefined), 20_000, 'the restarted provider\'s new offers at the bootstrap')
  // the long-lived job creator still holds the old address: it re-resolves the provider
  await waitFor(() => jc.book.offers().some(o => rp.provider?.announcer.ownOffer(o.id, 0n) !== undefined), 20_000, 'the new offers at the long-lived job creator')
  t.regex(await longLivedRun('after a provider restart'), /after a provider restart/)
  t.is((await cliRun('new run after a provider restart')).exitCode, 0)
})

test.serial('every devnet node logs what it is doing: status lines with peers, offers, deals and chain head', t => {
  for (const node of ['bootstrap', 'provider']) {
    const status = lines.filter(l => l.msg === 'status' && l.node === node)
    t.true(status.length > 0, `${node} status lines`)
    const last = status.at(-1) as Record<string, unknown>
    for (const k of ['peers', 'offers', 'dealsOpen', 'chainHead', 'rssMb', 'handles']) t.true(k in last, `${node}: ${k}`)
    t.true(typeof last.chainHead === 'number' && last.chainHead > 0, `${node} follows the chain`)
  }
  const boot = lines.filter(l => l.msg === 'status' && l.node === 'bootstrap').at(-1) as Record<string, unknown>
  t.true((boot.offers as number) > 0, 'the bootstrap knows offers')
  t.truthy(lines.find(l => l.msg === 'devnet ready'))
  t.truthy(lines.find(l => l.msg === 'directory record published' && l.node === 'provider'), 'the provider published its directory record')
})

test.serial('the provider prunes the results of its settled deals past their retention, never an open deal\'s', async t => {
  const rp = devnet.provider
  const retention = rp.retention
  if (retention === undefined || rp.provider === undefined) { t.fail('the devnet provider runs result retention'); return }
  // the restarted provider holds the deals it made since; the first of them settle 30 s after their result
  const pruned = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('no result pruned within 3 minutes')) }, 180_000)
    retention.once('pruned', cids => { clearTimeout(timer); resolve(cids.map(String)) })
  })
  t.true(pruned.length > 0)
  const records = await rp.provider.deals.all()
  for (const cid of pruned) {
    const rec = records.find(r => r.resultCid === cid)
    t.true(rec === undefined || rec.terminal, `${cid} belonged to a deal that had ended`)
  }
})
