// The devnet runs the job bridge (as `lilypad devnet` does by default): a contract's job runs with nothing else
// started — the ExampleClient asks for cowsay, the bridge runs it on the devnet's provider, and the client holds
// the result CID, the exit code and the cow.
import test from 'ava'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wallet } from 'ethers'
import { startDevnet, DEVNET_KEYS, type Devnet } from '../node/devnet.ts'
import { devKey, ChainClient } from '../node/chain/index.ts'
import { connectExampleClient } from '../contracts/generated/index.ts'
import type { JobBridge, BridgeJobRecord } from '../node/roles/job-bridge.ts'

let home: string
let devnet: Devnet

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-devnet-bridge-'))
  devnet = await startDevnet({ home, port: 0, slots: 1, bridge: true })
})

test.after.always(async () => {
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

test('a contract\'s cowsay job runs on the devnet with its own bridge: the callback brings the CID and the cow', async t => {
  t.truthy(devnet.bridge, 'the devnet started its bridge')
  t.is(devnet.bridge!.chain.address, new Wallet(devKey(DEVNET_KEYS.bridge)).address)
  const bridge = devnet.bridge!.bridge as unknown as JobBridge
  const user = await ChainClient.create({ network: devnet.network, privateKey: devKey(DEVNET_KEYS.user2) })
  t.teardown(async () => { await user.stop() })
  const client = connectExampleClient(devnet.network.contracts.exampleClient as string, user.wallet)
  const jobId = await client.runCowsay.staticCall('moo from a contract')
  const done = (async () => {
    for (;;) {
      const [r] = await Promise.race([once(bridge, 'completed'), once(bridge, 'failed')]) as [BridgeJobRecord]
      if (r.id === `job-${jobId}`) return r
    }
  })()
  await user.queue.send('runCowsay', async () => await client.runCowsay.populateTransaction('moo from a contract'))
  const rec = await done
  t.is(rec.phase, 'completed', rec.reason)
  t.is(await client.results(jobId), rec.resultCid ?? '')
  t.is(await client.exitCodes(jobId), 0n)
  t.regex(Buffer.from((await client.outputs(jobId)).slice(2), 'hex').toString(), /< moo from a contract >/)
})
