// The devnet runs the job bridge (as `lilypad devnet` does by default): a contract's job runs with nothing else
// started — the ExampleClient asks for cowsay, the bridge runs it on the devnet's provider, and the client holds
// the result CID, the exit code and the cow.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wallet } from 'ethers'
import { startDevnet, DEVNET_KEYS, type Devnet } from '../node/devnet.ts'
import { devKey, ChainClient } from '../node/chain/index.ts'
import { connectExampleClient } from '../contracts/generated/index.ts'
import type { JobBridge } from '../node/roles/job-bridge.ts'
import { contractCowsay } from './support/bridge.ts'

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
  await contractCowsay(t, { client, caller: user, bridge, message: 'moo from a contract' })
})
